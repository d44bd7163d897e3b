"""Tests of diffusion_edu.edm against exact answers.

Gaussian data N(m, v) is the oracle: its ideal denoiser is linear,
D(x; σ) = m + v (x − m) / (v + σ²), and the ODE dx/dσ = (x − D)/σ has
the closed-form solution x(σ) = m + √((v + σ²)/(v + σ_0²)) (x(σ_0) − m).
"""

import numpy as np
import pytest

from diffusion_edu import edm, ode, schedules
from diffusion_edu.toy_data import (
    GaussianMixture1D,
    GaussianMixture2D,
    SwissRoll2D,
)

M, V = 0.7, 0.3
GAUSS = GaussianMixture1D([1.0], [M], [V])


def exact_flow(x, sigma0, sigma):
    return M + np.sqrt((V + sigma ** 2) / (V + sigma0 ** 2)) * (x - M)


def velocity(denoiser):
    return lambda x, s: edm.ode_velocity(denoiser, x, s)


# --------------------------------------------------------------------------
# Coordinates, preconditioning, time steps
# --------------------------------------------------------------------------

def test_alpha_bar_from_sigma_inverts_sigma_from_alpha_bar():
    ab = np.array([1.0, 0.9, 0.3, 1e-4])
    assert np.allclose(edm.alpha_bar_from_sigma(
        ode.sigma_from_alpha_bar(ab)), ab, rtol=1e-12)
    with pytest.raises(ValueError, match=">= 0"):
        edm.alpha_bar_from_sigma(-1.0)


def test_preconditioning_unit_second_moments_and_optimal_skip():
    sigma, sd = np.geomspace(0.01, 80, 9), 0.8
    c = edm.preconditioning(sigma, sd)
    assert np.allclose(c.c_in ** 2 * (sigma ** 2 + sd ** 2), 1)
    # the target (x0 − c_skip x)/c_out has unit second moment
    second = (1 - c.c_skip) ** 2 * sd ** 2 + c.c_skip ** 2 * sigma ** 2
    assert np.allclose(second, c.c_out ** 2)
    # any other c_skip makes c_out larger
    for delta in (-0.05, 0.05):
        other = c.c_skip + delta
        bigger = (1 - other) ** 2 * sd ** 2 + other ** 2 * sigma ** 2
        assert np.all(bigger > c.c_out ** 2)
    assert np.allclose(c.c_noise, np.log(sigma) / 4)


def test_preconditioning_skip_is_the_ideal_denoiser_of_gaussian_data():
    sd = 0.9
    data = GaussianMixture1D([1.0], [0.0], [sd ** 2])
    x = np.linspace(-3, 3, 7)[:, None]
    for sigma in (0.1, 1.0, 10.0):
        c = edm.preconditioning(sigma, sd)
        assert np.allclose(edm.ideal_denoiser(data)(x, sigma),
                           c.c_skip * x, atol=1e-12)


def test_preconditioning_monte_carlo():
    rng = np.random.default_rng(0)
    data = GaussianMixture1D()
    x0 = data.sample(400_000, rng)
    sd = float(np.sqrt(np.mean(x0 ** 2)))
    for sigma in (0.05, 1.0, 20.0):
        c = edm.preconditioning(sigma, sd)
        x = x0 + sigma * rng.standard_normal(x0.shape)
        assert abs(np.mean((c.c_in * x) ** 2) - 1) < 0.01
        target = (x0 - c.c_skip * x) / c.c_out
        assert abs(np.mean(target ** 2) - 1) < 0.01


def test_preconditioning_rejects_bad_input():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        edm.preconditioning(0.0, 1.0)
    with pytest.raises(ValueError, match="sigma_data"):
        edm.preconditioning(1.0, -1.0)


def test_sigma_steps():
    g = edm.sigma_steps(10, 0.002, 80.0, 7.0)
    assert g.shape == (11,) and g[0] == 80.0 and g[-2] == 0.002
    assert g[-1] == 0 and np.all(np.diff(g) < 0)
    # evenly spaced in sigma^(1/rho)
    assert np.allclose(np.diff(g[:-1] ** (1 / 7)),
                       np.diff(g[:-1] ** (1 / 7))[0])
    # rho = 1: uniform in sigma
    assert np.allclose(edm.sigma_steps(4, 1.0, 4.0, 1.0), [4, 3, 2, 1, 0])
    # rho = 7 puts the short steps at small sigma
    assert g[-3] - g[-2] < g[0] - g[1]
    assert np.array_equal(edm.sigma_steps(1, 0.1, 5.0), [5.0, 0.0])
    with pytest.raises(ValueError, match="swap"):
        edm.sigma_steps(5, 80.0, 0.002)
    with pytest.raises(ValueError, match="num_steps"):
        edm.sigma_steps(0)
    with pytest.raises(TypeError):
        edm.sigma_steps(2.5)


# --------------------------------------------------------------------------
# Denoisers
# --------------------------------------------------------------------------

@pytest.mark.parametrize("data", [GaussianMixture1D(), GaussianMixture2D(),
                                  SwissRoll2D()])
def test_ideal_denoiser_is_the_posterior_mean_in_rescaled_coordinates(
        data):
    s = schedules.linear(1000)
    rng = np.random.default_rng(1)
    x_bar = 2 * rng.standard_normal((50, data.dim))
    D = edm.ideal_denoiser(data)
    for t in (1, 40, 500, 1000):
        sigma = ode.sigma_from_alpha_bar(s.alpha_bar[t])
        xt = np.sqrt(s.alpha_bar[t]) * x_bar
        expect = data.posterior_mean_x0(xt, s, t)
        assert np.allclose(D(x_bar, sigma), expect, atol=1e-9)
    assert np.array_equal(D(x_bar, 0.0), x_bar)


def test_ideal_denoiser_per_row_sigma_and_gaussian_closed_form():
    D = edm.ideal_denoiser(GAUSS)
    x = np.linspace(-2, 2, 5)[:, None]
    sig = np.array([0.0, 0.1, 1.0, 3.0, 30.0])
    expect = M + V / (V + sig[:, None] ** 2) * (x - M)
    assert np.allclose(D(x, sig), expect, atol=1e-12)
    with pytest.raises(ValueError, match="one noise level per row"):
        D(x, np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(N, 1\)"):
        D(np.zeros((5, 2)), 1.0)
    with pytest.raises(TypeError, match="toy data"):
        edm.ideal_denoiser(object())


def test_denoiser_from_eps_model_converts_exactly_on_the_grid():
    s = schedules.linear(1000)
    data = GaussianMixture2D()
    Dn = edm.denoiser_from_eps_model(data.eps_model(s), s)
    D = edm.ideal_denoiser(data)
    x = 1.5 * np.random.default_rng(2).standard_normal((40, 2))
    for t in (1, 7, 333, 1000):
        sigma = Dn.sigmas[t]
        assert np.allclose(Dn(x, sigma), D(x, sigma), atol=1e-12)
    # between grid points: the interpolation error is small, not zero
    mid = np.sqrt(Dn.sigmas[300] * Dn.sigmas[301])
    assert np.abs(Dn(x, mid) - D(x, mid)).max() < 1e-4
    # per-row sigma
    sig = Dn.sigmas[np.arange(1, 41) * 20]
    assert np.allclose(Dn(x, sig), D(x, sig), atol=1e-12)
    with pytest.raises(ValueError, match="sigma_1, sigma_T"):
        Dn(x, 0.001)
    with pytest.raises(ValueError, match="sigma_1, sigma_T"):
        Dn(x, 1e3)
    with pytest.raises(TypeError, match="eps_model"):
        edm.denoiser_from_eps_model(3, s)


def test_round_sigma_moves_levels_onto_the_grid():
    s = schedules.linear(1000)
    Dn = edm.denoiser_from_eps_model(GAUSS.eps_model(s), s)
    g = Dn.round_sigma(edm.sigma_steps(12, 0.02, 80.0))
    assert g[-1] == 0 and np.all(np.isin(g[:-1], Dn.sigmas))
    assert np.all(np.abs(np.log(g[:-1] / edm.sigma_steps(12, 0.02, 80.0)
                                [:-1])) < 0.06)


# --------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------

def test_solve_gaussian_closed_form_and_orders():
    D = edm.ideal_denoiser(GAUSS)
    x = np.linspace(-3, 3, 9)[:, None] * 5.0
    errs = {"euler": [], "heun": []}
    ns = [8, 16, 32, 64]
    for n in ns:
        grid = np.linspace(5.0, 0.5, n + 1)
        exact = exact_flow(x, 5.0, 0.5)
        for method in errs:
            out = edm.solve(velocity(D), x, grid, method)
            errs[method].append(np.abs(out - exact).max())
    slope = {m: np.polyfit(np.log(ns), np.log(e), 1)[0]
             for m, e in errs.items()}
    assert -1.15 < slope["euler"] < -0.85
    assert -2.2 < slope["heun"] < -1.8
    # a fine Heun solve through sigma = 0 lands on the exact map
    fine = edm.solve(velocity(D), x, edm.sigma_steps(400, 1e-3, 5.0))
    assert np.allclose(fine, exact_flow(x, 5.0, 0.0), atol=1e-4)


def test_solve_returns_trajectory_and_runs_backwards():
    D = edm.ideal_denoiser(GAUSS)
    x = np.array([[0.1], [2.0]])
    grid = np.geomspace(0.1, 10, 200)
    out, traj = edm.solve(velocity(D), x, grid, "heun", True)
    assert traj.shape == (200, 2, 1) and np.array_equal(traj[-1], out)
    assert np.allclose(out, exact_flow(x, 0.1, 10.0), rtol=1e-4)


def test_euler_in_sigma_is_the_books_ddim_step():
    s = schedules.linear(1000)
    data = GaussianMixture2D()
    eps = data.eps_model(s)
    steps = ode.solve_timesteps(s.T, 20)          # T, ..., 0
    z = np.random.default_rng(3).standard_normal((30, 2))
    ours = ode.sample_ode(s, eps, (30, 2), 0, timesteps=steps, x_T=z)
    Dn = edm.denoiser_from_eps_model(eps, s)
    sig = ode.sigma_from_alpha_bar(s.alpha_bar[steps])
    x_bar = edm.solve(velocity(Dn), z / np.sqrt(s.alpha_bar[s.T]), sig,
                      "euler")
    assert np.allclose(x_bar, ours, atol=1e-10)


def test_vp_velocity_is_the_same_ode_rescaled():
    D = edm.ideal_denoiser(GaussianMixture1D())
    x = np.linspace(-2, 2, 7)[:, None] * 10
    grid = edm.sigma_steps(300, 0.02, 10.0)
    ve = edm.solve(velocity(D), x, grid)
    s0 = 1 / np.sqrt(1 + 10.0 ** 2)
    vp = edm.solve(lambda y, sg: edm.vp_velocity(D, y, sg), s0 * x, grid)
    assert np.allclose(vp, ve, atol=1e-3)


def test_sample_without_churn_is_solve_and_counts_evaluations():
    calls = []
    D0 = edm.ideal_denoiser(GaussianMixture1D())

    def D(x, sigma):
        calls.append(sigma)
        return D0(x, sigma)

    x = 80 * np.random.default_rng(4).standard_normal((20, 1))
    grid = edm.sigma_steps(7, 0.02, 80.0)
    for method in ("euler", "heun"):
        calls.clear()
        a = edm.sample(D, x, grid, method)
        assert len(calls) == edm.num_evaluations(grid, method)
        assert np.allclose(a, edm.solve(velocity(D0), x, grid, method))
    assert edm.num_evaluations(grid, "heun") == 13
    assert edm.num_evaluations(grid, "euler") == 7
    assert edm.num_evaluations(grid[:-1], "heun") == 12


def churn_moments(grid, churn, start_var, noise_scale=1.0):
    """Exact mean and variance of Algorithm 2 (Heun) for N(M, V) data.

    With the linear ideal denoiser the velocity is (x − M) k(σ),
    k = σ / (V + σ²), so every step is affine: x̂ = x + c ε, then
    x' − M = a (x̂ − M) with a = 1 + h (k(σ̂) + k(σ')(1 + h k(σ̂))) / 2
    (Euler, a = 1 + h k(σ̂), on the step to 0).
    """
    def k(sig):
        return sig / (V + sig ** 2)

    mean, var = 0.0, start_var
    gamma = min(churn / (len(grid) - 1), np.sqrt(2) - 1)
    for cur, nxt in zip(grid[:-1], grid[1:], strict=True):
        hat = cur * (1 + gamma)
        var += noise_scale ** 2 * (hat ** 2 - cur ** 2)
        h = nxt - hat
        a = (1 + h * k(hat) if nxt == 0 else
             1 + 0.5 * h * (k(hat) + k(nxt) * (1 + h * k(hat))))
        mean, var = M + a * (mean - M), a ** 2 * var
    return mean, var


def test_churn_sampler_matches_exact_gaussian_moments():
    D = edm.ideal_denoiser(GAUSS)
    n = 40_000
    rng = np.random.default_rng(5)
    grid = edm.sigma_steps(40, 0.01, 40.0)
    x = grid[0] * rng.standard_normal((n, 1))
    out = edm.sample(D, x, grid, "heun", churn=20, rng=6)
    mean, var = churn_moments(grid, 20, float(x.var()))
    assert abs(out.mean() - mean) < 4 * np.sqrt(var / n)
    assert abs(out.var() / var - 1) < 4 * np.sqrt(2 / n)
    # and the exact moments tend to the data's as the steps shrink (the
    # helper), and so do the package's samples on a finer grid
    fine = churn_moments(edm.sigma_steps(2000, 1e-3, 40.0), 20, 1600.0)
    assert abs(fine[0] - M) < 1e-3 and abs(fine[1] / V - 1) < 2e-3
    out_fine = edm.sample(D, x[:20_000], edm.sigma_steps(200, 1e-3, 40.0),
                          "heun", churn=20, rng=7)
    assert abs(out_fine.mean() - M) < 4 * np.sqrt(V / 20_000) + 1e-3
    assert abs(out_fine.var() / V - 1) < 4 * np.sqrt(2 / 20_000) + 5e-3
    # S_noise scales the added noise: variance += S_noise^2 (hat^2 - sig^2)
    loud = edm.sample(D, x, grid, "heun", churn=20, rng=6, noise_scale=1.1)
    mean_l, var_l = churn_moments(grid, 20, float(x.var()), 1.1)
    assert var_l > 1.05 * var                    # a visible difference
    assert abs(loud.mean() - mean_l) < 4 * np.sqrt(var_l / n)
    assert abs(loud.var() / var_l - 1) < 4 * np.sqrt(2 / n)
    # the trajectory: one state per level, ending at the samples
    last, traj = edm.sample(D, x[:7], grid, "heun", churn=20, rng=6,
                            return_trajectory=True)
    assert traj.shape == (len(grid), 7, 1)
    assert np.array_equal(traj[0], x[:7]) and np.array_equal(traj[-1], last)
    # noise was added: differs from the ODE, reproducible from the seed
    ode_out = edm.sample(D, x, grid, "heun")
    assert np.abs(out - ode_out).mean() > 0.05
    assert np.array_equal(out, edm.sample(D, x, grid, "heun", churn=20,
                                          rng=6))
    # churn outside [sigma_tmin, sigma_tmax] adds nothing
    same = edm.sample(D, x[:50], grid, "heun", churn=20, rng=6,
                      sigma_tmin=100.0, sigma_tmax=200.0)
    assert np.allclose(same, ode_out[:50])


def test_sample_and_solve_reject_bad_input():
    D = edm.ideal_denoiser(GAUSS)
    x = np.zeros((3, 1))
    with pytest.raises(ValueError, match="decrease"):
        edm.sample(D, x, [0.1, 1.0, 2.0])
    with pytest.raises(ValueError, match="monotone"):
        edm.solve(velocity(D), x, [2.0, 1.0, 1.5])
    with pytest.raises(ValueError, match="start at sigma > 0"):
        edm.solve(velocity(D), x, [0.0, 1.0])
    with pytest.raises(ValueError, match="method"):
        edm.solve(velocity(D), x, [2.0, 1.0], "rk4")
    with pytest.raises(TypeError, match="rng"):
        edm.sample(D, x, [2.0, 1.0, 0.0], churn=1.0)
    with pytest.raises(ValueError, match="churn"):
        edm.sample(D, x, [2.0, 1.0, 0.0], churn=-1.0, rng=0)
    with pytest.raises(TypeError, match="denoiser"):
        edm.sample("D", x, [2.0, 0.0])
    with pytest.raises(ValueError, match="sigma must be > 0"):
        edm.ode_velocity(D, x, 0.0)
    with pytest.raises(ValueError, match="returned shape"):
        edm.sample(lambda y, s: y[:1], x, [2.0, 0.0])


def test_sample_rounds_the_raised_level_onto_the_network_grid():
    s = schedules.linear(1000)
    Dn = edm.denoiser_from_eps_model(GAUSS.eps_model(s), s)
    seen = []

    def D(x, sigma):
        seen.append(float(np.asarray(sigma).ravel()[0]))
        return Dn(x, sigma)

    grid = Dn.round_sigma(edm.sigma_steps(10, 0.05, 50.0))
    x = 50.0 * np.random.default_rng(7).standard_normal((5, 1))
    edm.sample(D, x, grid, "heun", churn=3.0, rng=1,
               round_sigma=Dn.round_sigma)
    assert np.all(np.isin(seen, Dn.sigmas))       # one evaluation each
    assert max(seen) > grid[0]                    # noise was added
    with pytest.raises(ValueError, match="round_sigma lowered"):
        edm.sample(D, x, [10.0, 1.0, 0.0], churn=1.0, rng=1,
                   round_sigma=lambda v: 0.5 * v)
