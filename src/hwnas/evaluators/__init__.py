"""Evaluators: quality (table, supernet) and cost, all arch -> named metrics.

Quality evaluators are found by name in :data:`EVALUATORS` (``table``, ``supernet``; an installed
package adds its own under the entry-point group ``hwnas.evaluators``). An entry is a class or
factory taking its config options as keyword arguments; besides them, :func:`make_evaluator`
passes each of the following *context* values the entry declares as a parameter:

- ``space``: the study's space;
- ``columns``: the metrics the objectives and constraints need that no target gives;
- ``data``: the task data (a job with a ``data:`` section);
- ``net`` and ``identity``: the trained supernet and its checkpoint's content id (train-once job).

An evaluator that needs none of them gets the space in :meth:`Evaluator.bind` like every other.
"""

from __future__ import annotations

from typing import Any

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry, accepted_options, unknown_options
from hwnas.evaluators.base import CombinedEvaluator, Evaluator

#: what a job can hand an evaluator besides its options (see the module docstring)
CONTEXT = ("space", "columns", "data", "net", "identity")


def table_evaluator(path: str, arch_column: str = "arch", *, space, columns=None) -> Evaluator:
    """The ``table`` evaluator: metrics ``columns`` looked up by architecture in the CSV / Parquet file ``path``."""
    from hwnas.evaluators.table import TableEvaluator

    return TableEvaluator(path, space, columns=columns, arch_column=arch_column)


EVALUATORS: Registry[Evaluator] = Registry("evaluator", "hwnas.evaluators", {
    "table": "hwnas.evaluators:table_evaluator",
    "supernet": "hwnas.evaluators.supernet:SupernetEvaluator",
    "stage_table": "hwnas.evaluators.stage_table:stage_table_evaluator",
})


def make_evaluator(name: str, options: dict[str, Any] | None = None, **context: Any) -> Evaluator:
    """The evaluator ``name`` built from ``options`` and the ``context`` values it declares."""
    options = dict(options or {})
    unknown = sorted(set(context) - set(CONTEXT))
    if unknown:
        raise ValueError(f"context {unknown} is not one of {list(CONTEXT)}")
    factory = EVALUATORS.get(name)
    wanted = set(accepted_options(factory))
    reserved = sorted(set(options) & set(CONTEXT) & wanted)
    if reserved:
        raise ConfigError(f"evaluator {name!r}: {reserved} are given by the job, not options")
    missing = sorted(k for k in wanted & set(CONTEXT) if k not in context and k in _required(factory))
    if missing:
        raise ConfigError(f"evaluator {name!r} needs {missing}, which this job does not have"
                          + ("; the supernet evaluator runs in the train-once job (a config with a "
                             "`supernet:` section)" if "net" in missing else ""))
    bad = unknown_options(factory, options)
    if bad:
        allowed = [k for k in accepted_options(factory) if k not in CONTEXT]
        raise ConfigError(f"evaluator {name!r}: unknown option(s) {bad}; allowed: {allowed}")
    given = {k: v for k, v in context.items() if k in wanted}
    evaluator = EVALUATORS.create(name, **options, **given)
    if not isinstance(evaluator, Evaluator):
        raise TypeError(f"evaluator {name!r} must build an Evaluator, got {type(evaluator).__name__}")
    return evaluator


def _required(factory) -> set[str]:
    import inspect

    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


__all__ = ["CONTEXT", "EVALUATORS", "CombinedEvaluator", "Evaluator", "make_evaluator", "table_evaluator"]
