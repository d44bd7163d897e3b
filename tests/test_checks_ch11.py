"""Tests of the chapter 11 exercise checks (diffusion_edu.checks.ch11).

Each check must accept the reference and answers written the way a
learner would (NumPy, torch, float32), report "not implemented" for the
stub, reject every classic mistake it lists while naming it, and reject
further plausible wrong answers. The references themselves are tested
against closed forms: the ρ-spaced levels against their definition,
the denoiser against the exact posterior mean, the Heun sampler against
the exact flow of Gaussian data, and the ODE log-likelihood against the
exact log density of Gaussian data.
"""

import numpy as np
import pytest
import torch
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks
from diffusion_edu.checks import ch11, listed_mistakes

torch.set_num_threads(1)


def stub(*args, **kwargs):
    raise NotImplementedError


# ---------------------------------------------------------------------------
# Answers written the way a learner would
# ---------------------------------------------------------------------------

def sigmas_by_hand(n, sigma_min, sigma_max, rho):
    out = []
    for i in range(n):
        a = sigma_max ** (1 / rho)
        b = sigma_min ** (1 / rho)
        out.append((a + i / (n - 1) * (b - a)) ** rho)
    return np.array(out + [0.0])


def sigmas_torch32(n, sigma_min, sigma_max, rho):
    ramp = torch.linspace(0, 1, n, dtype=torch.float32)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    levels = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([levels, torch.zeros(1)])


def denoiser_by_hand(xt, alpha_bar, eps):
    sigma = np.sqrt(1 / alpha_bar - 1)
    x_bar = xt / np.sqrt(alpha_bar)
    return sigma, x_bar - sigma * eps


def denoiser_torch32(xt, alpha_bar, eps):
    ab = torch.tensor(alpha_bar, dtype=torch.float32)
    sigma = torch.sqrt((1 - ab) / ab)
    xt, eps = torch.tensor(xt).float(), torch.tensor(eps).float()
    return [sigma, xt / ab.sqrt() - sigma * eps]


def heun_by_hand(denoiser, x, sigmas):
    nfe = 0
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = (x - denoiser(x, s)) / s
        nfe += 1
        x_euler = x + (s_next - s) * d
        if s_next == 0:
            x = x_euler
        else:
            d2 = (x_euler - denoiser(x_euler, s_next)) / s_next
            nfe += 1
            x = x + (s_next - s) * (d + d2) / 2
    return x, nfe


def heun_float32(denoiser, x, sigmas):
    x = np.asarray(x, dtype=np.float32)
    x, nfe = heun_by_hand(denoiser, x, np.asarray(sigmas, np.float32))
    return np.asarray(x, dtype=np.float32), nfe


def churn_by_hand(denoiser, x, sigma, sigma_next, gamma, noise):
    sigma_hat = sigma + gamma * sigma
    x_hat = x + np.sqrt(sigma_hat ** 2 - sigma ** 2) * noise
    d = (x_hat - denoiser(x_hat, sigma_hat)) / sigma_hat
    return x_hat + (sigma_next - sigma_hat) * d


def log_likelihood_vectorised_sum(velocity, divergence, x0, sigmas):
    # collects the divergences, then one dot product with the steps; the
    # input is updated in place (the check passes a copy)
    divs = []
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        divs.append(divergence(x0, s))
        x0 += (s_next - s) * velocity(x0, s)
    integral = np.diff(sigmas) @ np.array(divs)
    var = sigmas[-1] ** 2
    return [float(v) for v in integral - 0.5 * (
        np.sum(x0 ** 2, axis=1) / var
        + x0.shape[1] * np.log(2 * np.pi * var))]


def denoiser_sigma_as_1_array(xt, alpha_bar, eps):
    sigma = np.sqrt((1 - alpha_bar) / alpha_bar) * np.ones(1)
    return sigma, xt / np.sqrt(alpha_bar) - sigma * eps


def log_likelihood_by_hand(velocity, divergence, x0, sigmas):
    x = x0.copy()
    integral = np.zeros(len(x))
    for k in range(len(sigmas) - 1):
        h = sigmas[k + 1] - sigmas[k]
        integral += h * divergence(x, sigmas[k])
        x = x + h * velocity(x, sigmas[k])
    var = sigmas[-1] ** 2
    log_prior = (-0.5 * (x ** 2).sum(axis=1) / var
                 - 0.5 * x.shape[1] * np.log(2 * np.pi * var))
    return log_prior + integral


CHECKS = [
    (ch11.check_edm_sigmas, [ch11._sigmas_reference, sigmas_by_hand,
                             sigmas_torch32]),
    (ch11.check_denoiser_from_eps, [denoiser_by_hand, denoiser_torch32,
                                    denoiser_sigma_as_1_array]),
    (ch11.check_heun_sampler, [heun_by_hand, heun_float32]),
    (ch11.check_churn_step, [churn_by_hand]),
    (ch11.check_ode_log_likelihood, [log_likelihood_by_hand,
                                     log_likelihood_vectorised_sum]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_reference_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 3)


def test_every_check_lists_at_least_four_mistakes():
    assert_lists_mistakes(CHECKS, least=4)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_reports_stub_without_raising(check, answers):
    result = check(stub)
    assert result.status == "not implemented"
    with pytest.raises(checks.CheckFailed):
        check(stub, strict=True)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_rejects_and_names_every_listed_mistake(check, answers):
    for mistake in listed_mistakes(check):
        result = check(mistake.wrong)
        assert result.status == "failed", mistake.name
        assert result.mistake == mistake.name, result.report
        assert mistake.hint in result.report, mistake.name


def test_checks_are_exported_from_package():
    for name in ch11.__all__:
        assert getattr(checks, name) is getattr(ch11, name)


# ---------------------------------------------------------------------------
# The references agree with closed forms
# ---------------------------------------------------------------------------

def test_rho_levels_run_from_sigma_max_to_sigma_min_then_zero():
    levels = ch11._sigmas_reference(18, 0.002, 80.0, 7.0)
    assert levels.shape == (19,)
    assert np.isclose(levels[0], 80.0) and np.isclose(levels[17], 0.002)
    assert levels[18] == 0.0
    assert np.all(np.diff(levels) < 0)
    # uniform in sigma^(1/rho)
    assert np.allclose(np.diff(np.diff(levels[:-1] ** (1 / 7))), 0,
                       atol=1e-12)


def test_denoiser_reference_is_the_posterior_mean_of_x0():
    """x_t = sqrt(ab) x0 + sqrt(1 - ab) eps with the TRUE eps gives x0."""
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((2, 6, 2))
    ab = 0.3
    xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps
    sigma, d = ch11._de_reference(xt, ab, eps)
    assert np.isclose(sigma ** 2, 1 / ab - 1)
    assert np.allclose(d, x0, atol=1e-12)


def test_heun_reference_follows_the_exact_flow_of_gaussian_data():
    """For N(m, v) data x(σ) − m is proportional to √(v + σ²)."""
    m, v = 0.5, 0.3
    x = np.linspace(-30, 30, 7)[:, None]
    sigmas = ch11._rho_grid(500, 1e-3, 30.0)
    out, nfe = ch11._heun_reference(ch11._gauss_denoiser(m, v), x, sigmas)
    exact = m + (x - m) * np.sqrt((v + 1e-6) / (v + 900.0))
    assert nfe == 2 * 500 - 1
    assert np.allclose(out, exact, atol=1e-4)


def test_mixture_denoiser_is_the_posterior_mean():
    """Tweedie: D(x; σ) = x + σ² ∇ log p_σ(x), by finite differences."""
    rng = np.random.default_rng(1)
    means = np.array([[1.0, 0.0], [-0.5, 0.9], [-0.5, -0.9]])
    x, sigma = rng.standard_normal((5, 2)), 0.7
    var = 0.05 + sigma ** 2

    def log_p(y):
        sq = np.sum((y[:, None, :] - means) ** 2, axis=2)
        return np.log(np.mean(np.exp(-0.5 * sq / var), axis=1))

    h = 1e-6
    grad = np.stack([(log_p(x + h * e) - log_p(x - h * e)) / (2 * h)
                     for e in np.eye(2)], axis=1)
    assert np.allclose(ch11._mixture_denoiser(x, sigma),
                       x + sigma ** 2 * grad, atol=1e-7)


def test_ode_log_likelihood_reference_converges_to_the_exact_density():
    """Gaussian data N(m, v): Euler steps converge to log N(x0; m, v)
    at first order (halving the steps halves the error), up to the prior
    mismatch at σ_max, which vanishes as σ_max grows."""
    m, v = 0.5, 0.3
    velocity, divergence = ch11._gauss_field(m, v)
    x0 = np.linspace(-1, 2, 5)[:, None]
    exact = -0.5 * (x0[:, 0] - m) ** 2 / v - 0.5 * np.log(2 * np.pi * v)
    got = [ch11._ll_reference(velocity, divergence, x0, np.append(
        0.0, np.geomspace(1e-4, 1e4, n))) for n in (5000, 10000)]
    errors = [np.abs(g - exact).max() for g in got]
    assert 1.8 < errors[0] / errors[1] < 2.2
    assert np.allclose(2 * got[1] - got[0], exact, atol=2e-4)


def test_tanh_divergence_is_the_trace_of_the_jacobian():
    rng = np.random.default_rng(3)
    x, sigma, h = rng.standard_normal((4, 2)), 0.7, 1e-6
    trace = sum((ch11._tanh_velocity(x + h * e, sigma)
                 - ch11._tanh_velocity(x - h * e, sigma))[:, i] / (2 * h)
                for i, e in enumerate(np.eye(2)))
    assert np.allclose(trace, ch11._tanh_divergence(x, sigma), atol=1e-7)
    # and it depends on x, so where it is evaluated matters
    assert np.ptp(ch11._tanh_divergence(x, sigma)) > 0.1


def test_spiral_divergence_is_the_trace_of_the_jacobian():
    rng = np.random.default_rng(2)
    x, sigma, h = rng.standard_normal((4, 2)), 0.8, 1e-6
    trace = sum((ch11._spiral_velocity(x + h * e, sigma)
                 - ch11._spiral_velocity(x - h * e, sigma))[:, i] / (2 * h)
                for i, e in enumerate(np.eye(2)))
    assert np.allclose(trace, ch11._spiral_divergence(x, sigma), atol=1e-7)


# ---------------------------------------------------------------------------
# Wrong answers written while trying the exercises (none of them listed)
# ---------------------------------------------------------------------------

def sigmas_linspace_in_log_of_rho(n, sigma_min, sigma_max, rho):
    return np.append(np.linspace(sigma_max, sigma_min, n) ** (1 / rho),
                     0.0)


def sigmas_zero_first(n, sigma_min, sigma_max, rho):
    levels = ch11._sigmas_reference(n, sigma_min, sigma_max, rho)[:-1]
    return np.append(0.0, levels)


def denoiser_sigma_from_snr(xt, alpha_bar, eps):
    sigma = np.sqrt(alpha_bar / (1 - alpha_bar))
    return sigma, xt / np.sqrt(alpha_bar) - sigma * eps


def denoiser_multiplied_back(xt, alpha_bar, eps):
    sigma = np.sqrt((1 - alpha_bar) / alpha_bar)
    return sigma, np.sqrt(alpha_bar) * (xt / np.sqrt(alpha_bar)
                                        - sigma * eps)


def heun_slope_sign(denoiser, x, sigmas):
    out = x.copy()
    nfe = 0
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        d = (denoiser(out, s) - out) / s
        nfe += 1
        pred = out + (s_next - s) * d
        if s_next > 0:
            d2 = (denoiser(pred, s_next) - pred) / s_next
            nfe += 1
            pred = out + (s_next - s) * (d + d2) / 2
        out = pred
    return out, nfe


def heun_no_half(denoiser, x, sigmas):
    nfe = 0
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        d = (x - denoiser(x, s)) / s
        nfe += 1
        pred = x + (s_next - s) * d
        if s_next > 0:
            d2 = (pred - denoiser(pred, s_next)) / s_next
            nfe += 1
            pred = x + (s_next - s) * (d + d2)
        x = pred
    return x, nfe


def churn_noise_after_step(denoiser, x, sigma, sigma_next, gamma, noise):
    d = (x - denoiser(x, sigma)) / sigma
    x = x + (sigma_next - sigma) * d
    sigma_hat = (1 + gamma) * sigma
    return x + np.sqrt(sigma_hat ** 2 - sigma ** 2) * noise


def churn_raised_next_level(denoiser, x, sigma, sigma_next, gamma, noise):
    sigma_hat = (1 + gamma) * sigma
    x_hat = x + np.sqrt(sigma_hat ** 2 - sigma ** 2) * noise
    d = (x_hat - denoiser(x_hat, sigma_hat)) / sigma_hat
    return x_hat + ((1 + gamma) * sigma_next - sigma_hat) * d


def ll_divergence_at_new_point(velocity, divergence, x0, sigmas):
    x = x0.copy()
    integral = np.zeros(len(x))
    for k in range(len(sigmas) - 1):
        h = sigmas[k + 1] - sigmas[k]
        x = x + h * velocity(x, sigmas[k])
        integral += h * divergence(x, sigmas[k + 1])
    var = sigmas[-1] ** 2
    return (-0.5 * (x ** 2).sum(axis=1) / var
            - 0.5 * x.shape[1] * np.log(2 * np.pi * var) + integral)


def ll_prior_per_dimension_missing(velocity, divergence, x0, sigmas):
    x = x0.copy()
    integral = np.zeros(len(x))
    for k in range(len(sigmas) - 1):
        h = sigmas[k + 1] - sigmas[k]
        integral += h * divergence(x, sigmas[k])
        x = x + h * velocity(x, sigmas[k])
    var = sigmas[-1] ** 2
    return (-0.5 * (x ** 2).sum(axis=1) / var
            - 0.5 * np.log(2 * np.pi * var) + integral)


def sigmas_swapped_linspace_torch(n, sigma_min, sigma_max, rho):
    levels = torch.linspace(sigma_max ** rho, sigma_min ** rho, n,
                            dtype=torch.float64) ** (1 / rho)
    return torch.cat([levels, torch.zeros(1, dtype=torch.float64)])


def ll_divergence_after_move_same_sigma(velocity, divergence, x0, sigmas):
    x = x0.copy()
    integral = np.zeros(len(x))
    for k in range(len(sigmas) - 1):
        h = sigmas[k + 1] - sigmas[k]
        x = x + h * velocity(x, sigmas[k])
        integral += h * divergence(x, sigmas[k])
    var = sigmas[-1] ** 2
    return (-0.5 * (x ** 2).sum(axis=1) / var
            - 0.5 * x.shape[1] * np.log(2 * np.pi * var) + integral)


def ll_divergence_at_x0(velocity, divergence, x0, sigmas):
    x = x0.copy()
    integral = np.zeros(len(x))
    for k in range(len(sigmas) - 1):
        h = sigmas[k + 1] - sigmas[k]
        integral += h * divergence(x0, sigmas[k])
        x = x + h * velocity(x, sigmas[k])
    var = sigmas[-1] ** 2
    return (-0.5 * (x ** 2).sum(axis=1) / var
            - 0.5 * x.shape[1] * np.log(2 * np.pi * var) + integral)


def denoiser_pair_swapped(xt, alpha_bar, eps):
    sigma = np.sqrt((1 - alpha_bar) / alpha_bar)
    return xt / np.sqrt(alpha_bar) - sigma * eps, sigma


@pytest.mark.parametrize("check, wrong, name", [
    (ch11.check_edm_sigmas, sigmas_swapped_linspace_torch,
     "rho and 1/rho swapped (with np.linspace)"),
    (ch11.check_ode_log_likelihood, ll_divergence_after_move_same_sigma,
     "divergence evaluated after the step"),
    (ch11.check_ode_log_likelihood, ll_divergence_at_x0,
     "divergence evaluated at the data point"),
    (ch11.check_denoiser_from_eps, denoiser_pair_swapped,
     "the pair returned in the wrong order"),
])
def test_learner_versions_of_listed_mistakes_are_named(check, wrong, name):
    result = check(wrong)
    assert result.status == "failed"
    assert result.mistake == name, result.report


LEARNER_WRONG = [
    (ch11.check_edm_sigmas, sigmas_linspace_in_log_of_rho),
    (ch11.check_edm_sigmas, sigmas_zero_first),
    (ch11.check_denoiser_from_eps, denoiser_sigma_from_snr),
    (ch11.check_denoiser_from_eps, denoiser_multiplied_back),
    (ch11.check_heun_sampler, heun_slope_sign),
    (ch11.check_heun_sampler, heun_no_half),
    (ch11.check_churn_step, churn_noise_after_step),
    (ch11.check_churn_step, churn_raised_next_level),
    (ch11.check_ode_log_likelihood, ll_divergence_at_new_point),
    (ch11.check_ode_log_likelihood, ll_prior_per_dimension_missing),
]


@pytest.mark.parametrize("in_float32", [False, True],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("check, wrong", LEARNER_WRONG,
                         ids=[w.__name__ for _, w in LEARNER_WRONG])
def test_plausible_wrong_answer_is_rejected(check, wrong, in_float32):
    def answer(*args, **kwargs):
        out = wrong(*args, **kwargs)
        if not in_float32:
            return out
        if isinstance(out, tuple):
            return tuple(np.asarray(o, dtype=np.float32) for o in out)
        return np.asarray(out, dtype=np.float32)

    result = check(answer)
    assert result.status == "failed", result.report
    with pytest.raises(checks.CheckFailed):
        check(answer, strict=True)
    assert result.mistake or result.diagnosis or result.hint
