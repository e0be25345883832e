"""README.md's "Config reference" lists every field of the config schema with the schema's default, and nothing else.

The schema (``hwnas.app.schema.Config``, with ``hwnas.supernet.settings.TrainingConfig`` inside) is
walked recursively; each leaf field's dotted name (``targets[].prefix`` for a list's items) must have
a row in the reference table, and the row's default must be the schema's (read as YAML), so the
README cannot drift from the code.
"""

import re
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from hwnas.app.schema import Config

README = Path(__file__).resolve().parents[1] / "README.md"


def _model_in(annotation) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside ``annotation`` and whether it is a list's item."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            model, in_list = _model_in(arg)
            if model is not None:
                return model, in_list or origin is list
    return None, False


def schema_fields(model: type[BaseModel] = Config, prefix: str = "") -> dict[str, object]:
    """Dotted name of every leaf field -> its default (``PydanticUndefined`` for a required field)."""
    out: dict[str, object] = {}
    for name, field in model.model_fields.items():
        sub, in_list = _model_in(field.annotation)
        if sub is not None:
            out.update(schema_fields(sub, f"{prefix}{name}{'[]' if in_list else ''}."))
            continue
        default = field.default_factory() if field.default_factory is not None else field.default
        out[f"{prefix}{name}"] = default
    return out


def reference_rows() -> dict[str, str]:
    """Field -> default cell of the README's Config reference table."""
    section = README.read_text().split("## Config reference", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `([^`]+)` \| [^|]* \| ([^|]*) \|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def test_every_schema_field_is_documented_with_its_default():
    fields = schema_fields()
    rows = reference_rows()
    assert len(fields) > 30  # the walk reached the nested sections (training settings included)
    undocumented = sorted(set(fields) - set(rows))
    assert not undocumented, f"schema fields missing from README's Config reference: {undocumented}"
    stale = sorted(set(rows) - set(fields))
    assert not stale, f"README's Config reference lists fields the schema does not have: {stale}"
    for name, default in fields.items():
        cell = rows[name]
        if default is PydanticUndefined:
            assert cell == "(required)", name
        else:
            assert cell.startswith("`") and cell.endswith("`"), f"{name}: default cell {cell!r}"
            assert yaml.safe_load(cell.strip("`")) == default, f"{name}: README says {cell}, schema {default!r}"


def test_the_walk_sees_a_new_field(monkeypatch):
    """The check above would catch an undocumented field: add one to a nested section and it is reported."""
    from hwnas.app.schema import ExportSection

    fields = schema_fields()
    assert "supernet.training.distill" in fields and "targets[].prefix" in fields
    monkeypatch.setitem(ExportSection.model_fields, "quantize", ExportSection.model_fields["plot"])
    assert "export.quantize" in set(schema_fields()) - set(reference_rows())
