"""Tests of the chapter 4 exercise checks (diffusion_edu.checks.ch04).

Each check must accept the reference (the package's own functions and an
answer written the way a learner would), report "not implemented" for
the stub, and reject every classic mistake it lists while naming it.
"""

import numpy as np
import pytest
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks
from diffusion_edu import gaussian as ga
from diffusion_edu import schedules as sch
from diffusion_edu.checks import ch04


def stub(*args, **kwargs):
    raise NotImplementedError


# Correct answers written the way a learner would.

def posterior_by_hand(s, x0, xt, t):
    a, ab, ab_prev = s.alpha[t], s.alpha_bar[t], s.alpha_bar[t - 1]
    mean = (np.sqrt(ab_prev) * s.beta[t] / (1 - ab) * x0
            + np.sqrt(a) * (1 - ab_prev) / (1 - ab) * xt)
    var = s.beta[t] * (1 - ab_prev) / (1 - ab)
    return mean, var


def posterior_full_shape(s, x0, xt, t):
    mean, var = posterior_by_hand(s, x0, xt, t)
    return mean, np.full_like(mean, var)


def x0_by_hand(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return (xt - np.sqrt(1 - ab) * eps) / np.sqrt(ab)


def mean_eps_via_x0(s, xt, t, eps):
    return posterior_by_hand(s, x0_by_hand(s, xt, t, eps), xt, t)[0]


def moments_by_hand(s, xt, t, x0_mean, x0_var):
    c0 = np.sqrt(s.alpha_bar[t - 1]) * s.beta[t] / (1 - s.alpha_bar[t])
    mean = posterior_by_hand(s, x0_mean, xt, t)[0]
    return mean, s.beta_tilde[t] + c0 ** 2 * x0_var


def package_posterior(s, x0, xt, t):
    return ga.posterior_mean_var(s, x0, xt, t)


def package_moments(s, xt, t, x0_mean, x0_var):
    mean, var = ga.posterior_mean_var(s, x0_mean, xt, t)
    c0 = np.sqrt(s.alpha_bar[t - 1]) * s.beta[t] / (1 - s.alpha_bar[t])
    return mean[:, 0], var[:, 0] + c0 ** 2 * x0_var


CHECKS = [
    (ch04.check_posterior_mean_var,
     [package_posterior, posterior_by_hand, posterior_full_shape]),
    (ch04.check_x0_from_eps, [ga.predict_x0, x0_by_hand]),
    (ch04.check_posterior_mean_eps,
     [ga.posterior_mean_from_eps, mean_eps_via_x0]),
    (ch04.check_reverse_step_moments, [package_moments, moments_by_hand]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_package_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 5)


def test_every_check_lists_at_least_three_mistakes():
    assert_lists_mistakes(CHECKS)


def test_posterior_check_catches_sqrt_alpha_bar_slip_written_by_hand():
    def slip(s, x0, xt, t):
        ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
        mean = (np.sqrt(ab_prev) * s.beta[t] / (1 - ab) * x0
                + np.sqrt(ab) * (1 - ab_prev) / (1 - ab) * xt)
        return mean, s.beta_tilde[t]

    result = ch04.check_posterior_mean_var(slip)
    assert result.mistake == "sqrt(alpha_bar_t) instead of sqrt(alpha_t)"
    assert "ONE step" in result.report


def test_posterior_check_rejects_variance_of_wrong_shape():
    def bad_shape(s, x0, xt, t):
        mean, var = posterior_by_hand(s, x0, xt, t)
        return mean, np.full(x0.shape[0] + 1, var)

    result = ch04.check_posterior_mean_var(bad_shape)
    assert result.status == "failed"
    assert "shape" in result.report


def test_posterior_check_rejects_single_return_value():
    result = ch04.check_posterior_mean_var(
        lambda s, x0, xt, t: posterior_by_hand(s, x0, xt, t)[0])
    assert result.status == "failed"
    assert "returned value" in result.report


def test_posterior_cases_include_first_and_last_step():
    steps = {(c.args[0].T, c.args[3]) for c in ch04._schedule_cases(401)}
    assert (1000, 1) in steps and (1000, 1000) in steps


def test_reference_posterior_matches_package_to_1e12():
    s = sch.cosine(30)
    rng = np.random.default_rng(0)
    x0, xt = rng.standard_normal((2, 7, 2))
    for t in (1, 2, 15, 30):
        mean, var = ch04._posterior_reference(s, x0, xt, t)
        mean_pkg, var_pkg = ga.posterior_mean_var(s, x0, xt, t)
        np.testing.assert_allclose(mean, mean_pkg, rtol=0, atol=1e-12)
        np.testing.assert_allclose(var, var_pkg[0, 0], rtol=1e-12)


def test_moments_reference_matches_monte_carlo_of_mixture_of_posteriors():
    s = sch.cosine(10)
    t, xt = 4, np.array([0.3])
    x0_mean, x0_var = np.array([-0.2]), np.array([0.5])
    mean, var = ch04._moments_reference(s, xt, t, x0_mean, x0_var)
    rng = np.random.default_rng(1)
    x0 = x0_mean + np.sqrt(x0_var) * rng.standard_normal((400_000, 1))
    mu, bt = ga.posterior_mean_var(s, x0, np.full_like(x0, xt), t)
    x_prev = mu + np.sqrt(bt) * rng.standard_normal(x0.shape)
    se_mean = np.sqrt(var / x0.shape[0])
    assert abs(x_prev.mean() - mean[0]) < 4 * se_mean[0]
    se_var = var * np.sqrt(2 / x0.shape[0])
    assert abs(x_prev.var() - var[0]) < 4 * se_var[0]


def test_checks_are_exported_from_package():
    for name in ch04.__all__:
        assert getattr(checks, name) is getattr(ch04, name)


def test_check_cases_are_deterministic():
    for make in (lambda: ch04._schedule_cases(401), ch04._moments_cases):
        for ca, cb in zip(make(), make(), strict=True):
            for xa, xb in zip(ca.args[1:], cb.args[1:], strict=True):
                np.testing.assert_array_equal(xa, xb)


def test_posterior_check_explains_nan_of_b_over_a_form_at_first_step():
    # Step 4 of the derivation gives the mean as B / A, correct for t >= 2
    # but 0 / 0 at t = 1; the check must say why instead of only "NaN".
    def b_over_a(s, x0, xt, t):
        a, ab_prev = s.alpha[t], s.alpha_bar[t - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            A = a / s.beta[t] + 1 / (1 - ab_prev)
            B = (np.sqrt(a) / s.beta[t] * xt
                 + np.sqrt(ab_prev) / (1 - ab_prev) * x0)
            return B / A, 1 / A

    result = ch04.check_posterior_mean_var(b_over_a)
    assert result.status == "failed"
    assert len(result.failed) == 1 and "t = 1" in result.failed[0]
    assert "1 - alpha_bar_0 = 0" in result.report


def test_sqrt_beta_slip_differs_from_reference_at_first_step():
    # The hint says the slip's coefficient is 1 at t = 1 where the right
    # one is sqrt(beta_1): a factor 100 for linear(1000).
    s = sch.linear(1000)
    xt, eps = np.zeros((1, 1)), np.ones((1, 1))
    right = ch04._mean_eps_reference(s, xt, 1, eps)
    slip = ch04._mean_eps_sqrt_beta(s, xt, 1, eps)
    np.testing.assert_allclose(slip / right, 1 / np.sqrt(s.beta[1]),
                               rtol=1e-12)

