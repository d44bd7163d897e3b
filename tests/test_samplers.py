"""Tests of diffusion_edu.samplers: kernels, and samplers with exact oracles.
"""

import numpy as np
import pytest

from diffusion_edu import gaussian as G
from diffusion_edu import metrics as M
from diffusion_edu import samplers as SM
from diffusion_edu import schedules as S
from diffusion_edu import toy_data as TD

# W1 between 4000 samples and the mixture (a 400k reference sample):
# fresh data gives 0.01-0.03 (measured over seeds), a correct sampler
# 0.01-0.05, while a variance used as a standard deviation, a missing √ in
# the mean, or 1/α_t for 1/√α_t give 0.29-0.63. W1_TOL sits in between.
W1_TOL = 0.08
N_SAMPLES = 4000


@pytest.fixture(scope="module")
def lin():
    return S.linear(1000)


@pytest.fixture(scope="module")
def mix():
    return TD.GaussianMixture1D()


@pytest.fixture(scope="module")
def reference(mix):
    return mix.sample(400_000, np.random.default_rng(123))


# ------------------------------------------------------------------ kernels

def test_ddpm_step_is_mean_plus_sqrt_variance_times_noise(lin):
    rng = np.random.default_rng(0)
    xt, eps, z = rng.normal(size=(3, 5, 2))
    t = np.array([2, 3, 50, 999, 1000])
    mean = G.posterior_mean_from_eps(lin, xt, t, eps)
    for var_type, var in [("fixed_small", lin.beta_tilde),
                          ("fixed_large", lin.beta)]:
        out = SM.ddpm_step(lin, xt, t, eps, z, var_type)
        np.testing.assert_allclose(
            out, mean + np.sqrt(var[t])[:, None] * z, rtol=1e-14)


def test_ddpm_step_adds_no_noise_at_t1(lin):
    rng = np.random.default_rng(1)
    xt, eps, z = rng.normal(size=(3, 4, 1))
    mean = G.posterior_mean_from_eps(lin, xt, 1, eps)
    for var_type in ("fixed_small", "fixed_large"):
        np.testing.assert_array_equal(
            SM.ddpm_step(lin, xt, 1, eps, z, var_type), mean)
    # mixed t: only the rows with t = 1 are noise-free
    t = np.array([1, 2, 1, 5])
    out = SM.ddpm_step(lin, xt, t, eps, z, "fixed_large")
    full = G.posterior_mean_from_eps(lin, xt, t, eps)
    np.testing.assert_array_equal(out[[0, 2]], full[[0, 2]])
    assert np.all(out[[1, 3]] != full[[1, 3]])


def test_ddim_eta1_consecutive_is_ddpm_with_beta_tilde(lin):
    rng = np.random.default_rng(2)
    xt, eps, z = rng.normal(size=(3, 6, 2))
    t = np.array([2, 3, 10, 300, 999, 1000])
    ddim = SM.ddim_step(lin, xt, t, t - 1, eps, z, eta=1.0)
    ddpm = SM.ddpm_step(lin, xt, t, eps, z, "fixed_small")
    np.testing.assert_allclose(ddim, ddpm, atol=1e-12)
    # the noise coefficient σ is √β̃_t: difference of two noise draws
    ddim0 = SM.ddim_step(lin, xt, t, t - 1, eps, np.zeros_like(z), eta=1.0)
    sigma2 = ((ddim - ddim0) / z) ** 2
    np.testing.assert_allclose(sigma2, np.repeat(
        lin.beta_tilde[t][:, None], 2, axis=1), rtol=1e-9)


def test_ddim_to_t0_returns_x0_hat(lin):
    rng = np.random.default_rng(3)
    xt, eps, z = rng.normal(size=(3, 4, 2))
    for eta in (0.0, 1.0):
        out = SM.ddim_step(lin, xt, 40, 0, eps, z, eta=eta)
        np.testing.assert_allclose(out, G.predict_x0(lin, xt, 40, eps),
                                   atol=1e-13)


def test_ddim_eta0_recovers_x_prev_from_exact_noise(lin):
    # If ε̂ is the true noise of x_t = q_sample(x0, ε), the deterministic
    # DDIM step lands on q_sample(x0, ε) at t_prev (same ε).
    rng = np.random.default_rng(4)
    x0, eps = rng.normal(size=(2, 5, 3))
    xt = G.q_sample(lin, x0, 700, eps)
    out = SM.ddim_step(lin, xt, 700, 123, eps)
    np.testing.assert_allclose(out, G.q_sample(lin, x0, 123, eps),
                               atol=1e-12)


def test_ddim_timesteps_end_at_zero():
    taus = SM.ddim_timesteps(1000, 50)
    assert taus[0] == 1000 and taus[-1] == 0 and taus.shape == (51,)
    assert np.all(np.diff(taus) < 0)
    for T, k in [(10, 10), (7, 3), (1000, 999), (1, 1)]:
        taus = SM.ddim_timesteps(T, k)
        assert taus[0] == T and taus[-1] == 0
        assert np.all(np.diff(taus) < 0) and taus.shape == (k + 1,)


# ------------------------------------------------------ samplers: plumbing

def test_sample_ddpm_trajectory_is_t_indexed(lin, mix):
    s = S.linear(20, 1e-3, 0.3)
    x0, traj = SM.sample_ddpm(s, mix.eps_model(s), (7, 1), 0,
                              return_trajectory=True)
    assert traj.x.shape == (21, 7, 1)
    np.testing.assert_array_equal(traj.t, np.arange(21))
    np.testing.assert_array_equal(traj.x[0], x0)
    # x_0 = μ_θ(x_1, 1): no noise in the last step
    eps = mix.eps(traj.x[1], s, 1)
    np.testing.assert_allclose(
        x0, G.posterior_mean_from_eps(s, traj.x[1], 1, eps), atol=1e-14)
    # same seed, same samples
    np.testing.assert_array_equal(
        SM.sample_ddpm(s, mix.eps_model(s), (7, 1), 0), x0)


def test_sample_ddim_eta0_is_deterministic_given_x_T(lin, mix):
    x_T = np.random.default_rng(5).normal(size=(10, 1))
    a = SM.sample_ddim(lin, mix.eps_model(lin), (10, 1), 1, 25, x_T=x_T)
    b = SM.sample_ddim(lin, mix.eps_model(lin), (10, 1), 2, 25, x_T=x_T)
    np.testing.assert_array_equal(a, b)
    _, traj = SM.sample_ddim(lin, mix.eps_model(lin), (10, 1), 1, 25,
                             x_T=x_T, return_trajectory=True)
    np.testing.assert_array_equal(traj.t, SM.ddim_timesteps(1000, 25)[::-1])
    np.testing.assert_array_equal(traj.x[-1], x_T)
    np.testing.assert_array_equal(traj.x[0], a)


def test_samplers_call_the_model_at_the_right_steps(lin):
    calls = []

    def model(x, t):
        calls.append(int(t[0]))
        return np.zeros_like(x)

    SM.sample_ddpm(S.linear(5), model, (2, 1), 0)
    assert calls == [5, 4, 3, 2, 1]
    calls.clear()
    SM.sample_ddim(lin, model, (2, 1), 0, 4)
    assert calls == [1000, 750, 500, 250]


def test_sample_ddpm_is_the_loop_of_ddpm_steps(mix):
    # Replaying the documented random stream (x_T, then z for t = T..2)
    # through ddpm_step reproduces sample_ddpm exactly.
    s = S.linear(8, 1e-3, 0.2)
    model = mix.eps_model(s)
    out = SM.sample_ddpm(s, model, (5, 1), 21, "fixed_large")
    rng = np.random.default_rng(21)
    x = rng.standard_normal((5, 1))
    for t in range(8, 0, -1):
        eps = model(x, np.full(5, t))
        z = rng.standard_normal((5, 1)) if t > 1 else np.zeros((5, 1))
        x = SM.ddpm_step(s, x, t, eps, z, "fixed_large")
    np.testing.assert_array_equal(out, x)


def test_samplers_pass_t_as_int_array(lin):
    seen = []

    def model(x, t):
        seen.append((t.dtype.kind, t.shape))
        return np.zeros_like(x)

    SM.sample_ddpm(S.linear(3), model, (4, 2), 0)
    SM.sample_ddim(lin, model, (4, 2), 0, 3)
    assert set(seen) == {("i", (4,))}


# --------------------------------------------- samplers with exact oracles

def _broken_ddpm(s, model, n, rng, kind):
    """DDPM with one classic mistake, written out for contrast."""
    x = rng.standard_normal((n, 1))
    for t in range(s.T, 0, -1):
        eps = model(x, np.full(n, t))
        ab, a, b = s.alpha_bar[t], s.alpha[t], s.beta[t]
        sigma = np.sqrt(s.beta_tilde[t])
        if kind == "variance_as_std":
            sigma = s.beta_tilde[t]
        if kind == "missing_sqrt_in_mean":
            mean = (x - b / (1 - ab) * eps) / np.sqrt(a)
        else:
            mean = (x - b / np.sqrt(1 - ab) * eps) / np.sqrt(a)
        noise = rng.standard_normal((n, 1)) if t > 1 else 0.0
        x = mean + sigma * noise
    return x


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_sample_ddpm_with_exact_eps_reproduces_the_mixture(
        lin, mix, reference, var_type):
    x = SM.sample_ddpm(lin, mix.eps_model(lin), (N_SAMPLES, 1),
                       np.random.default_rng(10), var_type)
    assert M.wasserstein_1d(x, reference) < W1_TOL


@pytest.mark.parametrize("kind", ["variance_as_std",
                                  "missing_sqrt_in_mean"])
def test_broken_ddpm_fails_the_same_tolerance(lin, mix, reference, kind):
    x = _broken_ddpm(lin, mix.eps_model(lin), N_SAMPLES,
                     np.random.default_rng(10), kind)
    assert M.wasserstein_1d(x, reference) > W1_TOL


def test_sample_ddim_with_exact_eps_reproduces_the_mixture(
        lin, mix, reference):
    x = SM.sample_ddim(lin, mix.eps_model(lin), (N_SAMPLES, 1),
                       np.random.default_rng(11), num_steps=100)
    assert M.wasserstein_1d(x, reference) < W1_TOL
    x = SM.sample_ddim(lin, mix.eps_model(lin), (N_SAMPLES, 1),
                       np.random.default_rng(12), num_steps=100, eta=1.0)
    assert M.wasserstein_1d(x, reference) < W1_TOL


def test_broken_ddim_fails_the_same_tolerance(lin, mix, reference):
    # ᾱ_{t'} where √ᾱ_{t'} belongs in front of x̂_0
    model = mix.eps_model(lin)
    x = np.random.default_rng(11).standard_normal((N_SAMPLES, 1))
    taus = SM.ddim_timesteps(1000, 100)
    for t, tp in zip(taus[:-1], taus[1:], strict=True):
        eps = model(x, np.full(N_SAMPLES, t))
        x0_hat = G.predict_x0(lin, x, int(t), eps)
        ab_prev = lin.alpha_bar[tp]
        x = ab_prev * x0_hat + np.sqrt(1 - ab_prev) * eps
    assert M.wasserstein_1d(x, reference) > W1_TOL


def test_respaced_schedule_samples_the_mixture(lin, mix, reference):
    short = S.respace(lin, np.arange(10, 1001, 10))
    x = SM.sample_ddpm(short, mix.eps_model(short), (N_SAMPLES, 1),
                       np.random.default_rng(13))
    assert M.wasserstein_1d(x, reference) < W1_TOL


def test_ddim_with_swiss_roll_oracle_reproduces_the_roll(lin):
    # Energy distance of 1000 samples vs fresh data, averaged over 5
    # reference draws, divided by the data-vs-data baseline: measured
    # 0.8-1.5 over seeds for the correct sampler, 10-12 for the same
    # samples shrunk by 0.8 (about what a missing √ does). Tolerance: 4.
    roll = TD.SwissRoll2D()
    x = SM.sample_ddim(lin, roll.eps_model(lin), (1000, 2),
                       np.random.default_rng(14), num_steps=50)
    cmp = M.compare_with_baseline(M.energy_distance, x, roll.sample,
                                  np.random.default_rng(15))
    assert cmp.ratio < 4
    shrunk = M.compare_with_baseline(M.energy_distance, 0.8 * x,
                                     roll.sample, np.random.default_rng(15))
    assert shrunk.ratio > 4


# ------------------------------------------------------------------ bad input

X = np.zeros((4, 2))
S10 = S.linear(10)


def _zero_model(x, t):
    return np.zeros_like(x)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: SM.ddpm_step(S10, X, 0, X, X), ValueError,
     r"t must lie in 1\.\.T"),
    (lambda: SM.ddpm_step(S10, X, 11, X, X), ValueError,
     r"t must lie in 1\.\.T"),
    (lambda: SM.ddpm_step(S10, X, 3, X, np.zeros((4, 1))), ValueError,
     "noise must have the same shape"),
    (lambda: SM.ddpm_step(S10, X, 3, np.zeros((3, 2)), X), ValueError,
     "eps must have the same shape"),
    (lambda: SM.ddpm_step(S10, X, 3, X, X, "learned"), ValueError,
     "var_type must be"),
    (lambda: SM.ddpm_step(S10, np.full((4, 2), np.nan), 3, X, X),
     ValueError, "finite"),
    (lambda: SM.ddim_step(S10, X, 3, 3, X), ValueError,
     "t_prev must be smaller"),
    (lambda: SM.ddim_step(S10, X, 3, -1, X), ValueError,
     r"t_prev must lie in 0\.\.T"),
    (lambda: SM.ddim_step(S10, X, 3, 1, X, None, eta=0.5), ValueError,
     "needs noise"),
    (lambda: SM.ddim_step(S10, X, 3, 1, X, X, eta=-1.0), ValueError,
     "eta must be >= 0"),
    (lambda: SM.ddim_step(S10, X, 3, 1, X, X, eta=np.nan), ValueError,
     "finite"),
    (lambda: SM.sample_ddpm(S10, _zero_model, (4,), 0), TypeError,
     r"shape must be a tuple \(N, D\)"),
    (lambda: SM.sample_ddpm(S10, _zero_model, (0, 2), 0), ValueError,
     ">= 1"),
    (lambda: SM.sample_ddpm(S10, _zero_model, (4, 2), None), TypeError,
     "Generator"),
    (lambda: SM.sample_ddpm(S10, "model", (4, 2), 0), TypeError,
     "callable"),
    (lambda: SM.sample_ddpm(S10, _zero_model, (4, 2), 0, "wide"),
     ValueError, "var_type must be"),
    (lambda: SM.sample_ddpm(S10, lambda x, t: x[:, :1], (4, 2), 0),
     ValueError, r"eps_model\(x, t\) must return shape"),
    (lambda: SM.sample_ddpm(S10, lambda x, t: x * np.nan, (4, 2), 0),
     ValueError, "non-finite"),
    (lambda: SM.sample_ddpm(S10, _zero_model, (4, 2), 0,
                            x_T=np.zeros((3, 2))), ValueError,
     r"x_T must have shape"),
    (lambda: SM.sample_ddim(S10, _zero_model, (4, 2), 0, 11), ValueError,
     "num_steps must be <= 10"),
    (lambda: SM.sample_ddim(S10, _zero_model, (4, 2), 0), TypeError,
     "needs num_steps"),
    (lambda: SM.sample_ddim(S10, _zero_model, (4, 2), 0,
                            timesteps=np.array([10, 5, 2])), ValueError,
     "down to 0"),
    (lambda: SM.ddim_timesteps(10, 0), ValueError, "num_steps must be >= 1"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
