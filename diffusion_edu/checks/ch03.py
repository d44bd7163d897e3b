"""Checks for the coding exercises of chapter 3 (the closed form).

Each check calls the learner's function on fixed, seeded inputs (linear,
cosine and constant schedules, t = 1, t = T and one t per example, data
of several dimensions), compares the result with
:mod:`diffusion_edu.schedules`, :mod:`diffusion_edu.gaussian` and
:mod:`diffusion_edu.toy_data`, and recognises the classic mistakes:
the product up to T instead of t, √(1 − ᾱ_t) used as a variance, a
missing square root on the noise, means or variances of the mixture not
rescaled, the KL divergence in the wrong direction, and so on.
"""

from __future__ import annotations

import numpy as np

from .. import elbo
from .. import gaussian as gs
from .. import schedules as sch
from .. import toy_data as td
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_alpha_bar",
    "check_q_sample",
    "check_noised_mixture_pdf",
    "check_prior_kl",
]


# ---------------------------------------------------------------------------
# alpha_bar from beta
# ---------------------------------------------------------------------------

def _alpha_bar_cases() -> list[Case]:
    return [
        Case("linear schedule, T = 1000", (sch.linear(1000).beta,)),
        Case("cosine schedule, T = 100", (sch.cosine(100).beta,)),
        Case("hand example beta = 0.1, 0.2, 0.3, 0.4",
             (np.array([0.0, 0.1, 0.2, 0.3, 0.4]),)),
        Case("constant beta = 0.3, T = 5", (sch.constant(5, 0.3).beta,)),
        Case("one step, T = 1, beta_1 = 0.5", (np.array([0.0, 0.5]),)),
    ]


def _alpha_bar_reference(beta):
    return sch.from_betas(beta[1:]).alpha_bar


def _alpha_bar_up_to_T(beta):
    return np.full(beta.shape, np.prod(1.0 - beta))


def _alpha_bar_up_to_T_except_0(beta):
    out = np.full(beta.shape, np.prod(1.0 - beta))
    out[0] = 1.0
    return out


def _alpha_bar_cumprod_beta(beta):
    return np.cumprod(beta)


def _alpha_bar_shifted(beta):
    return np.concatenate([[1.0], np.cumprod(1.0 - beta)[:-1]])


def _alpha_bar_exp_sum(beta):
    return np.exp(-np.cumsum(beta))


def _alpha_bar_sqrt(beta):
    return np.cumprod(np.sqrt(1.0 - beta))


def _alpha_bar_one_minus_cumsum(beta):
    return 1.0 - np.cumsum(beta)


def _alpha_bar_one_minus_cumprod_beta(beta):
    return 1.0 - np.cumprod(beta)


def check_alpha_bar(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(beta)`` = the t-indexed alpha_bar_t = prod_(s<=t)
    (1 - beta_s) (exercise ex-03-alpha-bar)."""
    up_to_T_hint = (
        "alpha_bar_t is the product of alpha_s for s = 1, ..., t (upper "
        "limit t, not T): it changes with t. Use a cumulative product, "
        "np.cumprod.")
    return run_check(
        "alpha_bar_t from beta_t", answer, _alpha_bar_reference,
        _alpha_bar_cases(), strict=strict,
        mistakes=[
            Mistake("product up to T instead of t", _alpha_bar_up_to_T,
                    up_to_T_hint),
            Mistake("product up to T instead of t (for t >= 1)",
                    _alpha_bar_up_to_T_except_0, up_to_T_hint),
            Mistake("cumulative product of beta instead of alpha",
                    _alpha_bar_cumprod_beta,
                    "alpha_bar multiplies the alpha_s = 1 - beta_s (the "
                    "fractions of variance kept), not the beta_s."),
            Mistake("product up to t - 1 (off by one)", _alpha_bar_shifted,
                    "alpha_bar[t] includes alpha_t itself: alpha_bar[1] = "
                    "1 - beta[1]. Only alpha_bar[0] = 1."),
            Mistake("the approximation exp(-sum beta_s)",
                    _alpha_bar_exp_sum,
                    "exp(-sum_s beta_s) is only an approximation of "
                    "prod_s (1 - beta_s) (it is good when every beta_s is "
                    "small): compute the product exactly."),
            Mistake("product of sqrt(alpha_s)", _alpha_bar_sqrt,
                    "alpha_bar_t is the product of the alpha_s themselves; "
                    "its square root sqrt(alpha_bar_t) is the coefficient "
                    "of x_0, not alpha_bar_t."),
            Mistake("1 - (sum of beta_s)", _alpha_bar_one_minus_cumsum,
                    "1 - sum_s beta_s keeps only the first-order terms of "
                    "prod_s (1 - beta_s) (and turns negative once the "
                    "betas add up to more than 1). Multiply the factors "
                    "1 - beta_s, do not add the beta_s."),
            Mistake("1 - (product of beta_s)",
                    _alpha_bar_one_minus_cumprod_beta,
                    "the product of the 1 - beta_s is not 1 minus the "
                    "product of the beta_s: take 1 - beta first, then the "
                    "cumulative product."),
        ],
        hint="check by hand on the example beta = [0, 0.1, 0.2, 0.3, 0.4]: "
             "the answer must be [1, 0.9, 0.72, 0.504, 0.3024], of the same "
             "length as beta, with entry t the product of the first t "
             "factors 1 - beta_s.")


# ---------------------------------------------------------------------------
# q_sample
# ---------------------------------------------------------------------------

def _q_sample_cases() -> list[Case]:
    rng = np.random.default_rng(301)
    lin = sch.linear(1000).alpha_bar
    cos = sch.cosine(50).alpha_bar
    short = sch.linear(20, 1e-3, 0.2).alpha_bar

    def data(n, d):
        return (1.5 * rng.standard_normal((n, d)),
                rng.standard_normal((n, d)))

    x, e = data(6, 2)
    x1, e1 = data(5, 1)
    x3, e3 = data(4, 3)
    xs, es = data(3, 3)
    xt, et = data(7, 2)
    return [
        Case("linear T = 1000, t = 300, 6 points in 2-D",
             (lin, x, 300, e)),
        Case("cosine T = 50, t = 1, 5 points in 1-D", (cos, x1, 1, e1)),
        Case("cosine T = 50, t = T = 50, 4 points in 3-D",
             (cos, x3, 50, e3)),
        Case("linear T = 20, one t per example (array of shape (N,)), "
             "3 points in 3-D", (short, xs, np.array([1, 7, 20]), es)),
        Case("linear T = 1000, one t per example, 7 points in 2-D",
             (lin, xt, np.array([1, 5, 50, 250, 500, 999, 1000]), et)),
    ]


def _q_sample_reference(alpha_bar, x0, t, noise):
    s = sch.from_alpha_bar(alpha_bar[1:])
    return gs.q_sample(s, x0, t, noise)


def _q_sample_with(alpha_bar, x0, t, noise, signal, noise_scale,
                   shift=0):
    ab = sch.coef(alpha_bar, np.asarray(t) - shift, x0, t_min=0)
    return signal(ab) * x0 + noise_scale(ab) * noise


def _q_sample_var_as_std(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, np.sqrt,
                          lambda ab: (1 - ab) ** 0.25)


def _q_sample_no_sqrt_noise(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, np.sqrt,
                          lambda ab: 1 - ab)


def _q_sample_no_sqrt_signal(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, lambda ab: ab,
                          lambda ab: np.sqrt(1 - ab))


def _q_sample_no_sqrt_at_all(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, lambda ab: ab,
                          lambda ab: 1 - ab)


def _q_sample_alpha_bar_T(alpha_bar, x0, t, noise):
    T = alpha_bar.shape[0] - 1
    return _q_sample_with(alpha_bar, x0, np.full(x0.shape[0], T), noise,
                          np.sqrt, lambda ab: np.sqrt(1 - ab))


def _q_sample_previous(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, np.sqrt,
                          lambda ab: np.sqrt(1 - ab), shift=1)


def _q_sample_one_minus_sqrt(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, np.sqrt,
                          lambda ab: 1 - np.sqrt(ab))


def _q_sample_alpha_bar_signal(alpha_bar, x0, t, noise):
    return _q_sample_with(alpha_bar, x0, t, noise, lambda ab: ab,
                          lambda ab: np.sqrt(1 - ab ** 2))


def check_q_sample(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(alpha_bar, x0, t, noise)`` = sqrt(alpha_bar_t) x0 +
    sqrt(1 - alpha_bar_t) noise (exercise ex-03-q-sample)."""
    return run_check(
        "q_sample: x_t from x_0 in one jump", answer, _q_sample_reference,
        _q_sample_cases(), strict=strict,
        mistakes=[
            Mistake("sqrt(1 - alpha_bar_t) used as a variance",
                    _q_sample_var_as_std,
                    "1 - alpha_bar_t is the variance of the noise in x_t; "
                    "the noise is multiplied by its square root, "
                    "sqrt(1 - alpha_bar_t), not by the square root of "
                    "sqrt(1 - alpha_bar_t)."),
            Mistake("missing square root on the noise",
                    _q_sample_no_sqrt_noise,
                    "1 - alpha_bar_t is a variance: multiply the noise by "
                    "the standard deviation sqrt(1 - alpha_bar_t)."),
            Mistake("missing square root on the signal",
                    _q_sample_no_sqrt_signal,
                    "the mean of q(x_t | x_0) is sqrt(alpha_bar_t) * x0: "
                    "x0 is scaled by the square root."),
            Mistake("no square roots at all", _q_sample_no_sqrt_at_all,
                    "both coefficients are square roots: "
                    "sqrt(alpha_bar_t) for x0, sqrt(1 - alpha_bar_t) for "
                    "the noise, so that the variances add up to 1."),
            Mistake("alpha_bar_T instead of alpha_bar_t",
                    _q_sample_alpha_bar_T,
                    "use alpha_bar[t], the product up to t; alpha_bar[-1] "
                    "is alpha_bar_T, the same for every t."),
            Mistake("alpha_bar_(t-1) instead of alpha_bar_t (off by one)",
                    _q_sample_previous,
                    "alpha_bar is indexed by the book's t: alpha_bar[t] is "
                    "alpha_bar_t (alpha_bar[0] = 1 belongs to x_0)."),
            Mistake("1 - sqrt(alpha_bar_t) as the noise coefficient",
                    _q_sample_one_minus_sqrt,
                    "the noise coefficient is the square root of the "
                    "noise variance 1 - alpha_bar_t, i.e. "
                    "sqrt(1 - alpha_bar_t), not 1 - sqrt(alpha_bar_t)."),
            Mistake("alpha_bar_t as the signal coefficient, with "
                    "sqrt(1 - alpha_bar_t^2) for the noise",
                    _q_sample_alpha_bar_signal,
                    "the squares of your coefficients add up to 1, but "
                    "the signal coefficient is sqrt(alpha_bar_t) and the "
                    "noise coefficient sqrt(1 - alpha_bar_t): alpha_bar_t "
                    "is the share of the variance kept, not the scale."),
        ],
        hint="look at which cases fail. If only the cases with one t per "
             "example fail, alpha_bar[t] has shape (N,) and must become a "
             "column of shape (N, 1) to scale row i by its own step "
             "(np.reshape(alpha_bar[t], (-1, 1))). Otherwise compute one "
             "row by hand: its two coefficients must be square roots whose "
             "squares, alpha_bar[t] and 1 - alpha_bar[t], add up to 1.")


# ---------------------------------------------------------------------------
# The exact marginal of a noised 1-D Gaussian mixture
# ---------------------------------------------------------------------------

def _mixture_cases() -> list[Case]:
    grid = np.linspace(-4.0, 4.0, 41)
    two = (np.array([0.3, 0.7]), np.array([-2.0, 1.5]),
           np.array([0.09, 0.25]))
    four = td.GaussianMixture1D()
    four_args = (four.weights.copy(), four.means[:, 0].copy(),
                 four.variances[:, 0].copy())
    three = (np.array([0.5, 0.25, 0.25]), np.array([0.0, 3.0, -3.0]),
             np.array([1.0, 0.5, 0.04]))
    return [
        Case("2 components, alpha_bar_t = 0.5", (grid, *two, 0.5)),
        Case("the book's 4-component mixture, alpha_bar_t = 0.9",
             (grid, *four_args, 0.9)),
        Case("the book's 4-component mixture, alpha_bar_t = 0.02",
             (grid, *four_args, 0.02)),
        Case("3 components, alpha_bar_t = 0.3", (grid, *three, 0.3)),
        Case("3 components, alpha_bar_t = 0.999", (grid, *three, 0.999)),
    ]


def _mixture_reference(x, weights, means, variances, alpha_bar_t):
    # q(x_t) is the mixture with means sqrt(ab) m_k and variances
    # ab v_k + 1 - ab; evaluate it with the package's toy_data.
    ab = alpha_bar_t
    noised = td.GaussianMixture1D(weights, np.sqrt(ab) * means,
                                  ab * variances + 1.0 - ab)
    return noised.pdf(np.asarray(x, dtype=float)[:, None])


def _mixture_pdf(x, weights, mean, var):
    x = np.asarray(x, dtype=float)[:, None]
    dens = np.exp(-(x - mean) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)
    return dens @ weights


def _mixture_means_not_scaled(x, w, m, v, ab):
    return _mixture_pdf(x, w, m, ab * v + 1 - ab)


def _mixture_var_not_scaled(x, w, m, v, ab):
    return _mixture_pdf(x, w, np.sqrt(ab) * m, v + 1 - ab)


def _mixture_stds_added(x, w, m, v, ab):
    return _mixture_pdf(x, w, np.sqrt(ab) * m,
                        (np.sqrt(ab * v) + np.sqrt(1 - ab)) ** 2)


def _mixture_mean_times_alpha_bar(x, w, m, v, ab):
    return _mixture_pdf(x, w, ab * m, ab * v + 1 - ab)


def _mixture_noise_var_missing(x, w, m, v, ab):
    return _mixture_pdf(x, w, np.sqrt(ab) * m, ab * v)


def _mixture_variance_as_std(x, w, m, v, ab):
    var = ab * v + 1 - ab
    x = np.asarray(x, dtype=float)[:, None]
    dens = (np.exp(-(x - np.sqrt(ab) * m) ** 2 / (2 * var ** 2))
            / np.sqrt(2 * np.pi * var ** 2))
    return dens @ w


def _mixture_weights_ignored(x, w, m, v, ab):
    return _mixture_pdf(x, np.ones_like(w), np.sqrt(ab) * m, ab * v + 1 - ab)


def _mixture_normaliser_without_variance(x, w, m, v, ab):
    var = ab * v + 1 - ab
    x = np.asarray(x, dtype=float)[:, None]
    dens = (np.exp(-(x - np.sqrt(ab) * m) ** 2 / (2 * var))
            / np.sqrt(2 * np.pi))
    return dens @ w


def _mixture_sqrt_alpha_bar_variance(x, w, m, v, ab):
    return _mixture_pdf(x, w, np.sqrt(ab) * m, np.sqrt(ab) * v + 1 - ab)


def check_noised_mixture_pdf(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(x, weights, means, variances, alpha_bar_t)`` = the
    density of q(x_t) for 1-D mixture data (exercise
    ex-03-noised-mixture)."""
    return run_check(
        "the exact marginal q(x_t) of a 1-D mixture", answer,
        _mixture_reference, _mixture_cases(), strict=strict,
        mistakes=[
            Mistake("means not scaled by sqrt(alpha_bar_t)",
                    _mixture_means_not_scaled,
                    "x_t = sqrt(alpha_bar_t) x_0 + noise: the centre m_k of "
                    "each component moves to sqrt(alpha_bar_t) m_k."),
            Mistake("component variances not scaled by alpha_bar_t",
                    _mixture_var_not_scaled,
                    "Var(sqrt(alpha_bar_t) x_0) = alpha_bar_t v_k: each "
                    "component's variance becomes alpha_bar_t v_k + "
                    "1 - alpha_bar_t."),
            Mistake("standard deviations added instead of variances",
                    _mixture_stds_added,
                    "for independent Gaussians the *variances* add: "
                    "alpha_bar_t v_k + (1 - alpha_bar_t), not the standard "
                    "deviations."),
            Mistake("means scaled by alpha_bar_t instead of its square "
                    "root", _mixture_mean_times_alpha_bar,
                    "the mean of q(x_t | x_0) is sqrt(alpha_bar_t) x_0, so "
                    "the centres become sqrt(alpha_bar_t) m_k."),
            Mistake("noise variance 1 - alpha_bar_t missing",
                    _mixture_noise_var_missing,
                    "the noise sqrt(1 - alpha_bar_t) eps adds the variance "
                    "1 - alpha_bar_t to every component."),
            Mistake("variance used as a standard deviation in the normal "
                    "density", _mixture_variance_as_std,
                    "N(x; m, v) = exp(-(x - m)^2 / (2 v)) / sqrt(2 pi v) "
                    "takes the variance v (not its square)."),
            Mistake("mixture weights ignored", _mixture_weights_ignored,
                    "q(x_t) is a *weighted* sum of the noised components: "
                    "multiply component k by w_k (the weights sum to 1, "
                    "so the density integrates to 1)."),
            Mistake("normal density without the variance in the "
                    "normaliser", _mixture_normaliser_without_variance,
                    "N(x; m, v) = exp(-(x - m)^2 / (2 v)) / sqrt(2 pi v): "
                    "the variance v appears in the normaliser too, not "
                    "only in the exponent."),
            Mistake("component variance sqrt(alpha_bar_t) v_k + "
                    "1 - alpha_bar_t", _mixture_sqrt_alpha_bar_variance,
                    "scaling x_0 by sqrt(alpha_bar_t) scales its variance "
                    "by the square, alpha_bar_t: the component variance "
                    "is alpha_bar_t v_k + 1 - alpha_bar_t."),
        ],
        hint="test your function on one component (weights [1.0]) with "
             "alpha_bar_t = 1, where q(x_t) must be the data density "
             "itself, and with alpha_bar_t close to 0, where it must be "
             "N(0, 1); then check the centre sqrt(alpha_bar_t) m_k and the "
             "variance alpha_bar_t v_k + 1 - alpha_bar_t of each component "
             "and the weights w_k.")


# ---------------------------------------------------------------------------
# The prior term KL(q(x_T | x_0) || N(0, I))
# ---------------------------------------------------------------------------

def _prior_kl_cases() -> list[Case]:
    rng = np.random.default_rng(304)
    return [
        Case("6 points in 2-D, alpha_bar_T = 0.6",
             (1.2 * rng.standard_normal((6, 2)), 0.6)),
        Case("5 points in 1-D, alpha_bar_T = 4e-5",
             (rng.standard_normal((5, 1)), 4e-5)),
        Case("4 points in 3-D, alpha_bar_T = 0.05",
             (2.0 * rng.standard_normal((4, 3)), 0.05)),
        Case("x_0 = 0 in 2-D (only the variance term), alpha_bar_T = 0.3",
             (np.zeros((2, 2)), 0.3)),
        Case("3 points in 5-D, alpha_bar_T = 0.9",
             (rng.standard_normal((3, 5)), 0.9)),
    ]


def _kl_terms(x0, ab, var=None, mean_sq=None):
    """0.5 * sum_d (var + mean^2 - 1 - log var) for each example."""
    var = 1.0 - ab if var is None else var
    mean_sq = ab * x0 ** 2 if mean_sq is None else mean_sq
    return 0.5 * np.sum(var + mean_sq - 1.0 - np.log(var), axis=1)


def _prior_kl_reference(x0, alpha_bar_T):
    # A one-step schedule with alpha_bar_1 = alpha_bar_T has the same
    # q(x_T | x_0); elbo.prior_kl sums the Gaussian KL over coordinates.
    return elbo.prior_kl(sch.from_alpha_bar([alpha_bar_T]), x0)


def _prior_kl_mean_over_dims(x0, ab):
    return _kl_terms(x0, ab) / x0.shape[1]


def _prior_kl_std_as_var(x0, ab):
    return _kl_terms(x0, ab, var=np.sqrt(1.0 - ab))


def _prior_kl_mean_not_squared(x0, ab):
    return _kl_terms(x0, ab, mean_sq=np.sqrt(ab) * x0 ** 2)


def _prior_kl_reversed(x0, ab):
    v = 1.0 - ab
    return 0.5 * np.sum(1.0 / v + ab * x0 ** 2 / v - 1.0 + np.log(v),
                        axis=1)


def _prior_kl_no_half(x0, ab):
    return 2.0 * _kl_terms(x0, ab)


def _prior_kl_variance_term_once(x0, ab):
    # D/2 [...] of eq. (3.9) written as 1/2 [...]: the variance
    # term counted once instead of once per coordinate.
    return (0.5 * (-ab - np.log(1.0 - ab))
            + ab / 2 * np.sum(x0 ** 2, axis=1))


def _prior_kl_no_minus_one(x0, ab):
    v = 1.0 - ab
    return 0.5 * np.sum(v + ab * x0 ** 2 - np.log(v), axis=1)


def _prior_kl_plus_log(x0, ab):
    v = 1.0 - ab
    return 0.5 * np.sum(v + ab * x0 ** 2 - 1.0 + np.log(v), axis=1)


def check_prior_kl(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(x0, alpha_bar_T)`` = KL(q(x_T | x_0) || N(0, I)) for
    each example, shape (N,) (exercise ex-03-prior-kl)."""
    return run_check(
        "the prior term KL(q(x_T | x_0) || N(0, I))", answer,
        _prior_kl_reference, _prior_kl_cases(), strict=strict,
        mistakes=[
            Mistake("mean over the dimensions instead of the sum",
                    _prior_kl_mean_over_dims,
                    "the KL divergence of independent coordinates is the "
                    "*sum* of the per-coordinate KLs (np.sum over axis 1)."),
            Mistake("standard deviation used as the variance",
                    _prior_kl_std_as_var,
                    "the variance of q(x_T | x_0) is 1 - alpha_bar_T; "
                    "sqrt(1 - alpha_bar_T) is its standard deviation."),
            Mistake("mean not squared", _prior_kl_mean_not_squared,
                    "the mean is sqrt(alpha_bar_T) x_0, so its square is "
                    "alpha_bar_T x_0^2."),
            Mistake("KL in the wrong direction", _prior_kl_reversed,
                    "KL is not symmetric: the prior term is KL(q || N(0, I))"
                    ", with q = N(mu, v) first: 0.5 (v + mu^2 - 1 - log v) "
                    "per coordinate."),
            Mistake("variance term not multiplied by D",
                    _prior_kl_variance_term_once,
                    "the variance term 0.5 (v - 1 - log v) is the same for "
                    "every coordinate, so it appears D times: D / 2 "
                    "(-alpha_bar_T - log(1 - alpha_bar_T))."),
            Mistake("factor 1/2 missing", _prior_kl_no_half,
                    "KL(N(mu, v) || N(0, 1)) = 0.5 (v + mu^2 - 1 - log v): "
                    "do not forget the 1/2."),
            Mistake("the -1 missing", _prior_kl_no_minus_one,
                    "KL(N(mu, v) || N(0, 1)) must vanish when mu = 0 and "
                    "v = 1; without the -1 it equals 1/2 there. Per "
                    "coordinate it is 0.5 (v + mu^2 - 1 - log v)."),
            Mistake("+ log v instead of - log v", _prior_kl_plus_log,
                    "the log term comes from log(sqrt(v_2 / v_1)) with "
                    "v_1 = v and v_2 = 1, so it is -0.5 log v (positive "
                    "for v < 1)."),
        ],
        hint="two tests by hand: with alpha_bar_T = 0 the distributions are "
             "equal and the KL must be 0 for every row; with x_0 = 0 only "
             "the variance term 0.5 (v - 1 - log v) per coordinate is left "
             "(v = 1 - alpha_bar_T). Start from the 1-D Gaussian KL with "
             "mu = sqrt(alpha_bar_T) x_0 and sum over the D coordinates.")
