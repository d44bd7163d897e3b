"""Tests of diffusion_edu.ode and of the exact DDIM density in 1-D.

Gaussian data N(m, v) give exact answers: every noised marginal is
Gaussian, the ideal noise prediction is affine in x, and the
probability-flow ODE in x̄ = x/√ᾱ, σ = √((1 − ᾱ)/ᾱ) has the solution
x̄(σ) = m + (x̄(σ₀) − m) √((v + σ²)/(v + σ₀²)).
"""

import numpy as np
import pytest

from diffusion_edu import ode, samplers, schedules
from diffusion_edu.toy_data import GaussianMixture1D

M, V = 0.7, 0.3
GAUSS = GaussianMixture1D([1.0], [M], [V])


def exact_x_bar(x_bar0, sigma0, sigma):
    return M + (x_bar0 - M) * np.sqrt((V + sigma ** 2) / (V + sigma0 ** 2))


def test_sigma_from_alpha_bar_matches_definition():
    s = schedules.linear(1000)
    sig = ode.sigma_from_alpha_bar(s.alpha_bar)
    assert sig[0] == 0.0
    # x_t / sqrt(ab) = x0 + sigma eps  <=>  sigma^2 = (1 - ab) / ab
    assert np.allclose(sig ** 2 * s.alpha_bar, 1 - s.alpha_bar,
                       rtol=1e-12, atol=0)
    assert np.all(np.diff(sig) > 0)


def test_sigma_from_alpha_bar_rejects_values_outside_0_1():
    with pytest.raises(ValueError, match="alpha_bar must lie"):
        ode.sigma_from_alpha_bar([0.5, 0.0])
    with pytest.raises(ValueError, match="alpha_bar must lie"):
        ode.sigma_from_alpha_bar(1.2)


@pytest.mark.parametrize("s", [schedules.linear(1000), schedules.cosine(50)],
                         ids=["linear1000", "cosine50"])
def test_euler_step_is_the_ddim_step_with_eta_0(s):
    rng = np.random.default_rng(0)
    for t, t_prev in [(s.T, s.T // 2), (s.T // 3, s.T // 3 - 1), (7, 0),
                      (1, 0)]:
        x = rng.standard_normal((6, 2))
        eps = rng.standard_normal((6, 2))
        a = ode.euler_step(s, x, t, t_prev, eps)
        b = samplers.ddim_step(s, x, t, t_prev, eps, eta=0.0)
        assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_sample_ode_euler_equals_sample_ddim():
    s = schedules.linear(1000)
    ideal = GAUSS.eps_model(s)
    a = ode.sample_ode(s, ideal, (50, 1), 3, 20)
    b = samplers.sample_ddim(s, ideal, (50, 1), 3, 20)
    assert np.allclose(a, b, rtol=1e-12, atol=1e-12)


def point_mass_eps(s, x_star):
    def eps_model(x, t):
        ab = s.alpha_bar[t][:, None]
        return (x - np.sqrt(ab) * x_star) / np.sqrt(1 - ab)
    return eps_model


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_one_step_is_exact_for_a_point_mass(method):
    # For data = one point x*, x̄ moves on a straight line in sigma.
    s = schedules.linear(1000)
    x_star = np.array([[0.4, -1.3]])
    x_T = np.random.default_rng(1).standard_normal((5, 2))
    out = ode.sample_ode(s, point_mass_eps(s, x_star), (5, 2), 0, 1,
                         method, x_T=x_T)
    assert np.allclose(out, np.broadcast_to(x_star, (5, 2)), atol=1e-12)


def _error_to_exact(method, num_steps, t_end=40):
    s = schedules.linear(1000)
    taus = np.linspace(1000, t_end, num_steps + 1).round().astype(int)
    x_T = np.linspace(-2.5, 2.5, 11)[:, None]
    out = ode.sample_ode(s, GAUSS.eps_model(s), (11, 1), 0, method=method,
                         timesteps=taus, x_T=x_T)
    sig = ode.sigma_from_alpha_bar(s.alpha_bar)
    x_bar_T = x_T / np.sqrt(s.alpha_bar[1000])
    exact = exact_x_bar(x_bar_T, sig[1000], sig[t_end])
    return np.max(np.abs(out / np.sqrt(s.alpha_bar[t_end]) - exact))


def test_euler_converges_with_order_one_and_heun_with_order_two():
    e = [_error_to_exact("euler", k) for k in (8, 16, 32, 64)]
    h = [_error_to_exact("heun", k) for k in (8, 16, 32, 64)]
    ratios_e = np.array(e[:-1]) / np.array(e[1:])
    ratios_h = np.array(h[:-1]) / np.array(h[1:])
    assert np.all((ratios_e[1:] > 1.7) & (ratios_e[1:] < 2.3)), ratios_e
    assert np.all((ratios_h[1:] > 3.4) & (ratios_h[1:] < 4.6)), ratios_h
    assert h[-1] < e[-1] / 10


def _gaussian_pdf(x, tau, beta0=0.1, beta1=20.0):
    log_ab = -(beta0 * tau + 0.5 * (beta1 - beta0) * tau ** 2)
    ab = np.exp(log_ab)
    var = ab * V + 1 - ab
    mean = np.sqrt(ab) * M
    return np.exp(-(x - mean) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)


def test_pf_ode_drift_solves_the_continuity_equation():
    # d/dtau p + d/dx (velocity p) = 0 for the VP SDE with linear beta.
    beta0, beta1, tau, h = 0.1, 20.0, 0.3, 1e-5
    x = np.linspace(-3, 3, 41)[:, None]
    log_ab = -(beta0 * tau + 0.5 * (beta1 - beta0) * tau ** 2)
    ab = np.exp(log_ab)
    var = ab * V + 1 - ab

    def flux(y):
        score = -(y - np.sqrt(ab) * M) / var
        vel = ode.pf_ode_drift(y, beta0 + tau * (beta1 - beta0), score)
        return vel[:, 0] * _gaussian_pdf(y[:, 0], tau)

    dp_dtau = (_gaussian_pdf(x[:, 0], tau + h)
               - _gaussian_pdf(x[:, 0], tau - h)) / (2 * h)
    div = (flux(x + h) - flux(x - h)) / (2 * h)
    assert np.max(np.abs(dp_dtau + div)) < 1e-6
    assert np.max(np.abs(dp_dtau)) > 0.1         # not trivially zero


def test_pf_ode_drift_vanishes_for_the_stationary_gaussian():
    x = np.linspace(-2, 2, 9)[:, None]
    assert np.allclose(ode.pf_ode_drift(x, 3.0, -x), 0.0, atol=0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        ode.pf_ode_drift(x, -1.0, -x)
    with pytest.raises(ValueError, match="shape of x"):
        ode.pf_ode_drift(x, 1.0, x[:3])


def test_encoding_matches_the_exact_ode_map_for_gaussian_data():
    s = schedules.linear(1000)
    ideal = GAUSS.eps_model(s)
    x0 = np.linspace(-1, 2, 7)[:, None]
    sig = ode.sigma_from_alpha_bar(s.alpha_bar)
    exact = exact_x_bar(x0, 0.0, sig[1000]) * np.sqrt(s.alpha_bar[1000])
    errors = [np.max(np.abs(ode.encode_ode(s, ideal, x0, k, "heun")
                            - exact)) for k in (25, 100)]
    assert errors[1] < errors[0] / 8 and errors[1] < 3e-3  # order 2


def test_encode_then_decode_reconstructs_better_with_more_steps():
    s = schedules.linear(1000)
    ideal = GAUSS.eps_model(s)
    x0 = np.linspace(-1, 2, 7)[:, None]
    err = {}
    for method in ("euler", "heun"):
        for k in (10, 100):
            z = ode.encode_ode(s, ideal, x0, k, method)
            back = ode.sample_ode(s, ideal, x0.shape, 0, k, method, x_T=z)
            err[method, k] = np.max(np.abs(back - x0))
    assert err["euler", 100] < err["euler", 10] / 5        # order 1
    assert err["heun", 100] < err["heun", 10] / 30         # order 2
    assert err["heun", 100] < err["euler", 100] / 10


def test_heun_uses_euler_on_the_last_step_to_zero():
    s = schedules.linear(1000)
    ideal = GAUSS.eps_model(s)
    x = np.array([[0.3], [1.1]])
    eps = ideal(x, np.full(2, 20))
    assert np.allclose(ode.heun_step(s, ideal, x, 20, 0),
                       ode.euler_step(s, x, 20, 0, eps), atol=0)


def test_solvers_reject_bad_input():
    s = schedules.linear(100)
    ideal = GAUSS.eps_model(s)
    x = np.zeros((2, 1))
    with pytest.raises(ValueError, match="t_prev must differ"):
        ode.euler_step(s, x, 5, 5, x)
    with pytest.raises(ValueError, match="method must be"):
        ode.sample_ode(s, ideal, (2, 1), 0, 5, method="rk4")
    with pytest.raises(ValueError, match="strictly decreasing"):
        ode.sample_ode(s, ideal, (2, 1), 0, timesteps=np.array([5, 9, 0]))
    with pytest.raises(ValueError, match="strictly increasing"):
        ode.encode_ode(s, ideal, x, timesteps=np.array([0, 50, 20]))
    with pytest.raises(TypeError, match="num_steps"):
        ode.sample_ode(s, ideal, (2, 1), 0)
    with pytest.raises(TypeError, match="callable"):
        ode.sample_ode(s, "model", (2, 1), 0, 5)


# ---------------------------------------------------------------------------
# The exact density of the DDIM samples in 1-D
# ---------------------------------------------------------------------------

def _gaussian_ddim_law(s, num_steps, eta, ideal=None):
    """Mean and variance of DDIM samples for Gaussian data (exact).

    The ideal ε (of GAUSS unless given) is affine in x, so each step is
    x' = A x + B + σ z.
    """
    if ideal is None:
        ideal = GAUSS.eps_model(s)
    mean, var = 0.0, 1.0
    taus = samplers.ddim_timesteps(s.T, num_steps)
    for t, tp in zip(taus[:-1], taus[1:], strict=True):
        pts = np.array([[0.0], [1.0]])
        out = samplers.ddim_step(s, pts, int(t), int(tp),
                                 ideal(pts, np.full(2, int(t))),
                                 np.zeros((2, 1)), eta)[:, 0]
        a, b = out[1] - out[0], out[0]
        ab, abp = s.alpha_bar[t], s.alpha_bar[tp]
        sig2 = eta ** 2 * (1 - abp) / (1 - ab) * (1 - ab / abp)
        mean, var = a * mean + b, a ** 2 * var + sig2
    return mean, var


@pytest.mark.parametrize("num_steps, eta, method", [
    (10, 0.0, "logspace"), (20, 0.0, "logspace"), (10, 1.0, "logspace"),
    (20, 0.5, "logspace"), (20, 1.0, "grid"), (200, 0.5, "grid")])
def test_ddim_log_density_is_exact_for_gaussian_data(num_steps, eta,
                                                     method):
    s = schedules.linear(1000)
    kw = {"n": 401} if method == "logspace" else {"n": 8001,
                                                   "z_max": 8.0}
    x, log_p = samplers.ddim_log_density_1d(s, GAUSS.eps_model(s),
                                            num_steps, eta, method=method,
                                            **kw)
    mean, var = _gaussian_ddim_law(s, num_steps, eta)
    assert abs(mean - M) + abs(var - V) > 1e-4     # not the data law
    inside = np.abs(x - mean) < 5 * np.sqrt(var)
    exact = (-(x - mean) ** 2 / (2 * var) - 0.5 * np.log(2 * np.pi * var))
    assert np.max(np.abs(log_p[inside] - exact[inside])) < 3e-3
    mass = np.sum(np.exp(log_p[:-1]) * np.diff(x))
    assert abs(mass - 1) < 1e-3


def test_ddim_log_density_agrees_with_a_histogram_of_samples():
    s = schedules.linear(1000)
    mix = GaussianMixture1D()
    ideal = mix.eps_model(s)
    x, log_p = samplers.ddim_log_density_1d(s, ideal, 10, 1.0, n=401)
    draws = samplers.sample_ddim(s, ideal, (40_000, 1), 5, 10, eta=1.0)
    edges = np.linspace(-2.5, 2.5, 26)
    counts, _ = np.histogram(draws[:, 0], edges)
    cdf = np.concatenate([[0], np.cumsum(np.exp(log_p[:-1]) * np.diff(x))])
    expected = 40_000 * np.diff(np.interp(edges, x, cdf))
    z = (counts - expected) / np.sqrt(expected + 1)
    assert np.max(np.abs(z)) < 5


NARROW_V = 0.02                  # the width of the narrowest mode of ch. 2


def _gaussian_ddpm_law(s, m, v):
    """Mean and variance of the samples of the ancestral sampler (ch. 6).

    Built from samplers.ddpm_step, independently of ddim_step.
    """
    ideal = GaussianMixture1D([1.0], [m], [v]).eps_model(s)
    mean, var = 0.0, 1.0
    for t in range(s.T, 0, -1):
        pts = np.array([[0.0], [1.0]])
        out = samplers.ddpm_step(s, pts, t, ideal(pts, np.full(2, t)),
                                 np.zeros((2, 1)))[:, 0]
        a, b = out[1] - out[0], out[0]
        noise_var = s.beta_tilde[t] if t > 1 else 0.0
        mean, var = a * mean + b, a ** 2 * var + noise_var
    return mean, var


def _kl_gauss(m1, v1, m2, v2):
    """KL(N(m1, v1) || N(m2, v2))."""
    return 0.5 * (v1 / v2 + (m1 - m2) ** 2 / v2 - 1 + np.log(v2 / v1))


def _kl_on_grid(x, log_p, log_q):
    """KL(p || q) by the trapezoidal rule on the points x."""
    f = np.exp(log_p) * (log_p - log_q)
    return np.sum((f[1:] + f[:-1]) / 2 * np.diff(x))


@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_grid_density_stays_exact_over_a_thousand_tiny_noise_steps(eta):
    # S = T = 1000: the noise of the last steps (sd 0.0037 at t = 2 for
    # eta = 1/2) is about one grid spacing (0.0039). A first-order remap
    # or a kernel of cell masses smears the density a little at every
    # step; over 1000 steps that made errors of 0.07 to 0.12 in log p of
    # this narrow Gaussian.
    s = schedules.linear(1000)
    m = 0.7
    ideal = GaussianMixture1D([1.0], [m], [NARROW_V]).eps_model(s)
    x, log_p = samplers.ddim_log_density_1d(s, ideal, 1000, eta, n=4097,
                                            method="grid", z_max=8.0)
    mean, var = _gaussian_ddim_law(s, 1000, eta, ideal)
    if eta == 1.0:      # S = T, eta = 1: the ancestral sampler of ch. 6
        assert np.allclose((mean, var), _gaussian_ddpm_law(s, m, NARROW_V),
                           rtol=1e-10, atol=1e-12)
    exact = -(x - mean) ** 2 / (2 * var) - 0.5 * np.log(2 * np.pi * var)
    inside = np.abs(x - mean) < 5 * np.sqrt(var)
    assert np.max(np.abs(log_p[inside] - exact[inside])) < 2e-3
    log_data = -(x - m) ** 2 / (2 * NARROW_V) - 0.5 * np.log(
        2 * np.pi * NARROW_V)
    kl_exact = _kl_gauss(m, NARROW_V, mean, var)
    assert kl_exact > 1e-4                          # not trivially small
    # densities below ~1e-13 of the peak are lost to rounding; 6 sd from
    # the mean (all but 2e-9 of the data) they are still far above that
    keep = np.abs(x - m) < 6 * np.sqrt(NARROW_V)
    assert np.all(np.isfinite(log_p[keep]))
    kl = _kl_on_grid(x[keep], log_data[keep], log_p[keep])
    assert abs(kl - kl_exact) < 0.01 * kl_exact


def test_grid_density_converges_under_refinement_for_the_mixture():
    # The case of the book's table: the mixture of chapter 2, S = 1000,
    # eta = 0.5. Halving the spacing changes the KL by far less than 1 %
    # (the first-order scheme changed it by a factor ~3).
    s = schedules.linear(1000)
    mix = GaussianMixture1D()
    ideal = mix.eps_model(s)
    kl = []
    for n in [2049, 4097]:
        x, log_p = samplers.ddim_log_density_1d(s, ideal, 1000, 0.5, n=n,
                                                method="grid", z_max=8.0)
        log_data = mix.log_pdf(x[:, None])
        keep = log_data > log_data.max() - 25     # all but ~1e-11 of it
        assert np.all(np.isfinite(log_p[keep]))
        kl.append(_kl_on_grid(x[keep], log_data[keep], log_p[keep]))
    assert 1e-5 < kl[1] < 1e-4
    assert abs(kl[0] - kl[1]) < 0.01 * kl[1]


def test_ddim_log_density_rejects_bad_input():
    s = schedules.linear(100)
    with pytest.raises(ValueError, match="eta must be >= 0"):
        samplers.ddim_log_density_1d(s, GAUSS.eps_model(s), 5, -0.1)
    with pytest.raises(ValueError, match="method must be"):
        samplers.ddim_log_density_1d(s, GAUSS.eps_model(s), 5,
                                     method="mc")
    with pytest.raises(ValueError, match="z_max must be > 0"):
        samplers.ddim_log_density_1d(s, GAUSS.eps_model(s), 5, z_max=0.0)
