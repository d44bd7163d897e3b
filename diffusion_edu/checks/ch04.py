"""Checks for the coding exercises of chapter 4 (the posterior).

Each check calls the learner's function on fixed, seeded inputs (several
schedules, dimensions and time steps, including the edge cases t = 1 and
t = T), compares the result with the closed forms of the chapter, and
recognises the classic mistakes: √ᾱ_t instead of √α_t in the x_t
coefficient of μ̃_t, ᾱ_t instead of ᾱ_{t−1}, β_t instead of β̃_t, a
standard deviation returned as a variance, forgetting the uncertainty
about x_0 in the true reverse step, ...

Variances may be returned as a number, as an array of shape (N, 1) or of
the full shape: the checks compare them after broadcasting to the shape
of the mean.
"""

from __future__ import annotations

import numpy as np

from .. import schedules as sch
from ._core import Case, CheckResult, Mistake, as_array, run_check

__all__ = [
    "check_posterior_mean_var",
    "check_x0_from_eps",
    "check_posterior_mean_eps",
    "check_reverse_step_moments",
]


def _coefficients(s, t):
    """The coefficients of μ̃_t, eq. (4.5), at one int step t."""
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    coef_x0 = np.sqrt(ab_prev) * s.beta[t] / (1.0 - ab)
    coef_xt = np.sqrt(s.alpha[t]) * (1.0 - ab_prev) / (1.0 - ab)
    return coef_x0, coef_xt


def _broadcast_variance(answer):
    """Wrap ``answer`` so that a returned variance is broadcast to the
    shape of the returned mean (number, (N, 1) and (N, D) all accepted).
    """
    def wrapped(*args, **kwargs):
        out = answer(*args, **kwargs)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            return out
        mean, var = out
        try:
            mean = as_array(mean)
            var = np.broadcast_to(as_array(var), mean.shape)
        except (TypeError, ValueError):
            return out
        return mean, var
    return wrapped


def _run(title, answer, reference, cases, mistakes, strict, hint,
         **kwargs) -> CheckResult:
    if callable(answer):
        answer = _broadcast_variance(answer)
    mistakes = [Mistake(m.name, _broadcast_variance(m.wrong), m.hint)
                for m in mistakes]
    return run_check(title, answer, _broadcast_variance(reference), cases,
                     mistakes=mistakes, strict=strict, hint=hint,
                     outputs=("mean", "variance"), **kwargs)


_FIRST_STEP_NAN = (
    "the result contains NaN or infinity at t = 1. The form B / A of "
    "Step 4 of the derivation divides by 1 - alpha_bar_0 = 0 there; use "
    "the closed forms of eq. (4.4) (beta_tilde_t) and eq. (4.5) "
    "(mu_tilde_t), which are finite at t = 1 and give beta_tilde_1 = 0 "
    "and mu_tilde_1 = x_0.")


def _finite_at_first_step(answer):
    """Wrap ``answer(s, x0, xt, t)`` so that NaN or infinity at t = 1,
    the symptom of the B / A form of the derivation, raises a ValueError
    that says so (the check reports it for the t = 1 case)."""
    def wrapped(s, x0, xt, t, *args, **kwargs):
        out = answer(s, x0, xt, t, *args, **kwargs)
        if np.ndim(t) != 0 or int(t) != 1:
            return out
        try:
            finite = all(np.all(np.isfinite(as_array(part)))
                         for part in _tuple(out))
        except (TypeError, ValueError):
            return out
        if not finite:
            raise ValueError(_FIRST_STEP_NAN)
        return out
    return wrapped


def _tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _schedule_cases(seed: int, with_x0: bool = True) -> list[Case]:
    """(s, first array, x_t, t) over schedules, shapes and edge steps."""
    rng = np.random.default_rng(seed)
    lin = sch.linear(1000)
    settings = [
        ("linear(1000), t = 500, 5 points in 1-D", lin, 500, (5, 1)),
        ("linear(1000), t = 1 (edge case: first step)", lin, 1, (4, 2)),
        ("linear(1000), t = T = 1000 (last step)", lin, 1000, (3, 1)),
        ("cosine(50), t = 2, 4 points in 2-D", sch.cosine(50), 2, (4, 2)),
        ("constant(20, 0.1), t = 10, 3 points in 3-D",
         sch.constant(20, 0.1), 10, (3, 3)),
        ("cosine(10) (large steps), t = 7, 6 points in 1-D",
         sch.cosine(10), 7, (6, 1)),
    ]
    cases = []
    for label, s, t, shape in settings:
        first = (1.5 * rng.standard_normal(shape) if with_x0
                 else rng.standard_normal(shape))
        second = rng.standard_normal(shape)
        cases.append(Case(label, (s, first, second, t)))
    return cases


# ---------------------------------------------------------------------------
# Posterior mean and variance
# ---------------------------------------------------------------------------

def _posterior_reference(s, x0, xt, t):
    coef_x0, coef_xt = _coefficients(s, t)
    return coef_x0 * x0 + coef_xt * xt, s.beta_tilde[t]


def _posterior_alpha_bar_slip(s, x0, xt, t):
    coef_x0, _ = _coefficients(s, t)
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    coef_xt = np.sqrt(ab) * (1.0 - ab_prev) / (1.0 - ab)
    return coef_x0 * x0 + coef_xt * xt, s.beta_tilde[t]


def _posterior_x0_alpha_bar_t(s, x0, xt, t):
    _, coef_xt = _coefficients(s, t)
    coef_x0 = np.sqrt(s.alpha_bar[t]) * s.beta[t] / (1.0 - s.alpha_bar[t])
    return coef_x0 * x0 + coef_xt * xt, s.beta_tilde[t]


def _posterior_beta_variance(s, x0, xt, t):
    mean, _ = _posterior_reference(s, x0, xt, t)
    return mean, s.beta[t]


def _posterior_std(s, x0, xt, t):
    mean, var = _posterior_reference(s, x0, xt, t)
    return mean, np.sqrt(var)


def _posterior_swapped(s, x0, xt, t):
    coef_x0, coef_xt = _coefficients(s, t)
    return coef_xt * x0 + coef_x0 * xt, s.beta_tilde[t]


def _posterior_alpha_no_sqrt(s, x0, xt, t):
    coef_x0, _ = _coefficients(s, t)
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    coef_xt = s.alpha[t] * (1.0 - ab_prev) / (1.0 - ab)
    return coef_x0 * x0 + coef_xt * xt, s.beta_tilde[t]


def check_posterior_mean_var(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, x0, xt, t)`` = (μ̃_t, β̃_t) of q(x_{t−1} | x_t,
    x_0) for an int t (exercise ex-04-posterior-mean-var)."""
    if callable(answer):
        answer = _finite_at_first_step(answer)
    return _run(
        "posterior mean and variance of q(x_(t-1) | x_t, x_0)", answer,
        _posterior_reference, _schedule_cases(401), strict=strict,
        mistakes=[
            Mistake("sqrt(alpha_bar_t) instead of sqrt(alpha_t)",
                    _posterior_alpha_bar_slip,
                    "the x_t coefficient is sqrt(alpha_t) (1 - "
                    "alpha_bar_(t-1)) / (1 - alpha_bar_t): x_t depends on "
                    "x_(t-1) through ONE step, q(x_t | x_(t-1)), whose "
                    "mean is sqrt(alpha_t) x_(t-1). sqrt(alpha_bar_t) "
                    "belongs to q(x_t | x_0)."),
            Mistake("alpha_bar_t instead of alpha_bar_(t-1) in the x_0 "
                    "coefficient", _posterior_x0_alpha_bar_t,
                    "the x_0 coefficient is sqrt(alpha_bar_(t-1)) beta_t "
                    "/ (1 - alpha_bar_t): x_(t-1) is reached from x_0 in "
                    "t - 1 steps, so its mean given x_0 is "
                    "sqrt(alpha_bar_(t-1)) x_0."),
            Mistake("variance beta_t instead of beta_tilde_t",
                    _posterior_beta_variance,
                    "the posterior variance is beta_tilde_t = beta_t "
                    "(1 - alpha_bar_(t-1)) / (1 - alpha_bar_t), smaller "
                    "than beta_t (and 0 at t = 1): knowing x_0 removes "
                    "some uncertainty. Use s.beta_tilde[t]."),
            Mistake("standard deviation instead of variance",
                    _posterior_std,
                    "return the variance beta_tilde_t, not its square "
                    "root: in this book N(mu, v) always takes a "
                    "variance."),
            Mistake("coefficients of x_0 and x_t swapped",
                    _posterior_swapped,
                    "the coefficient with beta_t in the numerator "
                    "multiplies x_0; the one with (1 - alpha_bar_(t-1)) "
                    "multiplies x_t. Check: at t = 1 the mean must be "
                    "x_0 itself."),
            Mistake("alpha_t without the square root",
                    _posterior_alpha_no_sqrt,
                    "the x_t coefficient has sqrt(alpha_t), the mean "
                    "factor of one forward step, not alpha_t."),
        ],
        hint="compare your two coefficients with eq. (4.5) one factor at "
             "a time, for one t by hand: the x_0 coefficient uses "
             "alpha_bar at t - 1 (s.alpha_bar[t - 1]), the x_t "
             "coefficient alpha_t (not alpha_bar_t), and their sum is "
             "not 1. The variance is eq. (4.4), a variance, not a "
             "standard deviation.")


# ---------------------------------------------------------------------------
# x_0 from x_t and epsilon
# ---------------------------------------------------------------------------

def _x0_reference(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return (xt - np.sqrt(1.0 - ab) * eps) / np.sqrt(ab)


def _x0_no_sqrt_denominator(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return (xt - np.sqrt(1.0 - ab) * eps) / ab


def _x0_variance_as_scale(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return (xt - (1.0 - ab) * eps) / np.sqrt(ab)


def _x0_plus(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return (xt + np.sqrt(1.0 - ab) * eps) / np.sqrt(ab)


def _x0_alpha_not_bar(s, xt, t, eps):
    a = s.alpha[t]
    return (xt - np.sqrt(1.0 - a) * eps) / np.sqrt(a)


def _x0_cases() -> list[Case]:
    """(s, x_t, t, eps): the argument order of gaussian.predict_x0."""
    return [Case(c.label, (c.args[0], c.args[1], c.args[3], c.args[2]))
            for c in _schedule_cases(402, with_x0=False)]


def check_x0_from_eps(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, xt, t, eps)`` = x_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t
    (exercise ex-04-x0-from-eps)."""
    return run_check(
        "x_0 from x_t and the noise", answer, _x0_reference, _x0_cases(),
        strict=strict,
        mistakes=[
            Mistake("divided by alpha_bar_t instead of sqrt(alpha_bar_t)",
                    _x0_no_sqrt_denominator,
                    "x_t = sqrt(alpha_bar_t) x_0 + ..., so divide by the "
                    "signal coefficient sqrt(alpha_bar_t), not by "
                    "alpha_bar_t."),
            Mistake("1 - alpha_bar_t instead of its square root",
                    _x0_variance_as_scale,
                    "1 - alpha_bar_t is the VARIANCE of the noise part; "
                    "eps is scaled by its square root."),
            Mistake("plus instead of minus", _x0_plus,
                    "solve x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - "
                    "alpha_bar_t) eps for x_0: the noise is subtracted."),
            Mistake("alpha_t instead of alpha_bar_t", _x0_alpha_not_bar,
                    "x_t is t steps away from x_0: use the product "
                    "alpha_bar_t = s.alpha_bar[t], not the one-step "
                    "alpha_t."),
        ],
        hint="solve eq. (3.7) of Chapter 3 for x_0 on paper first, then "
             "test your function on it: with x_t built from a known x_0 "
             "and eps, it must give that x_0 back exactly. Watch the "
             "order of operations (subtract before you divide) and "
             "which coefficients carry a square root.")


# ---------------------------------------------------------------------------
# Posterior mean from x_t and epsilon
# ---------------------------------------------------------------------------

def _mean_eps_reference(s, xt, t, eps):
    return ((xt - s.beta[t] / np.sqrt(1.0 - s.alpha_bar[t]) * eps)
            / np.sqrt(s.alpha[t]))


def _mean_eps_alpha_bar(s, xt, t, eps):
    return ((xt - s.beta[t] / np.sqrt(1.0 - s.alpha_bar[t]) * eps)
            / np.sqrt(s.alpha_bar[t]))


def _mean_eps_no_sqrt(s, xt, t, eps):
    return ((xt - s.beta[t] / (1.0 - s.alpha_bar[t]) * eps)
            / np.sqrt(s.alpha[t]))


def _mean_eps_sqrt_beta(s, xt, t, eps):
    return ((xt - np.sqrt(s.beta[t]) / np.sqrt(1.0 - s.alpha_bar[t])
             * eps) / np.sqrt(s.alpha[t]))


def _mean_eps_no_rescale(s, xt, t, eps):
    return xt - s.beta[t] / np.sqrt(1.0 - s.alpha_bar[t]) * eps


def check_posterior_mean_eps(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, xt, t, eps)`` = μ̃_t = (x_t − β_t / √(1 − ᾱ_t) ε)
    / √α_t (exercise ex-04-posterior-mean-eps)."""
    return run_check(
        "posterior mean from x_t and the noise", answer,
        _mean_eps_reference, _x0_cases(), strict=strict,
        mistakes=[
            Mistake("sqrt(alpha_bar_t) instead of sqrt(alpha_t)",
                    _mean_eps_alpha_bar,
                    "the overall factor is 1 / sqrt(alpha_t): the mean "
                    "undoes ONE forward step, not t of them."),
            Mistake("beta_t / (1 - alpha_bar_t) instead of beta_t / "
                    "sqrt(1 - alpha_bar_t)", _mean_eps_no_sqrt,
                    "the noise coefficient is beta_t / sqrt(1 - "
                    "alpha_bar_t): eps enters x_t multiplied by sqrt(1 - "
                    "alpha_bar_t), and one factor of it cancels."),
            Mistake("sqrt(beta_t) instead of beta_t", _mean_eps_sqrt_beta,
                    "the numerator is beta_t itself (a variance), not its "
                    "square root: at t = 1, for example, the correct "
                    "coefficient is beta_1 / sqrt(beta_1) = sqrt(beta_1), "
                    "while the slip gives 1."),
            Mistake("no division by sqrt(alpha_t)", _mean_eps_no_rescale,
                    "after removing the noise, divide by sqrt(alpha_t) "
                    "to undo the shrinking of the forward step."),
        ],
        hint="your answer must agree with eq. (4.5) after x_0 is "
             "replaced by eq. (4.6): compute both for one t and compare. "
             "Simplify with 1 - alpha_bar_t = (1 - alpha_bar_(t-1)) "
             "alpha_t + beta_t; the result has one division by "
             "sqrt(alpha_t) and the eps term carries beta_t, not "
             "sqrt(beta_t).")


# ---------------------------------------------------------------------------
# Moments of the true reverse step q(x_{t-1} | x_t)
# ---------------------------------------------------------------------------

def _moments_reference(s, xt, t, x0_mean, x0_var):
    coef_x0, coef_xt = _coefficients(s, t)
    return (coef_x0 * x0_mean + coef_xt * xt,
            s.beta_tilde[t] + coef_x0 ** 2 * x0_var)


def _moments_no_x0_var(s, xt, t, x0_mean, x0_var):
    mean, _ = _moments_reference(s, xt, t, x0_mean, x0_var)
    return mean, np.full_like(mean, s.beta_tilde[t])


def _moments_not_squared(s, xt, t, x0_mean, x0_var):
    coef_x0, _ = _coefficients(s, t)
    mean, _ = _moments_reference(s, xt, t, x0_mean, x0_var)
    return mean, s.beta_tilde[t] + coef_x0 * x0_var


def _moments_no_coefficient(s, xt, t, x0_mean, x0_var):
    mean, _ = _moments_reference(s, xt, t, x0_mean, x0_var)
    return mean, s.beta_tilde[t] + x0_var


def _moments_beta(s, xt, t, x0_mean, x0_var):
    coef_x0, _ = _coefficients(s, t)
    mean, _ = _moments_reference(s, xt, t, x0_mean, x0_var)
    return mean, s.beta[t] + coef_x0 ** 2 * x0_var


def _moments_cases() -> list[Case]:
    rng = np.random.default_rng(404)
    lin = sch.linear(1000)
    cases = []
    for label, s, t, n in [
            ("linear(1000), t = 300, 6 values of x_t", lin, 300, 6),
            ("linear(1000), t = 1 (the data posterior q(x_0 | x_1))",
             lin, 1, 4),
            ("linear(1000), t = 1000", lin, 1000, 3),
            ("cosine(10) (large steps), t = 2", sch.cosine(10), 2, 5),
            ("cosine(10) (large steps), t = 9", sch.cosine(10), 9, 5),
            ("constant(20, 0.2), t = 5", sch.constant(20, 0.2), 5, 4)]:
        xt = rng.standard_normal(n)
        x0_mean = rng.standard_normal(n)
        x0_var = rng.uniform(0.01, 1.0, n)
        cases.append(Case(label, (s, xt, t, x0_mean, x0_var)))
    return cases


def check_reverse_step_moments(answer, strict: bool = False
                               ) -> CheckResult:
    """Check ``answer(s, xt, t, x0_mean, x0_var)`` = mean and variance of
    q(x_{t−1} | x_t) from E[x_0 | x_t] and Var[x_0 | x_t] (exercise
    ex-04-reverse-step-moments)."""
    return _run(
        "moments of the true reverse step q(x_(t-1) | x_t)", answer,
        _moments_reference, _moments_cases(), strict=strict,
        precision_note=(
            "At t = 1 of linear(1000), 1 - alpha_bar_1 = beta_1 = 1e-4 is "
            "computed from alpha_bar_1 = 0.9999: float32 keeps only 3 or "
            "4 of its digits, and the x_0 coefficient c0 = "
            "sqrt(alpha_bar_0) beta_1 / (1 - alpha_bar_1) is squared in "
            "the variance."),
        mistakes=[
            Mistake("uncertainty about x_0 ignored",
                    _moments_no_x0_var,
                    "q(x_(t-1) | x_t) averages the posteriors "
                    "N(mu_tilde(x_0, x_t), beta_tilde_t) over x_0 given "
                    "x_t: by the law of total variance its variance is "
                    "beta_tilde_t + Var[mu_tilde | x_t], and mu_tilde "
                    "varies with x_0."),
            Mistake("coefficient of x_0 not squared",
                    _moments_not_squared,
                    "Var[c x_0] = c^2 Var[x_0]: square the x_0 "
                    "coefficient of mu_tilde."),
            Mistake("Var[x_0 | x_t] added without its coefficient",
                    _moments_no_coefficient,
                    "mu_tilde depends on x_0 through c x_0 with c = "
                    "sqrt(alpha_bar_(t-1)) beta_t / (1 - alpha_bar_t), so "
                    "its variance is c^2 Var[x_0 | x_t]."),
            Mistake("beta_t instead of beta_tilde_t", _moments_beta,
                    "the within-posterior variance is beta_tilde_t (the "
                    "variance of q(x_(t-1) | x_t, x_0)), not beta_t."),
        ],
        hint="average eq. (4.5) over q(x_0 | x_t) (eq. (4.10)): the mean "
             "uses E[x_0 | x_t] where eq. (4.5) has x_0, and the variance "
             "has two parts by the law of total variance (eq. (4.11)); "
             "the second is scaled by the square of the x_0 "
             "coefficient.")
