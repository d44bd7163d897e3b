"""Tests of diffusion_edu.flows (and of the v-target of the denoiser).

Gaussian data N(m, v) give exact answers: on the path x_t = a x_0 + b ε
the marginal is N(a m, a² v + b²), E[x_0 | x_t] is affine in x_t, and
the marginal velocity is u = a' x̂_0 + b' ε̂.
"""

import numpy as np
import pytest

from diffusion_edu import flows, ode, schedules
from diffusion_edu.toy_data import (
    GaussianMixture1D,
    GaussianMixture2D,
    SwissRoll2D,
)

M, V = 0.7, 0.3
GAUSS = GaussianMixture1D([1.0], [M], [V])
MIX = GaussianMixture1D()


def gauss_x0_hat(x, t, path):
    a, b, _, _ = flows.coefficients(t, path)
    return M + a * V * (x - a * M) / (a ** 2 * V + b ** 2)


@pytest.mark.parametrize("path", flows.PATHS)
def test_coefficients_endpoints_and_derivatives(path):
    c0, c1 = flows.coefficients(0, path), flows.coefficients(1, path)
    assert (c0.a, c0.b, c1.a, c1.b) == (1.0, 0.0, 0.0, 1.0)
    for t in [0.1, 0.5, 0.83]:
        h = 1e-6
        lo, hi = flows.coefficients(t - h, path), flows.coefficients(
            t + h, path)
        c = flows.coefficients(t, path)
        assert c.da == pytest.approx((hi.a - lo.a) / (2 * h), abs=1e-8)
        assert c.db == pytest.approx((hi.b - lo.b) / (2 * h), abs=1e-8)


def test_vp_path_preserves_variance_and_linear_is_straight():
    for t in np.linspace(0, 1, 7):
        c = flows.coefficients(t, "vp")
        assert c.a ** 2 + c.b ** 2 == pytest.approx(1.0, abs=1e-15)
    x0, eps = np.ones((3, 2)), np.full((3, 2), -2.0)
    for t in [0.0, 0.3, 1.0]:
        assert np.allclose(flows.conditional_velocity(x0, eps, t),
                           eps - x0)


@pytest.mark.parametrize("path", flows.PATHS)
def test_posterior_mean_matches_gaussian_formula(path):
    x = np.linspace(-3, 3, 11)[:, None]
    for t in [0.05, 0.4, 0.9]:
        got = flows.posterior_mean_x0(GAUSS, x, t, path)
        assert np.allclose(got, gauss_x0_hat(x, t, path), atol=1e-12)


def test_posterior_mean_matches_monte_carlo():
    rng = np.random.default_rng(0)
    n, t = 400_000, 0.6
    x0 = MIX.sample(n, rng)
    xt = flows.interpolate(x0, rng.standard_normal(x0.shape), t)
    in_bin = np.abs(xt[:, 0] - 0.4) < 0.1
    mc = x0[in_bin, 0].mean()
    se = x0[in_bin, 0].std() / np.sqrt(in_bin.sum())
    exact = flows.posterior_mean_x0(MIX, xt[in_bin], t).mean()
    assert abs(mc - exact) < 4 * se


def test_endpoints_of_the_posterior_mean():
    x = np.array([[0.3, -1.0], [2.0, 0.5]])
    roll = SwissRoll2D()
    assert np.array_equal(flows.posterior_mean_x0(roll, x, 0.0), x)
    assert np.allclose(flows.posterior_mean_x0(roll, x, 1.0),
                       roll.mean()[None], atol=0)
    rng = np.random.default_rng(1)
    mc = roll.sample(400_000, rng).mean(axis=0)
    assert np.allclose(roll.mean(), mc, atol=4 * 1 / np.sqrt(400_000))


@pytest.mark.parametrize("path", flows.PATHS)
def test_marginal_velocity_is_conditional_expectation(path):
    """Gaussian data: u = a' x̂_0 + b' (x − a x̂_0)/b in closed form."""
    x = np.linspace(-2, 2, 9)[:, None]
    for t in [0.2, 0.7]:
        a, b, da, db = flows.coefficients(t, path)
        x0h = gauss_x0_hat(x, t, path)
        want = da * x0h + db * (x - a * x0h) / b
        got = flows.marginal_velocity(GAUSS, x, t, path)
        assert np.allclose(got, want, atol=1e-12)


def test_continuity_equation_on_a_grid():
    x = np.linspace(-4, 4, 4001)[:, None]
    dx, h, t = x[1, 0] - x[0, 0], 1e-4, 0.45
    dp_dt = (flows.marginal_pdf(MIX, x, t + h)
             - flows.marginal_pdf(MIX, x, t - h)) / (2 * h)
    flux = flows.marginal_pdf(MIX, x, t) * flows.marginal_velocity(
        MIX, x, t)[:, 0]
    residual = dp_dt[1:-1] + (flux[2:] - flux[:-2]) / (2 * dx)
    assert np.max(np.abs(residual)) < 1e-4
    wrong = dp_dt[1:-1] - (flux[2:] - flux[:-2]) / (2 * dx)
    assert np.max(np.abs(wrong)) > 0.1


def test_marginal_pdf_integrates_to_one():
    x = np.linspace(-6, 6, 6001)[:, None]
    for t in [0.1, 0.5, 0.95]:
        mass = flows.marginal_pdf(MIX, x, t).sum() * (x[1, 0] - x[0, 0])
        assert mass == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("path", flows.PATHS)
def test_conversions_round_trip_and_agree_with_exact_fields(path):
    data = GaussianMixture2D()
    rng = np.random.default_rng(3)
    x = 1.5 * rng.standard_normal((40, 2))
    for t in [0.1, 0.5, 0.9]:
        a, b, _, _ = flows.coefficients(t, path)
        u = flows.marginal_velocity(data, x, t, path)
        x0h = flows.posterior_mean_x0(data, x, t, path)
        eps = (x - a * x0h) / b
        r = np.hypot(a, b)
        one = schedules.from_alpha_bar(np.array([a ** 2 / r ** 2]))
        score = data.score(x / r, one, 1) / r
        v = (a * eps - b * x0h) / r
        assert np.allclose(flows.x0_from_velocity(x, u, t, path), x0h,
                           atol=1e-10)
        assert np.allclose(flows.eps_from_velocity(x, u, t, path), eps,
                           atol=1e-10)
        assert np.allclose(flows.score_from_velocity(x, u, t, path),
                           score, atol=1e-9)
        assert np.allclose(flows.v_from_velocity(x, u, t, path), v,
                           atol=1e-10)
        for fn, pred in [(flows.velocity_from_x0, x0h),
                         (flows.velocity_from_eps, eps),
                         (flows.velocity_from_score, score),
                         (flows.velocity_from_v, v)]:
            assert np.allclose(fn(x, pred, t, path), u, atol=1e-9)


def test_singular_conversions_raise():
    x = np.zeros((2, 1))
    with pytest.raises(ValueError, match="a_t is 0"):
        flows.velocity_from_eps(x, x, 1.0)
    with pytest.raises(ValueError, match="b_t is 0"):
        flows.velocity_from_x0(x, x, 0.0)
    assert np.allclose(flows.velocity_from_v(x + 1, x, 1.0), 1.0)


def test_vp_velocity_is_the_probability_flow_drift():
    x = np.linspace(-2, 2, 9)[:, None]
    for t in [0.2, 0.6, 0.9]:
        c = flows.coefficients(t, "vp")
        beta = -2 * c.da / c.a              # −d log ᾱ / dt
        x0h = flows.posterior_mean_x0(MIX, x, t, "vp")
        score = -(x - c.a * x0h) / c.b ** 2
        drift = ode.pf_ode_drift(x, beta, score)
        assert np.allclose(flows.marginal_velocity(MIX, x, t, "vp"),
                           drift, atol=1e-12)


def test_euler_on_the_linear_path_is_ddim():
    K, T, tm = 8, 800, 0.99
    s = flows.schedule_for_path(T, "linear", t_max=tm)
    c = flows.coefficients(tm)
    r = np.hypot(c.a, c.b)
    x = r * np.random.default_rng(4).standard_normal((100, 1))
    ours = flows.integrate(flows.velocity_model(MIX), x,
                           np.linspace(tm, 0, K + 1))
    ddim = ode.sample_ode(s, MIX.eps_model(s), (100, 1), 0, num_steps=K,
                          x_T=x / r)
    assert np.allclose(ours, ddim, atol=1e-10)


def test_schedule_for_path_matches_the_snr():
    s = flows.schedule_for_path(10, "linear", t_max=0.9)
    for k in range(1, 11):
        assert s.alpha_bar[k] == pytest.approx(
            flows.vp_alpha_bar(0.09 * k), rel=1e-12)
    assert flows.schedule_for_path(10).alpha_bar[-1] > 0


def test_integrate_is_exact_for_a_linear_field_with_heun_order():
    """dx/dt = −x: errors of Euler O(h), of Heun O(h²)."""
    x = np.ones((1, 1))
    err = {}
    for method in ["euler", "heun"]:
        err[method] = [abs(flows.integrate(lambda y, t: -y, x,
                                           np.linspace(0, 1, k + 1),
                                           method)[0, 0] - np.exp(-1))
                       for k in (10, 20)]
    assert err["euler"][0] / err["euler"][1] == pytest.approx(2, rel=0.1)
    assert err["heun"][0] / err["heun"][1] == pytest.approx(4, rel=0.1)


def test_integrate_returns_trajectory_and_validates():
    x = np.zeros((3, 2))
    out, traj = flows.integrate(lambda y, t: np.ones_like(y), x,
                                flows.time_grid(4), "euler", True)
    assert traj.shape == (5, 3, 2) and np.allclose(out, -1.0)
    with pytest.raises(ValueError, match="monotone"):
        flows.integrate(lambda y, t: y, x, [1.0, 0.5, 0.7])
    with pytest.raises(ValueError, match="method"):
        flows.integrate(lambda y, t: y, x, [1.0, 0.0], "rk4")
    with pytest.raises(TypeError, match="callable"):
        flows.integrate(None, x, [1.0, 0.0])
    with pytest.raises(ValueError, match="path"):
        flows.coefficients(0.5, "cosine")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        flows.coefficients(1.5)


def test_straightness_is_zero_only_for_straight_paths():
    times = np.linspace(1, 0, 11)
    start, end = np.ones((4, 2)), np.zeros((4, 2))
    line = end + times[:, None, None] * (start - end)
    assert flows.straightness(line, times) == pytest.approx(0, abs=1e-14)
    bent = line.copy()
    bent[5] += 0.3
    assert flows.straightness(bent, times) > 0.1
    u = flows.velocity_model(MIX)
    x1 = np.random.default_rng(5).standard_normal((500, 1))
    _, traj = flows.integrate(u, x1, flows.time_grid(20), "heun", True)
    assert flows.straightness(traj, flows.time_grid(20)) > 0.05


def test_straightness_of_the_gaussian_flow_matches_its_closed_form():
    # For N(M, V) data the exact flow is x_t = (1 - t) M + σ_t z with
    # σ_t² = (1 - t)² V + t², so S = E[z²] (∫ σ'_t² dt - (1 - √V)²).
    # A non-uniform grid checks the weights |t_{k+1} - t_k|.
    times = 1 - np.linspace(0, 1, 4001) ** 2
    z = np.array([[-1.5], [0.5], [2.0]])
    sigma = np.sqrt((1 - times) ** 2 * V + times ** 2)
    traj = (1 - times)[:, None, None] * M + sigma[:, None, None] * z
    fine = np.linspace(0, 1, 200_001)
    dsigma = (fine - (1 - fine) * V) / np.sqrt((1 - fine) ** 2 * V
                                               + fine ** 2)
    integral = np.trapezoid(dsigma ** 2, fine)
    exact = np.mean(z ** 2) * (integral - (1 - np.sqrt(V)) ** 2)
    assert exact > 0.1
    assert flows.straightness(traj, times) == pytest.approx(exact,
                                                            rel=1e-4)


def test_marginal_pdf_in_two_dimensions_is_the_mixture_density():
    # x_t | component k ~ N(a m_k, (a² v_k + b²) I) in D = 2.
    data = GaussianMixture2D()
    x = np.random.default_rng(8).standard_normal((30, 2))
    for path in flows.PATHS:
        for t in [0.2, 0.7]:
            a, b, _, _ = flows.coefficients(t, path)
            var = a ** 2 * data.variances[:, 0] + b ** 2
            d2 = np.sum((x[:, None, :] - a * data.means) ** 2, axis=2)
            want = np.sum(data.weights * np.exp(-d2 / (2 * var))
                          / (2 * np.pi * var), axis=1)
            assert np.allclose(flows.marginal_pdf(data, x, t, path), want,
                               rtol=1e-10, atol=0)


def test_marginal_velocity_at_the_data_end():
    # At t = 0, x̂_0 = x and E[ε | x_0] = 0: u_0(x) = a'_0 x, which is
    # -x on the linear path and 0 on the variance-preserving one.
    x = np.linspace(-2, 2, 9)[:, None]
    assert np.allclose(flows.marginal_velocity(MIX, x, 0.0), -x)
    assert np.allclose(flows.marginal_velocity(MIX, x, 0.0, "vp"), 0.0)
    near = flows.marginal_velocity(GAUSS, x, 1e-6)
    assert np.allclose(flows.marginal_velocity(GAUSS, x, 0.0), near,
                       atol=1e-4)


def test_v_target_training_and_velocity_from_v_model():
    torch = pytest.importorskip("torch")
    from diffusion_edu import denoiser

    torch.set_num_threads(1)
    s = flows.schedule_for_path(100)
    res = denoiser.train_denoiser(GAUSS, s, steps=800, batch_size=256,
                                  target="v", seed=0)
    assert res.model.prediction == "v" and res.model.data_std is None
    with pytest.raises(ValueError, match="as_v_model"):
        denoiser.as_eps_model(res.model)
    u_net = flows.velocity_from_v_model(denoiser.as_v_model(res.model), s)
    rng = np.random.default_rng(7)
    for t in [0.3, 0.7]:
        x = flows.interpolate(GAUSS.sample(500, rng),
                              rng.standard_normal((500, 1)), t)
        exact = flows.marginal_velocity(GAUSS, x, t)
        assert np.sqrt(np.mean((u_net(x, t) - exact) ** 2)) < 0.1
    with pytest.raises(ValueError, match="grid"):
        u_net(x, 0.3333)
    eps_net = denoiser.train_denoiser(GAUSS, s, steps=5, seed=0).model
    with pytest.raises(ValueError, match="predicts"):
        denoiser.as_v_model(eps_net)


def test_a_saved_v_network_loads_as_a_v_network(tmp_path):
    torch = pytest.importorskip("torch")
    from diffusion_edu import denoiser

    torch.set_num_threads(1)
    s = flows.schedule_for_path(20)
    net = denoiser.train_denoiser(GAUSS, s, steps=3, target="v",
                                  seed=0).model
    denoiser.save(net, tmp_path / "v.pt")
    back = denoiser.load(tmp_path / "v.pt")
    assert back.prediction == "v"
    x = np.linspace(-1, 1, 5)[:, None]
    assert np.array_equal(denoiser.as_v_model(back)(x, 7),
                          denoiser.as_v_model(net)(x, 7))
    with pytest.raises(ValueError, match="as_v_model"):
        denoiser.as_eps_model(back)


def test_noise_pairs_are_used_as_the_coupling():
    torch = pytest.importorskip("torch")
    from diffusion_edu import denoiser

    torch.set_num_threads(1)
    s = flows.schedule_for_path(50)
    rng = np.random.default_rng(6)
    z = rng.standard_normal((2000, 1))
    x0 = 0.5 * z + 1.0           # a deterministic, straight coupling
    res = denoiser.train_denoiser(x0, s, steps=400, batch_size=256,
                                  target="v", seed=0, noise_pairs=z)
    u_net = flows.velocity_from_v_model(denoiser.as_v_model(res.model), s)
    x1 = np.array([[-1.0], [0.0], [1.5]])
    out = flows.integrate(u_net, x1, flows.time_grid(1))
    assert np.allclose(out, 0.5 * x1 + 1.0, atol=0.1)
    with pytest.raises(ValueError, match="shape"):
        denoiser.train_denoiser(x0, s, steps=1, target="v",
                                noise_pairs=z[:10])
