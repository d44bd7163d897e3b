"""Tests of the chapter 3 exercise checks (diffusion_edu.checks.ch03).

Each check must accept the reference and other correct implementations,
report "not implemented" for the stub, and reject every classic mistake it
lists while naming it.
"""

import math

import numpy as np
import pytest

from diffusion_edu import checks, elbo
from diffusion_edu import gaussian as gs
from diffusion_edu import schedules as sch
from diffusion_edu import toy_data as td
from diffusion_edu.checks import ch03, listed_mistakes


def stub(*args, **kwargs):
    raise NotImplementedError


# Correct answers written the way a learner would.

def alpha_bar_by_loop(beta):
    out = np.ones(len(beta))
    for t in range(1, len(beta)):
        out[t] = out[t - 1] * (1 - beta[t])
    return out


def alpha_bar_by_cumprod(beta):
    return np.cumprod(1 - beta)


def q_sample_learner(alpha_bar, x0, t, noise):
    a = np.reshape(alpha_bar[t], (-1, 1))
    return np.sqrt(a) * x0 + np.sqrt(1 - a) * noise


def q_sample_by_rows(alpha_bar, x0, t, noise):
    t = np.broadcast_to(t, (x0.shape[0],))
    out = np.empty_like(x0)
    for i, ti in enumerate(t):
        out[i] = (math.sqrt(alpha_bar[ti]) * x0[i]
                  + math.sqrt(1 - alpha_bar[ti]) * noise[i])
    return out


def mixture_pdf_learner(x, weights, means, variances, alpha_bar_t):
    total = np.zeros_like(x, dtype=float)
    for w, m, v in zip(weights, means, variances, strict=True):
        mean = np.sqrt(alpha_bar_t) * m
        var = alpha_bar_t * v + 1 - alpha_bar_t
        total += w * np.exp(-(x - mean) ** 2 / (2 * var)) / np.sqrt(
            2 * np.pi * var)
    return total


def mixture_pdf_package(x, weights, means, variances, alpha_bar_t):
    s = sch.from_alpha_bar([alpha_bar_t]) if alpha_bar_t < 1 else None
    dist = td.GaussianMixture1D(weights, means, variances)
    return dist.pdf(x[:, None], s, 1)


def prior_kl_learner(x0, alpha_bar_T):
    mu2 = alpha_bar_T * x0 ** 2
    v = 1 - alpha_bar_T
    per_dim = 0.5 * (v + mu2 - 1 - np.log(v))
    return per_dim.sum(axis=1)


def prior_kl_general_formula(x0, alpha_bar_T):
    # KL(N(m1, v1) || N(m2, v2)) with m2 = 0, v2 = 1, written generally.
    m1, v1, m2, v2 = np.sqrt(alpha_bar_T) * x0, 1 - alpha_bar_T, 0.0, 1.0
    kl = 0.5 * np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5
    return kl.sum(axis=1)


CHECKS = [
    (ch03.check_alpha_bar, alpha_bar_by_loop, alpha_bar_by_cumprod),
    (ch03.check_q_sample, q_sample_learner, q_sample_by_rows),
    (ch03.check_noised_mixture_pdf, mixture_pdf_learner,
     mixture_pdf_package),
    (ch03.check_prior_kl, prior_kl_learner, prior_kl_general_formula),
]
IDS = [c.__name__ for c, _, _ in CHECKS]


@pytest.mark.parametrize("check, answer, other", CHECKS, ids=IDS)
def test_check_accepts_reference_and_learner_style_answer(
        check, answer, other):
    for candidate in (answer, other):
        result = check(candidate, strict=True)
        assert result.status == "passed", result.report
        assert len(result.passed) >= 5


def test_every_check_lists_at_least_four_mistakes():
    for check, _, _ in CHECKS:
        assert len(listed_mistakes(check)) >= 4


# The classic errors named in the chapter, written as a learner would.

def test_alpha_bar_check_names_product_up_to_T():
    def wrong(beta):
        alpha = 1 - beta
        return np.array([np.prod(alpha) for _ in range(len(beta))])

    assert (ch03.check_alpha_bar(wrong).mistake
            == "product up to T instead of t")


def test_alpha_bar_check_names_product_up_to_T_with_alpha_bar_0_set():
    def wrong(beta):
        out = np.ones(len(beta))
        out[1:] = np.prod(1 - beta[1:])
        return out

    result = ch03.check_alpha_bar(wrong)
    assert result.mistake.startswith("product up to T instead of t")
    assert "upper limit t, not T" in result.report


def test_q_sample_check_names_sqrt_used_as_variance():
    # The learner thinks q(x_t | x_0) = N(sqrt(ab) x0, sqrt(1 - ab)) and
    # then takes the square root of that "variance" as the noise scale.
    def wrong(alpha_bar, x0, t, noise):
        a = np.reshape(alpha_bar[t], (-1, 1))
        var = np.sqrt(1 - a)
        return np.sqrt(a) * x0 + np.sqrt(var) * noise

    assert (ch03.check_q_sample(wrong).mistake
            == "sqrt(1 - alpha_bar_t) used as a variance")


def test_q_sample_check_names_missing_square_root_on_noise():
    def wrong(alpha_bar, x0, t, noise):
        a = np.reshape(alpha_bar[t], (-1, 1))
        return np.sqrt(a) * x0 + (1 - a) * noise

    assert (ch03.check_q_sample(wrong).mistake
            == "missing square root on the noise")


def test_q_sample_check_names_alpha_bar_T():
    def wrong(alpha_bar, x0, t, noise):
        a = alpha_bar[-1]
        return np.sqrt(a) * x0 + np.sqrt(1 - a) * noise

    assert (ch03.check_q_sample(wrong).mistake
            == "alpha_bar_T instead of alpha_bar_t")


def test_q_sample_check_reports_unbroadcast_time_array():
    # alpha_bar[t] of shape (N,) times x0 of shape (N, D) fails or
    # broadcasts along the wrong axis; the check reports, never raises.
    def wrong(alpha_bar, x0, t, noise):
        a = alpha_bar[t]
        return np.sqrt(a) * x0 + np.sqrt(1 - a) * noise

    result = ch03.check_q_sample(wrong)
    assert result.status == "failed"
    assert "raised ValueError" in result.report
    assert "np.reshape(alpha_bar[t], (-1, 1))" in result.report


def test_q_sample_reference_matches_package_q_sample():
    s = sch.linear(1000)
    for case in ch03._q_sample_cases():
        alpha_bar, x0, t, noise = case.args
        if alpha_bar.shape == s.alpha_bar.shape:
            np.testing.assert_allclose(
                ch03._q_sample_reference(*case.args),
                gs.q_sample(s, x0, t, noise), rtol=1e-12, atol=1e-12)


def test_mixture_check_names_unscaled_component_variance():
    def wrong(x, weights, means, variances, ab):
        var = variances + 1 - ab
        dens = np.exp(-(x[:, None] - np.sqrt(ab) * means) ** 2
                      / (2 * var)) / np.sqrt(2 * np.pi * var)
        return dens @ weights

    assert (ch03.check_noised_mixture_pdf(wrong).mistake
            == "component variances not scaled by alpha_bar_t")


def test_mixture_reference_integrates_to_one():
    for case in ch03._mixture_cases():
        x = np.linspace(-12, 12, 20001)
        args = (x, *case.args[1:])
        dens = ch03._mixture_reference(*args)
        assert abs(np.sum(dens) * (x[1] - x[0]) - 1) < 1e-8


def test_prior_kl_reference_for_x0_zero_is_the_variance_term():
    # KL(N(0, v) || N(0, 1)) = (v - 1 - log v) / 2 per coordinate.
    for ab in (0.3, 0.6, 1e-3):
        kl = ch03._prior_kl_reference(np.zeros((1, 3)), ab)
        assert kl[0] > 0
        assert abs(kl[0] - 1.5 * (-ab - np.log(1 - ab))) < 1e-12


def test_prior_kl_reference_matches_elbo_gaussian_kl():
    for case in ch03._prior_kl_cases():
        x0, ab = case.args
        mean, var = np.sqrt(ab) * x0, np.full_like(x0, 1 - ab)
        expected = np.sum(elbo.gaussian_kl(mean, var, 0.0, 1.0), axis=-1)
        np.testing.assert_allclose(ch03._prior_kl_reference(x0, ab),
                                   expected, rtol=1e-12)


def test_check_reports_wrong_shape():
    result = ch03.check_prior_kl(lambda x0, ab: np.zeros(x0.shape))
    assert result.status == "failed"
    assert "shape" in result.report


def test_checks_are_exported_from_package():
    for name in ch03.__all__:
        assert getattr(checks, name) is getattr(ch03, name)


def test_check_cases_are_deterministic():
    for a, b in zip(ch03._q_sample_cases(), ch03._q_sample_cases(),
                    strict=True):
        for xa, xb in zip(a.args, b.args, strict=True):
            np.testing.assert_array_equal(xa, xb)


def test_prior_kl_check_names_variance_term_counted_once():
    # eq. (eq-prior-kl) with D/2 written as 1/2.
    def wrong(x0, alpha_bar_T):
        a = alpha_bar_T
        return (0.5 * (-a - np.log(1 - a))
                + 0.5 * a * np.sum(x0 ** 2, axis=1))

    result = ch03.check_prior_kl(wrong)
    assert result.mistake == "variance term not multiplied by D"
    assert "appears D times" in result.report


# Wrong answers written by learners, none of them copied from the check's
# own list: each must be rejected and named.

def test_alpha_bar_check_names_one_minus_cumsum():
    result = ch03.check_alpha_bar(lambda beta: 1 - np.cumsum(beta))
    assert result.mistake == "1 - (sum of beta_s)"


def test_alpha_bar_check_names_one_minus_cumprod_of_beta():
    def wrong(beta):
        out, prod = [], 1.0
        for b in beta:
            prod *= b
            out.append(1 - prod)
        return np.array(out)

    assert ch03.check_alpha_bar(wrong).mistake == "1 - (product of beta_s)"


def test_q_sample_check_names_one_minus_sqrt_noise_coefficient():
    def wrong(alpha_bar, x0, t, noise):
        a = np.asarray(alpha_bar[t]).reshape(-1, 1)
        return np.sqrt(a) * x0 + (1 - np.sqrt(a)) * noise

    result = ch03.check_q_sample(wrong)
    assert result.mistake == "1 - sqrt(alpha_bar_t) as the noise coefficient"


def test_q_sample_check_names_alpha_bar_as_signal_scale():
    def wrong(alpha_bar, x0, t, noise):
        a = np.atleast_1d(alpha_bar[t])[:, None]
        return a * x0 + np.sqrt(1 - a ** 2) * noise

    result = ch03.check_q_sample(wrong)
    assert result.mistake.startswith("alpha_bar_t as the signal coefficient")


def test_mixture_check_names_ignored_weights():
    def wrong(x, weights, means, variances, alpha_bar_t):
        total = np.zeros(len(x))
        for m, v in zip(means, variances, strict=True):
            var = alpha_bar_t * v + 1 - alpha_bar_t
            total += (np.exp(-(x - math.sqrt(alpha_bar_t) * m) ** 2
                             / (2 * var)) / np.sqrt(2 * math.pi * var))
        return total

    assert ch03.check_noised_mixture_pdf(wrong).mistake == (
        "mixture weights ignored")


def test_mixture_check_names_normaliser_without_variance():
    def wrong(x, weights, means, variances, alpha_bar_t):
        var = alpha_bar_t * variances + 1 - alpha_bar_t
        d = np.asarray(x)[:, None] - np.sqrt(alpha_bar_t) * means
        return (np.exp(-d ** 2 / (2 * var)) / np.sqrt(2 * np.pi)) @ weights

    result = ch03.check_noised_mixture_pdf(wrong)
    assert result.mistake.startswith("normal density without the variance")


def test_prior_kl_check_names_missing_minus_one():
    def wrong(x0, alpha_bar_T):
        v = 1 - alpha_bar_T
        return np.sum(0.5 * (v + alpha_bar_T * x0 ** 2 - np.log(v)), axis=1)

    assert ch03.check_prior_kl(wrong).mistake == "the -1 missing"


def test_prior_kl_check_names_plus_log_v():
    def wrong(x0, alpha_bar_T):
        v = 1 - alpha_bar_T
        mu2 = alpha_bar_T * x0 ** 2
        return 0.5 * np.sum(v + mu2 - 1 + np.log(v), axis=1)

    assert ch03.check_prior_kl(wrong).mistake == "+ log v instead of - log v"
