"""Config sections -> objects, each through its registry: the one place a config becomes components.

Both jobs build their space, targets, quality evaluator, strategy, executor, storage and study here;
errors name the config field they come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.app.schema import Config
from hwnas.core.errors import ConfigError, CostModelError
from hwnas.core.registry import accepted_options


def build_space(cfg: Config, data=None):
    """The configured space; with task ``data``, a trainable space sized to it (input shape, classes)."""
    from hwnas.spaces import get_space

    if data is None:
        return get_space(cfg.space.name, **cfg.space.options)
    return build_trainable_space(cfg, data)


def build_trainable_space(cfg: Config, data):
    """The configured trainable space, with input shape and class count taken from the data unless given."""
    from hwnas.spaces import SPACES, get_space
    from hwnas.spaces.trainable import TrainableSpace

    try:
        probe = SPACES.get(cfg.space.name)
    except ConfigError as e:
        raise ConfigError(f"space.name: {e}") from None
    if not (isinstance(probe, type) and issubclass(probe, TrainableSpace)):
        trainable = [n for n in SPACES.available() if _is_trainable(SPACES, n)]
        raise ConfigError(f"space.name: {cfg.space.name!r} is not trainable; allowed {trainable}")
    options = {"input_shape": list(data.input_shape), "num_classes": data.num_classes, **cfg.space.options}
    vocab = data.preprocessing.get("vocab_size")  # token-id data: the vocabulary a text space embeds
    if vocab is not None and "vocab_size" not in options and "vocab_size" in accepted_options(probe):
        options["vocab_size"] = int(vocab)
    try:
        space = get_space(cfg.space.name, **options)
    except ConfigError as e:
        raise ConfigError(f"space.options: {e}") from None
    if tuple(space.input_shape) != tuple(data.input_shape):
        raise ConfigError(f"space.options.input_shape: {list(space.input_shape)} differs from the data's "
                          f"{list(data.input_shape)}")
    return space


def _is_trainable(registry, name: str) -> bool:
    from hwnas.spaces.trainable import TrainableSpace

    try:
        entry = registry.get(name)
    except ConfigError:
        return False
    return isinstance(entry, type) and issubclass(entry, TrainableSpace)


def build_data(cfg: Config):
    """The task data of the ``data:`` section, or None without one."""
    from hwnas.data import get_dataset

    if cfg.data is None:
        return None
    try:
        return get_dataset(cfg.data.name, **cfg.data.options)
    except ConfigError as e:
        raise ConfigError(f"data: {e}") from None


def build_targets(cfg: Config, space) -> list:
    """The cost models of ``targets`` as evaluators of ``space`` (built before any training, to fail early)."""
    from hwnas.evaluators.cost import target_evaluator

    out = []
    for i, t in enumerate(cfg.targets):
        try:
            out.append(target_evaluator(t.name, t.options, t.prefix, space))
        except (ConfigError, CostModelError) as e:
            raise ConfigError(f"targets.{i}: {e}") from None
    return out


def quality_columns(cfg: Config, targets: list) -> list[str]:
    """Metrics the objectives and constraints need that no target gives (a table evaluator returns these)."""
    from_costs = {m for c in targets for m in c.metrics}
    return [m for m in cfg.searched_metrics() if m not in from_costs]


def build_quality(cfg: Config, space, targets: list, **context: Any):
    """The quality evaluator of ``evaluator:`` (None without one), given the job's ``context``
    (see :mod:`hwnas.evaluators`); a table returns the metrics no target gives."""
    from hwnas.evaluators import make_evaluator

    columns = quality_columns(cfg, targets)
    if cfg.evaluator is None:
        if columns:
            raise ConfigError(f"objectives/constraints {columns} come from no target; the targets give "
                              f"{sorted({m for c in targets for m in c.metrics})}")
        return None
    try:
        return make_evaluator(cfg.evaluator.name, cfg.evaluator.options, space=space, columns=columns, **context)
    except ConfigError as e:
        raise ConfigError(f"evaluator: {e}") from None


def combine(quality, targets: list):
    """The quality evaluator (if any) followed by the targets, as one evaluator."""
    from hwnas.evaluators import CombinedEvaluator

    parts = ([quality] if quality is not None else []) + list(targets)
    return parts[0] if len(parts) == 1 else CombinedEvaluator(parts)


def build_strategy(cfg: Config):
    from hwnas.strategies import DEFAULT_STRATEGY, get_strategy

    try:
        return get_strategy(cfg.strategy.name or DEFAULT_STRATEGY, **cfg.strategy.options)
    except ConfigError as e:
        raise ConfigError(f"strategy: {e}") from None


def build_executor(cfg: Config):
    from hwnas.executors import make_executor

    try:
        return make_executor(cfg.executor.name, **cfg.executor.options)
    except ConfigError as e:
        raise ConfigError(f"executor: {e}") from None


def expand_out(text: str | None, out: Path | None) -> str | None:
    """``text`` with ``{out}`` replaced by the output folder (a job without one cannot use ``{out}``)."""
    if text is None or "{out}" not in text:
        return text
    if out is None:
        raise ConfigError(f"{text!r} names {{out}}, but no output folder was given")
    return text.replace("{out}", str(out))


def build_study(cfg: Config, space, evaluator, out: Path | None = None):
    """The study of ``cfg`` over ``space`` and ``evaluator``: strategy, executor and storage by name."""
    from hwnas.storage import open_storage
    from hwnas.study import Study

    storage = expand_out(cfg.study.storage, out)
    return Study(space, evaluator, cfg.parsed_objectives(), build_strategy(cfg),
                 constraints=cfg.parsed_constraints(), storage=open_storage(storage), name=cfg.study.name,
                 batch_size=cfg.study.batch_size, seed=cfg.study.seed, executor=build_executor(cfg),
                 heartbeat_s=cfg.study.heartbeat_s, grace_s=cfg.study.grace_s, max_retries=cfg.study.max_retries)


def build_policy_space(cfg: Config, base):
    """``base`` with the quantization policy of ``compress.quantize`` added (:class:`QuantizedSpace`), or ``base``."""
    if cfg.compress is None or cfg.compress.quantize is None:
        return base
    from hwnas.spaces.quantized import QuantizedSpace

    q = cfg.compress.quantize
    try:
        return QuantizedSpace(base, q.precisions, per=q.per, target=q.target)
    except ConfigError as e:
        raise ConfigError(f"compress.quantize: {e}") from None


def with_ptq(cfg: Config, space, quality):
    """The quality evaluator scoring each sub-network quantized by its policy in ONNX Runtime (``space`` quantized),
    else ``quality`` unchanged."""
    from hwnas.spaces.quantized import QuantizedSpace

    if not isinstance(space, QuantizedSpace):
        return quality
    from hwnas.compress.ptq import Calibration
    from hwnas.evaluators.quantized import PTQEvaluator
    from hwnas.evaluators.supernet import SupernetEvaluator

    if not isinstance(quality, SupernetEvaluator):
        raise ConfigError(f"compress.quantize: post-training quantization scores sub-networks of a trained "
                          f"supernet (evaluator: supernet), not {type(quality).__name__}")
    q = cfg.compress.quantize
    if space.target == "accelerator":  # no ONNX Runtime kernel for 4/16 bits: fake-quantized PyTorch accuracy
        from hwnas.evaluators.fakequant import FakeQuantEvaluator

        return FakeQuantEvaluator(quality, space, calib_samples=q.calibration.samples, epochs=q.qat_epochs)
    try:
        return PTQEvaluator(quality, space, Calibration(q.calibration.method, q.calibration.samples),
                            q.max_accuracy_drop)
    except ConfigError as e:
        raise ConfigError(f"compress.quantize: {e}") from None
