"""Tests of diffusion_edu.toy_data: densities, exact oracles, quadrature."""

import numpy as np
import pytest

from diffusion_edu import gaussian as G
from diffusion_edu import schedules as S
from diffusion_edu import toy_data as TD


@pytest.fixture(scope="module")
def lin():
    return S.linear(1000)


@pytest.fixture(scope="module")
def mix():
    return TD.GaussianMixture1D()


@pytest.fixture(scope="module")
def roll():
    return TD.SwissRoll2D()


class _FineRoll(TD.SwissRoll2D):
    """Reference: eight times as many quadrature panels."""

    _PANELS_PER_WIDTH = 4.0


def _fd_gradient(log_pdf, x, h=1e-5):
    """Central finite differences of a log-density, shape (N, D)."""
    grad = np.empty_like(x)
    for d in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[d] = h
        grad[:, d] = (log_pdf(x + step) - log_pdf(x - step)) / (2 * h)
    return grad


# ------------------------------------------------------------- helpers

def test_ensure_2d_makes_columns():
    assert TD.ensure_2d([1.0, 2.0, 3.0]).shape == (3, 1)
    assert TD.ensure_2d(np.zeros((4, 2))).shape == (4, 2)
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        TD.ensure_2d(np.zeros((2, 2, 2)))


# ------------------------------------------------------- 1-D mixture

def test_mixture_pdf_integrates_to_one_at_every_t(mix, lin):
    grid = np.linspace(-8, 8, 16001)[:, None]
    dx = grid[1, 0] - grid[0, 0]
    assert np.sum(mix.pdf(grid)) * dx == pytest.approx(1, abs=1e-10)
    for t in [1, 100, 1000]:
        assert np.sum(mix.pdf(grid, lin, t)) * dx == pytest.approx(
            1, abs=1e-10)


def test_single_component_log_pdf_is_gaussian():
    g = TD.GaussianMixture1D([1.0], [0.3], [0.5])
    x = np.array([[-1.0], [0.3], [2.0]])
    expected = -0.5 * np.log(2 * np.pi * 0.5) - (x[:, 0] - 0.3) ** 2 / 1.0
    np.testing.assert_allclose(g.log_pdf(x), expected, rtol=1e-13)


def test_mixture_samples_match_moments_and_cdf(mix):
    # N = 200_000: SE of the mean sqrt(1.18/N) ~ 0.0024; tolerance 5 SE.
    x = mix.sample(200_000, np.random.default_rng(0))
    assert x.shape == (200_000, 1)
    assert x.mean() == pytest.approx(mix.mean()[0], abs=0.012)
    assert x.var() == pytest.approx(mix.variance()[0], rel=0.02)
    # empirical CDF vs exact CDF: DKW bound, 1e-3 failure probability
    grid = np.linspace(-2.5, 2.5, 11)[:, None]
    emp = np.mean(x[:, 0][None] <= grid, axis=1)
    assert np.max(np.abs(emp - mix.cdf(grid))) < np.sqrt(
        np.log(2 / 1e-3) / (2 * 200_000))


def test_noised_mixture_is_the_marginal_of_q_sample(mix, lin):
    # q_sample applied to data samples vs noised(s, t): moments and CDF.
    rng = np.random.default_rng(1)
    x0 = mix.sample(200_000, rng)
    t = 150
    xt = G.q_sample(lin, x0, t, rng.standard_normal(x0.shape))
    noised = mix.noised(lin, t)
    assert xt.mean() == pytest.approx(noised.mean()[0], abs=0.012)
    assert xt.var() == pytest.approx(noised.variance()[0], rel=0.02)
    grid = np.linspace(-2, 2, 9)[:, None]
    emp = np.mean(xt[:, 0][None] <= grid, axis=1)
    assert np.max(np.abs(emp - noised.cdf(grid))) < np.sqrt(
        np.log(2 / 1e-3) / (2 * 200_000))
    # noised(...).log_pdf equals log_pdf(x, s, t)
    np.testing.assert_allclose(noised.log_pdf(grid),
                               mix.log_pdf(grid, lin, t), rtol=1e-12)


@pytest.mark.parametrize("t", [None, 1, 30, 400, 1000])
def test_mixture_score_is_gradient_of_log_pdf(mix, lin, t):
    x = np.linspace(-3, 3, 41)[:, None]
    args = () if t is None else (lin, t)
    fd = _fd_gradient(lambda y: mix.log_pdf(y, *args), x)
    np.testing.assert_allclose(mix.score(x, *args), fd, rtol=1e-6,
                               atol=1e-6)


def test_mixture_eps_and_tweedie_identities(mix, lin):
    x = np.linspace(-3, 3, 25)[:, None]
    for t in [1, 50, 700]:
        score = mix.score(x, lin, t)
        ab = lin.alpha_bar[t]
        np.testing.assert_allclose(mix.eps(x, lin, t),
                                   -np.sqrt(1 - ab) * score, rtol=1e-13)
        tweedie = (x + (1 - ab) * score) / np.sqrt(ab)
        np.testing.assert_allclose(mix.posterior_mean_x0(x, lin, t),
                                   tweedie, rtol=1e-9, atol=1e-9)


def test_ideal_eps_is_the_conditional_mean_of_the_noise(mix, lin):
    # E[(ε − ε̂*(x_t)) g(x_t)] = 0 for any g: checked for g = 1, x, x², with
    # tolerance 5 SE of the sample mean of the product. A wrong sign or a
    # missing √ in ε̂* breaks the orthogonality by far more.
    rng = np.random.default_rng(2)
    x0 = mix.sample(100_000, rng)
    for t in [20, 300]:
        eps = rng.standard_normal(x0.shape)
        xt = G.q_sample(lin, x0, t, eps)
        resid = eps - mix.eps(xt, lin, t)
        for g in (np.ones_like(xt), xt, xt ** 2):
            prod = resid * g
            se = prod.std() / np.sqrt(prod.size)
            assert abs(prod.mean()) < 5 * se
        wrong = eps - mix.eps(xt, lin, t) / np.sqrt(1 - lin.alpha_bar[t])
        prod = wrong * xt
        assert abs(prod.mean()) > 20 * prod.std() / np.sqrt(prod.size)


def test_mixture_vectorised_t_matches_scalar_t(mix, lin):
    x = np.linspace(-2, 2, 5)[:, None]
    t = np.array([1, 7, 100, 500, 1000])
    rows = [mix.eps(x[i:i + 1], lin, int(t[i]))[0] for i in range(5)]
    np.testing.assert_allclose(mix.eps(x, lin, t), np.array(rows),
                               rtol=1e-14)
    rows = [mix.posterior_mean_x0(x[i:i + 1], lin, int(t[i]))[0]
            for i in range(5)]
    np.testing.assert_allclose(mix.posterior_mean_x0(x, lin, t),
                               np.array(rows), rtol=1e-14)


def test_eps_model_callable_matches_eps(mix, lin):
    model = mix.eps_model(lin)
    x = np.linspace(-2, 2, 4)[:, None]
    t = np.array([3, 3, 3, 3])
    np.testing.assert_array_equal(model(x, t), mix.eps(x, lin, t))


def test_smoothed_mixture_adds_variance(mix):
    sm = mix.smoothed(0.5)
    np.testing.assert_allclose(sm.variances, mix.variances + 0.25)
    assert sm.variance()[0] == pytest.approx(mix.variance()[0] + 0.25)


# ------------------------------------------------------- 2-D mixture

def test_mixture2d_labels_and_conditional():
    gm = TD.GaussianMixture2D(labels=[0, 0, 1, 1, 2, 2, 3, 3])
    x, y = gm.sample(4000, np.random.default_rng(3), return_labels=True)
    assert x.shape == (4000, 2) and y.shape == (4000,)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    cond = gm.conditional(1)
    np.testing.assert_allclose(cond.means, gm.means[2:4])
    np.testing.assert_allclose(cond.weights, [0.5, 0.5])
    # the points labelled 1 lie around the means of components 2 and 3
    d = np.linalg.norm(x[y == 1][:, None] - gm.means[2:4][None], axis=2)
    assert np.all(d.min(axis=1) < 1.0)


def test_mixture2d_density_and_score(lin):
    gm = TD.GaussianMixture2D(variances=np.tile([0.02, 0.05], (8, 1)))
    g = np.linspace(-6, 6, 481)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    cell = (g[1] - g[0]) ** 2
    assert np.sum(gm.pdf(grid)) * cell == pytest.approx(1, abs=1e-6)
    assert np.sum(gm.pdf(grid, lin, 200)) * cell == pytest.approx(
        1, abs=1e-6)
    x = np.random.default_rng(4).normal(size=(20, 2))
    for t in [None, 5, 300]:
        args = () if t is None else (lin, t)
        fd = _fd_gradient(lambda y, a=args: gm.log_pdf(y, *a), x)
        np.testing.assert_allclose(gm.score(x, *args), fd, rtol=1e-5,
                                   atol=1e-6)


# ------------------------------------------------------- Swiss roll

def test_swiss_roll_samples_have_roughly_unit_variance(roll):
    x = roll.sample(50_000, np.random.default_rng(5))
    assert x.shape == (50_000, 2)
    # documented: per-coordinate variance ≈ 0.94 + σ_d² on average
    assert np.mean(x.var(axis=0)) == pytest.approx(0.94 + 0.05 ** 2,
                                                   abs=0.02)


def test_swiss_roll_density_integrates_to_one(roll, lin):
    # Riemann sums of a smooth density on a grid finer than its width
    # (≈ 0.18 at t = 50) are accurate far beyond 1e-4.
    g = np.linspace(-5, 5, 201)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    cell = (g[1] - g[0]) ** 2
    for t in [50, 400]:
        assert np.sum(roll.pdf(grid, lin, t)) * cell == pytest.approx(
            1, abs=1e-4)


@pytest.mark.parametrize("t", [None, 1, 10, 100, 1000])
def test_swiss_roll_score_is_gradient_of_log_density(roll, lin, t):
    rng = np.random.default_rng(6)
    x0 = roll.sample(200, rng)
    if t is None:
        x, args = x0, ()
    else:
        x = G.q_sample(lin, x0, t, rng.standard_normal(x0.shape))
        args = (lin, t)
    fd = _fd_gradient(lambda y: roll.log_pdf(y, *args), x, h=1e-6)
    score = roll.score(x, *args)
    scale = np.linalg.norm(score, axis=1, keepdims=True)
    np.testing.assert_allclose(score / scale, fd / scale, atol=1e-5)


@pytest.mark.parametrize("t", [None, 1, 5, 30, 200])
def test_swiss_roll_quadrature_is_accurate_to_1e4(roll, lin, t):
    # Compare with eight times finer quadrature, on samples of q(x_t)
    # and on a grid that includes points far from the roll.
    rng = np.random.default_rng(7)
    x0 = roll.sample(150, rng)
    g = np.linspace(-2.5, 2.5, 11)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    if t is None:
        x, args = np.concatenate([x0, grid]), ()
    else:
        xt = G.q_sample(lin, x0, t, rng.standard_normal(x0.shape))
        x, args = np.concatenate([xt, grid]), (lin, t)
    ref = _FineRoll().score(x, *args)
    err = np.linalg.norm(roll.score(x, *args) - ref, axis=1)
    assert np.max(err / np.linalg.norm(ref, axis=1)) < 1e-4
    if t is not None:
        e_ref = _FineRoll().eps(x, *args)
        e_err = np.linalg.norm(roll.eps(x, *args) - e_ref, axis=1)
        assert np.max(e_err / np.linalg.norm(e_ref, axis=1)) < 1e-4


def test_swiss_roll_eps_and_tweedie_identities(roll, lin):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(50, 2))
    for t in [1, 40, 900]:
        ab = lin.alpha_bar[t]
        score = roll.score(x, lin, t)
        np.testing.assert_allclose(roll.eps(x, lin, t),
                                   -np.sqrt(1 - ab) * score, rtol=1e-13)
        tweedie = (x + (1 - ab) * score) / np.sqrt(ab)
        np.testing.assert_allclose(roll.posterior_mean_x0(x, lin, t),
                                   tweedie, rtol=1e-8, atol=1e-8)


def test_swiss_roll_vectorised_t_matches_scalar_t(roll, lin):
    x = np.random.default_rng(9).normal(size=(6, 2))
    t = np.array([1, 900, 1, 30, 30, 500])
    rows = [roll.eps(x[i:i + 1], lin, int(t[i]))[0] for i in range(6)]
    np.testing.assert_allclose(roll.eps(x, lin, t), np.array(rows),
                               rtol=1e-13)


def test_swiss_roll_posterior_mean_lies_on_the_roll_at_small_t(roll, lin):
    # At t = 1 the ideal denoiser barely moves samples of q(x_1):
    # E[x0 | x1] is within a few σ_d of x1, and the true x0 is closer to
    # E[x0 | x1] than x1 is on average (denoising reduces the error).
    rng = np.random.default_rng(10)
    x0 = roll.sample(2000, rng)
    x1 = G.q_sample(lin, x0, 10, rng.standard_normal(x0.shape))
    x0_hat = roll.posterior_mean_x0(x1, lin, 10)
    assert np.mean(np.sum((x0_hat - x0) ** 2, 1)) < np.mean(
        np.sum((x1 - x0) ** 2, 1))


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("call, exc, match", [
    (lambda: TD.GaussianMixture1D([0.5, 0.6], [0, 1], [1, 1]), ValueError,
     "sum to 1"),
    (lambda: TD.GaussianMixture1D([0.5, 0.5], [0, 1], [1, -1]), ValueError,
     "variances must be positive"),
    (lambda: TD.GaussianMixture1D([0.5, 0.5], [0, 1, 2], [1, 1]),
     ValueError, "means must have shape"),
    (lambda: TD.GaussianMixture1D([0.5, 0.5], [0, np.nan], [1, 1]),
     ValueError, "finite"),
    (lambda: TD.GaussianMixture1D().log_pdf(np.zeros((3, 2))), ValueError,
     r"shape \(N, 1\)"),
    (lambda: TD.GaussianMixture1D().score([[np.nan]]), ValueError,
     "finite"),
    (lambda: TD.GaussianMixture1D().eps([[0.0]], S.linear(10), 0),
     ValueError, r"t must lie in 1\.\.T"),
    (lambda: TD.GaussianMixture1D().eps([[0.0]], S.linear(10), 11),
     ValueError, r"t must lie in 1\.\.T"),
    (lambda: TD.GaussianMixture1D().score([[0.0]], None, 3), TypeError,
     "without a schedule"),
    (lambda: TD.GaussianMixture1D().score([[0.0]], S.linear(10)),
     TypeError, "without t"),
    (lambda: TD.GaussianMixture1D().noised(S.linear(10), 0), ValueError,
     "t must be >= 1"),
    (lambda: TD.GaussianMixture1D().sample(0, 0), ValueError,
     "n must be >= 1"),
    (lambda: TD.GaussianMixture1D().sample(5, None), TypeError,
     "Generator"),
    (lambda: TD.GaussianMixture2D().score(np.zeros((3, 3))), ValueError,
     r"shape \(N, 2\)"),
    (lambda: TD.GaussianMixture2D().conditional(9), ValueError,
     "label must be one of"),
    (lambda: TD.GaussianMixture2D(labels=[0, 1]), ValueError,
     "labels must be 8"),
    (lambda: TD.SwissRoll2D(noise_std=0), ValueError, "noise_std must be"),
    (lambda: TD.SwissRoll2D().score(np.zeros((3, 1))), ValueError,
     r"shape \(N, 2\)"),
    (lambda: TD.SwissRoll2D().eps(np.zeros((2, 2)), S.linear(10),
                                  np.array([1, 0])), ValueError,
     r"t must lie in 1\.\.T"),
    (lambda: TD.SwissRoll2D().log_pdf(np.full((2, 2), np.inf)), ValueError,
     "finite"),
    (lambda: TD.SwissRoll2D().smoothed(-0.1), ValueError,
     "sigma must be >= 0"),
    (lambda: TD.GaussianMixture1D().smoothed(np.nan), ValueError, "finite"),
    (lambda: TD.GaussianMixture1D().cdf([np.nan]), ValueError, "finite"),
    (lambda: TD.GaussianMixture1D().posterior_mean_x0([[0.0]], None, None),
     TypeError, "needs s and t"),
    (lambda: TD.SwissRoll2D().posterior_mean_x0(np.zeros((2, 2)),
                                                S.linear(10), 11),
     ValueError, r"t must lie in 1\.\.T"),
    (lambda: TD.SwissRoll2D().eps_model("linear"), TypeError,
     "must be a Schedule"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_swiss_roll_moments_match_its_docstring():
    """Mean (0.286, 0.030) and variances 0.895 + σ_d², 0.986 + σ_d² of the
    roll, by quadrature over θ ~ U(1.5π, 4.5π)."""
    roll = TD.SwissRoll2D()
    theta = np.linspace(1.5 * np.pi, 4.5 * np.pi, 200_001)
    mu = np.stack([theta * np.cos(theta), theta * np.sin(theta)], 1) / 7.0
    w = np.full(theta.size, 1.0)
    w[0] = w[-1] = 0.5  # trapezoid rule
    w /= w.sum()
    mean = w @ mu
    var = w @ (mu - mean) ** 2 + roll.noise_std ** 2
    np.testing.assert_allclose(mean, [0.286, 0.030], atol=5e-4)
    np.testing.assert_allclose(var - roll.noise_std ** 2, [0.895, 0.986],
                               atol=5e-4)
    x = roll.sample(200_000, np.random.default_rng(0))
    # Monte Carlo agrees within a few standard errors
    np.testing.assert_allclose(x.mean(0), mean, atol=5 * np.sqrt(1 / 2e5))
    np.testing.assert_allclose(x.var(0), var, atol=0.015)
