"""Tests of diffusion_edu.likelihood against exact answers.

For Gaussian data N(m, v) every quantity has a closed form: the marginal
p_σ = N(m, v + σ²), the velocity f = (x − m) σ / (v + σ²) per
coordinate with divergence D σ / (v + σ²), and the continuous-time ELBO
terms through the MMSE v / (1 + SNR v).
"""

import numpy as np
import pytest

from diffusion_edu import edm, likelihood
from diffusion_edu.toy_data import GaussianMixture1D, GaussianMixture2D

M, V = -0.4, 0.5
GAUSS = GaussianMixture1D([1.0], [M], [V])


def velocity(denoiser):
    return lambda x, s: edm.ode_velocity(denoiser, x, s)


def test_divergence_gaussian_closed_form():
    f = velocity(edm.ideal_denoiser(GAUSS))
    x = np.linspace(-3, 3, 11)[:, None]
    for sigma in (0.05, 1.0, 30.0):
        exact = sigma / (V + sigma ** 2)
        assert np.allclose(likelihood.divergence(f, x, sigma), exact,
                           rtol=1e-8)
        assert np.allclose(likelihood.ideal_divergence(GAUSS, x, sigma),
                           exact, rtol=1e-12)


def test_ideal_divergence_matches_finite_differences_on_mixtures():
    rng = np.random.default_rng(0)
    for data in (GaussianMixture1D(), GaussianMixture2D()):
        f = velocity(edm.ideal_denoiser(data))
        x = 1.5 * rng.standard_normal((30, data.dim))
        for sigma in (0.1, 0.7, 5.0):
            fd = likelihood.divergence(f, x, sigma, h=1e-4)
            exact = likelihood.ideal_divergence(data, x, sigma)
            assert np.allclose(fd, exact, rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="Gaussian mixture"):
        likelihood.ideal_divergence(object(), x, 1.0)


def test_hutchinson_is_unbiased_with_the_exact_variance():
    a = np.array([[1.0, 0.4, -0.3], [0.4, -2.0, 0.7], [-0.3, 0.7, 0.5]])

    def f(x, sigma):
        return x @ a.T

    x = np.zeros((2, 3))
    # the 8 Rademacher sign vectors average z z^T to I exactly
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T
    probes = np.repeat(signs[:, None, :], 2, axis=1)
    est = likelihood.hutchinson(f, x, 1.0, probes=probes)
    assert est.shape == (8, 2)
    assert np.allclose(est.mean(axis=0), np.trace(a))
    # variance: 2 (||A||_F^2 - sum a_ii^2) (Rademacher), 2 ||A||_F^2
    # (Gaussian) for symmetric A
    var_rad = 2 * (np.sum(a ** 2) - np.sum(np.diag(a) ** 2))
    assert np.allclose(est.var(axis=0), var_rad)
    g = likelihood.hutchinson(f, np.zeros((1, 3)), 1.0, rng=1,
                              num_probes=200_000, kind="gaussian")[:, 0]
    se = np.sqrt(2 * np.sum(a ** 2) / g.size)
    assert abs(g.mean() - np.trace(a)) < 4 * se
    assert abs(g.var() / (2 * np.sum(a ** 2)) - 1) < 0.02
    with pytest.raises(ValueError, match="kind"):
        likelihood.hutchinson(f, x, 1.0, rng=0, kind="uniform")
    with pytest.raises(TypeError, match="rng"):
        likelihood.hutchinson(f, x, 1.0)
    with pytest.raises(ValueError, match="probes"):
        likelihood.hutchinson(f, x, 1.0, probes=np.ones((2, 3)))


def test_ode_log_likelihood_gaussian_exact():
    D = edm.ideal_denoiser(GAUSS)
    x0 = np.linspace(-2, 2, 9)[:, None]
    s_min, s_max = 0.01, 50.0
    grid = np.geomspace(s_min, s_max, 400)

    def prior(y):       # the exact p_{sigma_max}
        return -0.5 * (np.log(2 * np.pi * (V + s_max ** 2))
                       + (y[:, 0] - M) ** 2 / (V + s_max ** 2))

    exact = -0.5 * (np.log(2 * np.pi * (V + s_min ** 2))
                    + (x0[:, 0] - M) ** 2 / (V + s_min ** 2))
    for div in ("exact", lambda y, s: likelihood.ideal_divergence(
            GAUSS, y, s)):
        res = likelihood.ode_log_likelihood(velocity(D), x0, grid,
                                            divergence_fn=div, prior=prior)
        assert np.allclose(res.log_p, exact, atol=1e-3)
        assert np.allclose(res.log_p, res.log_prior + res.delta)
    # the error is Heun's: second order in the step
    coarse = likelihood.ode_log_likelihood(
        velocity(D), x0, np.geomspace(s_min, s_max, 200), prior=prior)
    ratio = (np.abs(coarse.log_p - exact).max()
             / np.abs(res.log_p - exact).max())
    assert 3.5 < ratio < 4.5
    fine = res
    # the default prior N(0, s_max^2) differs by a small, known amount:
    # the exact path ends at x_S = M + (x0 - M) sqrt((V + S^2) / (V +
    # s_min^2)), and the error is log N(x_S; 0, S^2) - log N(x_S; M, V + S^2)
    res = likelihood.ode_log_likelihood(velocity(D), x0, grid)
    x_s = M + (x0[:, 0] - M) * np.sqrt((V + s_max ** 2) / (V + s_min ** 2))
    known = (-0.5 * (np.log(2 * np.pi * s_max ** 2) + x_s ** 2 / s_max ** 2)
             - prior(x_s[:, None]))
    assert np.abs(known).max() > 5e-3          # large enough to be seen
    assert np.allclose(res.log_p - exact, known, atol=1e-3)
    assert np.allclose(res.x_end[:, 0], x_s, rtol=1e-4)
    # Hutchinson in 1-D with Rademacher probes is exact (z^2 = 1)
    hut = likelihood.ode_log_likelihood(velocity(D), x0, grid,
                                        divergence_fn="hutchinson", rng=0,
                                        prior=prior)
    assert np.allclose(hut.log_p, fine.log_p, atol=1e-9)


def test_ode_log_likelihood_gaussian_probes():
    # In 1-D z^T J z = z^2 J: with K Gaussian probes fixed along the path
    # the integral is delta * mean_k z_k^2, unbiased with variance
    # 2 delta^2 / K (chi-square), and the path itself is unchanged.
    D = edm.ideal_denoiser(GAUSS)
    x0 = np.repeat(np.linspace(-2, 2, 5)[:, None], 2000, axis=0)
    grid = np.geomspace(0.01, 50.0, 60)
    exact = likelihood.ode_log_likelihood(velocity(D), x0[::2000], grid)
    for k in (1, 4):
        hut = likelihood.ode_log_likelihood(
            velocity(D), x0, grid, divergence_fn="hutchinson", rng=3,
            kind="gaussian", num_probes=k)
        assert np.allclose(hut.x_end[::2000], exact.x_end)
        ratio = (hut.delta.reshape(5, 2000) / exact.delta[:, None]).ravel()
        assert abs(ratio.mean() - 1) < 4 * np.sqrt(2 / k / ratio.size)
        assert abs(ratio.var() / (2 / k) - 1) < 0.15


def test_ode_log_likelihood_mixture_matches_the_true_density():
    data = GaussianMixture2D()
    D = edm.ideal_denoiser(data)
    x0 = data.sample(40, 1)
    s_min, s_max = 0.005, 80.0
    grid = edm.sigma_steps(200, s_min, s_max)[:-1][::-1]
    res = likelihood.ode_log_likelihood(
        velocity(D), x0, grid, prior=data.smoothed(s_max).log_pdf,
        divergence_fn=lambda y, s: likelihood.ideal_divergence(data, y, s))
    assert np.allclose(res.log_p, data.smoothed(s_min).log_pdf(x0),
                       atol=3e-3)


def test_ode_log_likelihood_hutchinson_unbiased_in_2d():
    data = GaussianMixture2D()
    f = velocity(edm.ideal_denoiser(data))
    x0 = np.repeat(data.sample(1, 2), 400, axis=0)
    grid = np.geomspace(0.05, 20.0, 40)
    exact = likelihood.ode_log_likelihood(f, x0[:1], grid).log_p[0]
    hut = likelihood.ode_log_likelihood(f, x0, grid,
                                        divergence_fn="hutchinson",
                                        rng=3).log_p
    assert hut.std() > 1e-3             # a genuine estimate, with noise
    assert abs(hut.mean() - exact) < 4 * hut.std() / np.sqrt(hut.size)


def test_ode_log_likelihood_rejects_bad_input():
    f = velocity(edm.ideal_denoiser(GAUSS))
    x0 = np.zeros((2, 1))
    with pytest.raises(ValueError, match="increase"):
        likelihood.ode_log_likelihood(f, x0, [2.0, 1.0])
    with pytest.raises(ValueError, match="start at sigma > 0"):
        likelihood.ode_log_likelihood(f, x0, [0.0, 1.0])
    with pytest.raises(ValueError, match="divergence_fn"):
        likelihood.ode_log_likelihood(f, x0, [1.0, 2.0],
                                      divergence_fn="autograd")
    with pytest.raises(TypeError, match="rng"):
        likelihood.ode_log_likelihood(f, x0, [1.0, 2.0],
                                      divergence_fn="hutchinson")
    with pytest.raises(TypeError, match="velocity"):
        likelihood.divergence(None, x0, 1.0)


def test_discrete_bits_per_dim():
    # uniform density 1/2 on [-1, 1], 256 bins: exactly 8 bits per dim
    nll = 3 * np.log(2.0)             # D = 3 coordinates
    assert np.isclose(likelihood.discrete_bits_per_dim(nll, 3, 2 / 256),
                      8.0)
    assert np.isclose(likelihood.discrete_bits_per_dim(0.0, 1, 2 / 256),
                      7.0)
    assert np.isclose(likelihood.discrete_bits_per_dim(np.log(2), 1, 1.0),
                      1.0)
    with pytest.raises(ValueError, match="bin_width"):
        likelihood.discrete_bits_per_dim(1.0, 1, 0.0)


def linear_log_snr(lo, hi):
    return (lambda t: hi + (lo - hi) * t), (lambda t: (lo - hi) + 0 * t)


def cosine_log_snr(lo, hi):
    # lambda(t) = -2 log tan(a + b t), through lambda(0) = hi, lambda(1) = lo
    a = np.arctan(np.exp(-hi / 2))
    b = np.arctan(np.exp(-lo / 2)) - a
    return ((lambda t: -2 * np.log(np.tan(a + b * t))),
            (lambda t: -2 * b / (np.sin(a + b * t) * np.cos(a + b * t))))


def test_continuous_elbo_gaussian_closed_form_and_schedule_invariance():
    s2 = 0.8
    data = GaussianMixture1D([1.0], [0.0], [s2])
    D = edm.ideal_denoiser(data)
    lo, hi = -2 * np.log(20.0), -2 * np.log(0.01)      # sigma 20 .. 0.01
    n = 200_000
    rng = np.random.default_rng(0)
    x0 = data.sample(n, rng)
    noise = rng.standard_normal((n, 1))
    # exact expectation: prior + decoder + 1/2 log((1 + v_max s2) /
    # (1 + v_min s2))
    exact = (s2 / (2 * 20.0 ** 2)
             + 0.5 * np.log(2 * np.pi * np.e * 0.01 ** 2)
             + 0.5 * np.log((1 + s2 / 0.01 ** 2) / (1 + s2 / 20.0 ** 2)))
    means, ses = [], []
    for lam, dlam in (linear_log_snr(lo, hi), cosine_log_snr(lo, hi)):
        assert np.isclose(lam(np.array(0.0)), hi)
        assert np.isclose(lam(np.array(1.0)), lo)
        t = rng.uniform(size=n)
        total = likelihood.neg_elbo_continuous(D, x0, t, noise, lam,
                                               dlam).total
        means.append(total.mean())
        ses.append(total.std() / np.sqrt(n))
        assert abs(total.mean() - exact) < 4 * ses[-1]
    # same mean, different variance
    assert abs(ses[0] / ses[1] - 1) > 0.2
    # and it is close to the entropy of the data (a tight bound): the
    # closed form, and the package's estimate
    entropy = 0.5 * np.log(2 * np.pi * np.e * s2)
    assert abs(exact - entropy) < 1e-3
    assert abs(means[0] - entropy) < 4 * ses[0] + 1e-3


def test_continuous_elbo_rejects_bad_input():
    D = edm.ideal_denoiser(GAUSS)
    x0, noise = np.zeros((3, 1)), np.zeros((3, 1))
    lam, dlam = linear_log_snr(-4.0, 4.0)
    with pytest.raises(ValueError, match="decrease"):
        likelihood.neg_elbo_continuous(D, x0, np.full(3, 0.5), noise,
                                       lambda t: -lam(t), lambda t: -dlam(t))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        likelihood.neg_elbo_continuous(D, x0, np.full(3, 1.5), noise, lam,
                                       dlam)
    with pytest.raises(ValueError, match="shape of x0"):
        likelihood.neg_elbo_continuous(D, x0, np.full(3, 0.5),
                                       np.zeros((2, 1)), lam, dlam)
