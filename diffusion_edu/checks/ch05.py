"""Checks for the coding exercises of chapter 5 (the evidence lower bound).

Each check calls the learner's function on fixed, seeded inputs
(several schedules, dimensions, time steps and reverse variances) and
compares the result with the closed forms of the chapter. The classic
mistakes it recognises: passing a variance where the formula expects a
log-variance, dividing by σ⁴ instead of σ², computing the KL the wrong
way round, forgetting the sum over the D coordinates or the factor D of
the variance part, dropping the normalising constant of the decoder, and
slips in the weight w_t of eq. (5.9) (called w_t, not λ_t:
λ_t is the log signal-to-noise ratio of chapter 2).
"""

from __future__ import annotations

import numpy as np

from .. import schedules as sch
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_gaussian_kl",
    "check_decoder_nll",
    "check_per_step_kl",
    "check_elbo_weight",
]


def _kl(mu1, var1, mu2, var2):
    """KL(N(mu1, diag var1) || N(mu2, diag var2)), summed over axis 1."""
    terms = np.log(var2 / var1) + (var1 + (mu1 - mu2) ** 2) / var2 - 1.0
    return 0.5 * np.sum(terms, axis=1)


def _kl_logvar_slip(mu1, var1, mu2, var2):
    """The log-variance form of the KL, fed with variances."""
    lv1, lv2 = var1, var2
    terms = (lv2 - lv1 + np.exp(lv1 - lv2)
             + (mu1 - mu2) ** 2 * np.exp(-lv2) - 1.0)
    return 0.5 * np.sum(terms, axis=1)


def _kl_sigma4(mu1, var1, mu2, var2):
    terms = (np.log(var2 / var1) + var1 / var2
             + (mu1 - mu2) ** 2 / var2 ** 2 - 1.0)
    return 0.5 * np.sum(terms, axis=1)


def _kl_swapped(mu1, var1, mu2, var2):
    return _kl(mu2, var2, mu1, var1)


# ---------------------------------------------------------------------------
# KL divergence between two diagonal Gaussians
# ---------------------------------------------------------------------------

def _gaussian_kl_cases() -> list[Case]:
    rng = np.random.default_rng(501)
    cases = []

    def add(label, mu1, var1, mu2, var2):
        cases.append(Case(label, (mu1, var1, mu2, var2)))

    shape = (5, 3)
    add("5 pairs in 3-D, random means and variances",
        rng.standard_normal(shape), rng.uniform(0.2, 2.0, shape),
        rng.standard_normal(shape), rng.uniform(0.2, 2.0, shape))
    mu = rng.standard_normal((4, 1))
    add("4 pairs in 1-D, same variance, different means",
        mu, np.full((4, 1), 0.5), mu + 0.3, np.full((4, 1), 0.5))
    add("3 pairs in 2-D, same means, different variances",
        np.zeros((3, 2)), rng.uniform(0.1, 1.0, (3, 2)),
        np.zeros((3, 2)), rng.uniform(0.1, 1.0, (3, 2)))
    mu = rng.standard_normal((3, 4))
    var = rng.uniform(0.5, 1.5, (3, 4))
    add("identical distributions (KL = 0), 3 pairs in 4-D",
        mu, var, mu.copy(), var.copy())
    add("tiny variances like beta_tilde_t (1e-4 .. 1e-2), 6 pairs in 1-D",
        0.1 * rng.standard_normal((6, 1)), rng.uniform(1e-4, 1e-2, (6, 1)),
        0.1 * rng.standard_normal((6, 1)), rng.uniform(1e-4, 1e-2, (6, 1)))
    add("2 pairs in 2-D, q(x_T | x_0) against N(0, I)",
        rng.standard_normal((2, 2)), np.full((2, 2), 0.98),
        np.zeros((2, 2)), np.ones((2, 2)))
    return cases


def check_gaussian_kl(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(mu1, var1, mu2, var2)`` = KL(N(mu1, diag var1) ‖
    N(mu2, diag var2)) per row, arrays (N, D) -> (N,) (exercise
    ex-05-gaussian-kl)."""
    return run_check(
        "KL divergence between two diagonal Gaussians", answer, _kl,
        _gaussian_kl_cases(), strict=strict,
        mistakes=[
            Mistake("variance passed where a log-variance is expected",
                    _kl_logvar_slip,
                    "your numbers match the log-variance form of the KL, "
                    "0.5 (lv2 - lv1 + exp(lv1 - lv2) + (mu1 - mu2)^2 "
                    "exp(-lv2) - 1), fed with variances. Either pass "
                    "log-variances to it or use the variance form "
                    "0.5 (log(var2 / var1) + (var1 + (mu1 - mu2)^2) / var2 "
                    "- 1)."),
            Mistake("sigma^4 instead of sigma^2 under the squared mean "
                    "difference", _kl_sigma4,
                    "the mean term is (mu1 - mu2)^2 / (2 var2): divide by "
                    "the variance var2 = sigma_2^2 once, not by its "
                    "square."),
            Mistake("arguments swapped: KL(p2 || p1)", _kl_swapped,
                    "KL is not symmetric: KL(p1 || p2) = E_p1[log p1 - "
                    "log p2] divides by the variance of the SECOND "
                    "distribution."),
            Mistake("log of the variance ratio not halved",
                    lambda m1, v1, m2, v2: np.sum(
                        np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / (2 * v2)
                        - 0.5, axis=1),
                    "log(sigma_2 / sigma_1) = 0.5 log(var2 / var1): with "
                    "variances the log term gets the factor 1/2 too."),
            Mistake("variances used as standard deviations",
                    lambda m1, v1, m2, v2: np.sum(
                        np.log(v2 / v1)
                        + (v1 ** 2 + (m1 - m2) ** 2) / (2 * v2 ** 2) - 0.5,
                        axis=1),
                    "var1 and var2 are already variances: do not square "
                    "them again."),
            Mistake("no sum over the D coordinates",
                    lambda m1, v1, m2, v2: 0.5 * (
                        np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1),
                    "a diagonal Gaussian is a product over coordinates, "
                    "so its KL is the SUM of the D one-dimensional KLs: "
                    "return one number per row, shape (N,)."),
        ],
        hint="compare with eq. (5.6) term by term, for one row by hand: "
             "which variance is in the denominators (that of the second "
             "argument), the factor 1/2, the -1 per coordinate, and a "
             "sum over the D coordinates that leaves one value per row.")


# ---------------------------------------------------------------------------
# The decoder term L_0
# ---------------------------------------------------------------------------

def _decoder_reference(x0, mean, var):
    return 0.5 * np.sum(np.log(2 * np.pi * var) + (x0 - mean) ** 2 / var,
                        axis=1)


def _decoder_cases() -> list[Case]:
    rng = np.random.default_rng(502)
    lin = sch.linear(1000)
    cases = []
    for label, shape, var, spread in [
            ("5 points in 1-D, var = beta_1 = 1e-4 (linear schedule)",
             (5, 1), float(lin.beta[1]), 0.01),
            ("4 points in 2-D, var = 0.05", (4, 2), 0.05, 0.3),
            ("3 points in 3-D, var = 1", (3, 3), 1.0, 1.0),
            ("6 points in 1-D, var = 0.5, far from the mean", (6, 1), 0.5,
             4.0)]:
        x0 = rng.standard_normal(shape)
        mean = x0 + spread * rng.standard_normal(shape)
        cases.append(Case(label, (x0, mean, var)))
    x0 = rng.standard_normal((3, 2))
    cases.append(Case("mean = x0 exactly (only the normalising constant)",
                      (x0, x0.copy(), 0.01)))
    return cases


def check_decoder_nll(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(x0, mean, var)`` = L_0 = −log N(x_0; mean, var I)
    per row, arrays (N, D) and a number var -> (N,) (exercise
    ex-05-decoder-nll)."""
    return run_check(
        "decoder term L_0 = -log p_theta(x_0 | x_1)", answer,
        _decoder_reference, _decoder_cases(), strict=strict,
        mistakes=[
            Mistake("log(2 pi) missing",
                    lambda x, m, v: 0.5 * np.sum(
                        np.log(v) + (x - m) ** 2 / v, axis=1),
                    "the bound needs the full negative log-density: keep "
                    "the normalising constant 0.5 log(2 pi var) per "
                    "coordinate. Dropping constants is fine for a "
                    "training loss, not for the value of the bound."),
            Mistake("sign flipped (log-likelihood instead of its "
                    "negative)",
                    lambda x, m, v: -_decoder_reference(x, m, v),
                    "L_0 = -log p_theta(x_0 | x_1) is a negative "
                    "log-likelihood: 0.5 (log(2 pi var) + (x_0 - mu)^2 / "
                    "var) summed over coordinates."),
            Mistake("variance used as a standard deviation",
                    lambda x, m, v: 0.5 * np.sum(
                        np.log(2 * np.pi * v ** 2) + (x - m) ** 2 / v ** 2,
                        axis=1),
                    "var is already the variance sigma^2: use log(2 pi "
                    "var) and divide by var, not by var^2."),
            Mistake("log term not multiplied by D",
                    lambda x, m, v: 0.5 * (np.log(2 * np.pi * v)
                                           + np.sum((x - m) ** 2 / v,
                                                    axis=1)),
                    "each of the D coordinates has its own normalising "
                    "constant: the term 0.5 log(2 pi var) appears D "
                    "times."),
            Mistake("factor 1/2 missing on the squared error",
                    lambda x, m, v: np.sum(
                        0.5 * np.log(2 * np.pi * v) + (x - m) ** 2 / v,
                        axis=1),
                    "log N(x; mu, var) = -0.5 log(2 pi var) - (x - mu)^2 / "
                    "(2 var): the squared error is divided by 2 var."),
        ],
        hint="L_0 is the negative log-density of a Gaussian, eq. (5.8): "
             "check its sign, the log(2 pi var) term, that var is a "
             "variance (not a standard deviation), and a sum over the D "
             "coordinates that leaves one value per row.")


# ---------------------------------------------------------------------------
# The per-step term L_{t-1}
# ---------------------------------------------------------------------------

def _step_means(s, x0, xt, t, eps_hat):
    """μ̃_t(x_0, x_t), β̃_t and μ_θ(x_t, t) from ε̂."""
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    mu_q = (np.sqrt(ab_prev) * s.beta[t] / (1.0 - ab) * x0
            + np.sqrt(s.alpha[t]) * (1.0 - ab_prev) / (1.0 - ab) * xt)
    mu_p = ((xt - s.beta[t] / np.sqrt(1.0 - ab) * eps_hat)
            / np.sqrt(s.alpha[t]))
    return mu_q, s.beta_tilde[t], mu_p


def _per_step_reference(s, x0, xt, t, eps_hat, sigma2):
    mu_q, var_q, mu_p = _step_means(s, x0, xt, t, eps_hat)
    full = np.ones_like(x0)
    return _kl(mu_q, var_q * full, mu_p, sigma2 * full)


def _per_step_with(kl):
    def wrong(s, x0, xt, t, eps_hat, sigma2):
        mu_q, var_q, mu_p = _step_means(s, x0, xt, t, eps_hat)
        full = np.ones_like(x0)
        return kl(mu_q, var_q * full, mu_p, sigma2 * full)
    return wrong


def _per_step_no_d(s, x0, xt, t, eps_hat, sigma2):
    mu_q, var_q, mu_p = _step_means(s, x0, xt, t, eps_hat)
    variance_part = 0.5 * (np.log(sigma2 / var_q) + var_q / sigma2 - 1.0)
    return variance_part + np.sum((mu_q - mu_p) ** 2, axis=1) / (2 * sigma2)


def _per_step_squared_again(s, x0, xt, t, eps_hat, sigma2):
    mu_q, var_q, mu_p = _step_means(s, x0, xt, t, eps_hat)
    full = np.ones_like(x0)
    return _kl(mu_q, var_q * full, mu_p, sigma2 ** 2 * full)


def _per_step_beta_posterior(s, x0, xt, t, eps_hat, sigma2):
    mu_q, _, mu_p = _step_means(s, x0, xt, t, eps_hat)
    full = np.ones_like(x0)
    return _kl(mu_q, s.beta[t] * full, mu_p, sigma2 * full)


def _per_step_mean_only(s, x0, xt, t, eps_hat, sigma2):
    mu_q, _, mu_p = _step_means(s, x0, xt, t, eps_hat)
    return np.sum((mu_q - mu_p) ** 2, axis=1) / (2 * sigma2)


def _per_step_cases() -> list[Case]:
    rng = np.random.default_rng(503)
    lin = sch.linear(1000)
    cos = sch.cosine(50)
    cases = []
    for label, s, t, shape, sigma2 in [
            ("linear(1000), t = 500, sigma^2 = beta_t, 5 points in 1-D",
             lin, 500, (5, 1), lin.beta[500]),
            ("linear(1000), t = 500, sigma^2 = beta_tilde_t, 4 points in "
             "2-D", lin, 500, (4, 2), lin.beta_tilde[500]),
            ("linear(1000), t = 2 (first KL term), sigma^2 = beta_t",
             lin, 2, (3, 1), lin.beta[2]),
            ("cosine(50), t = 25, sigma^2 = beta_t, 3 points in 3-D",
             cos, 25, (3, 3), cos.beta[25]),
            ("cosine(50), t = 50 (last step), sigma^2 = beta_tilde_t",
             cos, 50, (4, 2), cos.beta_tilde[50]),
            ("constant(20, 0.1), t = 10, sigma^2 = 0.07, 6 points in 2-D",
             sch.constant(20, 0.1), 10, (6, 2), 0.07)]:
        x0 = 1.2 * rng.standard_normal(shape)
        eps = rng.standard_normal(shape)
        ab = s.alpha_bar[t]
        xt = np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * eps
        eps_hat = eps + 0.3 * rng.standard_normal(shape)
        cases.append(Case(label, (s, x0, xt, t, eps_hat, float(sigma2))))
    return cases


def check_per_step_kl(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, x0, xt, t, eps_hat, sigma2)`` = L_{t−1} =
    KL(q(x_{t−1} | x_t, x_0) ‖ N(μ_θ(x_t, t), σ² I)) per row, t >= 2
    (exercise ex-05-per-step-kl)."""
    return run_check(
        "per-step term L_(t-1) of the bound", answer, _per_step_reference,
        _per_step_cases(), strict=strict,
        precision_note=(
            "At t = 2 of linear(1000), mu_tilde - mu_theta is the "
            "difference of two nearly equal numbers, and its square is "
            "divided by sigma^2 = beta_2 (about 1e-4): float32 keeps only "
            "2 or 3 significant digits of L_1 there."),
        mistakes=[
            Mistake("variance passed where a log-variance is expected",
                    _per_step_with(_kl_logvar_slip),
                    "your numbers match the log-variance form of the KL "
                    "fed with variances (beta_tilde_t and sigma^2 instead "
                    "of their logs). Pass np.log(var) to a log-variance "
                    "formula, or use the variance form of the Gaussian "
                    "KL, eq. (5.6)."),
            Mistake("sigma^4 instead of sigma^2 under the squared mean "
                    "difference", _per_step_with(_kl_sigma4),
                    "the mean term is ||mu_tilde - mu_theta||^2 / "
                    "(2 sigma^2): sigma2 is already the variance; do not "
                    "square it."),
            Mistake("KL the wrong way round", _per_step_with(_kl_swapped),
                    "L_(t-1) = KL(q(x_(t-1) | x_t, x_0) || p_theta(x_(t-1) "
                    "| x_t)): the forward posterior comes first, so you "
                    "divide by the model's variance sigma^2."),
            Mistake("variance part not multiplied by D", _per_step_no_d,
                    "each of the D coordinates has its own variance "
                    "mismatch: the term 0.5 (log(sigma^2 / beta_tilde) + "
                    "beta_tilde / sigma^2 - 1) is multiplied by D."),
            Mistake("sigma2 squared again (used as a standard deviation)",
                    _per_step_squared_again,
                    "sigma2 is the variance sigma_t^2 of p_theta; use it "
                    "as it is."),
            Mistake("posterior variance beta_t instead of beta_tilde_t",
                    _per_step_beta_posterior,
                    "the first distribution is the posterior q(x_(t-1) | "
                    "x_t, x_0), whose variance is beta_tilde_t = beta_t "
                    "(1 - alpha_bar_(t-1)) / (1 - alpha_bar_t), not the "
                    "forward variance beta_t."),
            Mistake("variance part of the KL left out",
                    _per_step_mean_only,
                    "the KL also compares the variances: add D times "
                    "0.5 (log(sigma^2 / beta_tilde_t) + beta_tilde_t / "
                    "sigma^2 - 1). It is constant in theta, but it is "
                    "part of the value of L_(t-1) (and it is 0 only "
                    "when sigma^2 = beta_tilde_t)."),
        ],
        hint="build the two Gaussians of the KL separately and test each: "
             "the posterior (eqs. (4.4) and (4.5) of Chapter 4, from x_0 "
             "and x_t) and the model step (mean from eps_hat as in eq. "
             "(4.7), variance sigma_t^2); then apply eq. (5.6) with the "
             "posterior first. At t = 2 the two means are close, so "
             "compute in float64.")


# ---------------------------------------------------------------------------
# The weight w_t
# ---------------------------------------------------------------------------

def _weight_reference(s, t, sigma2):
    return (s.beta[t] ** 2
            / (2 * sigma2 * s.alpha[t] * (1.0 - s.alpha_bar[t])))


def _weight_cases() -> list[Case]:
    lin = sch.linear(1000)
    cos = sch.cosine(50)
    return [
        Case("linear(1000), t = 1, sigma^2 = beta_1",
             (lin, 1, float(lin.beta[1]))),
        Case("linear(1000), t = 500, sigma^2 = beta_tilde_t",
             (lin, 500, float(lin.beta_tilde[500]))),
        Case("linear(1000), t = 1000, sigma^2 = beta_t",
             (lin, 1000, float(lin.beta[1000]))),
        Case("cosine(50), t = 10, sigma^2 = beta_t",
             (cos, 10, float(cos.beta[10]))),
        Case("cosine(50), t = 49, sigma^2 = beta_tilde_t",
             (cos, 49, float(cos.beta_tilde[49]))),
        Case("constant(20, 0.1), t = 3, sigma^2 = 0.05",
             (sch.constant(20, 0.1), 3, 0.05)),
    ]


def check_elbo_weight(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, t, sigma2)`` = w_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t))
    (exercise ex-05-elbo-weight)."""
    def formula(numerator, sigma_power=1, alpha="alpha", two=2.0,
                noise_power=1.0):
        def wrong(s, t, sigma2):
            a = s.alpha[t] if alpha == "alpha" else (
                s.alpha_bar[t] if alpha == "alpha_bar" else 1.0)
            return (numerator(s.beta[t])
                    / (two * sigma2 ** sigma_power * a
                       * (1.0 - s.alpha_bar[t]) ** noise_power))
        return wrong

    return run_check(
        "weight w_t of the per-step term", answer, _weight_reference,
        _weight_cases(), strict=strict,
        mistakes=[
            Mistake("alpha_t missing",
                    formula(lambda b: b ** 2, alpha="none"),
                    "mu_tilde - mu_theta = beta_t / (sqrt(alpha_t) "
                    "sqrt(1 - alpha_bar_t)) (eps_theta - eps): squaring "
                    "it gives a factor 1 / alpha_t."),
            Mistake("factor 2 missing", formula(lambda b: b ** 2, two=1.0),
                    "the Gaussian KL divides the squared mean difference "
                    "by 2 sigma_t^2, not by sigma_t^2."),
            Mistake("sqrt(1 - alpha_bar_t) instead of 1 - alpha_bar_t",
                    formula(lambda b: b ** 2, noise_power=0.5),
                    "the coefficient beta_t / sqrt(1 - alpha_bar_t) is "
                    "squared, so w_t has (1 - alpha_bar_t), without "
                    "a square root."),
            Mistake("beta_t instead of beta_t^2", formula(lambda b: b),
                    "the coefficient of eps in mu_tilde is beta_t / "
                    "(sqrt(alpha_t) sqrt(1 - alpha_bar_t)); squaring it "
                    "gives beta_t^2."),
            Mistake("sigma^4 instead of sigma^2",
                    formula(lambda b: b ** 2, sigma_power=2),
                    "sigma2 is already the variance sigma_t^2; the KL "
                    "divides by 2 sigma_t^2."),
            Mistake("alpha_bar_t instead of alpha_t",
                    formula(lambda b: b ** 2, alpha="alpha_bar"),
                    "the factor comes from 1 / sqrt(alpha_t) in mu_tilde "
                    "(one step), not from alpha_bar_t."),
        ],
        hint="derive w_t from eq. (5.9): it is the square of the eps "
             "coefficient of the mean difference divided by 2 sigma_t^2. "
             "Check one t by hand and that sigma_t^2 enters as a "
             "variance.")
