"""Surrogate ensembles: they fit, predict every member at once, and know their uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.core.errors import ConfigError
from hwnas.learn.ensemble import (
    BootstrapRidge,
    ExtraTreesEnsemble,
    GaussianProcess,
    MixedEnsemble,
    make_surrogate,
)


def linear_data(n=120, d=6, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    w = np.arange(1, d + 1, dtype=float)
    return X, X @ w + 3.0 + rng.normal(0, noise, n), w


@pytest.mark.parametrize("kind", ["ridge", "trees", "mixed", "gp"])
def test_members_shape_and_mean(kind):
    X, y, _ = linear_data()
    m = make_surrogate(kind, n_members=8, seed=1).fit(X, y)
    P = m.predict_members(X[:30])
    assert P.shape == ((16 if kind == "mixed" else 8), 30)
    mean, std = m.predict(X[:30])
    np.testing.assert_allclose(mean, P.mean(axis=0))
    assert (std >= 0).all() and std.max() > 0  # members disagree somewhere
    # fits well in-sample: correlation with the targets
    assert np.corrcoef(mean, y[:30])[0, 1] > 0.9


def test_ridge_recovers_a_linear_function_and_the_noise_level():
    X, y, w = linear_data(n=300, noise=0.3)
    m = BootstrapRidge(n_members=16).fit(X, y)
    np.testing.assert_allclose(m.coef_.mean(axis=0), w, atol=0.35)
    assert 0.2 < m.residual_std_ < 0.45  # out-of-bag residuals estimate the true noise, 0.3


def test_uncertainty_grows_away_from_the_data():
    rng = np.random.default_rng(0)
    X = rng.random((80, 3)) * 0.5  # data only in the lower half of every feature
    y = np.sin(6 * X).sum(1)
    for m in (BootstrapRidge(n_members=24), ExtraTreesEnsemble(n_members=24), GaussianProcess(n_members=24)):
        m.fit(X, y)
        _, near = m.predict(rng.random((200, 3)) * 0.5)
        _, far = m.predict(3.0 + rng.random((200, 3)))
        if isinstance(m, (BootstrapRidge, GaussianProcess)):
            assert far.mean() > 2 * near.mean()
        else:  # trees extrapolate flat, but their spread is still not smaller far away
            assert far.mean() >= 0.8 * near.mean()


def test_gaussian_process_follows_a_nonlinear_function_and_its_members_are_antithetic():
    rng = np.random.default_rng(0)
    X = rng.random((150, 2))

    def f(Z):  # no linear model fits this
        return np.sin(5 * Z[:, 0]) * np.cos(4 * Z[:, 1])

    y = f(X) + rng.normal(0, 0.05, len(X))
    gp = GaussianProcess(n_members=16, seed=2).fit(X, y)
    Xt = rng.random((300, 2))
    mean, sd = gp.predict(Xt)
    assert np.corrcoef(mean, f(Xt))[0, 1] > 0.95
    ridge_mean, _ = BootstrapRidge().fit(X, y).predict(Xt)
    assert np.corrcoef(ridge_mean, f(Xt))[0, 1] < 0.6
    # the marginal likelihood finds a small noise level: ~0.05 on targets of spread ~0.5
    assert 0.01 < gp.residual_std_ < 0.15
    P = gp.predict_members(Xt)
    assert P.shape == (16, 300)
    np.testing.assert_allclose(P.mean(axis=0), mean, atol=1e-12)  # pairs mean +- sd z average to the mean
    assert abs(np.mean(P.std(axis=0) / sd) - 1.0) < 0.1  # and their spread is the posterior deviation
    np.testing.assert_array_equal(P, gp.predict_members(Xt))  # draws fixed by the seed
    odd = GaussianProcess(n_members=5, seed=2).fit(X, y).predict_members(Xt)
    assert odd.shape == (5, 300)
    np.testing.assert_allclose(odd.mean(axis=0), mean, atol=1e-12)
    assert make_surrogate("ridge+gp", n_members=7).fit(X, y).predict_members(Xt).shape == (7, 300)
    with pytest.raises(ConfigError, match="n_members"):
        GaussianProcess(n_members=0)


def test_deterministic_given_seed():
    X, y, _ = linear_data()
    a = ExtraTreesEnsemble(seed=3).fit(X, y).predict_members(X)
    b = ExtraTreesEnsemble(seed=3).fit(X, y).predict_members(X)
    np.testing.assert_array_equal(a, b)


def test_bad_input_is_refused():
    X, y, _ = linear_data()
    with pytest.raises(ConfigError, match="surrogate 'svm'.*ridge"):
        make_surrogate("svm")
    with pytest.raises(ValueError, match="non-finite"):
        BootstrapRidge().fit(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match="at least 2 rows"):
        BootstrapRidge().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="expected X"):
        BootstrapRidge().fit(X, y[:-1])
    with pytest.raises(ConfigError):
        MixedEnsemble([])


def test_rank_warp_is_monotone_invertible_and_extrapolates():
    from hwnas.learn.warp import RankWarp

    rng = np.random.default_rng(0)
    y = np.r_[rng.normal(90, 2, 60), 10.0, 11.0, 90.0, 90.0]  # heavy left tail and ties
    w = RankWarp().fit(y)
    z = w.transform(y)
    np.testing.assert_allclose(w.inverse(z), y, atol=1e-9)
    grid = np.linspace(-4, 4, 101)
    assert (np.diff(w.inverse(grid)) >= 0).all()
    assert w.inverse(np.array([z.max() + 1.0]))[0] > y.max()  # a predicted improvement survives the warp
    assert abs(z).max() < 3  # the 10% outliers no longer dominate the scale
    with pytest.raises(ValueError):
        RankWarp().fit(np.array([1.0]))


def _gp_reference(gp, X, y, Xt):
    """Posterior mean and deviation of a GP with ``gp``'s kernel, by the textbook formulas."""
    def k(A, B):
        A, B = (A - gp.lo_) / gp.scale_, (B - gp.lo_) / gp.scale_
        return np.exp(-0.5 * ((A[:, None, :] - B[None]) ** 2).sum(-1) / gp.ell_**2)

    K = k(X, X) + (gp.noise_ratio_ + 1e-8) * np.eye(len(X))
    Ki = np.linalg.inv(K)
    one = np.ones(len(X))
    mu = one @ Ki @ y / (one @ Ki @ one)
    s2 = (y - mu) @ Ki @ (y - mu) / len(y)
    Ks = k(X, Xt)
    return mu + Ks.T @ Ki @ (y - mu), np.sqrt(np.maximum(1 - np.einsum("ij,ik,kj->j", Ks, Ki, Ks), 0) * s2)


def test_gaussian_process_extends_with_its_kernel_and_caches_candidate_predictions():
    rng = np.random.default_rng(4)
    X = rng.random((90, 5))
    y = np.sin(4 * X[:, 0]) + X[:, 1] * X[:, 2] + rng.normal(0, 0.05, 90)
    pool = rng.random((400, 5))
    gp = GaussianProcess(n_members=6, seed=1).fit(X[:60], y[:60])
    first = gp.predict_members_on(pool)  # the cache starts here
    np.testing.assert_allclose(first, gp.predict_members(pool), atol=1e-5)
    y2 = y + 0.3  # targets of the old rows may change between fits (a rank warp refitted)
    for n in (65, 70, 90):  # grown in steps, as a search grows
        gp = gp.extend(X[:n], y2[:n])
        mean, sd = _gp_reference(gp, X[:n], y2[:n], pool)
        np.testing.assert_allclose(gp.predict(pool)[0], mean, atol=1e-4)
        np.testing.assert_allclose(gp.predict(pool)[1], sd, atol=1e-4)
        rows = rng.choice(400, 50, replace=False)
        np.testing.assert_allclose(gp.predict_members_on(pool, rows), gp.predict_members(pool[rows]), atol=1e-4)
        np.testing.assert_allclose(gp.predict_mean_on(pool), mean, atol=1e-4)
    assert gp.predict_members_on(pool).shape == (6, 400)
    with pytest.raises(ValueError, match="first rows"):
        gp.extend(X[::-1], y)
    with pytest.raises(ValueError, match="first rows"):
        gp.extend(X[:50], y[:50])
