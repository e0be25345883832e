"""Surrogates behind one interface: fit, extend, predict every member at once (pools cached by key)."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.core.errors import ConfigError
from hwnas.learn.gp import GaussianProcess
from hwnas.learn.ridge import BootstrapRidge
from hwnas.learn.surrogate import SURROGATES, Pool, Surrogate, make_surrogate


def linear_data(n=120, d=6, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    w = np.arange(1, d + 1, dtype=float)
    return X, X @ w + 3.0 + rng.normal(0, noise, n), w


@pytest.mark.parametrize("kind", ["ridge", "gp"])
def test_members_shape_and_mean(kind):
    X, y, _ = linear_data()
    m = make_surrogate(kind, n_members=8, seed=1).fit(X, y)
    assert isinstance(m, Surrogate)
    P = m.predict_members(X[:30])
    assert P.shape == (8, 30)
    mean, std = m.predict(X[:30])
    np.testing.assert_allclose(mean, P.mean(axis=0))
    assert (std >= 0).all() and std.max() > 0  # members disagree somewhere
    # fits well in-sample: correlation with the targets
    assert np.corrcoef(mean, y[:30])[0, 1] > 0.9


def test_ridge_recovers_a_linear_function():
    X, y, w = linear_data(n=300, noise=0.3)
    m = BootstrapRidge(n_members=16).fit(X, y)
    np.testing.assert_allclose(m.coef_.mean(axis=0), w, atol=0.35)


def test_uncertainty_grows_away_from_the_data():
    rng = np.random.default_rng(0)
    X = rng.random((80, 3)) * 0.5  # data only in the lower half of every feature
    y = np.sin(6 * X).sum(1)
    for m in (BootstrapRidge(n_members=24), GaussianProcess(n_members=24)):
        m.fit(X, y)
        _, near = m.predict(rng.random((200, 3)) * 0.5)
        _, far = m.predict(3.0 + rng.random((200, 3)))
        assert far.mean() > 2 * near.mean()


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
    assert 0.01 < np.sqrt(gp.noise_ratio_ * gp.s2_) < 0.15
    P = gp.predict_members(Xt)
    assert P.shape == (16, 300)
    np.testing.assert_allclose(P.mean(axis=0), mean, atol=1e-12)  # pairs mean +- sd z average to the mean
    assert abs(np.mean(P.std(axis=0) / sd) - 1.0) < 0.1  # and their spread is the posterior deviation
    np.testing.assert_array_equal(P, gp.predict_members(Xt))  # draws fixed by the seed
    odd = GaussianProcess(n_members=5, seed=2).fit(X, y).predict_members(Xt)
    assert odd.shape == (5, 300)
    np.testing.assert_allclose(odd.mean(axis=0), mean, atol=1e-12)
    with pytest.raises(ConfigError, match="n_members"):
        GaussianProcess(n_members=0)


def test_deterministic_given_seed():
    X, y, _ = linear_data()
    a = BootstrapRidge(seed=3).fit(X, y).predict_members(X)
    b = BootstrapRidge(seed=3).fit(X, y).predict_members(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, BootstrapRidge(seed=4).fit(X, y).predict_members(X))


def test_bad_input_is_refused():
    X, y, _ = linear_data()
    with pytest.raises(ConfigError, match="surrogate 'svm'.*gp.*ridge"):
        make_surrogate("svm")
    with pytest.raises(ConfigError, match="n_members"):
        BootstrapRidge(n_members=0)
    with pytest.raises(ValueError, match="non-finite"):
        BootstrapRidge().fit(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match="at least 2 rows"):
        BootstrapRidge().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="expected X"):
        BootstrapRidge().fit(X, y[:-1])


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


def test_gaussian_process_pool_means_skip_the_variance_solve_until_asked():
    """Rankings on the mean alone keep only the cross-kernel; the variance's solve is made when first asked
    (at whatever size the model has grown to) and then grown with it: every order gives the direct answer."""
    rng = np.random.default_rng(5)
    X = rng.random((80, 5))
    y = np.cos(3 * X[:, 0]) + X[:, 3] + rng.normal(0, 0.05, 80)
    pool = Pool(rng.random((300, 5)))
    gp = GaussianProcess(n_members=4, seed=2).fit(X[:50], y[:50])
    for n in (50, 55, 60):  # means only, grown twice
        gp = gp.extend(X[:n], y[:n]) if n > 50 else gp
        np.testing.assert_allclose(gp.predict_mean_on(pool), _gp_reference(gp, X[:n], y[:n], pool.X)[0], atol=1e-4)
    assert gp._on[pool.key]["nv"] == 0 and gp._on[pool.key]["vv"] is None  # no variance asked: no O(n^2 m) solve
    for n in (60, 66, 72):  # the solve made at 60 rows, then grown by the new rows' block
        gp = gp.extend(X[:n], y[:n]) if n > 60 else gp
        np.testing.assert_allclose(gp.predict_members_on(pool), gp.predict_members(pool.X), atol=1e-4)
        np.testing.assert_allclose(gp.predict(pool.X)[1], _gp_reference(gp, X[:n], y[:n], pool.X)[1], atol=1e-4)


def test_gaussian_process_extends_with_its_kernel_and_caches_candidate_predictions():
    rng = np.random.default_rng(4)
    X = rng.random((90, 5))
    y = np.sin(4 * X[:, 0]) + X[:, 1] * X[:, 2] + rng.normal(0, 0.05, 90)
    pool = Pool(rng.random((400, 5)))
    gp = GaussianProcess(n_members=6, seed=1).fit(X[:60], y[:60])
    first = gp.predict_members_on(pool)  # the cache starts here
    np.testing.assert_allclose(first, gp.predict_members(pool.X), atol=1e-5)
    y2 = y + 0.3  # targets of the old rows may change between fits (a rank warp refitted)
    for n in (65, 70, 90):  # grown in steps, as a search grows
        gp = gp.extend(X[:n], y2[:n])
        mean, sd = _gp_reference(gp, X[:n], y2[:n], pool.X)
        np.testing.assert_allclose(gp.predict(pool.X)[0], mean, atol=1e-4)
        np.testing.assert_allclose(gp.predict(pool.X)[1], sd, atol=1e-4)
        rows = rng.choice(400, 50, replace=False)
        np.testing.assert_allclose(gp.predict_members_on(pool, rows), gp.predict_members(pool.X[rows]), atol=1e-4)
        np.testing.assert_allclose(gp.predict_mean_on(pool), mean, atol=1e-4)
    assert gp.predict_members_on(pool).shape == (6, 400)
    assert not gp.can_extend(X[::-1]) and not gp.can_extend(X[:50])


def _blocks_data(n, interact: bool, seed: int):
    """One-hot rows of 3 blocks (4 columns each, one choice per block) and a target that is the sum of
    a value per block's choice, or (``interact``) that depends on the three choices jointly."""
    rng = np.random.default_rng(seed)
    choices = rng.integers(0, 4, (n, 3))
    X = np.hstack([np.eye(4)[choices[:, b]] for b in range(3)])
    if interact:
        table = np.random.default_rng(99).normal(0, 1, (4, 4, 4))
        y = table[choices[:, 0], choices[:, 1], choices[:, 2]]
    else:
        values = np.random.default_rng(98).normal(0, 1, (3, 4))
        y = values[np.arange(3), choices].sum(axis=1)
    return X, y + rng.normal(0, 0.02, n)


GROUPS = [np.arange(0, 4), np.arange(4, 8), np.arange(8, 12)]


def test_gaussian_process_beyond_bounded_rows_re_chooses_its_kernel_around_the_current_one(monkeypatch):
    """Up to BOUNDED_ROWS rows a re-choice searches the whole grid; beyond, one step either side."""
    import hwnas.learn.gp as gp_module

    rng = np.random.default_rng(9)
    X = rng.random((120, 4))
    y = np.sin(4 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.05, 120)
    searched = []
    fit = GaussianProcess._fit

    def spy(self, X, y, lengthscales, noise_ratios, joint_weights=None):
        searched.append((len(y), tuple(lengthscales), tuple(noise_ratios)))
        return fit(self, X, y, lengthscales, noise_ratios, joint_weights)

    monkeypatch.setattr(GaussianProcess, "_fit", spy)
    monkeypatch.setattr(gp_module, "BOUNDED_ROWS", 50)
    first = GaussianProcess(n_members=4).fit(X[:40], y[:40])
    model = first.refit(X[:60], y[:60])  # 60 >= 1.5 x 40, beyond 50 rows
    full, around = searched[0], searched[1]
    assert full[1:] == (model.lengthscales, model.noise_ratios)
    i, j = model.lengthscales.index(first.lengthscale_rel_), model.noise_ratios.index(first.noise_ratio_)
    assert around[1] == model.lengthscales[max(i - 1, 0): i + 2]
    assert around[2] == model.noise_ratios[max(j - 1, 0): j + 2]
    assert model.lengthscale_rel_ in around[1] and model.chosen_at_ == 60
    small = GaussianProcess(n_members=4).fit(X[:20], y[:20]).refit(X[:30], y[:30])  # within 50 rows: the grid
    assert searched[-1][1:] == (small.lengthscales, small.noise_ratios)


def test_gaussian_process_with_block_groups_learns_an_additive_function_from_few_combinations():
    """A sum of per-block values, seen on 20 of the 64 combinations: the block kernel carries each block's
    value to the unseen combinations, the joint kernel cannot."""
    X, y = _blocks_data(20, interact=False, seed=1)
    Xt, yt = _blocks_data(400, interact=False, seed=2)
    joint = GaussianProcess(n_members=4).fit(X, y)
    blocks = GaussianProcess(n_members=4, groups=GROUPS).fit(X, y)
    assert blocks.joint_weight_ < 1.0  # the likelihood prefers the per-block terms
    err_joint = np.sqrt(np.mean((joint.predict_mean(Xt) - yt) ** 2))
    err_blocks = np.sqrt(np.mean((blocks.predict_mean(Xt) - yt) ** 2))
    assert err_blocks < 0.5 * err_joint, (err_blocks, err_joint)


def test_gaussian_process_with_block_groups_chooses_the_joint_kernel_where_blocks_interact():
    X, y = _blocks_data(150, interact=True, seed=3)
    blocks = GaussianProcess(n_members=4, groups=GROUPS).fit(X, y)
    assert blocks.joint_weight_ == 1.0
    np.testing.assert_allclose(blocks.predict_mean(X), GaussianProcess(n_members=4).fit(X, y).predict_mean(X),
                               atol=1e-6)


def test_gaussian_process_with_block_groups_extends_and_refits_with_its_kernel():
    X, y = _blocks_data(90, interact=False, seed=4)
    Xt, _ = _blocks_data(50, interact=False, seed=5)
    grown = GaussianProcess(n_members=4, groups=GROUPS).fit(X[:60], y[:60])
    pool = Pool(Xt)
    grown.predict_members_on(pool)  # a cached pool is brought up to the grown rows
    for n in (65, 80):
        grown = grown.extend(X[:n], y[:n])
    direct = GaussianProcess(n_members=4, groups=GROUPS)
    direct._fit(X[:80], y[:80], (grown.lengthscale_rel_,), (grown.noise_ratio_,), (grown.joint_weight_,))
    np.testing.assert_allclose(grown.predict(Xt)[0], direct.predict(Xt)[0], atol=1e-4)
    np.testing.assert_allclose(grown.predict(Xt)[1], direct.predict(Xt)[1], atol=1e-4)
    np.testing.assert_allclose(grown.predict_mean_on(pool), direct.predict_mean(Xt), atol=1e-4)
    # the posterior mean at the training rows, read from the fit, is the one a prediction there computes
    np.testing.assert_allclose(grown.predict_mean_train(X[:80]), grown.predict_mean(X[:80]), atol=1e-4)
    with pytest.raises(ValueError, match="training rows"):
        grown.predict_mean_train(X[:70])
    refitted = grown.refit(X[:80] * 2.0, y[:80])  # new inputs: same kernel settings, groups kept
    assert (refitted.joint_weight_, refitted.lengthscale_rel_) == (grown.joint_weight_, grown.lengthscale_rel_)
    assert refitted.groups is grown.groups
    with pytest.raises(ValueError, match="joint_weights"):
        GaussianProcess(groups=GROUPS, joint_weights=(1.5,))
    with pytest.raises(ValueError, match="consecutive"):
        GaussianProcess(groups=[[0, 2], [1, 3]])


def _alike_data(n, shared: bool, positions_seen, seed: int):
    """One-hot rows of 3 alike blocks (6 choices each); block s's choice drawn from ``positions_seen[s]``.
    The target sums one value per block's choice: the same table at every position (``shared``), or a
    table per position."""
    rng = np.random.default_rng(seed)
    choices = np.stack([rng.choice(positions_seen[s], n) for s in range(3)], axis=1)
    X = np.hstack([np.eye(6)[choices[:, s]] for s in range(3)])
    tables = np.random.default_rng(97).normal(0, 1, (3, 6))
    values = np.repeat(tables[:1], 3, axis=0) if shared else tables
    return X, values[np.arange(3), choices].sum(axis=1) + rng.normal(0, 0.02, n)


ALIKE = [np.arange(0, 6), np.arange(6, 12), np.arange(12, 18)]


def _alike_kernel(P, Q, w, b, ell, ell_joint):
    """The kernel of alike blocks written out: ``w`` joint, ``1 - w`` per block, ``b`` of it over every pair of positions."""
    sq = lambda A, B: ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)  # noqa: E731
    out = w * np.exp(-sq(P, Q) / (2 * ell_joint ** 2))
    for s_, cs in enumerate(ALIKE):
        for t_, ct in enumerate(ALIKE):
            out += (1 - w) / 3 * ((1 - b) * (s_ == t_) + b) * np.exp(-sq(P[:, cs], Q[:, ct]) / (2 * ell ** 2))
    return out


def test_gaussian_process_with_alike_blocks_carries_a_block_s_value_to_other_positions():
    """One function of a block, summed: choices 3-5 were only seen at positions 1 and 2, yet the shared
    kernel predicts them at position 0; a kernel per position cannot."""
    seen = [[0, 1, 2], [3, 4, 5], list(range(6))]
    X, y = _alike_data(60, True, seen, seed=1)
    Xt, yt = _alike_data(300, True, [[3, 4, 5], list(range(6)), list(range(6))], seed=2)
    shared = GaussianProcess(n_members=4, groups=ALIKE, shared_weights=(0.0, 0.5, 1.0)).fit(X, y)
    apart = GaussianProcess(n_members=4, groups=ALIKE).fit(X, y)
    assert shared.shared_weight_ == 1.0 and apart.shared_weight_ == 0.0
    err_shared = np.sqrt(np.mean((shared.predict_mean(Xt) - yt) ** 2))
    err_apart = np.sqrt(np.mean((apart.predict_mean(Xt) - yt) ** 2))
    assert err_shared < 0.5 * err_apart, (err_shared, err_apart)


def test_gaussian_process_with_alike_blocks_keeps_positions_apart_when_their_functions_differ():
    every = [list(range(6))] * 3
    X, y = _alike_data(120, False, every, seed=3)
    Xt, yt = _alike_data(300, False, every, seed=4)
    shared = GaussianProcess(n_members=4, groups=ALIKE, shared_weights=(0.0, 0.5, 1.0)).fit(X, y)
    apart = GaussianProcess(n_members=4, groups=ALIKE).fit(X, y)
    assert shared.shared_weight_ < 1.0
    err_shared = np.sqrt(np.mean((shared.predict_mean(Xt) - yt) ** 2))
    err_apart = np.sqrt(np.mean((apart.predict_mean(Xt) - yt) ** 2))
    assert err_shared < 1.2 * err_apart, (err_shared, err_apart)


def test_gaussian_process_with_alike_blocks_is_a_kernel_and_extends_with_it():
    X, y = _alike_data(90, True, [list(range(6))] * 3, seed=5)
    Xt, _ = _alike_data(50, True, [list(range(6))] * 3, seed=6)
    grown = GaussianProcess(n_members=4, groups=ALIKE, shared_weights=(0.0, 0.5, 1.0)).fit(X[:60], y[:60])
    Xs = grown._scaled(X)
    for w, b in ((0.0, 0.5), (0.0, 1.0), (0.5, 0.5)):  # the kernel written out, and positive semi-definite
        grown.joint_weight_, grown.shared_weight_ = w, b
        K = grown._kernel(Xs, Xs)
        ell, ell_joint = grown.lengthscale_rel_ * grown.group_typical_[0], grown.lengthscale_rel_ * grown.typical_
        np.testing.assert_allclose(K, _alike_kernel(Xs, Xs, w, b, ell, ell_joint), atol=1e-10)
        assert np.linalg.eigvalsh(K).min() > -1e-8
    grown = GaussianProcess(n_members=4, groups=ALIKE, shared_weights=(0.0, 0.5, 1.0)).fit(X[:60], y[:60])
    pool = Pool(Xt)
    grown.predict_members_on(pool)
    for n in (65, 80):
        grown = grown.extend(X[:n], y[:n])
    direct = GaussianProcess(n_members=4, groups=ALIKE, shared_weights=(0.0, 0.5, 1.0))
    direct._fit(X[:80], y[:80], (grown.lengthscale_rel_,), (grown.noise_ratio_,), (grown.joint_weight_,),
                (grown.shared_weight_,))
    np.testing.assert_allclose(grown.predict(Xt)[0], direct.predict(Xt)[0], atol=1e-4)
    np.testing.assert_allclose(grown.predict(Xt)[1], direct.predict(Xt)[1], atol=1e-4)
    np.testing.assert_allclose(grown.predict_mean_on(pool), direct.predict_mean(Xt), atol=1e-4)
    refitted = grown.refit(X[:80], y[:80])
    assert refitted.shared_weight_ == grown.shared_weight_
    with pytest.raises(ValueError, match="shared_weights must be values in"):
        GaussianProcess(groups=ALIKE, shared_weights=(1.5,))
    with pytest.raises(ValueError, match="equal width"):
        GaussianProcess(groups=[np.arange(0, 6), np.arange(6, 10)], shared_weights=(0.0, 1.0))


def test_gaussian_process_with_alike_blocks_has_the_posterior_variance_of_its_kernel():
    """The shared part compares each block with every other block of the same row, so a row's prior variance
    is its kernel with itself (up to 3 shares for a row repeating one choice, not 1): the predicted spread is
    s2 (k(x, x) - k_x' (K + g I)^-1 k_x), written out here in float64, by ``predict`` and on a pool alike."""
    X, y = _alike_data(70, True, [list(range(6))] * 3, seed=7)
    Xt, _ = _alike_data(40, True, [list(range(6))] * 3, seed=8)
    Xt = np.vstack([Xt, np.hstack([np.eye(6)] * 3)])  # the 6 rows repeating one choice at every block
    for w, b in ((0.0, 1.0), (0.0, 0.5), (0.5, 0.5), (0.0, 0.0)):
        gp = GaussianProcess(n_members=16, groups=ALIKE, shared_weights=(0.0, 0.5, 1.0))
        gp._fit(X, y, (0.7,), (0.01,), (w,), (b,))
        A, B = gp._scaled(X), gp._scaled(Xt)
        ell, ell_joint = gp.lengthscale_rel_ * gp.group_typical_[0], gp.lengthscale_rel_ * gp.typical_
        Ks = _alike_kernel(A, B, w, b, ell, ell_joint)
        K = _alike_kernel(A, A, w, b, ell, ell_joint) + (0.01 + 1e-8) * np.eye(len(A))
        prior = np.diag(_alike_kernel(B, B, w, b, ell, ell_joint))
        expect = gp.s2_ * (prior - (Ks * np.linalg.solve(K, Ks)).sum(0))
        _, sd = gp.predict(Xt)
        np.testing.assert_allclose(sd, np.sqrt(expect), rtol=2e-3, atol=1e-4)
        # the members are mean +- sd z with one z per call: a pool's draws equal the direct ones
        np.testing.assert_allclose(gp.predict_members_on(Pool(Xt)), gp.predict_members(Xt), rtol=1e-4, atol=1e-5)


def test_ridge_with_residual_gp_follows_each_seen_block_s_own_deviation():
    """Costs = a linear trend + a fixed deviation per block setting (a measured cell's own offset, not
    linear in the block's columns): the ridge reads the trend, its residual GP the deviations of settings
    seen in training, and so predicts unseen combinations of seen settings better than the ridge alone."""
    rng = np.random.default_rng(6)
    dev = np.random.default_rng(7).normal(0, 1.0, (3, 3, 3))  # block, first choice, second choice

    def data(n, seed):
        r = np.random.default_rng(seed)
        a, b = r.integers(0, 3, (n, 3)), r.integers(0, 3, (n, 3))
        X = np.hstack([np.hstack([np.eye(3)[a[:, k]], np.eye(3)[b[:, k]]]) for k in range(3)])
        y = X @ np.linspace(-1, 1, 18) * 3 + dev[np.arange(3), a, b].sum(axis=1)
        return X, y + rng.normal(0, 0.02, n)

    X, y = data(60, 1)
    Xt, yt = data(300, 2)
    groups = [np.arange(0, 6), np.arange(6, 12), np.arange(12, 18)]
    ridge = make_surrogate("ridge", n_members=8, seed=0).fit(X, y)
    both = make_surrogate("ridge_gp", n_members=8, seed=0, groups=groups).fit(X, y)
    err = [np.sqrt(np.mean((m.predict_mean(Xt) - yt) ** 2)) for m in (ridge, both)]
    assert err[1] < 0.5 * err[0], err
    pool = Pool(Xt)
    grown = both.extend(np.vstack([X, Xt[:10]]), np.concatenate([y, yt[:10]]))
    np.testing.assert_allclose(grown.predict_members_on(pool), grown.predict_members(Xt), atol=1e-4)
    np.testing.assert_allclose(grown.predict_mean_on(pool, np.arange(5)), grown.predict_mean(Xt[:5]), atol=1e-4)
    assert grown.predict_members(Xt).shape == (8, 300)
    train = np.vstack([X, Xt[:10]])
    np.testing.assert_allclose(grown.predict_mean_train(train), grown.predict_mean(train), atol=1e-4)


def test_ridge_with_residual_gp_refits_its_ridge_on_growth_beyond_its_every_extend_rows():
    """Up to ``ridge_every_until`` rows every extend refits the ridge; beyond, only growth by
    ``ridge_regrow`` does, and in between the GP is extended on the kept ridge's residuals."""
    rng = np.random.default_rng(8)
    X = rng.integers(0, 2, (80, 6)).astype(float)
    y = X @ rng.normal(size=6) + 0.3 * np.sin(3 * X[:, 0] * X[:, 1]) + rng.normal(0, 0.05, 80)
    model = make_surrogate("ridge_gp", n_members=4, seed=0, ridge_every_until=30, ridge_regrow=1.5).fit(X[:25], y[:25])
    fits = [model.ridge_]
    for n in (30, 35, 40, 50, 60, 80):
        model = model.extend(X[:n], y[:n])
        fits.append(model.ridge_)
    refitted = [fits[i] is not fits[i - 1] for i in range(1, len(fits))]
    assert refitted == [True, False, False, True, False, True]  # 30: every extend; then 1.5 x 30, 1.5 x 50
    assert [r.rows_ for r in fits] == [25, 30, 30, 30, 50, 50, 80]
    # the GP reads the kept ridge's residuals: the model still fits the rows it was given
    np.testing.assert_allclose(model.predict_mean_train(X), model.predict_mean(X), atol=1e-4)
    assert np.sqrt(np.mean((model.predict_mean(X) - y) ** 2)) < 0.2
    with pytest.raises(ValueError, match="ridge_regrow"):
        make_surrogate("ridge_gp", ridge_regrow=0.5)


# ---------------------------------------------------------------------------- the interface
def test_registry_lists_the_surrogates_and_builds_them_by_name():
    assert {"ridge", "gp", "ridge_gp"} <= set(SURROGATES.available())
    assert isinstance(make_surrogate("gp", n_members=4, seed=0), GaussianProcess)
    with pytest.raises(ConfigError, match="unknown option"):
        make_surrogate("ridge", lengthscales=(1.0,))


@pytest.mark.parametrize("kind", ["ridge", "gp"])
def test_extend_equals_a_refit_on_the_same_data(kind):
    """Growing a model row by row gives the model fitted on all rows at once (same settings and kernel)."""
    rng = np.random.default_rng(5)
    X = rng.random((80, 4))
    y = np.sin(3 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.05, 80)
    Xt = rng.random((50, 4))
    grown = make_surrogate(kind, n_members=6, seed=2).fit(X[:60], y[:60])
    for n in (65, 70):  # below the GP's re-choice at 1.5x the rows: its kernel is kept, its factor extended
        grown = grown.extend(X[:n], y[:n])
    if kind == "gp":
        # the exact GP on all 70 rows with the kernel kept from the fit on 60 (textbook formulas)
        mean, sd = _gp_reference(grown, X[:70], y[:70], Xt)
        np.testing.assert_allclose(grown.predict(Xt)[0], mean, atol=1e-4)
        np.testing.assert_allclose(grown.predict(Xt)[1], sd, atol=1e-4)
        assert grown.chosen_at_ == 60  # not re-chosen: the data has not grown by half
        regrown = grown.extend(X[:80], y[:80])  # 80 < 1.5 * 60: still extended
        assert regrown.chosen_at_ == 60 and len(regrown._X) == 80
    else:
        direct = make_surrogate(kind, n_members=6, seed=2).fit(X[:70], y[:70])
        np.testing.assert_allclose(grown.predict_members(Xt), direct.predict_members(Xt), atol=1e-10)


def test_gp_rechooses_its_kernel_once_the_data_grew_by_half():
    rng = np.random.default_rng(6)
    X = rng.random((100, 3))
    y = np.sin(4 * X[:, 0]) + rng.normal(0, 0.05, 100)
    gp = GaussianProcess(n_members=4, seed=0).fit(X[:40], y[:40])
    assert gp.chosen_at_ == 40
    kept = gp.extend(X[:59], y[:59])
    assert kept.chosen_at_ == 40 and kept.ell_ == gp.ell_
    again = kept.extend(X[:60], y[:60])  # 60 >= 1.5 * 40: the grid again
    assert again.chosen_at_ == 60
    moved = gp.refit(X[:50, ::-1], y[:50])  # new inputs: the chosen length scale and noise are kept
    assert (moved.lengthscale_rel_, moved.noise_ratio_, moved.chosen_at_) == (gp.lengthscale_rel_, gp.noise_ratio_, 40)


@pytest.mark.parametrize("kind", ["ridge", "gp"])
def test_batched_member_prediction_on_a_pool_has_the_members_by_rows_shape(kind):
    rng = np.random.default_rng(7)
    X, y = rng.random((40, 3)), rng.random(40)
    m = make_surrogate(kind, n_members=5, seed=1).fit(X, y)
    pool = Pool(rng.random((300, 3)))
    rows = np.array([3, 10, 299])
    assert m.predict_members_on(pool).shape == (5, 300)
    assert m.predict_members_on(pool, rows).shape == (5, 3)
    assert m.predict_mean_on(pool).shape == (300,)
    np.testing.assert_allclose(m.predict_members_on(pool, rows), m.predict_members(pool.X[rows]), atol=1e-4)


def test_the_pool_cache_is_keyed_by_the_pool_not_the_array_object():
    """A changed pool is a new Pool with a new key: its predictions are computed afresh, never read from the
    cache of the old matrix (even if the array object is reused), and a pool's matrix cannot be changed."""
    rng = np.random.default_rng(8)
    X, y = rng.random((40, 3)), np.sin(5 * rng.random(40))
    gp = GaussianProcess(n_members=4, seed=0).fit(X, y)
    M = rng.random((200, 3))
    first = Pool(M)
    before = gp.predict_mean_on(first)
    with pytest.raises(ValueError):
        first.X[0, 0] = 5.0  # read-only: the cache can never describe a matrix that changed under it
    M[:] = rng.random((200, 3))  # the same array object, new values (the pool holds its own copy)
    np.testing.assert_array_equal(gp.predict_mean_on(first), before)
    second = Pool(M)
    assert second.key != first.key
    np.testing.assert_allclose(gp.predict_mean_on(second), gp.predict_mean(M), atol=1e-4)
    assert np.abs(gp.predict_mean_on(second) - before).max() > 1e-3
    assert set(gp._on) == {first.key, second.key}
    with pytest.raises(ValueError, match="2-d"):
        Pool(np.zeros(3))


def test_ridge_penalty_survives_an_svd_that_does_not_converge(monkeypatch):
    """NumPy's SVD (LAPACK gesdd) fails on rare finite matrices; the ridge falls back to gesvd: same penalty."""
    rng = np.random.default_rng(6)
    X = rng.random((120, 30))
    y = X @ rng.normal(size=30) + rng.normal(0, 0.1, 120)
    expected = make_surrogate("ridge", n_members=4, seed=0).fit(X, y)

    def fails(*args, **kwargs):
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(np.linalg, "svd", fails)
    fallback = make_surrogate("ridge", n_members=4, seed=0).fit(X, y)
    assert fallback.alpha_ == expected.alpha_
    np.testing.assert_allclose(fallback.predict_members(X), expected.predict_members(X), rtol=1e-10)
