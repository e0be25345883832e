"""Learned latency / energy predictor: fitted on measured samples, an ensemble with uncertainty.

What it knows about cost (see :mod:`hwnas.costs.latency.features` and
:mod:`hwnas.learn.regressor`): a measurement is close to a base cost
plus a cost per *executed* operation; positions deviate little from their
operation type; a few runs are disturbed. Each ensemble member is that
additive model fitted on a bootstrap resample; the prediction is the members'
median and the uncertainty their spread. Architectures whose executed graph
was itself measured are answered from the measurement (identical graphs were
measured once, so the table value *is* the best estimate of what a rerun gives).

What it knows about the runtime and the table comes from the space
(:class:`~hwnas.spaces.protocols.ExecutedWorkViews`) and is chosen by
cross-validation on the training rows: which *view* of the architecture the
runtime executes (NB201: dead code pruned, or every edge run as exported:
``view``), and whether the table measured each measurement class once on its
first-listed member (``representative``; needs the table's architectures in
order, ``catalog``). A space without such views is read as its canonical
architecture's one-hot.

Works on a space's architectures (any registered choice space) or on layer
lists (:class:`~hwnas.costs.base.Workload`). Saved as plain JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.core.errors import ConfigError, CostModelError, DataError
from hwnas.core.layers import Workload
from hwnas.core.plaindata import read_json, write_json
from hwnas.costs.base import CostModel
from hwnas.costs.latency.features import layer_cost_features
from hwnas.learn.cv import grouped_folds, out_of_fold
from hwnas.learn.regressor import DEFAULT_SHRINK, AdditiveFit, AdditiveRegressor
from hwnas.spaces import views as space_views
from hwnas.spaces.base import ChoiceSpace
from hwnas.spaces.views import REPRESENTATIVES, FeatureBlock

FORMAT = "hwnas.latency_predictor/1"


# ---------------------------------------------------------------------------------------------- spaces
def make_space(space: str | ChoiceSpace | None) -> ChoiceSpace | None:
    """The space a predictor reads architectures of: a space, a registered space's name, or ``None``
    (layer lists)."""
    if space is None or isinstance(space, ChoiceSpace):
        return space
    from hwnas.spaces import SPACES

    if space not in SPACES:
        raise CostModelError(f"predictor space {space!r} unknown; known spaces {SPACES.available()}")
    try:
        return SPACES.create(space)
    except ConfigError as e:
        raise CostModelError(f"predictor space {space!r}: {e}") from None


def feature_views(space: ChoiceSpace | None) -> tuple[str, ...]:
    """The views a predictor of ``space`` may read (layer lists: one)."""
    return space_views.executed_views(space) if space is not None else space_views.GENERIC_EXECUTED


# ---------------------------------------------------------------------------------------------- predictor
class LatencyPredictor:
    """An ensemble of additive cost models plus a memory of measured graphs.

    ``space``: the architecture space or its registered name (``"nb201"``), or
    ``None`` for layer lists. ``target``: the measured quantity (a column name, e.g.
    ``pi5_onnx_latency_ms``); ``unit``: its unit. ``members``: ensemble size.
    ``memory``: answer measured graphs from their measurement. ``view``: what the
    runtime executes (one of the space's executed-work views, see :func:`feature_views`, or
    ``"auto"``: chosen by cross-validation on the training rows). ``representative``:
    ``"own"``, ``"first"`` or ``"auto"`` (``first`` needs a ``catalog`` at fit time;
    ``auto`` chooses by cross-validation). ``cv_folds``: folds of that choice.
    """

    def __init__(
        self,
        space: str | ChoiceSpace | None = "nb201",
        target: str = "latency_ms",
        unit: str | None = None,
        members: int = 8,
        shrink: Mapping[str, float] | None = None,
        robust_scale: float = 0.05,
        memory: bool = True,
        seed: int = 0,
        view: str = "auto",
        representative: str = "auto",
        cv_folds: int = 5,
    ):
        self.space = make_space(space)
        allowed = ["auto", *feature_views(self.space)]
        if view not in allowed:
            raise CostModelError(f"predictor view={view!r} unknown; allowed {allowed}")
        if representative not in ("auto", *REPRESENTATIVES):
            raise CostModelError(
                f"predictor representative={representative!r} unknown; allowed {['auto', *REPRESENTATIVES]}"
            )
        if cv_folds < 2:
            raise CostModelError(f"predictor cv_folds={cv_folds} must be at least 2")
        if members < 1:
            raise CostModelError(f"predictor members={members} must be at least 1")
        if robust_scale <= 0:
            raise CostModelError(f"predictor robust_scale={robust_scale} must be positive")
        self.space_name = None if self.space is None else (space if isinstance(space, str) else self.space.name)
        self.target = target
        self.unit = unit or guess_unit(target)
        self.n_members = int(members)
        self.shrink = dict(DEFAULT_SHRINK if shrink is None else shrink)
        self.robust_scale = float(robust_scale)
        self.use_memory = bool(memory)
        self.seed = int(seed)
        self.view_option = view
        self.representative_option = representative
        self.cv_folds = int(cv_folds)
        # resolved at fit time
        self.view = feature_views(self.space)[0] if view == "auto" else view
        self.representative = "own" if representative == "auto" else representative
        self.representatives: dict[int, int] = {}
        self.feature_names: tuple[str, ...] = ()
        self.groups: tuple[str, ...] = ()
        self.fits: list[AdditiveFit] = []
        self.memory: dict[str, float] = {}
        self.n_train = 0
        self.provenance: dict[str, Any] = {}

    # ------------------------------------------------------------------ features
    def _block(self, items: Sequence[Any]) -> tuple[FeatureBlock, list[str] | None]:
        if self.space is None:
            networks = [w.layers if isinstance(w, Workload) else w for w in items]
            return layer_cost_features(networks), None
        return self._gene_block(self._genes(items), self.view, self.representative, self.representatives)

    def _gene_block(self, genes: np.ndarray, view: str, representative: str,
                    reps: Mapping[int, int]) -> tuple[FeatureBlock, list[str]]:
        """Features of the architecture that was measured for each row, and the rows' measurement keys."""
        measured = space_views.apply_representatives(self.space, genes, reps) if representative == "first" else genes
        return (space_views.executed_work(self.space, measured, view),
                space_views.measurement_keys(self.space, genes, view, representative))

    def _genes(self, items: Sequence[Any]) -> np.ndarray:
        if isinstance(items, np.ndarray) and items.dtype.kind in "iu":
            return np.atleast_2d(items)
        archs = [w.key if isinstance(w, Workload) else w for w in items]
        return self.space.genes_matrix(archs)

    # ------------------------------------------------------------------ fit / predict
    @property
    def fitted(self) -> bool:
        return bool(self.fits)

    def fit(self, items: Sequence[Any], y: Sequence[float], prior: LatencyPredictor | None = None,
            prior_shrink: Mapping[str, float] | None = None, catalog: Sequence[Any] | None = None
            ) -> LatencyPredictor:
        """Fit on architectures (or gene rows, or layer lists) and their measured values.

        ``catalog``: every architecture of the measurement table in the table's
        order (targets not needed); lets the predictor test whether the table
        measured each isomorphism class once on its first-listed member.

        Values must be finite; zero or negative values are kept in the memory of
        measured graphs but not regressed on (relative error is undefined there).

        With ``prior`` (a predictor fitted on another device or runtime), each
        member is pulled towards the prior's mean coefficients, rescaled to this
        target, and uses the prior's view and protocol: few-shot transfer (see
        :mod:`hwnas.costs.latency.transfer`).
        """
        y = np.asarray(y, dtype=np.float64)
        if len(items) != len(y):
            raise DataError(f"{len(items)} architectures but {len(y)} target values")
        bad = np.where(~np.isfinite(y))[0]
        if len(bad):
            raise DataError(f"target {self.target!r}: value {y[bad[0]]!r} at position {int(bad[0])} is not finite")
        positive = y > 0
        if positive.sum() < 2:
            raise DataError(
                f"target {self.target!r}: need at least 2 positive measurements to fit, got {int(positive.sum())}"
            )
        self.provenance.pop("selection", None)
        if self.space is not None and space_views.has_executed_views(self.space):
            genes = self._genes(items)
            if catalog is not None:
                self.representatives = space_views.listed_representatives(self.space, self._genes(catalog))
            else:
                self.representatives = {} if prior is None else dict(prior.representatives)
            if prior is not None:
                self.view, self.representative = prior.view, prior.representative
            else:
                self._select(genes, y, positive)
        block, keys = self._block(items)
        self.feature_names, self.groups = block.names, block.groups
        # a zero (e.g. a runtime that folded a constant network away) has no relative error to fit;
        # it still enters the memory of measured graphs below
        X, y_all, y = block.matrix[positive], y, y[positive]
        reg = AdditiveRegressor(self.groups, self.shrink, self.robust_scale)
        prior_fit = None
        if prior is not None:
            if prior.feature_names != self.feature_names:
                raise CostModelError("prior predictor was fitted on different features; cannot transfer")
            prior_fit = prior.scaled_mean(X, y)
        rng = np.random.default_rng(self.seed)
        self.fits = []
        n = len(y)
        for m in range(self.n_members):
            if m == 0 or self.n_members == 1:
                w = np.ones(n)
            else:  # Bayesian bootstrap: smooth resampling weights, never drops a row entirely
                w = rng.dirichlet(np.ones(n)) * n
            self.fits.append(reg.fit(X, y, prior=prior_fit, prior_shrink=prior_shrink, weights=w))
        self.memory = {}
        if self.use_memory and keys is not None:
            grouped: dict[str, list[float]] = {}
            for k, v in zip(keys, y_all):
                grouped.setdefault(k, []).append(float(v))
            self.memory = {k: float(np.median(v)) for k, v in grouped.items()}
        self.n_train = len(y_all)
        return self

    def candidates(self) -> list[tuple[str, str]]:
        """The (view, representative) pairs the fit chooses among."""
        views = list(feature_views(self.space)) if self.view_option == "auto" else [self.view_option]
        if self.representative_option == "auto":
            reps = ["own", "first"] if self.representatives else ["own"]
        else:
            reps = [self.representative_option]
        return [(v, r) for v in views for r in reps]

    def _select(self, genes: np.ndarray, y: np.ndarray, positive: np.ndarray) -> None:
        """Choose view and representative by grouped K-fold cross-validation on the training rows.

        Score: Kendall tau of the out-of-fold predictions (regression only, no memory),
        averaged over up to 3 fold splits on small samples, ties broken by the mean
        absolute log error. Folds never split a measurement class.
        """
        from scipy.stats import kendalltau

        cands = self.candidates()
        if self.representative == "first" and not self.representatives:
            raise CostModelError("representative='first' needs a catalog (the table's architectures in order)")
        genes, y = genes[positive], y[positive]
        if len(y) > 2000:  # the choice is clear long before this: keep the check cheap on big tables
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), 2000, replace=False))
            genes, y = genes[keep], y[keep]
        if len(cands) == 1 or len(y) < 8:
            self.view, self.representative = cands[0]
            return
        groups = space_views.measurement_groups(self.space, genes)
        n_folds = min(self.cv_folds, len(np.unique(groups)))
        if n_folds < 2:
            self.view, self.representative = cands[0]
            return
        # small samples: average over a few different fold splits (one split's tau on 20 rows is noisy)
        repeats = int(np.clip(round(60 / len(y)), 1, 3))
        folds = grouped_folds(groups, n_folds, np.random.default_rng(self.seed), repeats=repeats)
        scores = {}
        for view, rep in cands:
            block, _ = self._gene_block(genes, view, rep, self.representatives)
            reg = AdditiveRegressor(block.groups, self.shrink, self.robust_scale)

            def fit_predict(train, held, X=block.matrix, reg=reg):
                return reg.fit(X[train], y[train]).predict(X[held])

            taus, errors = [], []
            for fold in folds:
                oof = out_of_fold(fold, fit_predict)
                tau = kendalltau(oof, y).statistic
                taus.append(-1.0 if not np.isfinite(tau) else float(tau))
                errors.append(float(np.mean(np.abs(np.log(np.maximum(oof, 1e-12 * y) / y)))))
            scores[f"{view}/{rep}"] = (float(np.mean(taus)), -float(np.mean(errors)))
        best = max(scores, key=scores.get)
        self.view, self.representative = best.split("/")
        self.provenance["selection"] = {k: {"cv_kendall_tau": v[0], "cv_mean_abs_log_error": -v[1]}
                                        for k, v in scores.items()}

    def scaled_mean(self, X: np.ndarray, y: np.ndarray) -> AdditiveFit:
        """This predictor's mean model, rescaled so its median prediction on ``X`` matches ``y``'s."""
        mean = self.mean_fit()
        ratio = float(np.median(y / np.maximum(mean.predict(X), 1e-12)))
        return AdditiveFit(mean.intercept * ratio, mean.coef * ratio)

    def mean_fit(self) -> AdditiveFit:
        self._check_fitted()
        return AdditiveFit(
            float(np.mean([f.intercept for f in self.fits])), np.mean([f.coef for f in self.fits], axis=0)
        )

    def predict(self, items: Sequence[Any], return_std: bool = False, use_memory: bool = True):
        """Predicted target per item (and the ensemble's standard deviation with ``return_std``)."""
        self._check_fitted()
        block, keys = self._block(items)
        if block.names != self.feature_names:
            raise CostModelError("items produce different features than the predictor was fitted on")
        preds = np.stack([f.predict(block.matrix) for f in self.fits])
        mean = np.median(preds, axis=0)
        std = preds.std(axis=0)
        if use_memory and self.memory and keys is not None:
            for i, k in enumerate(keys):
                if k in self.memory:
                    mean[i] = self.memory[k]
        return (mean, std) if return_std else mean

    def _check_fitted(self) -> None:
        if not self.fits:
            raise CostModelError(f"predictor for {self.target!r} is not fitted")

    # ------------------------------------------------------------------ persistence (plain JSON, never pickle)
    def to_dict(self) -> dict:
        self._check_fitted()
        return {
            "format": FORMAT,
            "space": self.space_name,
            "target": self.target,
            "unit": self.unit,
            "members": self.n_members,
            "shrink": self.shrink,
            "robust_scale": self.robust_scale,
            "use_memory": self.use_memory,
            "seed": self.seed,
            "view": self.view,
            "representative": self.representative,
            "representatives": {str(k): int(v) for k, v in sorted(self.representatives.items())},
            "n_train": self.n_train,
            "feature_names": list(self.feature_names),
            "groups": list(self.groups),
            "fits": [{"intercept": f.intercept, "coef": f.coef.tolist()} for f in self.fits],
            "memory": self.memory,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: Mapping, source: str = "<dict>") -> LatencyPredictor:
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, Mapping) else None
            what = f"its format is {found!r}" if found is not None else "it has no format field"
            raise DataError(f"{source}: not a saved latency predictor this version reads ({what}; expected "
                            f"format {FORMAT!r}); refit it with 'hwnas predictor fit'")
        try:
            pred = cls(space=d["space"], target=d["target"], unit=d["unit"], members=int(d["members"]),
                       shrink=d["shrink"], robust_scale=float(d["robust_scale"]),
                       memory=bool(d["use_memory"]), seed=int(d["seed"]),
                       view=d.get("view", "executed"), representative=d.get("representative", "own"))
            pred.representatives = {int(k): int(v) for k, v in d.get("representatives", {}).items()}
            pred.feature_names = tuple(d["feature_names"])
            pred.groups = tuple(d["groups"])
            pred.fits = [AdditiveFit(float(f["intercept"]), np.asarray(f["coef"], dtype=np.float64))
                         for f in d["fits"]]
            pred.memory = {str(k): float(v) for k, v in d["memory"].items()}
            pred.n_train = int(d["n_train"])
            pred.provenance = dict(d.get("provenance", {}))
        except (KeyError, TypeError, ValueError, CostModelError) as e:
            raise DataError(f"{source}: malformed latency predictor: {e!r}") from None
        if any(len(f.coef) != len(pred.feature_names) for f in pred.fits) or not pred.fits:
            raise DataError(f"{source}: coefficients and feature names disagree in length")
        return pred

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> LatencyPredictor:
        data = read_json(path, "predictor file")
        return cls.from_dict(data, source=str(path))


def guess_unit(target: str) -> str:
    """Unit from a column name's suffix (``_ms`` -> ms, ``_mj`` -> mJ, ...), else ``"1"``."""
    suffixes = {"_ms": "ms", "_s": "s", "_us": "us", "_mj": "mJ", "_j": "J", "_uj": "uJ", "_w": "W", "_mw": "mW"}
    low = target.lower()
    for suffix, unit in suffixes.items():
        if low.endswith(suffix):
            return unit
    return "1"


# ---------------------------------------------------------------------------------------------- cost model
class PredictorCostModel(CostModel):
    """The ``predictor`` cost model: a saved :class:`LatencyPredictor` costs workloads or architectures.

    For a space predictor the workload's ``key`` is read as an architecture of
    that space; for a layer predictor its ``layers`` are used. Returns the
    prediction under ``metric`` (default: the predictor's target name) and its
    ensemble spread under ``<metric>_std``.
    """

    name = "predictor"

    def __init__(self, path: str | Path | None = None, predictor: LatencyPredictor | None = None,
                 metric: str | None = None):
        if (path is None) == (predictor is None):
            raise CostModelError("predictor cost model needs exactly one of a file path or a fitted predictor")
        self.path = None if path is None else str(path)
        self.predictor = predictor if predictor is not None else LatencyPredictor.load(path)
        self.predictor._check_fitted()
        self.metric = metric or self.predictor.target
        self.units = {self.metric: self.predictor.unit, f"{self.metric}_std": self.predictor.unit}

    def cost(self, workload: Workload) -> dict[str, float]:
        item = workload if self.predictor.space is None else workload.key
        return self.cost_many([item])[0]

    def cost_arch(self, arch: Any) -> dict[str, float]:
        """Cost one architecture of the predictor's space (dict or text form)."""
        if self.predictor.space is None:
            raise CostModelError("this predictor reads layer lists; cost a Workload instead of an architecture")
        return self.cost_many([arch])[0]

    def cost_many(self, items: Sequence[Any]) -> list[dict[str, float]]:
        """Vectorised costing of many architectures or workloads."""
        mean, std = self.predictor.predict(items, return_std=True)
        out = []
        for m, s in zip(mean, std):
            if not math.isfinite(m):
                raise CostModelError(f"predictor for {self.metric!r} produced a non-finite value")
            out.append({self.metric: float(m), f"{self.metric}_std": float(s)})
        return out

    def describe(self) -> dict:
        return {"cost_model": self.name, "path": self.path, "target": self.predictor.target, "metric": self.metric}
