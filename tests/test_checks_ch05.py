"""Tests of the chapter 5 exercise checks (diffusion_edu.checks.ch05).

Each check must accept the reference and answers written the way a
learner would, report "not implemented" for the stub, and reject every
classic mistake it lists while naming it. The references themselves are
tested against Monte Carlo estimates and against the package.
"""

import numpy as np
import pytest

from diffusion_edu import checks, elbo
from diffusion_edu import gaussian as ga
from diffusion_edu import schedules as sch
from diffusion_edu.checks import ch05, listed_mistakes


def stub(*args, **kwargs):
    raise NotImplementedError


# Correct answers written the way a learner would.

def kl_by_loop(mu1, var1, mu2, var2):
    out = np.zeros(mu1.shape[0])
    for n in range(mu1.shape[0]):
        for d in range(mu1.shape[1]):
            out[n] += (np.log(np.sqrt(var2[n, d] / var1[n, d]))
                       + (var1[n, d] + (mu1[n, d] - mu2[n, d]) ** 2)
                       / (2 * var2[n, d]) - 0.5)
    return out


def kl_logvar_form(mu1, var1, mu2, var2):
    lv1, lv2 = np.log(var1), np.log(var2)
    return 0.5 * np.sum(lv2 - lv1 + np.exp(lv1 - lv2)
                        + (mu1 - mu2) ** 2 * np.exp(-lv2) - 1, axis=1)


def decoder_with_package(x0, mean, var):
    return -np.sum(elbo.gaussian_log_likelihood(x0, mean, var), axis=1)


def decoder_by_loop(x0, mean, var):
    out = np.zeros(x0.shape[0])
    for n in range(x0.shape[0]):
        for d in range(x0.shape[1]):
            out[n] -= np.log(np.exp(-(x0[n, d] - mean[n, d]) ** 2
                                    / (2 * var))
                             / np.sqrt(2 * np.pi * var))
    return out


def per_step_with_package(s, x0, xt, t, eps_hat, sigma2):
    mu_q, var_q = ga.posterior_mean_var(s, x0, xt, t)
    mu_p = ga.posterior_mean_from_eps(s, xt, t, eps_hat)
    ones = np.ones_like(x0)
    return kl_by_loop(mu_q, var_q * ones, mu_p, sigma2 * ones)


def per_step_weight_form(s, x0, xt, t, eps_hat, sigma2):
    """Variance part + w_t ||ε − ε̂||² (the chapter's eps form)."""
    d = x0.shape[1]
    bt = s.beta_tilde[t]
    eps = ga.predict_eps(s, xt, t, x0)
    w_t = (s.beta[t] ** 2
           / (2 * sigma2 * s.alpha[t] * (1 - s.alpha_bar[t])))
    return (0.5 * d * (np.log(sigma2 / bt) + bt / sigma2 - 1)
            + w_t * np.sum((eps - eps_hat) ** 2, axis=1))


def weight_by_hand(s, t, sigma2):
    coef = s.beta[t] / (np.sqrt(s.alpha[t]) * np.sqrt(1 - s.alpha_bar[t]))
    return coef ** 2 / (2 * sigma2)


CHECKS = [
    (ch05.check_gaussian_kl, [ch05._kl, kl_by_loop, kl_logvar_form]),
    (ch05.check_decoder_nll,
     [ch05._decoder_reference, decoder_with_package, decoder_by_loop]),
    (ch05.check_per_step_kl,
     [ch05._per_step_reference, per_step_with_package,
      per_step_weight_form]),
    (ch05.check_elbo_weight, [ch05._weight_reference, weight_by_hand]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_reference_and_learner_style_answers(check, answers):
    for answer in answers:
        result = check(answer, strict=True)
        assert result.status == "passed", result.report
        assert len(result.passed) >= 5


def test_every_check_lists_at_least_four_mistakes():
    for check, _ in CHECKS:
        assert len(listed_mistakes(check)) >= 4


def test_per_step_check_names_variance_for_log_variance_slip():
    def slip(s, x0, xt, t, eps_hat, sigma2):
        mu_q, var_q = ga.posterior_mean_var(s, x0, xt, t)
        mu_p = ga.posterior_mean_from_eps(s, xt, t, eps_hat)
        # a log-variance formula, given variances by mistake
        lv_q, lv_p = var_q, sigma2
        return 0.5 * np.sum(lv_p - lv_q + np.exp(lv_q - lv_p)
                            + (mu_q - mu_p) ** 2 / np.exp(lv_p) - 1,
                            axis=1)

    result = ch05.check_per_step_kl(slip)
    assert result.mistake == ("variance passed where a log-variance is "
                              "expected")


def test_per_step_check_names_sigma4_slip():
    def slip(s, x0, xt, t, eps_hat, sigma2):
        mu_q, var_q = ga.posterior_mean_var(s, x0, xt, t)
        mu_p = ga.posterior_mean_from_eps(s, xt, t, eps_hat)
        d = x0.shape[1]
        return (0.5 * d * (np.log(sigma2 / var_q[:, 0])
                           + var_q[:, 0] / sigma2 - 1)
                + np.sum((mu_q - mu_p) ** 2, axis=1) / (2 * sigma2 ** 2))

    result = ch05.check_per_step_kl(slip)
    assert result.mistake.startswith("sigma^4 instead of sigma^2")


def test_gaussian_kl_check_reports_missing_sum_as_shape_problem():
    result = ch05.check_gaussian_kl(
        lambda m1, v1, m2, v2: 0.5 * (np.log(v2 / v1)
                                      + (v1 + (m1 - m2) ** 2) / v2 - 1))
    assert result.mistake == "no sum over the D coordinates"
    assert "shape" in result.report


def test_kl_reference_matches_monte_carlo():
    rng = np.random.default_rng(2)
    mu1, mu2 = np.array([[0.3, -1.0]]), np.array([[-0.2, 0.5]])
    var1, var2 = np.array([[0.5, 2.0]]), np.array([[1.5, 0.7]])
    x = mu1 + np.sqrt(var1) * rng.standard_normal((400_000, 2))

    def log_n(x, mu, var):
        return -0.5 * np.sum(np.log(2 * np.pi * var)
                             + (x - mu) ** 2 / var, axis=1)

    ratio = log_n(x, mu1, var1) - log_n(x, mu2, var2)
    se = ratio.std() / np.sqrt(ratio.size)
    exact = ch05._kl(mu1, var1, mu2, var2)[0]
    assert abs(ratio.mean() - exact) < 4 * se


def test_kl_reference_matches_package_gaussian_kl():
    for case in ch05._gaussian_kl_cases():
        mu1, var1, mu2, var2 = case.args
        np.testing.assert_allclose(
            ch05._kl(mu1, var1, mu2, var2),
            elbo.gaussian_kl(mu1, var1, mu2, var2).sum(axis=1),
            rtol=1e-12, atol=1e-15)


def test_decoder_reference_matches_monte_carlo_cross_entropy():
    # E_x[-log N(x; m, v)] for x ~ N(m, v) is 0.5 log(2 pi e v).
    rng = np.random.default_rng(4)
    v = 0.3
    x = np.sqrt(v) * rng.standard_normal((200_000, 1))
    nll = ch05._decoder_reference(x, np.zeros_like(x), v)
    se = nll.std() / np.sqrt(nll.size)
    assert abs(nll.mean() - 0.5 * np.log(2 * np.pi * np.e * v)) < 4 * se


def test_per_step_reference_matches_package_elbo_terms():
    s = sch.cosine(20)
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((6, 2))

    def eps_model(x, t):
        return 0.5 * x

    for var_type in ("fixed_small", "fixed_large"):
        terms = elbo.elbo_terms(s, eps_model, x0, np.random.default_rng(6),
                                var_type=var_type)
        sigma2 = ga.reverse_variance(s, var_type)
        replay = np.random.default_rng(6)
        for t in range(1, s.T + 1):
            xt = ga.q_sample(s, x0, t, replay.standard_normal(x0.shape))
            if t >= 2:
                np.testing.assert_allclose(
                    ch05._per_step_reference(s, x0, xt, t,
                                             eps_model(xt, t), sigma2[t]),
                    terms.kl[:, t], rtol=1e-10, atol=1e-12)


def test_per_step_reference_equals_weighted_eps_error():
    s = sch.cosine(40)
    rng = np.random.default_rng(3)
    x0, eps, noise = rng.standard_normal((3, 5, 2))
    for t in (2, 20, 40):
        xt = ga.q_sample(s, x0, t, eps)
        eps_hat = eps + 0.1 * noise
        for sigma2 in (s.beta[t], s.beta_tilde[t]):
            np.testing.assert_allclose(
                ch05._per_step_reference(s, x0, xt, t, eps_hat, sigma2),
                per_step_weight_form(s, x0, xt, t, eps_hat, sigma2),
                rtol=1e-9, atol=1e-12)


def test_checks_are_exported_from_package():
    for name in ch05.__all__:
        assert getattr(checks, name) is getattr(ch05, name)


def test_check_cases_are_deterministic():
    for make in (ch05._gaussian_kl_cases, ch05._decoder_cases,
                 ch05._per_step_cases):
        for ca, cb in zip(make(), make(), strict=True):
            for xa, xb in zip(ca.args, cb.args, strict=True):
                if isinstance(xa, np.ndarray):
                    np.testing.assert_array_equal(xa, xb)


def test_weight_check_calls_the_weight_w_not_lambda():
    # Chapter 5 names the ELBO weight w_t: lambda_t is the log-SNR of
    # chapter 2, and the check's messages must not reintroduce the clash.
    result = ch05.check_elbo_weight(
        lambda s, t, sigma2: s.beta[t] / (2 * sigma2 * s.alpha[t]))
    assert result.status == "failed"
    assert "w_t" in result.report
    assert "lambda" not in result.report

