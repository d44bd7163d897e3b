"""Checks for the coding exercises of chapter 8 (DDIM and the ODE).

* :func:`check_ddim_sigma` — σ_t(η) of a DDIM step between any two
  steps; recognises β_t in place of 1 − ᾱ_t/ᾱ_{t'}, a variance returned
  as a standard deviation, η instead of η², and the ratio upside down.
* :func:`check_ddim_step` — one DDIM step; recognises DDIM's α read as
  our per-step α, a wrong sign of the direction term, σ_t forgotten in
  the direction term, and σ_t² multiplying the noise.
* :func:`check_respaced_betas` — β of a sub-sequence of steps;
  recognises the original β at the kept steps and an off-by-one.
* :func:`check_heun_step` — one Heun step of the probability-flow ODE;
  recognises a plain Euler step, the second slope taken at the old
  point, and the second slope used alone.
"""

from __future__ import annotations

import numpy as np

from .. import schedules as sch
from ..toy_data import GaussianMixture1D, GaussianMixture2D
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_ddim_sigma",
    "check_ddim_step",
    "check_respaced_betas",
    "check_heun_step",
]


def _sigma_with(s, t, t_prev, eta, ratio_fn, power=2, root=True):
    ab, abp = s.alpha_bar[t], s.alpha_bar[t_prev]
    var = eta ** power * (1 - abp) / (1 - ab) * ratio_fn(s, t, t_prev)
    return float(np.sqrt(var)) if root else float(var)


def _gap(s, t, t_prev):
    return 1 - s.alpha_bar[t] / s.alpha_bar[t_prev]


def _sigma_reference(s, t, t_prev, eta):
    return _sigma_with(s, t, t_prev, eta, _gap)


def _sigma_beta(s, t, t_prev, eta):
    return _sigma_with(s, t, t_prev, eta, lambda s, t, tp: s.beta[t])


def _sigma_variance(s, t, t_prev, eta):
    return _sigma_with(s, t, t_prev, eta, _gap, root=False)


def _sigma_eta_not_squared(s, t, t_prev, eta):
    return _sigma_with(s, t, t_prev, eta, _gap, power=1)


def _sigma_upside_down(s, t, t_prev, eta):
    ab, abp = s.alpha_bar[t], s.alpha_bar[t_prev]
    return float(np.sqrt(eta ** 2 * (1 - ab) / (1 - abp) * _gap(s, t,
                                                                  t_prev)))


def _schedules():
    return sch.linear(1000), sch.cosine(50)


def _sigma_cases() -> list[Case]:
    lin, cos = _schedules()
    return [
        Case("linear(1000), t = 500 -> 499, eta = 1", (lin, 500, 499, 1.0)),
        Case("linear(1000), t = 1000 -> 900, eta = 1",
             (lin, 1000, 900, 1.0)),
        Case("linear(1000), t = 300 -> 200, eta = 0.5",
             (lin, 300, 200, 0.5)),
        Case("cosine(50), t = 40 -> 25, eta = 0.3", (cos, 40, 25, 0.3)),
        Case("cosine(50), t = 10 -> 0, eta = 1 (last step)",
             (cos, 10, 0, 1.0)),
    ]


def check_ddim_sigma(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, t, t_prev, eta)`` = σ of a DDIM step from t to
    t_prev (exercise ex-08-ddim-sigma)."""
    return run_check(
        "DDIM noise level sigma(eta)", answer, _sigma_reference,
        _sigma_cases(), strict=strict,
        mistakes=[
            Mistake("beta_t instead of 1 - alpha_bar_t / "
                    "alpha_bar_t_prev", _sigma_beta,
                    "beta_t is the variance of ONE step of the original "
                    "chain; between t and t_prev < t - 1 the gap is 1 - "
                    "alpha_bar_t / alpha_bar_t_prev (it equals beta_t "
                    "only when t_prev = t - 1)."),
            Mistake("variance instead of standard deviation",
                    _sigma_variance,
                    "return sigma, the square root of eta^2 (1 - "
                    "alpha_bar') / (1 - alpha_bar) (1 - alpha_bar / "
                    "alpha_bar')."),
            Mistake("eta instead of eta^2 in the variance",
                    _sigma_eta_not_squared,
                    "eta scales the standard deviation, so the variance "
                    "has eta^2."),
            Mistake("ratio of (1 - alpha_bar) upside down",
                    _sigma_upside_down,
                    "the factor is (1 - alpha_bar_t_prev) / (1 - "
                    "alpha_bar_t), as in the posterior variance "
                    "beta_tilde_t = beta_t (1 - alpha_bar_{t-1}) / (1 - "
                    "alpha_bar_t)."),
        ],
        hint="compare with eq. (8.3) factor by factor for one pair of "
             "steps: both alpha_bar values are cumulative products "
             "(s.alpha_bar at t and at t_prev), eta multiplies a standard "
             "deviation, and with consecutive steps and eta = 1 your "
             "sigma^2 must equal s.beta_tilde[t].")


# ---------------------------------------------------------------------------
# One DDIM step
# ---------------------------------------------------------------------------

def _step_with(s, xt, t, t_prev, eps, noise, eta, *, ab_arr=None,
               sign=1.0, subtract_var=True, noise_power=0.5):
    ab_arr = s.alpha_bar if ab_arr is None else ab_arr
    ab, abp = ab_arr[t], ab_arr[t_prev]
    var = eta ** 2 * (1 - abp) / (1 - ab) * (1 - ab / abp)
    x0 = (xt - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
    direction = np.sqrt(max(1 - abp - (var if subtract_var else 0.0), 0))
    return (np.sqrt(abp) * x0 + sign * direction * eps
            + var ** noise_power * noise)


def _step_reference(s, xt, t, t_prev, eps, noise, eta):
    return _step_with(s, xt, t, t_prev, eps, noise, eta)


def _step_alpha(s, xt, t, t_prev, eps, noise, eta):
    return _step_with(s, xt, t, t_prev, eps, noise, eta, ab_arr=s.alpha)


def _step_sign(s, xt, t, t_prev, eps, noise, eta):
    return _step_with(s, xt, t, t_prev, eps, noise, eta, sign=-1.0)


def _step_no_var(s, xt, t, t_prev, eps, noise, eta):
    return _step_with(s, xt, t, t_prev, eps, noise, eta,
                      subtract_var=False)


def _step_var_noise(s, xt, t, t_prev, eps, noise, eta):
    return _step_with(s, xt, t, t_prev, eps, noise, eta, noise_power=1.0)


def _step_cases() -> list[Case]:
    rng = np.random.default_rng(801)
    lin, cos = _schedules()
    cases = []
    for label, s, t, tp, eta, shape in [
            ("linear(1000), 500 -> 400, eta = 0", lin, 500, 400, 0.0,
             (5, 2)),
            ("linear(1000), 800 -> 600, eta = 1", lin, 800, 600, 1.0,
             (4, 1)),
            ("linear(1000), 21 -> 20, eta = 0.5", lin, 21, 20, 0.5,
             (4, 2)),
            ("cosine(50), 30 -> 10, eta = 0.7, 3-D", cos, 30, 10, 0.7,
             (3, 3)),
            ("cosine(50), 5 -> 0 (last step), eta = 1", cos, 5, 0, 1.0,
             (4, 2))]:
        xt, eps, noise = rng.standard_normal((3,) + shape)
        cases.append(Case(label, (s, xt, t, tp, eps, noise, eta)))
    return cases


def check_ddim_step(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, xt, t, t_prev, eps, noise, eta)`` = one DDIM
    step (exercise ex-08-ddim-step)."""
    return run_check(
        "one DDIM step", answer, _step_reference, _step_cases(),
        strict=strict,
        mistakes=[
            Mistake("DDIM's alpha read as the per-step alpha",
                    _step_alpha,
                    "in Song et al. (2021) alpha_t is the PRODUCT of the "
                    "per-step alphas: their alpha_t is our alpha_bar_t. "
                    "Use s.alpha_bar, not s.alpha."),
            Mistake("wrong sign of the direction term", _step_sign,
                    "the direction pointing to x_t is + sqrt(1 - "
                    "alpha_bar' - sigma^2) * eps: x_t' keeps the "
                    "predicted noise with a positive weight, as in "
                    "q(x_t' | x_0)."),
            Mistake("sigma^2 missing from the direction term",
                    _step_no_var,
                    "the direction term has sqrt(1 - alpha_bar' - "
                    "sigma^2): the variance of the fresh noise sigma z "
                    "must be taken from it, or x_t' has too much "
                    "variance."),
            Mistake("variance sigma^2 multiplying the noise",
                    _step_var_noise,
                    "the noise is multiplied by the standard deviation "
                    "sigma, not by the variance sigma^2."),
        ],
        hint="test the three terms of eq. (8.2) separately: with eta = 0 "
             "and x_t built from a known x_0, the predicted x_0 must be "
             "that x_0; the direction term points towards x_t and its "
             "variance and sigma^2 add up to 1 - alpha_bar at t_prev; "
             "only the last term uses the noise.")


# ---------------------------------------------------------------------------
# Respacing
# ---------------------------------------------------------------------------

def _respace_reference(alpha_bar, timesteps):
    ab = np.concatenate([[1.0], alpha_bar[timesteps]])
    return np.concatenate([[0.0], 1 - ab[1:] / ab[:-1]])


def _respace_original_beta(alpha_bar, timesteps):
    beta = np.concatenate([[0.0], 1 - alpha_bar[1:] / alpha_bar[:-1]])
    return np.concatenate([[0.0], beta[timesteps]])


def _respace_off_by_one(alpha_bar, timesteps):
    ab = np.concatenate([[1.0], alpha_bar[timesteps - 1]])
    return np.concatenate([[0.0], 1 - ab[1:] / ab[:-1]])


def _respace_upside_down(alpha_bar, timesteps):
    ab = np.concatenate([[1.0], alpha_bar[timesteps]])
    return np.concatenate([[0.0], 1 - ab[:-1] / ab[1:]])


def _respace_cases() -> list[Case]:
    lin, cos = sch.linear(1000), sch.cosine(100)
    return [
        Case("linear(1000), every 100th step",
             (lin.alpha_bar, np.arange(100, 1001, 100))),
        Case("linear(1000), steps 1, 10, 50, 400, 1000",
             (lin.alpha_bar, np.array([1, 10, 50, 400, 1000]))),
        Case("cosine(100), 7 uneven steps",
             (cos.alpha_bar, np.array([3, 9, 20, 41, 60, 85, 100]))),
        Case("linear(1000), all 1000 steps (nothing removed)",
             (lin.alpha_bar, np.arange(1, 1001))),
    ]


def check_respaced_betas(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(alpha_bar, timesteps)`` = β' of the sub-sequence,
    length K + 1 with β'_0 = 0 (exercise ex-08-respace)."""
    return run_check(
        "betas of a respaced schedule", answer, _respace_reference,
        _respace_cases(), strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("the original beta at the kept steps",
                    _respace_original_beta,
                    "beta_{tau_k} is the variance of one step of the "
                    "ORIGINAL chain; the new step jumps from tau_{k-1} "
                    "to tau_k, so beta'_k = 1 - alpha_bar_{tau_k} / "
                    "alpha_bar_{tau_{k-1}}, which keeps alpha_bar at "
                    "every kept step."),
            Mistake("alpha_bar read one step early", _respace_off_by_one,
                    "alpha_bar is indexed by the book's t: "
                    "alpha_bar[tau_k] is alpha_bar_{tau_k}, no -1."),
            Mistake("ratio of alpha_bar upside down",
                    _respace_upside_down,
                    "alpha_bar decreases, so the ratio alpha_bar_{tau_k}"
                    " / alpha_bar_{tau_{k-1}} is < 1 and beta' > 0."),
        ],
        hint="eq. (8.4): the new betas must reproduce the original "
             "alpha_bar at the kept steps; multiply your (1 - beta) "
             "back together and compare with s.alpha_bar[timesteps]. "
             "Index 0 of the result is the unused beta_0 = 0.")


# ---------------------------------------------------------------------------
# One Heun step
# ---------------------------------------------------------------------------

def _x_bar_step(s, xt, t, t_prev, velocity):
    ab, abp = s.alpha_bar[t], s.alpha_bar[t_prev]
    sig = np.sqrt((1 - ab) / ab)
    sig_prev = np.sqrt((1 - abp) / abp)
    return np.sqrt(abp) * (xt / np.sqrt(ab) + (sig_prev - sig) * velocity)


def _heun_with(s, eps_model, xt, t, t_prev, mode="heun"):
    n = xt.shape[0]
    e1 = eps_model(xt, np.full(n, t))
    x_pred = _x_bar_step(s, xt, t, t_prev, e1)
    if mode == "euler" or t_prev == 0:
        return x_pred
    if mode == "old_point":
        e2 = eps_model(xt, np.full(n, t_prev))
    else:
        e2 = eps_model(x_pred, np.full(n, t_prev))
    if mode == "second_only":
        return _x_bar_step(s, xt, t, t_prev, e2)
    return _x_bar_step(s, xt, t, t_prev, 0.5 * (e1 + e2))


def _heun_reference(s, eps_model, xt, t, t_prev):
    return _heun_with(s, eps_model, xt, t, t_prev)


def _heun_euler(s, eps_model, xt, t, t_prev):
    return _heun_with(s, eps_model, xt, t, t_prev, "euler")


def _heun_old_point(s, eps_model, xt, t, t_prev):
    return _heun_with(s, eps_model, xt, t, t_prev, "old_point")


def _heun_second_only(s, eps_model, xt, t, t_prev):
    return _heun_with(s, eps_model, xt, t, t_prev, "second_only")


def _heun_cases() -> list[Case]:
    rng = np.random.default_rng(804)
    lin, cos = sch.linear(1000), sch.cosine(50)
    mix1, mix2 = GaussianMixture1D(), GaussianMixture2D()
    return [
        Case("1-D mixture, linear(1000), 1000 -> 800",
             (lin, mix1.eps_model(lin), rng.standard_normal((5, 1)), 1000,
              800)),
        Case("1-D mixture, linear(1000), 200 -> 100",
             (lin, mix1.eps_model(lin), rng.standard_normal((5, 1)), 200,
              100)),
        Case("2-D mixture, cosine(50), 30 -> 20",
             (cos, mix2.eps_model(cos), rng.standard_normal((4, 2)), 30,
              20)),
        Case("2-D mixture, cosine(50), 8 -> 0 (last step: Euler)",
             (cos, mix2.eps_model(cos), rng.standard_normal((4, 2)), 8,
              0)),
    ]


def check_heun_step(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(s, eps_model, xt, t, t_prev)`` = one Heun step of
    dx̄/dσ = ε (exercise ex-08-heun-step)."""
    return run_check(
        "one Heun step of the probability-flow ODE", answer,
        _heun_reference, _heun_cases(), strict=strict, rtol=1e-8,
        mistakes=[
            Mistake("a plain Euler step", _heun_euler,
                    "Heun corrects the Euler step: evaluate eps at the "
                    "predicted point and step with the AVERAGE of the "
                    "two slopes (except on the last step to t = 0)."),
            Mistake("second slope at the old point", _heun_old_point,
                    "the second slope is eps_model(x_pred, t_prev), at "
                    "the point the Euler predictor reached, not at x_t."),
            Mistake("second slope alone", _heun_second_only,
                    "the corrector uses (eps_1 + eps_2) / 2, the "
                    "trapezoidal rule, not eps_2 alone."),
        ],
        hint="work in the variables of eq. (8.7) and write the step as "
             "eq. (8.9): check the predictor alone first (it must equal "
             "the DDIM step with eta = 0), then that the corrector "
             "averages the two slopes, and how the step to t_prev = 0 "
             "ends.")
