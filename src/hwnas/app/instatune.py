"""InstaTune in the train-once job: ``supernet.init`` puts pre-trained weights into the supernet before training.

``supernet.init.pretrained`` names the weights (an hwnas checkpoint or a Hugging Face folder,
:mod:`hwnas.supernet.pretrained`). With ``supernet.init.pretrain`` and no file there yet, a dense model
(the space's largest network) is first trained on the ``pretrain.data`` task and saved there, so one
config pre-trains on one task and InstaTunes on another; a second run reuses the file.

Then, on the target task's training samples: a fresh classifier starts as a linear probe fitted on the
pre-trained features (``probe_head``), and the heads, MLP neurons and embedding channels are reordered most
important first (``rewire``, :mod:`hwnas.supernet.rewire`), so that the sliced sub-networks start with the
units that matter; the dense model's function is unchanged by the reordering.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hwnas.app.components import expand_out
from hwnas.app.schema import Config
from hwnas.core.errors import ConfigError
from hwnas.data.base import TaskData
from hwnas.spaces.trainable import Supernet, TrainableSpace


def start_from_pretrained(cfg: Config, space: TrainableSpace, net: Supernet, out: Path, console: Console,
                          data: TaskData) -> dict | None:
    """Load ``supernet.init`` into ``net`` (pre-training the dense model first when asked), probe its head and
    rewire it on ``data``; return what identifies the start (for the supernet checkpoint's fingerprint), or
    None without ``init``."""
    from hwnas.supernet.pretrained import identity, load_pretrained
    from hwnas.supernet.rewire import can_rewire, probe_head, rewire

    init = cfg.supernet.init if cfg.supernet is not None else None
    if init is None:
        return None
    path = Path(expand_out(init.pretrained, out))
    if not path.exists():
        if init.pretrain is None:
            raise ConfigError(f"supernet.init.pretrained: {path} does not exist (give supernet.init.pretrain to "
                              "pre-train a dense model into it)")
        _pretrain(init.pretrain, cfg.supernet.training, space, path, console)
    report = load_pretrained(path, net, new_head=init.new_head)
    console.print(report.summary(), soft_wrap=True, markup=False, highlight=False)
    x, y = data.x_train, data.y_train
    probed = init.probe_head and any(n.startswith("head.") for n in report.fresh)
    if probed:
        probe_head(net, x, y, seed=cfg.supernet.training.seed)
        console.print("probe_head: the fresh classifier starts as a linear probe of the pre-trained features",
                      soft_wrap=True, markup=False, highlight=False)
    rewired = can_rewire(net) if init.rewire is None else init.rewire
    if rewired:
        if not can_rewire(net):
            raise ConfigError(f"supernet.init.rewire: the {space.name!r} supernet cannot be rewired (spaces that "
                              "can: text_encoder, vit, without few_shot); set rewire: false")
        result = rewire(net, x, y, seed=cfg.supernet.training.seed, probe=not probed)
        console.print(result.summary(), soft_wrap=True, markup=False, highlight=False)
    return {**identity(path), "new_head": init.new_head, "probe_head": probed, "rewire": rewired}


def _pretrain(section, training, space: TrainableSpace, path: Path, console: Console) -> None:
    """The dense model: the space's largest network trained alone on ``section.data`` for ``section.epochs``,
    otherwise with ``training``'s settings (labels only), saved at ``path``."""
    from hwnas.app.train import build_seeded_supernet
    from hwnas.data import get_dataset
    from hwnas.spaces import get_space
    from hwnas.supernet.pretrained import pretrain_dense

    try:
        data = get_dataset(section.data.name, **section.data.options)
    except ConfigError as e:
        raise ConfigError(f"supernet.init.pretrain.data: {e}") from None
    if tuple(data.input_shape) != tuple(space.input_shape):
        raise ConfigError(f"supernet.init.pretrain.data: inputs {list(data.input_shape)} differ from the target "
                          f"task's {list(space.input_shape)}")
    dense_space = get_space(space.name, **{**space.options(), "num_classes": data.num_classes})
    dense = training.model_copy(update={"epochs": section.epochs, "few_shot": None})
    net = build_seeded_supernet(dense_space, dense.seed)
    console.print(f"pretrain: dense {space.format(space.largest())} on {data.name}, {dense.epochs} epochs -> "
                  f"{path}", soft_wrap=True, markup=False, highlight=False)
    pretrain_dense(net, data, dense, path)
