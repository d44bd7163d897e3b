"""Checks for the coding exercises of chapter 7 (score and Langevin).

* :func:`check_langevin_step` — one Langevin update with Gaussian noise
  drawn from the given generator; recognises uniform noise, a missing
  √2, a wrong sign of the drift, Song & Ermon's α read as η, one z for
  all points, ...
* :func:`check_dsm_loss` — denoising score matching at one noise level;
  recognises a wrong sign of the target, −z instead of −z/σ, −z/σ², a
  missing ½, the model evaluated at the clean point, ...
* :func:`check_score_from_eps` — s = −ε/√(1 − ᾱ_t); recognises a missing
  square root, a missing sign, ᾱ_t or β_t instead of 1 − ᾱ_t, ...
"""

from __future__ import annotations

import numpy as np

from .. import schedules as sch
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_langevin_step",
    "check_dsm_loss",
    "check_score_from_eps",
]


# ---------------------------------------------------------------------------
# One Langevin step
# ---------------------------------------------------------------------------

def _gauss_score(x):
    """Score of N((1, -0.5, ...), diag(0.5, 2, ...)) (first 3 coords)."""
    mean = np.array([1.0, -0.5, 0.0])[: x.shape[1]]
    var = np.array([0.5, 2.0, 1.0])[: x.shape[1]]
    return -(x - mean) / var


def _mixture_score(x):
    """Score of an equal mixture of N(-2, 0.3) and N(2, 0.3), per coord."""
    a = np.exp(-(x + 2) ** 2 / 0.6)
    b = np.exp(-(x - 2) ** 2 / 0.6)
    return (-(x + 2) * a - (x - 2) * b) / (0.3 * (a + b))


def _langevin_reference(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def _langevin_uniform(score_fn, x, step_size, rng):
    z = rng.uniform(-1.0, 1.0, size=x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def _langevin_uniform01(score_fn, x, step_size, rng):
    z = rng.random(x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def _langevin_no_sqrt2(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x + step_size * score_fn(x) + np.sqrt(step_size) * z


def _langevin_wrong_sign(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x - step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def _langevin_half_drift(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x + step_size / 2 * score_fn(x) + np.sqrt(step_size) * z


def _langevin_sqrt2_outside(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2) * step_size * z


def _langevin_one_z(score_fn, x, step_size, rng):
    z = rng.standard_normal()
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def _langevin_no_sqrt(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x + step_size * score_fn(x) + 2 * step_size * z


def _langevin_cases() -> list[Case]:
    rng = np.random.default_rng(701)
    return [
        Case("2-D Gaussian target, step 0.1, 6 points",
             (_gauss_score, rng.standard_normal((6, 2)), 0.1,
              np.random.default_rng(11))),
        Case("1-D two-mode mixture, step 0.01, 5 points",
             (_mixture_score, 2 * rng.standard_normal((5, 1)), 0.01,
              np.random.default_rng(12))),
        Case("3-D Gaussian target, step 0.5 (large), 4 points",
             (_gauss_score, rng.standard_normal((4, 3)), 0.5,
              np.random.default_rng(13))),
    ]


def check_langevin_step(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(score_fn, x, step_size, rng)`` = one Langevin update
    x + η s(x) + √(2η) z with z = rng.standard_normal(x.shape)
    (exercise ex-07-langevin-step)."""
    return run_check(
        "one Langevin step", answer, _langevin_reference,
        _langevin_cases(), strict=strict,
        mistakes=[
            Mistake("uniform noise on [-1, 1]", _langevin_uniform,
                    "the noise must be Gaussian, "
                    "z = rng.standard_normal(x.shape): the stationary "
                    "law of the chain depends on it."),
            Mistake("uniform noise on [0, 1)", _langevin_uniform01,
                    "rng.random draws uniform numbers in [0, 1) (with "
                    "mean 1/2: a drift!). Use rng.standard_normal."),
            Mistake("missing sqrt(2)", _langevin_no_sqrt2,
                    "with drift eta * score the noise has standard "
                    "deviation sqrt(2 eta): without the 2 the chain "
                    "samples p^2 (renormalised), which is too narrow."),
            Mistake("wrong sign of the drift", _langevin_wrong_sign,
                    "the score points towards higher density: ADD "
                    "eta * score_fn(x)."),
            Mistake("Song and Ermon's alpha read as eta",
                    _langevin_half_drift,
                    "in this book the step is x + eta s(x) + sqrt(2 eta) "
                    "z; x + (eta/2) s + sqrt(eta) z is the same update "
                    "with a step of eta/2 (Song and Ermon's alpha), not "
                    "the one asked for."),
            Mistake("2 eta without the square root", _langevin_no_sqrt,
                    "the noise is multiplied by a standard deviation, "
                    "sqrt(2 eta), not by the variance 2 eta."),
            Mistake("sqrt(2) eta instead of sqrt(2 eta)",
                    _langevin_sqrt2_outside,
                    "the square root covers the whole variance 2 eta: "
                    "np.sqrt(2 * step_size), not np.sqrt(2) * "
                    "step_size."),
            Mistake("one noise value for all points", _langevin_one_z,
                    "every point and coordinate needs its own "
                    "independent z: rng.standard_normal(x.shape), not "
                    "one number rng.standard_normal()."),
        ],
        hint="compare with eq. (7.1): the drift is the step size times "
             "the score at the current point, the noise is a standard "
             "deviation (square root of twice the step size), and z is "
             "drawn once per step with the shape of x.")


# ---------------------------------------------------------------------------
# Denoising score matching loss
# ---------------------------------------------------------------------------

def _dsm_with(score_fn, x0, sigma, noise, target, factor=0.5):
    residual = score_fn(x0 + sigma * noise) - target
    return float(factor * np.mean(np.sum(residual ** 2, axis=1)))


def _dsm_reference(score_fn, x0, sigma, noise):
    return _dsm_with(score_fn, x0, sigma, noise, -noise / sigma)


def _dsm_sign(score_fn, x0, sigma, noise):
    return _dsm_with(score_fn, x0, sigma, noise, noise / sigma)


def _dsm_no_sigma(score_fn, x0, sigma, noise):
    return _dsm_with(score_fn, x0, sigma, noise, -noise)


def _dsm_sigma_squared(score_fn, x0, sigma, noise):
    return _dsm_with(score_fn, x0, sigma, noise, -noise / sigma ** 2)


def _dsm_no_half(score_fn, x0, sigma, noise):
    return _dsm_with(score_fn, x0, sigma, noise, -noise / sigma, 1.0)


def _dsm_clean_point(score_fn, x0, sigma, noise):
    residual = score_fn(x0) + noise / sigma
    return float(0.5 * np.mean(np.sum(residual ** 2, axis=1)))


def _dsm_norm_not_squared(score_fn, x0, sigma, noise):
    residual = score_fn(x0 + sigma * noise) + noise / sigma
    return float(0.5 * np.mean(np.sqrt(np.sum(residual ** 2, axis=1))))


def _dsm_sum_examples(score_fn, x0, sigma, noise):
    return x0.shape[0] * _dsm_reference(score_fn, x0, sigma, noise)


def _dsm_mean_coords(score_fn, x0, sigma, noise):
    return _dsm_reference(score_fn, x0, sigma, noise) / x0.shape[1]


def _dsm_cases() -> list[Case]:
    rng = np.random.default_rng(702)
    cases = []
    for label, fn, n, d, sigma in [
            ("2-D Gaussian score, sigma = 0.5, 40 points", _gauss_score,
             40, 2, 0.5),
            ("1-D mixture score, sigma = 0.2, 30 points", _mixture_score,
             30, 1, 0.2),
            ("3-D Gaussian score, sigma = 1.7, 25 points", _gauss_score,
             25, 3, 1.7)]:
        x0 = rng.standard_normal((n, d))
        noise = rng.standard_normal((n, d))
        cases.append(Case(label, (fn, x0, sigma, noise)))
    return cases


def check_dsm_loss(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(score_fn, x0, sigma, noise)`` = ½ mean_i
    ‖s(x0 + σz) + z/σ‖² (exercise ex-07-dsm-loss)."""
    return run_check(
        "denoising score matching loss", answer, _dsm_reference,
        _dsm_cases(), strict=strict, rtol=1e-8,
        mistakes=[
            Mistake("wrong sign of the target", _dsm_sign,
                    "the score of q(x~ | x_0) = N(x_0, sigma^2 I) at "
                    "x~ = x_0 + sigma z is -(x~ - x_0) / sigma^2 = "
                    "-z / sigma: it points back to x_0."),
            Mistake("target -z instead of -z / sigma", _dsm_no_sigma,
                    "the target is a score, -z / sigma; -z is the "
                    "noise target of epsilon-prediction (they differ by "
                    "the factor 1 / sigma)."),
            Mistake("target -z / sigma^2", _dsm_sigma_squared,
                    "(x~ - x_0) / sigma^2 = sigma z / sigma^2 = z / "
                    "sigma: one power of sigma cancels."),
            Mistake("missing factor 1/2", _dsm_no_half,
                    "the loss has the factor 1/2 of eq. (7.2)."),
            Mistake("mean over coordinates", _dsm_mean_coords,
                    "sum the squared residual over the D coordinates of "
                    "each example, then average over examples."),
            Mistake("score evaluated at the clean point", _dsm_clean_point,
                    "the model is evaluated at the NOISY point x~ = x0 + "
                    "sigma * noise: denoising score matching learns the "
                    "score of the smoothed density p_sigma."),
            Mistake("norm not squared", _dsm_norm_not_squared,
                    "the loss averages the SQUARED norm of the residual "
                    "(a sum of squares over coordinates), not the norm."),
            Mistake("sum over examples", _dsm_sum_examples,
                    "average over the N examples (a Monte Carlo mean), "
                    "do not sum over them."),
        ],
        hint="compare with eq. (7.2): the score is evaluated at the "
             "noisy point, its target is -noise / sigma, and the loss "
             "is one half of the squared norm (summed over coordinates), "
             "averaged over examples.")


# ---------------------------------------------------------------------------
# Score from the noise prediction
# ---------------------------------------------------------------------------

def _score_reference(s, xt, t, eps):
    return -eps / np.sqrt(1.0 - s.alpha_bar[t])


def _score_no_sqrt(s, xt, t, eps):
    return -eps / (1.0 - s.alpha_bar[t])


def _score_no_sign(s, xt, t, eps):
    return eps / np.sqrt(1.0 - s.alpha_bar[t])


def _score_alpha_bar(s, xt, t, eps):
    return -eps / np.sqrt(s.alpha_bar[t])


def _score_times(s, xt, t, eps):
    return -eps * np.sqrt(1.0 - s.alpha_bar[t])


def _score_beta(s, xt, t, eps):
    return -eps / np.sqrt(s.beta[t])


def _score_sqrt_inside(s, xt, t, eps):
    return -eps / (1.0 - np.sqrt(s.alpha_bar[t]))


def _score_cases() -> list[Case]:
    rng = np.random.default_rng(703)
    lin, cos = sch.linear(1000), sch.cosine(50)
    cases = []
    for label, s, t, shape in [
            ("linear(1000), t = 1", lin, 1, (4, 2)),
            ("linear(1000), t = 300", lin, 300, (5, 1)),
            ("linear(1000), t = T", lin, 1000, (3, 2)),
            ("cosine(50), t = 20, 3-D", cos, 20, (4, 3))]:
        xt, eps = rng.standard_normal((2,) + shape)
        cases.append(Case(label, (s, xt, t, eps)))
    return cases


def check_score_from_eps(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, xt, t, eps)`` = −ε/√(1 − ᾱ_t) (exercise
    ex-07-score-from-eps)."""
    return run_check(
        "score from the noise prediction", answer, _score_reference,
        _score_cases(), strict=strict,
        mistakes=[
            Mistake("missing square root", _score_no_sqrt,
                    "divide by the standard deviation sqrt(1 - "
                    "alpha_bar_t) of the noise in x_t, not by the "
                    "variance."),
            Mistake("missing minus sign", _score_no_sign,
                    "the score points AGAINST the noise that was added: "
                    "s = -eps / sqrt(1 - alpha_bar_t)."),
            Mistake("alpha_bar_t instead of 1 - alpha_bar_t",
                    _score_alpha_bar,
                    "the noise enters x_t with the coefficient sqrt(1 - "
                    "alpha_bar_t); sqrt(alpha_bar_t) multiplies x_0."),
            Mistake("multiplied instead of divided", _score_times,
                    "eps = -sqrt(1 - alpha_bar_t) * score, so the score "
                    "is eps DIVIDED by -sqrt(1 - alpha_bar_t)."),
            Mistake("beta_t instead of 1 - alpha_bar_t", _score_beta,
                    "beta_t is the variance added by ONE forward step; "
                    "the noise in x_t has accumulated over t steps and "
                    "has variance 1 - alpha_bar_t (equal to beta_t only "
                    "at t = 1)."),
            Mistake("1 - sqrt(alpha_bar_t)", _score_sqrt_inside,
                    "the square root covers 1 - alpha_bar_t as a whole: "
                    "np.sqrt(1 - alpha_bar_t), the standard deviation of "
                    "the noise in x_t."),
        ],
        hint="solve eq. (7.4) for the score on paper, then check the "
             "sign and the scale at one t by hand (alpha_bar_t is "
             "s.alpha_bar[t]). If only t = 1 fails, by a small amount, "
             "compute in float64: 1 - alpha_bar_1 = 1e-4 loses digits "
             "in float32.")
