"""The one config schema: every component is ``name + options``, resolved through its registry.

.. code-block:: yaml

    space: {name: mobilenet, options: {widths: [0.25, 0.5, 0.75, 1.0]}}   # or: space: nb201
    data: {name: digits, options: {}}              # the task (train-once job; any job may load one)
    supernet:                                      # present -> the train-once job (see below)
      training: {epochs: 30, batch_size: 64}       # hwnas.supernet.settings.TrainingConfig
      checkpoint: null                             # default OUT/supernet.safetensors
    evaluator: {name: table, options: {path: table.csv, arch_column: arch}}   # quality: table | supernet | ...
    targets:                                       # cost models (COST_MODELS), metric names get `prefix`
      - {name: measure, options: {runtime: onnxruntime, threads: 1, warmup: 10, repeats: 20}}
      - {name: count, options: {precisions: [fp32]}}
    objectives: ["accuracy:max", "latency_ms:min"]
    constraints: ["latency_ms <= 5"]
    strategy: {name: linas, options: {}}           # STRATEGIES
    executor: {name: serial, options: {}}          # EXECUTORS (process: {workers: 4, max_retries, timeout_s},
                                                   #   ray: {address, max_retries, timeout_s, connect_timeout_s})
    study: {name: study, storage: hwnas.db, budget: 100, batch_size: null, seed: 0,
            heartbeat_s: 10, grace_s: 60, max_retries: 2}   # many workers may share one storage
    export: {onnx: true, tolerance: 1.0e-4, plot: true}
    compress:                                      # train-once job: the policy searched with the architecture
      quantize: {precisions: [int8, fp32], per: block, target: onnxruntime,
                 calibration: {method: minmax, samples: 256}, max_accuracy_drop: 2.0}
      prune: {ratio: 0.5, members: all, epochs: 5}  # front members pruned by channel after the search
    threads: 1                                     # torch threads

**Two jobs of one schema.** A config with a ``supernet:`` section is the *train-once* job: train
the supernet on ``data``, search its sub-networks with the ``supernet`` evaluator, export the
front (ONNX models, ``front.csv``, ``front.png``). Without it, the *table search* job searches
with the configured evaluator and targets. What differs between the two are only defaults, listed
in :data:`TRAIN_ONCE_DEFAULTS` and filled in for every field the config leaves out.

Paths are relative to the config file (to the working directory for a dict): data and evaluator
``path``, ``study.storage``, ``supernet.checkpoint`` and the file options of targets
(``path``, ``table``, ``lut``, ``cache``). ``{out}`` in ``study.storage`` or
``supernet.checkpoint`` stands for the job's output folder.

A key of the previous schemas (``search:``, ``latency:``, ``evaluation:``, ``targets[].model``, ...)
is refused with a message naming where it lives now (:func:`old_key_errors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from hwnas.core.objectives import Constraint, Objective
from hwnas.supernet.settings import TrainingConfig

TABLE_SEARCH = "table_search"
TRAIN_ONCE = "train_once"


def _objective(text: str) -> str:
    Objective.parse(text)
    return text


def _constraint(text: str) -> str:
    Constraint.parse(text)
    return text


#: ``"metric:max"`` / ``"metric:min"``, checked when a config is read
ObjectiveText = Annotated[str, AfterValidator(_objective)]
#: ``"metric <= bound"``, checked when a config is read
ConstraintText = Annotated[str, AfterValidator(_constraint)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Component(_Strict):
    """A registered component: its ``name`` and the ``options`` its constructor takes.

    A bare string is shorthand for ``{name: STRING}``.
    """

    name: str = Field(description="the registered name")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the component; "
                                                                       "an unknown one is refused naming the allowed")


def _component_shorthand(v):
    return {"name": v} if isinstance(v, str) else v


class SpaceSection(Component):
    name: str = Field("nb201", description="a space in SPACES (train-once default: mobilenet)")


class DataSection(Component):
    name: str = Field("digits", description="a dataset in DATASETS: digits, mnist1d, folder")


class PretrainSection(_Strict):
    """A dense model pre-trained here (the space's largest network, labels only) when ``pretrained`` does not exist."""

    data: DataSection = Field(description="the task it is pre-trained on (e.g. another variant of the target task)")
    epochs: int = Field(10, ge=1, description="its epochs; the other settings are supernet.training's")


class InitSection(_Strict):
    """InstaTune: the supernet starts from pre-trained weights (hwnas.supernet.pretrained)."""

    pretrained: str = Field(description="an hwnas supernet checkpoint (.safetensors) or a Hugging Face "
                                        "save_pretrained folder (BERT, ViT)")
    new_head: bool = Field(False, description="start the classifier fresh even when the class count matches "
                                              "(the checkpoint was trained on another task)")
    pretrain: PretrainSection | None = Field(None, description="pre-train a dense model into `pretrained` first "
                                                               "when that file does not exist")
    rewire: bool | None = Field(None, description="reorder attention heads, MLP neurons and embedding channels most "
                                                  "important on the target task first, so that sliced sub-networks "
                                                  "keep them (DynaBERT; hwnas.supernet.rewire); default: on for the "
                                                  "spaces that support it (text_encoder, vit)")
    probe_head: bool = Field(True, description="a fresh classifier starts as a linear probe fitted on the pre-trained "
                                               "features (LP-FT) instead of random weights")


class SupernetSection(_Strict):
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="how the supernet is trained")
    init: InitSection | None = Field(None, description="start from pre-trained weights (InstaTune) instead of "
                                                       "random ones")
    checkpoint: str | None = Field(None, description="the supernet's safetensors file (default "
                                                     "{out}/supernet.safetensors); an existing one trained with the "
                                                     "same space, data and training settings is reused")


class EvaluatorSection(Component):
    """The quality evaluator, by name in ``hwnas.evaluators.EVALUATORS`` (``table``, ``supernet``, ...)."""


class TargetSection(Component):
    """A hardware target: a cost model by name (count, measure, lut, predictor, accelerator, roofline)."""

    prefix: str = Field("", description="prepended to the model's metric names, to tell two targets apart")


class StrategySection(_Strict):
    name: str | None = Field(None, description="a strategy in STRATEGIES; null: the default (linas)")
    options: dict[str, Any] = Field(default_factory=dict, description="the strategy's settings")


class ExecutorSection(Component):
    name: str = Field("serial", description="serial, process or ray")


class StudySection(_Strict):
    name: str = Field("study", description="the study's name in its storage (train-once default: supernet; "
                                           "another name writes its front into OUT/<name>)")
    storage: str | None = Field("hwnas.db", description="a file (relative to the config), a database URL, "
                                                        "or null for in memory")
    budget: int = Field(100, ge=1, description="distinct evaluations in all (resumed studies count what is stored)")
    batch_size: int | None = Field(None, ge=1, description="architectures proposed per round (null: the strategy's)")
    seed: int = Field(0, description="the strategy's random seed")
    heartbeat_s: float = Field(10.0, gt=0, description="seconds between heartbeats a worker writes on the trials "
                                                      "it is evaluating (many workers on one study)")
    grace_s: float = Field(60.0, gt=0, description="seconds without a heartbeat after which another worker "
                                                   "takes over a running trial")
    max_retries: int = Field(2, ge=0, description="times one evaluation is taken over from a dead worker before "
                                                  "it is recorded failed")


class ExportSection(_Strict):
    onnx: bool = Field(True, description="export each front member to ONNX (train-once job)")
    tolerance: float = Field(1e-4, gt=0, description="max abs diff allowed between ONNX Runtime and PyTorch outputs")
    plot: bool = Field(True, description="plot the front to front.png (train-once job)")


class CalibrationSection(_Strict):
    method: Literal["minmax", "percentile", "entropy"] = Field("minmax", description="how activation ranges are "
                                                                                      "calibrated (ONNX Runtime)")
    samples: int = Field(256, ge=1, description="training samples the ranges are calibrated on")


class QuantizeSection(_Strict):
    """A precision per quantizable block searched with the architecture (``hwnas.spaces.quantized``), each
    evaluated sub-network post-training quantized in ONNX Runtime (``hwnas.compress.ptq``)."""

    precisions: list[str] = Field(default_factory=lambda: ["int8", "fp32"],
                                  description="the precisions a block may take; only those the target executes "
                                              "natively (onnxruntime: int8, fp32; accelerator: int4, w4a8, "
                                              "int8, int16; w4a8 = 4-bit weights, 8-bit activations)")
    per: Literal["block", "network"] = Field("block", description="one precision per block the space declares, "
                                                                  "or one for the whole network")
    target: Literal["onnxruntime", "accelerator"] = Field("onnxruntime", description="where the model runs")
    calibration: CalibrationSection = Field(default_factory=CalibrationSection)
    max_accuracy_drop: float = Field(2.0, ge=0, description="a quantized model losing more accuracy points than "
                                                            "its fp32 sub-network is a failed evaluation")
    qat_epochs: int = Field(0, ge=0, description="accelerator target: quantization-aware fine-tuning epochs of each "
                                                 "evaluated sub-network before its fake-quantized accuracy is "
                                                 "measured (4-bit layers keep their accuracy only with it; each "
                                                 "epoch costs a pass over the training split per evaluation)")

    @model_validator(mode="after")
    def _executable(self):
        from hwnas.compress.policy import check_precisions

        check_precisions(self.precisions, self.target, field="precisions")
        if self.qat_epochs and self.target != "accelerator":
            raise ValueError(f"qat_epochs: {self.qat_epochs} is for target 'accelerator' (fake-quantized accuracy); "
                             f"target {self.target!r} measures post-training quantized models in ONNX Runtime "
                             "(hwnas.compress.qat fine-tunes a chosen front member after the search)")
        return self


class PruneSection(_Strict):
    """Front members pruned by channel after the search (``hwnas.compress.prune``), fine-tuned, re-measured,
    added to the front."""

    ratio: float = Field(0.5, gt=0, lt=1, description="fraction of the channels removed")
    members: Literal["all"] | list[int] = Field("all", description="front.csv rows to prune: all, or their indices")
    epochs: int = Field(5, ge=0, description="fine-tuning epochs after pruning")
    lr: float = Field(1e-3, gt=0, description="fine-tuning learning rate (Adam)")
    repeats: int = Field(200, ge=3, description="timer blocks for the pruned model's latency")
    round_to: int | None = Field(16, ge=1, description="channels each group keeps, rounded down to a multiple of "
                                 "this (ONNX Runtime's CPU convolutions work in blocks of 16 channels: digits "
                                 "1.42-1.45x faster at 50 % instead of 1.27x); null keeps the exact ratio")


class CompressSection(_Strict):
    quantize: QuantizeSection | None = Field(None, description="search a quantization policy with the architecture")
    prune: PruneSection | None = Field(None, description="prune chosen front members by channel after the search")


#: the default targets of the train-once job: latency measured on this CPU and counted MACs / parameters
DEFAULT_TRAIN_ONCE_TARGETS = [
    {"name": "measure", "options": {"runtime": "onnxruntime", "threads": 1, "warmup": 10, "repeats": 20}},
    {"name": "count", "options": {"precisions": ["fp32"]}},
]

#: defaults of the train-once job where they differ from the table search's (filled in when left out)
TRAIN_ONCE_DEFAULTS: dict[str, Any] = {
    "space": {"name": "mobilenet"},
    "data": {"name": "digits"},
    "evaluator": {"name": "supernet", "options": {"split": "val", "calib_samples": 512}},
    "targets": DEFAULT_TRAIN_ONCE_TARGETS,
    "objectives": ["accuracy:max", "latency_ms:min"],
    "study": {"name": "supernet", "storage": "{out}/study.db"},
    "threads": 1,
}


class Config(_Strict):
    """A whole config (both jobs); see the module docstring."""

    space: SpaceSection = Field(default_factory=SpaceSection, description="the search space")
    data: DataSection | None = Field(None, description="the task (the train-once job's default: digits)")
    supernet: SupernetSection | None = Field(None, description="present: the train-once job")
    evaluator: EvaluatorSection | None = Field(None, description="the quality evaluator")
    targets: list[TargetSection] = Field(default_factory=list, description="cost models")
    objectives: list[ObjectiveText] = Field(min_length=1, description='"metric:max" or "metric:min"')
    constraints: list[ConstraintText] = Field(default_factory=list, description='"metric <= bound" / ">="')
    strategy: StrategySection = Field(default_factory=StrategySection, description="the search strategy")
    executor: ExecutorSection = Field(default_factory=ExecutorSection, description="where evaluations run")
    study: StudySection = Field(default_factory=StudySection, description="name, storage, budget, seed")
    export: ExportSection = Field(default_factory=ExportSection, description="what the train-once job writes")
    compress: CompressSection | None = Field(None, description="compression searched with the architecture "
                                                               "(train-once job)")
    threads: int | None = Field(None, ge=1, description="torch threads for training and evaluation (train-once "
                                                        "default 1: on a loaded machine fewer threads are faster)")

    @field_validator("space", "data", "evaluator", "strategy", "executor", mode="before")
    @classmethod
    def _shorthand(cls, v):
        return _component_shorthand(v)

    @field_validator("targets", mode="before")
    @classmethod
    def _target_shorthand(cls, v):
        return [_component_shorthand(t) for t in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _compress_needs_a_supernet(self):
        if self.compress is not None and self.compress.prune is not None and self.supernet is None:
            raise ValueError("compress.prune: pruning front members needs the train-once job (a config with a "
                             "`supernet:` section)")
        if self.compress is not None and self.compress.quantize is not None and self.supernet is None:
            raise ValueError("compress.quantize: quantizing evaluated sub-networks needs the train-once job "
                             "(a config with a `supernet:` section)")
        return self

    @property
    def job(self) -> str:
        """``train_once`` when the config has a ``supernet:`` section, else ``table_search``."""
        return TRAIN_ONCE if self.supernet is not None else TABLE_SEARCH

    def parsed_objectives(self) -> list[Objective]:
        return [Objective.parse(t) for t in self.objectives]

    def parsed_constraints(self) -> list[Constraint]:
        return [Constraint.parse(t) for t in self.constraints]

    def searched_metrics(self) -> list[str]:
        """Every metric an objective or a constraint names, once each, objectives first (what a search records)."""
        return list(dict.fromkeys([o.metric for o in self.parsed_objectives()]
                                  + [c.metric for c in self.parsed_constraints()]))


def with_job_defaults(raw: dict) -> dict:
    """``raw`` with the train-once defaults filled in where it leaves them out (unchanged for a table search)."""
    if "supernet" not in raw:
        return raw
    out = dict(raw)
    if out["supernet"] is None:
        out["supernet"] = {}
    for key, default in TRAIN_ONCE_DEFAULTS.items():
        if key not in out:
            out[key] = default
        elif key in ("evaluator", "study") and isinstance(out[key], dict):
            given = out[key]
            merged = {**default, **given}
            if key == "evaluator" and given.get("name", default["name"]) != default["name"]:
                merged = dict(given)  # another evaluator: the supernet evaluator's options do not apply
            elif key == "evaluator":
                merged["options"] = {**default["options"], **(given.get("options") or {})}
            out[key] = merged
    return out


# ---------------------------------------------------------------------------------------------- old keys

#: keys of the previous schemas -> where they live now (dotted paths; ``[]`` marks a list entry)
OLD_KEYS: dict[str, str] = {
    "search": "study (budget, batch_size, seed), top-level objectives / constraints, strategy (name, options)",
    "search.budget": "study.budget",
    "search.batch_size": "study.batch_size",
    "search.seed": "study.seed",
    "search.objectives": "objectives (top level)",
    "search.constraints": "constraints (top level)",
    "search.strategy": "strategy.name",
    "search.strategy_options": "strategy.options",
    "evaluation": "evaluator.options (evaluator: {name: supernet, options: {split: ..., calib_samples: ...}})",
    "latency": "a targets entry: {name: measure, options: {runtime, threads, warmup, repeats, cache}}",
    "supernet.space": "space (space.name)",
    "supernet.space_options": "space.options",
    "evaluator.type": "evaluator.name",
    "evaluator.path": "evaluator.options.path",
    "evaluator.arch_column": "evaluator.options.arch_column",
    "targets[].model": "targets[].name",
    "executor.workers": "executor.options.workers",
    "executor.address": "executor.options.address",
}


def old_key_errors(raw: dict) -> list[str]:
    """One message per key of a previous schema in ``raw``: the key, where it lives now, the allowed keys there."""
    found = []

    def check(section: dict, prefix: str, model: type[BaseModel], shown: str) -> None:
        allowed = f"allowed keys here: {sorted(model.model_fields)}"
        for key in section:
            path = f"{prefix}{key}"
            if path not in OLD_KEYS:
                continue
            subs = list(section[key]) if isinstance(section[key], dict) else []
            moved = [sub for sub in subs if f"{path}.{sub}" in OLD_KEYS]
            for sub in moved:  # a sub-key with a place of its own is named with it
                found.append(f"{shown}{key}.{sub}: key of the old schema; it now lives in "
                             f"{OLD_KEYS[f'{path}.{sub}']}; {allowed}")
            if not moved or len(moved) < len(subs):
                found.append(f"{shown}{key}: key of the old schema; it now lives in {OLD_KEYS[path]}; {allowed}")

    check(raw, "", Config, "")
    for name, model in (("supernet", SupernetSection), ("evaluator", EvaluatorSection),
                        ("executor", ExecutorSection)):
        if isinstance(raw.get(name), dict):
            check(raw[name], f"{name}.", model, f"{name}.")
    if isinstance(raw.get("targets"), list):
        for i, t in enumerate(raw["targets"]):
            if isinstance(t, dict) and "model" in t:
                found.append(f"targets.{i}.model: key of the old schema; it now lives in targets[].name; "
                             f"allowed keys here: {sorted(TargetSection.model_fields)}")
    return found


def resolve_paths(cfg: Config, base: Path) -> None:
    """Make the config's relative paths relative to ``base`` (the config file's folder)."""
    if cfg.data is not None and isinstance(cfg.data.options.get("path"), str):
        cfg.data.options["path"] = str(_resolve(base, cfg.data.options["path"]))
    if cfg.evaluator is not None and isinstance(cfg.evaluator.options.get("path"), str):
        cfg.evaluator.options["path"] = str(_resolve(base, cfg.evaluator.options["path"]))
    for t in cfg.targets:
        for k in ("path", "table", "lut", "cache"):
            if isinstance(t.options.get(k), str):
                t.options[k] = str(_resolve(base, t.options[k]))
    if cfg.study.storage and "://" not in cfg.study.storage and not cfg.study.storage.startswith("{out}"):
        cfg.study.storage = str(_resolve(base, cfg.study.storage))
    if cfg.supernet is not None and cfg.supernet.checkpoint and not cfg.supernet.checkpoint.startswith("{out}"):
        cfg.supernet.checkpoint = str(_resolve(base, cfg.supernet.checkpoint))
    init = cfg.supernet.init if cfg.supernet is not None else None
    if init is not None and not init.pretrained.startswith("{out}"):
        init.pretrained = str(_resolve(base, init.pretrained))
    if init is not None and init.pretrain is not None and isinstance(init.pretrain.data.options.get("path"), str):
        init.pretrain.data.options["path"] = str(_resolve(base, init.pretrain.data.options["path"]))


def _resolve(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q)
