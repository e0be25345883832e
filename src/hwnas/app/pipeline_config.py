"""The schema of a supernet search config (a YAML with a top-level ``supernet:`` section).

Everything in such a file is validated here; errors name the field and the
allowed values. Paths are relative to the config file.

.. code-block:: yaml

    data: {name: digits}                  # digits | mnist1d | folder (options: {path: ...})
    supernet:
      space: mobilenet                    # mobilenet | nb201_net | signal1d (or any registered trainable space)
      space_options: {}                   # input_shape / num_classes default to the data's
      training: {epochs: 30, batch_size: 64, sandwich_random: 2}
      checkpoint: null                    # default OUT/supernet.safetensors
    evaluation: {split: val, calib_samples: 512}
    latency: {runtime: onnxruntime, threads: 1}
    search: {budget: 100, objectives: ["accuracy:max", "latency_ms:min"]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hwnas.app.config import (
    ConstraintText,
    ObjectiveText,
    TargetConfig,
    resolve_target_paths,
    validate_file,
)
from hwnas.core.objectives import Constraint, Objective
from hwnas.supernet.settings import TrainingConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    name: Literal["digits", "mnist1d", "folder"] = "digits"
    options: dict[str, Any] = Field(default_factory=dict)


class SupernetConfig(_Strict):
    space: str = "mobilenet"
    space_options: dict[str, Any] = Field(default_factory=dict)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    checkpoint: Path | None = None


class EvaluationConfig(_Strict):
    split: Literal["val", "test"] = "val"
    calib_samples: int = Field(512, ge=1, description="training samples used to recalibrate batch norm")


class LatencyConfig(_Strict):
    runtime: Literal["onnxruntime", "torch"] = "onnxruntime"
    threads: int = Field(1, ge=1)
    warmup: int = Field(10, ge=0)
    repeats: int = Field(20, ge=3)
    cache: Path | None = None


class SearchSection(_Strict):
    budget: int = Field(100, ge=1)
    objectives: list[ObjectiveText] = Field(default_factory=lambda: ["accuracy:max", "latency_ms:min"],
                                            min_length=1)
    constraints: list[ConstraintText] = Field(default_factory=list)
    strategy: str | None = None
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    batch_size: int | None = Field(None, ge=1)
    seed: int = 0


class ExportConfig(_Strict):
    onnx: bool = True
    tolerance: float = Field(1e-4, gt=0, description="max abs diff allowed between ONNX Runtime and PyTorch outputs")
    plot: bool = True


class PipelineConfig(_Strict):
    data: DataConfig = Field(default_factory=DataConfig)
    supernet: SupernetConfig = Field(default_factory=SupernetConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    search: SearchSection = Field(default_factory=SearchSection)
    export: ExportConfig = Field(default_factory=ExportConfig)
    targets: list[TargetConfig] = Field(default_factory=list,
                                        description="extra cost models by name (accelerator, lut, predictor, ...)")
    threads: int = Field(2, ge=1, description="torch threads for training and evaluation")

    def objectives(self) -> list[Objective]:
        return [Objective.parse(t) for t in self.search.objectives]

    def constraints(self) -> list[Constraint]:
        return [Constraint.parse(t) for t in self.search.constraints]


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    """Read and validate a supernet search config; relative paths become relative to the file."""
    path = Path(path)
    cfg = validate_file(path, PipelineConfig)
    base = path.resolve().parent
    if cfg.supernet.checkpoint is not None and not cfg.supernet.checkpoint.is_absolute():
        cfg.supernet.checkpoint = base / cfg.supernet.checkpoint
    if cfg.latency.cache is not None and not cfg.latency.cache.is_absolute():
        cfg.latency.cache = base / cfg.latency.cache
    resolve_target_paths(cfg.targets, base)
    p = cfg.data.options.get("path")
    if p is not None and not Path(p).is_absolute():
        cfg.data.options["path"] = str(base / p)
    return cfg
