"""InstaTune in the train-once job: ``supernet.init`` puts pre-trained weights into the supernet before training.

``supernet.init.pretrained`` names the weights (an hwnas checkpoint or a Hugging Face folder,
:mod:`hwnas.supernet.pretrained`). With ``supernet.init.pretrain`` and no file there yet, a dense model
(the space's largest network) is first trained on the ``pretrain.data`` task and saved there, so one
config pre-trains on one task and InstaTunes on another; a second run reuses the file.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hwnas.app.components import expand_out
from hwnas.app.schema import Config
from hwnas.core.errors import ConfigError
from hwnas.spaces.trainable import Supernet, TrainableSpace


def start_from_pretrained(cfg: Config, space: TrainableSpace, net: Supernet, out: Path,
                          console: Console) -> dict | None:
    """Load ``supernet.init`` into ``net`` (pre-training the dense model first when asked); return what
    identifies the weights (for the supernet checkpoint's fingerprint), or None without ``init``."""
    from hwnas.supernet.pretrained import identity, load_pretrained

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
    return {**identity(path), "new_head": init.new_head}


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
