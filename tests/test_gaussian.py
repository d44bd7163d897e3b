"""Tests of diffusion_edu.gaussian: identities, Monte Carlo, bad input."""

import numpy as np
import pytest

from diffusion_edu import gaussian as G
from diffusion_edu import schedules as S


@pytest.fixture(scope="module")
def lin():
    return S.linear(1000)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(6, 3))
    eps = rng.normal(size=(6, 3))
    t = np.array([1, 2, 10, 300, 999, 1000])
    return x0, eps, t


# ---------------------------------------------------------------- identities

def test_q_mean_var_is_closed_form(lin, batch):
    x0, _, t = batch
    mean, var = G.q_mean_var(lin, x0, t)
    ab = lin.alpha_bar[t][:, None]
    np.testing.assert_allclose(mean, np.sqrt(ab) * x0, rtol=1e-14)
    np.testing.assert_allclose(var, 1 - ab, rtol=1e-14)
    assert var.shape == (6, 1)


def test_q_sample_is_mean_plus_sqrt_var_noise(lin, batch):
    x0, eps, t = batch
    mean, var = G.q_mean_var(lin, x0, t)
    np.testing.assert_allclose(G.q_sample(lin, x0, t, eps),
                               mean + np.sqrt(var) * eps, rtol=1e-14)


def test_q_step_at_t1_equals_q_sample_at_t1(lin, batch):
    x0, eps, _ = batch
    np.testing.assert_allclose(G.q_step(lin, x0, 1, eps),
                               G.q_sample(lin, x0, 1, eps), rtol=1e-14)


def test_predict_x0_inverts_q_sample(lin, batch):
    x0, eps, t = batch
    xt = G.q_sample(lin, x0, t, eps)
    np.testing.assert_allclose(G.predict_x0(lin, xt, t, eps), x0,
                               atol=1e-12)


def test_predict_eps_inverts_q_sample(lin, batch):
    x0, eps, t = batch
    xt = G.q_sample(lin, x0, t, eps)
    np.testing.assert_allclose(G.predict_eps(lin, xt, t, x0), eps,
                               atol=1e-11)


def test_posterior_mean_matches_ho_eps_form(lin, batch):
    x0, eps, t = batch
    xt = G.q_sample(lin, x0, t, eps)
    mu_tilde, _ = G.posterior_mean_var(lin, x0, xt, t)
    a = lin.alpha[t][:, None]
    b = lin.beta[t][:, None]
    ab = lin.alpha_bar[t][:, None]
    ho = (xt - b / np.sqrt(1 - ab) * eps) / np.sqrt(a)
    np.testing.assert_allclose(mu_tilde, ho, atol=1e-12)
    np.testing.assert_allclose(G.posterior_mean_from_eps(lin, xt, t, eps),
                               ho, atol=1e-12)


def test_posterior_at_t1_is_x0_with_zero_variance(lin, batch):
    x0, eps, _ = batch
    x1 = G.q_sample(lin, x0, 1, eps)
    mu, var = G.posterior_mean_var(lin, x0, x1, 1)
    np.testing.assert_allclose(mu, x0, atol=1e-12)
    assert np.all(var == 0.0)


def test_posterior_variance_is_beta_tilde(lin, batch):
    x0, eps, t = batch
    xt = G.q_sample(lin, x0, t, eps)
    _, var = G.posterior_mean_var(lin, x0, xt, t)
    np.testing.assert_array_equal(var[:, 0], lin.beta_tilde[t])


def test_score_and_eps_conversions_are_inverse(lin, batch):
    x0, eps, t = batch
    xt = G.q_sample(lin, x0, t, eps)
    score = G.score_from_eps(lin, xt, t, eps)
    ab = lin.alpha_bar[t][:, None]
    # the score of q(x_t | x_0): −(x_t − √ᾱ x_0)/(1 − ᾱ)
    np.testing.assert_allclose(score, -(xt - np.sqrt(ab) * x0) / (1 - ab),
                               rtol=1e-10)
    np.testing.assert_allclose(G.eps_from_score(lin, xt, t, score), eps,
                               rtol=1e-12)


def test_v_conversions_round_trip(lin, batch):
    x0, eps, t = batch
    xt = G.q_sample(lin, x0, t, eps)
    v = G.v_from_x0_eps(lin, x0, t, eps)
    np.testing.assert_allclose(G.predict_x0_from_v(lin, xt, t, v), x0,
                               atol=1e-12)
    np.testing.assert_allclose(G.predict_eps_from_v(lin, xt, t, v), eps,
                               atol=1e-12)
    # v is a rotation of (x0, ε): |v|² + |x_t|² = |x0|² + |ε|²
    np.testing.assert_allclose(v ** 2 + xt ** 2, x0 ** 2 + eps ** 2,
                               rtol=1e-12)


def test_reverse_variance_choices(lin):
    np.testing.assert_array_equal(G.reverse_variance(lin, "fixed_small"),
                                  lin.beta_tilde)
    np.testing.assert_array_equal(G.reverse_variance(lin, "fixed_large"),
                                  lin.beta)


def test_one_dimensional_input_is_read_as_column(lin):
    x0 = np.array([0.5, -1.0, 2.0])
    out = G.q_sample(lin, x0, 5, np.zeros(3))
    assert out.shape == (3, 1)


# ---------------------------------------------------------------- Monte Carlo

def test_q_step_applied_t_times_matches_q_sample_moments(lin):
    # N = 40_000 chains from x0 = (1.5, -0.7). Standard errors: mean
    # sqrt(var/N) ~ 0.004, variance var*sqrt(2/N) ~ 0.005; tolerances are
    # 5 standard errors.
    rng = np.random.default_rng(1)
    n, t_final = 40_000, 300
    x0 = np.tile([1.5, -0.7], (n, 1))
    x = x0
    for t in range(1, t_final + 1):
        x = G.q_step(lin, x, t, rng.standard_normal(x.shape))
    mean, var = G.q_mean_var(lin, x0[:1], t_final)
    se_mean = np.sqrt(var[0, 0] / n)
    se_var = var[0, 0] * np.sqrt(2 / n)
    np.testing.assert_allclose(x.mean(axis=0), mean[0], atol=5 * se_mean)
    np.testing.assert_allclose(x.var(axis=0), var[0, 0], atol=5 * se_var)
    # the check has teeth: the wrong ᾱ (product up to T) is far outside
    assert abs(x.mean(axis=0)[0] - 1.5 * np.sqrt(lin.alpha_bar[-1])) > 0.5


@pytest.mark.parametrize("t", [2, 5, 60])
def test_posterior_matches_simulated_chains(lin, t):
    # Simulate chains x0 -> x_{t-1} -> x_t with q_step from a fixed x0, then
    # regress x_{t-1} on x_t: for Gaussian pairs E[x_{t-1} | x_t] is linear
    # in x_t with the slope and intercept of μ̃_t, and the residual variance
    # is β̃_t. Tolerances: 5 standard errors of the least-squares estimates.
    rng = np.random.default_rng(t)
    n, x0_value = 100_000, 1.5
    x = np.full((n, 1), x0_value)
    for k in range(1, t):
        x = G.q_step(lin, x, k, rng.standard_normal(x.shape))
    x_prev = x[:, 0]
    xt = G.q_step(lin, x, t, rng.standard_normal(x.shape))[:, 0]
    design = np.stack([np.ones(n), xt], axis=1)
    coef, *_ = np.linalg.lstsq(design, x_prev, rcond=None)
    resid = x_prev - design @ coef
    resid_var = resid.var()
    se_slope = np.sqrt(resid_var / (n * xt.var()))
    # μ̃ at x_t = 0 and 1 gives intercept and slope
    mu0, var = G.posterior_mean_var(lin, [[x0_value]], [[0.0]], t)
    mu1, _ = G.posterior_mean_var(lin, [[x0_value]], [[1.0]], t)
    slope, intercept = mu1[0, 0] - mu0[0, 0], mu0[0, 0]
    assert coef[1] == pytest.approx(slope, abs=5 * se_slope)
    se_intercept = se_slope * np.sqrt(np.mean(xt ** 2))
    assert coef[0] == pytest.approx(intercept, abs=5 * se_intercept)
    assert resid_var == pytest.approx(var[0, 0],
                                      rel=5 * np.sqrt(2 / n))
    if t <= 5:  # β_t instead of β̃_t would fail at these small t
        assert abs(resid_var - lin.beta[t]) > 10 * var[0, 0] * np.sqrt(
            2 / n)


# ------------------------------------------------------------------ bad input

X = np.zeros((4, 2))
S10 = S.linear(10)


@pytest.mark.parametrize("fn", [
    G.q_sample, G.q_step, G.predict_x0, G.predict_eps, G.score_from_eps,
    G.eps_from_score, G.v_from_x0_eps, G.predict_x0_from_v,
    G.predict_eps_from_v, G.posterior_mean_from_eps])
def test_pair_functions_reject_bad_input(fn):
    with pytest.raises(ValueError, match=r"t must lie in 1\.\.T"):
        fn(S10, X, 0, X)
    with pytest.raises(ValueError, match=r"t must lie in 1\.\.T"):
        fn(S10, X, 11, X)
    with pytest.raises(ValueError, match=r"t must lie in 1\.\.T"):
        fn(S10, X, np.array([1, 2, 3, 11]), X)
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        fn(S10, X, np.array([1, 2]), X)
    with pytest.raises(ValueError, match="same shape"):
        fn(S10, X, 3, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        fn(S10, np.zeros((2, 2, 2)), 3, X)
    with pytest.raises(ValueError, match="finite"):
        fn(S10, np.full((4, 2), np.nan), 3, X)
    with pytest.raises(ValueError, match="finite"):
        fn(S10, X, 3, np.full((4, 2), np.inf))
    with pytest.raises(TypeError, match="must be a Schedule"):
        fn(np.linspace(0, 0.02, 11), X, 3, X)
    with pytest.raises(TypeError, match="int"):
        fn(S10, X, 2.5, X)


def test_q_mean_var_and_posterior_reject_bad_input():
    with pytest.raises(ValueError, match=r"t must lie in 1\.\.T"):
        G.q_mean_var(S10, X, 0)
    with pytest.raises(ValueError, match="finite"):
        G.q_mean_var(S10, [[np.nan]], 1)
    with pytest.raises(ValueError, match="same shape"):
        G.posterior_mean_var(S10, X, np.zeros((3, 2)), 2)
    with pytest.raises(ValueError, match=r"t must lie in 1\.\.T"):
        G.posterior_mean_var(S10, X, X, 12)
    with pytest.raises(ValueError, match="var_type must be"):
        G.reverse_variance(S10, "learned")
