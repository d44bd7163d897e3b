"""Checks for the coding exercises of chapter 11 (the sampler design
space and the exact likelihood).

* :func:`check_edm_sigmas` — the ρ-spaced noise levels of Karras et al.
  (2022), decreasing, with a final 0; recognises the levels in
  increasing order, ρ and 1/ρ swapped (by the formula or with
  np.linspace), the trailing 0 missing, i/N in place of i/(N − 1), and
  uniform or geometric spacing.
* :func:`check_denoiser_from_eps` — σ = √((1 − ᾱ)/ᾱ) and the denoiser
  D = x̄ − σ ε̂ in the rescaled variable x̄ = x_t/√ᾱ; recognises σ
  returned as a variance, √(1 − ᾱ) taken for σ, x_t not rescaled, the
  sign of the noise term, the pair returned in the wrong order and σ
  returned as one value per row.
* :func:`check_heun_sampler` — the deterministic sampler of Karras et
  al. (Heun, with an Euler step to σ = 0) and its number of denoiser
  evaluations; recognises plain Euler, the correction applied on the
  last step (a division by σ = 0), the second slope taken at the old
  point, the second slope alone and the last step counted twice.
* :func:`check_churn_step` — one stochastic step: raise σ to
  σ̂ = (1 + γ)σ by adding noise of variance σ̂² − σ², then an Euler step
  from σ̂; recognises the noise scaled by σ̂ − σ or by σ̂² − σ², the
  step taken from σ, the slope taken before the noise, and γ added to σ.
* :func:`check_ode_log_likelihood` — log p(x_0) by integrating the
  probability-flow ODE and its divergence with Euler steps up to σ_max,
  plus the log prior N(0, σ_max² I); recognises the sign of the
  divergence term, the prior missing, a unit-variance prior, the step
  size forgotten, the prior evaluated at the data, and the divergence
  evaluated after the step or at the data point (one case has a
  divergence that depends on x, so that these differ).

The references are written here, from the formulas of the chapter, and
the cases use closed-form denoisers of small Gaussian mixtures.
"""

from __future__ import annotations

import numpy as np

from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_edm_sigmas",
    "check_denoiser_from_eps",
    "check_heun_sampler",
    "check_churn_step",
    "check_ode_log_likelihood",
]


# ---------------------------------------------------------------------------
# Closed-form denoisers and fields used by the cases
# ---------------------------------------------------------------------------

def _gauss_denoiser(m: float, v: float):
    """D(x; σ) = E[x_0 | x_0 + σ ε = x] for data N(m, v) in each
    coordinate: m + v/(v + σ²) (x − m)."""
    def denoiser(x, sigma):
        return m + v / (v + sigma ** 2) * (x - m)
    return denoiser


def _mixture_denoiser(x, sigma):
    """D(x; σ) for the 2-D mixture of three equally weighted components
    N(m_k, 0.05 I) with means (1, 0), (−0.5, 0.9), (−0.5, −0.9)."""
    means = np.array([[1.0, 0.0], [-0.5, 0.9], [-0.5, -0.9]])
    v = 0.05
    var = v + sigma ** 2
    diff = x[:, None, :] - means[None, :, :]
    logits = -0.5 * np.sum(diff ** 2, axis=2) / var
    logits = logits - logits.max(axis=1, keepdims=True)
    r = np.exp(logits)
    r = r / r.sum(axis=1, keepdims=True)
    per = means[None] + v / var * diff
    return np.sum(r[:, :, None] * per, axis=1)


def _rho_grid(n, sigma_min, sigma_max, rho=7.0):
    i = np.arange(n)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return np.append((a + i / (n - 1) * (b - a)) ** rho, 0.0)


# ---------------------------------------------------------------------------
# The rho-spaced noise levels
# ---------------------------------------------------------------------------

def _sigmas_with(n, sigma_min, sigma_max, rho, *, denominator=None,
                 swapped=False):
    i = np.arange(n)
    p = rho if swapped else 1 / rho
    a, b = sigma_max ** p, sigma_min ** p
    d = n - 1 if denominator is None else denominator
    return (a + i / d * (b - a)) ** (1 / p)


def _sigmas_reference(n, sigma_min, sigma_max, rho):
    return np.append(_sigmas_with(n, sigma_min, sigma_max, rho), 0.0)


def _sigmas_increasing(n, sigma_min, sigma_max, rho):
    levels = _sigmas_with(n, sigma_min, sigma_max, rho)
    return np.append(levels[::-1], 0.0)


def _sigmas_swapped(n, sigma_min, sigma_max, rho):
    return np.append(_sigmas_with(n, sigma_min, sigma_max, rho,
                                  swapped=True), 0.0)


def _sigmas_swapped_linspace(n, sigma_min, sigma_max, rho):
    # the same mistake written with np.linspace: its ends are exact, so
    # it differs from the formula above where that one cancels
    return np.append(np.linspace(sigma_max ** rho, sigma_min ** rho, n)
                     ** (1 / rho), 0.0)


def _sigmas_no_zero(n, sigma_min, sigma_max, rho):
    return _sigmas_with(n, sigma_min, sigma_max, rho)


def _sigmas_over_n(n, sigma_min, sigma_max, rho):
    return np.append(_sigmas_with(n, sigma_min, sigma_max, rho,
                                  denominator=n), 0.0)


def _sigmas_uniform(n, sigma_min, sigma_max, rho):
    return np.append(np.linspace(sigma_max, sigma_min, n), 0.0)


def _sigmas_geometric(n, sigma_min, sigma_max, rho):
    return np.append(np.geomspace(sigma_max, sigma_min, n), 0.0)


def _sigmas_cases() -> list[Case]:
    return [
        Case("N = 18, sigma in [0.002, 80], rho = 7", (18, 0.002, 80.0,
                                                       7.0)),
        Case("N = 5, sigma in [0.01, 10], rho = 7", (5, 0.01, 10.0, 7.0)),
        Case("N = 6, sigma in [0.02, 20], rho = 3", (6, 0.02, 20.0, 3.0)),
        Case("N = 2 (only the two ends), rho = 7", (2, 0.1, 5.0, 7.0)),
        Case("N = 8, rho = 1 (uniform in sigma)", (8, 0.5, 4.0, 1.0)),
    ]


def check_edm_sigmas(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(n, sigma_min, sigma_max, rho)`` = the n ρ-spaced
    noise levels from σ_max down to σ_min, followed by σ_N = 0
    (exercise ex-11-edm-sigmas)."""
    return run_check(
        "rho-spaced noise levels", answer, _sigmas_reference,
        _sigmas_cases(), strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("noise levels in increasing order", _sigmas_increasing,
                    "sampling starts from the LARGEST noise level: "
                    "sigma_0 = sigma_max, and the levels decrease to "
                    "sigma_{N-1} = sigma_min before the final 0."),
            Mistake("rho and 1/rho swapped", _sigmas_swapped,
                    "interpolate linearly between sigma_max^(1/rho) and "
                    "sigma_min^(1/rho), then raise to the power rho: "
                    "the levels bunch up near sigma_min."),
            Mistake("rho and 1/rho swapped (with np.linspace)",
                    _sigmas_swapped_linspace,
                    "interpolate linearly between sigma_max^(1/rho) and "
                    "sigma_min^(1/rho), then raise to the power rho: "
                    "the levels bunch up near sigma_min."),
            Mistake("final sigma_N = 0 missing", _sigmas_no_zero,
                    "append sigma_N = 0: the last step goes from "
                    "sigma_min to the data, so the array has N + 1 "
                    "entries."),
            Mistake("i / N instead of i / (N - 1)", _sigmas_over_n,
                    "with i = 0, ..., N - 1 the fraction is i / (N - 1), "
                    "so that sigma_{N-1} is exactly sigma_min."),
            Mistake("uniform spacing in sigma (rho ignored)",
                    _sigmas_uniform,
                    "the levels are uniform in sigma^(1/rho), not in "
                    "sigma: only rho = 1 gives uniform spacing."),
            Mistake("geometric spacing", _sigmas_geometric,
                    "geometric (log-uniform) spacing is the limit rho -> "
                    "infinity; use the power rho as given."),
        ],
        hint="for i = 0, ..., N - 1, sigma_i = (sigma_max^(1/rho) + "
             "i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, then "
             "a final 0: check the first entry (sigma_max), the N-th "
             "(sigma_min) and the length N + 1.")


# ---------------------------------------------------------------------------
# From the noise prediction to the denoiser
# ---------------------------------------------------------------------------

def _de_reference(xt, alpha_bar, eps):
    sigma = np.sqrt((1 - alpha_bar) / alpha_bar)
    return sigma, xt / np.sqrt(alpha_bar) - sigma * eps


def _de_variance(xt, alpha_bar, eps):
    sigma = (1 - alpha_bar) / alpha_bar
    return sigma, xt / np.sqrt(alpha_bar) - sigma * eps


def _de_vp_std(xt, alpha_bar, eps):
    sigma = np.sqrt(1 - alpha_bar)
    return sigma, xt / np.sqrt(alpha_bar) - sigma * eps


def _de_not_rescaled(xt, alpha_bar, eps):
    sigma = np.sqrt((1 - alpha_bar) / alpha_bar)
    return sigma, xt - sigma * eps


def _de_sign(xt, alpha_bar, eps):
    sigma = np.sqrt((1 - alpha_bar) / alpha_bar)
    return sigma, xt / np.sqrt(alpha_bar) + sigma * eps


def _de_swapped(xt, alpha_bar, eps):
    sigma, denoised = _de_reference(xt, alpha_bar, eps)
    return denoised, sigma


def _de_sigma_per_row(xt, alpha_bar, eps):
    sigma, denoised = _de_reference(xt, alpha_bar, eps)
    return np.full(np.shape(xt)[0], sigma), denoised


def _de_cases() -> list[Case]:
    rng = np.random.default_rng(1101)
    cases = []
    for label, ab, shape in [
            ("alpha_bar = 0.9, 5 points in 2-D", 0.9, (5, 2)),
            ("alpha_bar = 0.5, 1-D", 0.5, (4, 1)),
            ("alpha_bar = 0.01 (sigma close to 10)", 0.01, (3, 2)),
            ("alpha_bar = 0.99 (little noise), 3-D", 0.99, (3, 3)),
            ("alpha_bar = 1e-4 (sigma close to 100)", 1e-4, (4, 1))]:
        xt, eps = rng.standard_normal((2,) + shape)
        cases.append(Case(label, (xt, ab, eps)))
    return cases


def check_denoiser_from_eps(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(xt, alpha_bar, eps)`` = (σ, D) with σ = √((1 − ᾱ)/ᾱ)
    and D = x_t/√ᾱ − σ ε (exercise ex-11-denoiser-from-eps)."""
    return run_check(
        "noise level and denoiser from a noise prediction", answer,
        _de_reference, _de_cases(), strict=strict,
        outputs=("sigma", "denoised"),
        mistakes=[
            Mistake("sigma returned as a variance", _de_variance,
                    "sigma is a standard deviation: x_bar = x_0 + sigma "
                    "eps with sigma^2 = (1 - alpha_bar) / alpha_bar, so "
                    "take the square root."),
            Mistake("sqrt(1 - alpha_bar) taken for sigma", _de_vp_std,
                    "sqrt(1 - alpha_bar) is the noise level of x_t, "
                    "which still carries the factor sqrt(alpha_bar) on "
                    "x_0; after dividing by sqrt(alpha_bar) the noise "
                    "level is sqrt((1 - alpha_bar) / alpha_bar)."),
            Mistake("x_t not rescaled", _de_not_rescaled,
                    "the denoiser works on x_bar = x_t / sqrt(alpha_bar)"
                    " = x_0 + sigma eps: divide x_t by sqrt(alpha_bar) "
                    "before removing sigma eps."),
            Mistake("noise added instead of removed", _de_sign,
                    "x_bar = x_0 + sigma eps, so the prediction of x_0 "
                    "is x_bar - sigma eps."),
            Mistake("the pair returned in the wrong order", _de_swapped,
                    "return (sigma, denoised) in this order: first the "
                    "float sigma, then the array D of the shape of xt."),
            Mistake("sigma returned as one value per row",
                    _de_sigma_per_row,
                    "sigma is one float for the whole batch, "
                    "sqrt((1 - alpha_bar) / alpha_bar): every row has the "
                    "same noise level, so do not repeat it per row."),
        ],
        hint="write x_t = sqrt(alpha_bar) (x_0 + sigma eps) and read off "
             "sigma; the denoiser's output is the x_0 that this "
             "equation gives with eps in place of the true noise.")


# ---------------------------------------------------------------------------
# The deterministic Heun sampler
# ---------------------------------------------------------------------------

def _heun_with(denoiser, x, sigmas, mode="heun"):
    x = np.array(x, dtype=np.result_type(x, np.float32))
    nfe = 0
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        d = (x - denoiser(x, s)) / s
        nfe += 1
        x_next = x + (s_next - s) * d
        if mode == "euler" or (s_next == 0 and mode != "correct_last"):
            if mode == "count_last":
                nfe += 1
            x = x_next
            continue
        if mode == "old_point":
            d2 = (x - denoiser(x, s_next)) / s_next
        else:
            d2 = (x_next - denoiser(x_next, s_next)) / s_next
        nfe += 1
        slope = d2 if mode == "second_only" else 0.5 * (d + d2)
        x = x + (s_next - s) * slope
    return x, nfe


def _heun_reference(denoiser, x, sigmas):
    return _heun_with(denoiser, x, sigmas)


def _heun_euler(denoiser, x, sigmas):
    return _heun_with(denoiser, x, sigmas, "euler")


def _heun_correct_last(denoiser, x, sigmas):
    return _heun_with(denoiser, x, sigmas, "correct_last")


def _heun_old_point(denoiser, x, sigmas):
    return _heun_with(denoiser, x, sigmas, "old_point")


def _heun_second_only(denoiser, x, sigmas):
    return _heun_with(denoiser, x, sigmas, "second_only")


def _heun_count_last(denoiser, x, sigmas):
    return _heun_with(denoiser, x, sigmas, "count_last")


def _heun_cases() -> list[Case]:
    rng = np.random.default_rng(1103)
    gauss = _gauss_denoiser(0.5, 0.3)
    return [
        Case("Gaussian data, 1-D, 5 rho-spaced levels and 0",
             (gauss, 20.0 * rng.standard_normal((5, 1)),
              _rho_grid(5, 0.01, 20.0))),
        Case("2-D mixture, 4 rho-spaced levels and 0",
             (_mixture_denoiser, 10.0 * rng.standard_normal((6, 2)),
              _rho_grid(4, 0.02, 10.0))),
        Case("2-D mixture, 3 levels ending at sigma = 0.3 (no 0)",
             (_mixture_denoiser, 5.0 * rng.standard_normal((4, 2)),
              np.array([5.0, 1.5, 0.3]))),
        Case("Gaussian data, one step from sigma = 2 to 0",
             (gauss, 2.0 * rng.standard_normal((3, 1)),
              np.array([2.0, 0.0]))),
    ]


def check_heun_sampler(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(denoiser, x, sigmas)`` = (samples, nfe): Heun steps
    of dx/dσ = (x − D(x; σ))/σ along ``sigmas``, an Euler step where
    the next level is 0, and the number of calls of the denoiser
    (exercise ex-11-heun-sampler)."""
    return run_check(
        "deterministic Heun sampler", answer, _heun_reference,
        _heun_cases(), strict=strict, rtol=1e-8, atol=1e-10,
        outputs=("samples", "nfe"),
        mistakes=[
            Mistake("plain Euler steps", _heun_euler,
                    "Heun corrects each Euler step: evaluate the slope "
                    "again at the predicted point and step with the "
                    "AVERAGE of the two slopes."),
            Mistake("correction applied on the step to sigma = 0",
                    _heun_correct_last,
                    "the slope (x - D(x; sigma)) / sigma is not defined "
                    "at sigma = 0: the step to sigma_N = 0 is a plain "
                    "Euler step."),
            Mistake("second slope at the old point", _heun_old_point,
                    "the second slope is evaluated at the point the "
                    "Euler predictor reached, at the next noise level, "
                    "not at the current point."),
            Mistake("second slope used alone", _heun_second_only,
                    "the corrector steps with (d_1 + d_2) / 2, the "
                    "trapezoidal rule, not with d_2 alone."),
            Mistake("the last step counted as two evaluations",
                    _heun_count_last,
                    "count the calls of the denoiser: the Euler step to "
                    "sigma = 0 makes only one, so N Heun steps ending "
                    "at 0 cost 2N - 1 evaluations."),
        ],
        hint="for each pair of levels: d_1 = (x - D(x; sigma)) / sigma, "
             "an Euler predictor to sigma_next, then (unless sigma_next "
             "is 0) d_2 at the predicted point and the step with "
             "(d_1 + d_2) / 2; count every call of the denoiser.")


# ---------------------------------------------------------------------------
# One stochastic (churn) step
# ---------------------------------------------------------------------------

def _churn_with(denoiser, x, sigma, sigma_next, gamma, noise, *,
                noise_scale="std", start="hat", slope_at="hat",
                additive=False):
    sigma_hat = sigma + gamma if additive else sigma * (1 + gamma)
    if noise_scale == "std":
        scale = np.sqrt(sigma_hat ** 2 - sigma ** 2)
    elif noise_scale == "linear":
        scale = sigma_hat - sigma
    else:
        scale = sigma_hat ** 2 - sigma ** 2
    x_hat = x + scale * noise
    if slope_at == "hat":
        d = (x_hat - denoiser(x_hat, sigma_hat)) / sigma_hat
    else:
        d = (x - denoiser(x, sigma)) / sigma
    from_sigma = sigma_hat if start == "hat" else sigma
    return x_hat + (sigma_next - from_sigma) * d


def _churn_reference(denoiser, x, sigma, sigma_next, gamma, noise):
    return _churn_with(denoiser, x, sigma, sigma_next, gamma, noise)


def _churn_linear_noise(denoiser, x, sigma, sigma_next, gamma, noise):
    return _churn_with(denoiser, x, sigma, sigma_next, gamma, noise,
                       noise_scale="linear")


def _churn_variance_noise(denoiser, x, sigma, sigma_next, gamma, noise):
    return _churn_with(denoiser, x, sigma, sigma_next, gamma, noise,
                       noise_scale="variance")


def _churn_from_sigma(denoiser, x, sigma, sigma_next, gamma, noise):
    return _churn_with(denoiser, x, sigma, sigma_next, gamma, noise,
                       start="sigma")


def _churn_slope_before(denoiser, x, sigma, sigma_next, gamma, noise):
    return _churn_with(denoiser, x, sigma, sigma_next, gamma, noise,
                       slope_at="old")


def _churn_additive(denoiser, x, sigma, sigma_next, gamma, noise):
    return _churn_with(denoiser, x, sigma, sigma_next, gamma, noise,
                       additive=True)


def _churn_cases() -> list[Case]:
    rng = np.random.default_rng(1104)
    gauss = _gauss_denoiser(0.5, 0.3)
    cases = []
    for label, den, sigma, sigma_next, gamma, shape in [
            ("Gaussian data, sigma 2 -> 1.2, gamma = 0.4", gauss, 2.0,
             1.2, 0.4, (5, 1)),
            ("2-D mixture, sigma 1 -> 0.5, gamma = 0.25",
             _mixture_denoiser, 1.0, 0.5, 0.25, (6, 2)),
            ("2-D mixture, sigma 0.3 -> 0 (last step), gamma = 0.1",
             _mixture_denoiser, 0.3, 0.0, 0.1, (4, 2)),
            ("Gaussian data, gamma = 0 (no churn: an Euler step)", gauss,
             3.0, 1.0, 0.0, (3, 1))]:
        x = (1 + sigma) * rng.standard_normal(shape)
        noise = rng.standard_normal(shape)
        cases.append(Case(label, (den, x, sigma, sigma_next, gamma,
                                  noise)))
    return cases


def check_churn_step(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(denoiser, x, sigma, sigma_next, gamma, noise)`` =
    one stochastic step: σ̂ = (1 + γ)σ, x̂ = x + √(σ̂² − σ²) z, then an
    Euler step of dx/dσ = (x − D(x; σ))/σ from (x̂, σ̂) to σ_next
    (exercise ex-11-churn-step)."""
    return run_check(
        "one step with stochastic churn", answer, _churn_reference,
        _churn_cases(), strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("noise scaled by sigma_hat - sigma",
                    _churn_linear_noise,
                    "noise levels add in VARIANCE: to go from sigma to "
                    "sigma_hat add noise of variance sigma_hat^2 - "
                    "sigma^2, i.e. sqrt(sigma_hat^2 - sigma^2) z."),
            Mistake("noise scaled by the variance sigma_hat^2 - sigma^2",
                    _churn_variance_noise,
                    "multiply z by the standard deviation "
                    "sqrt(sigma_hat^2 - sigma^2), not by the variance."),
            Mistake("Euler step taken from sigma instead of sigma_hat",
                    _churn_from_sigma,
                    "after the churn the point x_hat is at noise level "
                    "sigma_hat: the step size is sigma_next - sigma_hat."),
            Mistake("slope evaluated before the noise is added",
                    _churn_slope_before,
                    "evaluate the slope at the new point: (x_hat - "
                    "D(x_hat; sigma_hat)) / sigma_hat."),
            Mistake("gamma added to sigma", _churn_additive,
                    "gamma is relative: sigma_hat = sigma + gamma sigma "
                    "= (1 + gamma) sigma."),
        ],
        hint="two stages: first raise the noise level, sigma_hat = "
             "(1 + gamma) sigma and x_hat = x + sqrt(sigma_hat^2 - "
             "sigma^2) z; then one Euler step of dx/dsigma = (x - "
             "D(x; sigma)) / sigma from (x_hat, sigma_hat) to "
             "sigma_next. With gamma = 0 it must be a plain Euler step.")


# ---------------------------------------------------------------------------
# The log-likelihood through the ODE
# ---------------------------------------------------------------------------

def _log_normal(x, var):
    d = x.shape[1]
    return (-0.5 * np.sum(x ** 2, axis=1) / var
            - 0.5 * d * np.log(2 * np.pi * var))


def _ll_with(velocity, divergence, x0, sigmas, *, sign=1.0, prior="max",
             step_size=True, prior_at="end", div_at="start"):
    x = np.array(x0, dtype=np.result_type(x0, np.float32))
    delta = np.zeros(x.shape[0], dtype=x.dtype)
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        h = (s_next - s) if step_size else 1.0
        x_new = x + (s_next - s) * velocity(x, s)
        at = {"start": x, "after": x_new, "data": np.asarray(x0)}[div_at]
        delta = delta + h * divergence(at, s)
        x = x_new
    if prior is None:
        return sign * delta
    var = sigmas[-1] ** 2 if prior == "max" else 1.0
    point = x if prior_at == "end" else np.asarray(x0)
    return _log_normal(point, var) + sign * delta


def _ll_reference(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas)


def _ll_sign(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, sign=-1.0)


def _ll_no_prior(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, prior=None)


def _ll_unit_prior(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, prior="unit")


def _ll_no_step(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, step_size=False)


def _ll_prior_at_data(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, prior_at="data")


def _ll_div_after(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, div_at="after")


def _ll_div_at_data(velocity, divergence, x0, sigmas):
    return _ll_with(velocity, divergence, x0, sigmas, div_at="data")


def _gauss_field(m, v):
    """Velocity (x − D)/σ and its divergence for data N(m, diag(v))."""
    m, v = np.asarray(m, dtype=float), np.asarray(v, dtype=float)

    def velocity(x, sigma):
        return sigma * (x - m) / (v + sigma ** 2)

    def divergence(x, sigma):
        return np.full(x.shape[0], np.sum(sigma / (v + sigma ** 2)))
    return velocity, divergence


def _spiral_velocity(x, sigma):
    """A spiralling field: rotation plus expansion, both growing with
    σ (its divergence depends on σ only)."""
    rot = np.stack([-x[:, 1], x[:, 0]], axis=1)
    return 0.3 * sigma * x + 0.5 * rot / (1 + sigma)


def _spiral_divergence(x, sigma):
    return np.full(x.shape[0], 0.6 * sigma)


def _tanh_velocity(x, sigma):
    """A nonlinear field whose divergence depends on x."""
    return sigma * np.tanh(x)


def _tanh_divergence(x, sigma):
    return sigma * np.sum(1 - np.tanh(x) ** 2, axis=1)


def _ll_cases() -> list[Case]:
    rng = np.random.default_rng(1105)
    v1, d1 = _gauss_field(0.5, 0.3)
    v2, d2 = _gauss_field([0.0, 1.0], [0.2, 0.8])
    return [
        Case("Gaussian data, 1-D, 10 levels from 0 to 10",
             (v1, d1, rng.standard_normal((5, 1)),
              np.append(0.0, np.geomspace(0.01, 10.0, 9)))),
        Case("Gaussian data, 2-D, 6 levels from 0.05 to 5",
             (v2, d2, rng.standard_normal((4, 2)),
              np.geomspace(0.05, 5.0, 6))),
        Case("a spiralling field, 2-D, 4 levels from 0.1 to 2",
             (_spiral_velocity, _spiral_divergence,
              rng.standard_normal((3, 2)),
              np.array([0.1, 0.5, 1.0, 2.0]))),
        Case("a nonlinear field sigma tanh(x), 2-D, 5 levels from 0.05 "
             "to 3 (its divergence depends on x)",
             (_tanh_velocity, _tanh_divergence,
              rng.standard_normal((4, 2)),
              np.array([0.05, 0.5, 1.0, 2.0, 3.0]))),
    ]


def check_ode_log_likelihood(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(velocity, divergence, x0, sigmas)`` = log p(x_0):
    Euler steps of dx/dσ = v(x, σ) along the increasing ``sigmas``,
    accumulating ∫ div v dσ, plus log N(x(σ_max); 0, σ_max² I)
    (exercise ex-11-ode-log-likelihood)."""
    return run_check(
        "log-likelihood through the ODE", answer, _ll_reference,
        _ll_cases(), strict=strict, rtol=1e-8, atol=1e-10,
        mistakes=[
            Mistake("sign of the divergence term", _ll_sign,
                    "d log p(x(sigma)) / dsigma = -div v: going UP from "
                    "the data to sigma_max the log density falls by the "
                    "integral of the divergence, so log p(x_0) = log "
                    "p(x(sigma_max)) + integral of div v."),
            Mistake("prior term missing", _ll_no_prior,
                    "the integral of the divergence is only the change "
                    "of log density along the path: add the log "
                    "density of the prior at the end point."),
            Mistake("prior with unit variance", _ll_unit_prior,
                    "at sigma_max the points are about sigma_max times "
                    "a standard Gaussian: the prior is N(0, sigma_max^2 "
                    "I), not N(0, I)."),
            Mistake("divergence not multiplied by the step size",
                    _ll_no_step,
                    "the integral is a sum of div v(x_k, sigma_k) "
                    "(sigma_{k+1} - sigma_k): multiply each divergence "
                    "by its step."),
            Mistake("prior evaluated at the data point", _ll_prior_at_data,
                    "evaluate the prior at the END of the path, "
                    "x(sigma_max), not at x_0."),
            Mistake("divergence evaluated after the step", _ll_div_after,
                    "an Euler step uses the values at the START of the "
                    "step: add h div v(x_k, sigma_k) before moving x to "
                    "x_{k+1}."),
            Mistake("divergence evaluated at the data point",
                    _ll_div_at_data,
                    "the divergence is integrated along the PATH: "
                    "evaluate it at the current point x_k, not at x_0."),
        ],
        hint="carry two quantities through the Euler steps: the point x "
             "and the running sum of div v(x, sigma) (sigma_{k+1} - "
             "sigma_k), both evaluated at the start of each step; at the "
             "end add log N(x; 0, sigma_max^2 I), one value per point.")
