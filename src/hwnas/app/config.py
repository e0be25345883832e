"""Search configuration files (YAML), validated into clear errors that name the field and what is allowed.

A config names a space, an evaluator, objectives, optional constraints, a
strategy, an executor and the study (storage, budget, seed). Paths are
relative to the config file. Configs with a top-level ``supernet:`` section
describe the train-once pipeline instead (see ``hwnas.app.pipeline_config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Constraint, Objective


def format_validation_error(err: ValidationError, source: str, root: type[BaseModel] | None = None) -> str:
    """One line per problem: the field's dotted path, what is wrong, the value given; for an unknown
    field, the fields allowed there (looked up from ``root``, the model that was validated)."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<top level>"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        if e["type"] == "extra_forbidden" and root is not None:
            parent = root
            for part in e["loc"][:-1]:
                field = parent.model_fields.get(str(part)) if isinstance(parent, type) else None
                parent = field.annotation if field is not None else None
            if isinstance(parent, type) and issubclass(parent, BaseModel):
                msg += f"; allowed fields: {sorted(parent.model_fields)}"
        got = e.get("input")
        lines.append(f"{loc}: {msg}" + (f" (got {got!r})" if e["type"] not in ("missing", "extra_forbidden")
                                          and not isinstance(got, dict) else ""))
    return f"{source}: invalid configuration:\n  " + "\n  ".join(lines)


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


class SpaceConfig(_Strict):
    name: str = "nb201"
    options: dict[str, Any] = Field(default_factory=dict)


class TableEvaluatorConfig(_Strict):
    type: Literal["table"] = "table"
    path: str
    arch_column: str = "arch"


class TargetConfig(_Strict):
    """A hardware target: a cost model chosen by name (count, measure, lut, predictor, accelerator, roofline)."""

    model: str
    options: dict[str, Any] = Field(default_factory=dict)
    prefix: str = ""  # prepended to the model's metric names, to tell two targets apart


class StrategyConfig(_Strict):
    name: str | None = None  # None -> the default strategy
    options: dict[str, Any] = Field(default_factory=dict)


class ExecutorConfig(_Strict):
    name: Literal["serial", "process", "ray"] = "serial"
    workers: int = Field(2, ge=1)
    address: str | None = None


class StudyConfig(_Strict):
    name: str = "study"
    storage: str | None = "hwnas.db"
    budget: int = Field(100, ge=1)
    batch_size: int | None = Field(None, ge=1)
    seed: int = 0


class SearchConfig(_Strict):
    space: SpaceConfig = Field(default_factory=SpaceConfig)
    evaluator: TableEvaluatorConfig | None = None
    targets: list[TargetConfig] = Field(default_factory=list)
    objectives: list[ObjectiveText] = Field(min_length=1)
    constraints: list[ConstraintText] = Field(default_factory=list)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    study: StudyConfig = Field(default_factory=StudyConfig)

    @field_validator("space", mode="before")
    @classmethod
    def _space_shorthand(cls, v):
        return {"name": v} if isinstance(v, str) else v

    def parsed_objectives(self) -> list[Objective]:
        return [Objective.parse(t) for t in self.objectives]

    def parsed_constraints(self) -> list[Constraint]:
        return [Constraint.parse(t) for t in self.constraints]


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config {path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def validate_file(path: str | Path, model: type[BaseModel]):
    """Read a YAML file and validate it into ``model``; every error names the file and the field."""
    raw = read_yaml(path)
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, str(path), model)) from None
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def load_search_config(path: str | Path) -> SearchConfig:
    """Read and validate a search config; relative paths become relative to the config's folder."""
    path = Path(path)
    cfg = validate_file(path, SearchConfig)
    if cfg.evaluator is None and not cfg.targets:
        raise ConfigError(f"{path}: invalid configuration:\n  evaluator: needed (or at least one entry in targets)")
    base = path.resolve().parent
    if cfg.evaluator is not None:
        cfg.evaluator.path = str(_resolve(base, cfg.evaluator.path))
    resolve_target_paths(cfg.targets, base)
    if cfg.study.storage and "://" not in cfg.study.storage:
        cfg.study.storage = str(_resolve(base, cfg.study.storage))
    return cfg


def resolve_target_paths(targets: list[TargetConfig], base: Path) -> None:
    """File options of cost models (saved tables and predictors) are relative to the config file."""
    for t in targets:
        for k in ("path", "table", "lut"):
            if isinstance(t.options.get(k), str):
                t.options[k] = str(_resolve(base, t.options[k]))


def _resolve(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q)
