"""Tests of diffusion_edu.langevin: exact laws, step sizes, DSM."""

import numpy as np
import pytest

from diffusion_edu import langevin as L
from diffusion_edu import metrics as M
from diffusion_edu import toy_data as TD

# W1 of 4000 points vs a 400k reference: fresh data gives ≈ 0.016; the
# correct samplers below give 0.01-0.03; Langevin with √η instead of
# √(2η) gives 0.21 and plain Langevin on the 4-mode mixture 0.3-0.5.
W1_TOL = 0.08


def test_langevin_on_gaussian_follows_the_exact_law():
    # For p = N(m, v) the chain is linear: x_{k+1} − m = ρ (x_k − m) +
    # √(2η) z with ρ = 1 − η/v, so mean and variance after k steps are
    # known exactly (the stationary variance v/(1 − η/(2v)) shows the
    # discretisation bias). 50_000 chains in 2-D; tolerance 5 SE per step.
    m, v, eta, n_steps, n = 1.0, 0.5, 0.05, 30, 50_000
    rng = np.random.default_rng(0)
    x_init = -2.0 + np.sqrt(0.1) * rng.standard_normal((n, 2))
    _, states = L.langevin_sample(lambda x: -(x - m) / v, x_init, eta,
                                  n_steps, rng, return_trajectory=True)
    assert states.shape == (n_steps + 1, n, 2)
    rho = 1 - eta / v
    for k in [1, 5, 30]:
        mean_k = m + rho ** k * (-2.0 - m)
        var_k = (rho ** (2 * k) * 0.1
                 + 2 * eta * (1 - rho ** (2 * k)) / (1 - rho ** 2))
        se_mean, se_var = np.sqrt(var_k / n), var_k * np.sqrt(2 / n)
        np.testing.assert_allclose(states[k].mean(0), mean_k,
                                   atol=5 * se_mean)
        np.testing.assert_allclose(states[k].var(0), var_k, atol=5 * se_var)
    # with √η noise the variance would be half as large: far outside
    assert abs(states[30].var() - 0.5 * var_k) > 50 * se_var


def test_langevin_with_exact_score_reproduces_a_bimodal_density():
    bimodal = TD.GaussianMixture1D([0.3, 0.7], [-1.0, 1.0], [0.25, 0.25])
    ref = bimodal.sample(400_000, np.random.default_rng(9))
    rng = np.random.default_rng(1)
    x_init = rng.normal(0, 2, size=(4000, 1))
    x = L.langevin_sample(bimodal.score, x_init, 0.01, 1000, rng)
    assert M.wasserstein_1d(x, ref) < W1_TOL
    # the same chain with noise √η z (the "α/2 vs η" mix-up) fails
    rng = np.random.default_rng(1)
    y = rng.normal(0, 2, size=(4000, 1))
    for _ in range(1000):
        y = y + 0.01 * bimodal.score(y) + np.sqrt(0.01) * rng.normal(
            size=y.shape)
    assert M.wasserstein_1d(y, ref) > W1_TOL


def test_annealed_langevin_reproduces_the_four_mode_mixture():
    mix = TD.GaussianMixture1D()
    ref = mix.sample(400_000, np.random.default_rng(9))
    sigmas = L.geometric_sigmas(2.0, 0.01, 10)
    rng = np.random.default_rng(2)
    x_init = rng.uniform(-3, 3, size=(4000, 1))

    def score(x, sigma):
        return mix.smoothed(sigma).score(x)

    x = L.annealed_langevin(score, sigmas, x_init, 1e-4, 100, rng)
    assert M.wasserstein_1d(x, ref) < W1_TOL
    # plain Langevin at σ_L with as many steps gets the weights wrong
    y = L.langevin_sample(mix.smoothed(0.01).score, x_init, 5e-5, 1000,
                          rng)
    assert M.wasserstein_1d(y, ref) > W1_TOL


def test_annealed_langevin_step_sizes_follow_ncsn():
    # With a zero score, x only collects noise: Var = Σ_i n α_i with
    # α_i = ε σ_i² / σ_L². 40_000 chains; tolerance 5 SE of a variance.
    sigmas = np.array([1.0, 0.5, 0.1])
    seen = []

    def zero_score(x, sigma):
        seen.append(sigma)
        return np.zeros_like(x)

    n, eps, n_each = 40_000, 0.01, 7
    x, states = L.annealed_langevin(
        zero_score, sigmas, np.zeros((n, 1)), eps, n_each,
        np.random.default_rng(3), return_trajectory=True)
    assert seen == [1.0] * 7 + [0.5] * 7 + [0.1] * 7
    alphas = eps * sigmas ** 2 / sigmas[-1] ** 2
    expected = np.cumsum(n_each * alphas)
    for i in range(3):
        var = states[i + 1].var()
        assert var == pytest.approx(expected[i],
                                    abs=5 * expected[i] * np.sqrt(2 / n))


def test_annealed_langevin_denoise_is_a_tweedie_step():
    sigmas = np.array([0.5, 0.2])
    x0 = np.array([[1.0], [-2.0]])

    def score(x, sigma):
        return -x / (1 + sigma ** 2)

    # zero steps are not allowed; use one step and compare the last move
    rng = np.random.default_rng(4)
    out = L.annealed_langevin(score, sigmas, x0, 1e-3, 1, rng,
                              denoise=True)
    rng = np.random.default_rng(4)
    raw = L.annealed_langevin(score, sigmas, x0, 1e-3, 1, rng)
    np.testing.assert_allclose(out, raw + 0.04 * score(raw, 0.2),
                               rtol=1e-14)


def test_geometric_sigmas():
    s = L.geometric_sigmas(10.0, 0.01, 4)
    np.testing.assert_allclose(s, [10, 1, 0.1, 0.01], rtol=1e-12)


# -------------------------------------------------------------------- DSM

def _gaussian_score(m, v, sigma, scale=1.0):
    return lambda x: -scale * (x - m) / (v + sigma ** 2)


def test_dsm_loss_of_exact_smoothed_score_has_known_value():
    # E J(s*) = D/2 (1/σ² − 1/(v + σ²)) for data N(m, v I) in D dims.
    # 20 batches of 10_000; tolerance 5 SE of the mean of batch losses.
    m, v, sigma, d = 0.5, 0.3, 0.4, 2
    rng = np.random.default_rng(5)
    losses = []
    for _ in range(20):
        x0 = m + np.sqrt(v) * rng.standard_normal((10_000, d))
        z = rng.standard_normal(x0.shape)
        losses.append(L.dsm_loss(_gaussian_score(m, v, sigma), x0, sigma,
                                 z))
    se = np.std(losses) / np.sqrt(len(losses))
    expected = d / 2 * (1 / sigma ** 2 - 1 / (v + sigma ** 2))
    assert np.mean(losses) == pytest.approx(expected, abs=5 * se)


def test_dsm_loss_is_minimised_by_the_smoothed_score():
    # J(s) − J(s*) = ½ E‖s − s*‖² (DSM = explicit SM + constant): checked
    # with common noise for a shifted and for rescaled scores.
    m, v, sigma = 0.0, 1.0, 0.3
    rng = np.random.default_rng(6)
    x0 = m + np.sqrt(v) * rng.standard_normal((200_000, 1))
    z = rng.standard_normal(x0.shape)
    best = L.dsm_loss(_gaussian_score(m, v, sigma), x0, sigma, z)
    for scale in (0.8, 1.2):
        worse = L.dsm_loss(_gaussian_score(m, v, sigma, scale), x0, sigma,
                           z)
        assert worse > best
    shifted = L.dsm_loss(
        lambda x: _gaussian_score(m, v, sigma)(x) + 0.3, x0, sigma, z)
    # J(s* + c) − J(s*) = c · mean(s*(x̃) + z/σ) + c²/2, and the mean has
    # expectation 0 and SE sd/√N: tolerance 5 SE.
    resid = _gaussian_score(m, v, sigma)(x0 + sigma * z) + z / sigma
    se = 0.3 * resid.std() / np.sqrt(resid.size)
    assert shifted - best == pytest.approx(0.5 * 0.3 ** 2, abs=5 * se)


# ------------------------------------------------------------------ bad input

X = np.zeros((3, 2))


def _zero(x, *args):
    return np.zeros_like(x)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: L.langevin_sample(_zero, X, 0.0, 5, 0), ValueError,
     "step_size must be > 0"),
    (lambda: L.langevin_sample(_zero, X, np.nan, 5, 0), ValueError,
     "finite"),
    (lambda: L.langevin_sample(_zero, X, 0.1, -1, 0), ValueError,
     "n_steps must be >= 0"),
    (lambda: L.langevin_sample(_zero, np.zeros((2, 2, 2)), 0.1, 5, 0),
     ValueError, r"shape \(N, D\)"),
    (lambda: L.langevin_sample(_zero, [[np.nan, 0.0]], 0.1, 5, 0),
     ValueError, "finite"),
    (lambda: L.langevin_sample("score", X, 0.1, 5, 0), TypeError,
     "callable"),
    (lambda: L.langevin_sample(lambda x: x[:1], X, 0.1, 5, 0), ValueError,
     "must return shape"),
    (lambda: L.langevin_sample(_zero, X, 0.1, 5, None), TypeError,
     "Generator"),
    (lambda: L.annealed_langevin(_zero, [0.1, 1.0], X, 1e-3, 5, 0),
     ValueError, "strictly decreasing"),
    (lambda: L.annealed_langevin(_zero, [1.0, -0.1], X, 1e-3, 5, 0),
     ValueError, "strictly decreasing"),
    (lambda: L.annealed_langevin(_zero, [1.0, 0.1], X, 0.0, 5, 0),
     ValueError, "epsilon must be > 0"),
    (lambda: L.annealed_langevin(_zero, [1.0, 0.1], X, 1e-3, 0, 0),
     ValueError, "n_steps_each must be >= 1"),
    (lambda: L.annealed_langevin(_zero, [[1.0, 0.1]], X, 1e-3, 2, 0),
     ValueError, "1-dimensional"),
    (lambda: L.geometric_sigmas(0.1, 1.0, 5), ValueError,
     "sigma_1 must be > sigma_L"),
    (lambda: L.dsm_loss(_zero, X, 0.0, X), ValueError, "sigma must be > 0"),
    (lambda: L.dsm_loss(_zero, X, 0.1, np.zeros((3, 1))), ValueError,
     "noise must have the same shape"),
    (lambda: L.dsm_loss(_zero, [[np.inf, 0.0]], 0.1, [[0.0, 0.0]]),
     ValueError, "finite"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
