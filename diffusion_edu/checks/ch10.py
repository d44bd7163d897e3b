"""Checks for the coding exercises of chapter 10 (flow matching).

* :func:`check_conditional_velocity` — a'_t x_0 + b'_t ε on the linear
  and the variance-preserving paths; recognises the velocity's sign
  reversed, time reversed (t = 0 read as noise), a_t and b_t swapped,
  the interpolant returned instead of its derivative, ...
* :func:`check_velocity_from_x0` — u = (x_t − x̂_0)/t on the linear
  path; recognises the sign, a missing 1/t, the velocity built from the
  wrong endpoint ((x̂_0 − x_t)/(1 − t)), ...
* :func:`check_euler_sampler` — K Euler steps of dx/dt = u from t = 1 to
  t = 0; recognises a step with the wrong sign, the velocity evaluated
  at the end of the step, the times reversed, ...
"""

from __future__ import annotations

import numpy as np

from .. import flows
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_conditional_velocity",
    "check_velocity_from_x0",
    "check_euler_sampler",
]


# ---------------------------------------------------------------------------
# Conditional velocity
# ---------------------------------------------------------------------------

def _cv_reference(x0, eps, t, path):
    return flows.conditional_velocity(x0, eps, t, path)


def _cv_sign(x0, eps, t, path):
    return -flows.conditional_velocity(x0, eps, t, path)


def _cv_time_reversed(x0, eps, t, path):
    return flows.conditional_velocity(x0, eps, 1 - t, path)


def _cv_swapped(x0, eps, t, path):
    return flows.conditional_velocity(eps, x0, t, path)


def _cv_interpolant(x0, eps, t, path):
    return flows.interpolate(x0, eps, t, path)


def _cv_vp_no_chain_rule(x0, eps, t, path):
    c = flows.coefficients(t, path)
    if path == "linear":
        return c.da * x0 + c.db * eps
    return -c.b * x0 + c.a * eps          # forgot the factor π/2


def _cv_vp_cos_sign(x0, eps, t, path):
    c = flows.coefficients(t, path)
    if path == "linear":
        return c.da * x0 + c.db * eps
    return -c.da * x0 + c.db * eps        # d/dt cos taken as +sin


def _cv_cases() -> list[Case]:
    rng = np.random.default_rng(1001)
    x0, eps = rng.standard_normal((2, 5, 2))
    x1, e1 = rng.standard_normal((2, 4, 1))
    return [
        Case("linear path, t = 0.3, 5 points in 2-D", (x0, eps, 0.3,
                                                       "linear")),
        Case("variance-preserving path, t = 0.3", (x0, eps, 0.3, "vp")),
        Case("variance-preserving path, t = 0.8, 1-D", (x1, e1, 0.8,
                                                        "vp")),
        Case("variance-preserving path at the data end, t = 0",
             (x1, e1, 0.0, "vp")),
    ]


def check_conditional_velocity(answer, strict: bool = False
                               ) -> CheckResult:
    """Check ``answer(x0, eps, t, path)`` = a'_t x_0 + b'_t ε for
    path "linear" (a = 1 − t, b = t) and "vp" (a = cos(πt/2),
    b = sin(πt/2)) (exercise ex-10-conditional-velocity)."""
    return run_check(
        "conditional velocity", answer, _cv_reference, _cv_cases(),
        strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("velocity with the wrong sign", _cv_sign,
                    "x_t moves from the data (t = 0) towards the noise "
                    "(t = 1): on the linear path dx_t/dt = eps - x0, "
                    "not x0 - eps."),
            Mistake("time reversed (t = 0 read as the noise)",
                    _cv_time_reversed,
                    "in this book t = 0 is the data: a_0 = 1, b_0 = 0 "
                    "(evaluate a', b' at t, not at 1 - t). "
                    "Papers that put the data at t = 1 (Lipman et al.) "
                    "write x_s = s * data + (1 - s) * noise (their x1 is "
                    "the data): translate with s = 1 - t first."),
            Mistake("a_t and b_t swapped", _cv_swapped,
                    "a_t multiplies the data x0 and b_t the noise eps."),
            Mistake("the interpolant instead of its derivative",
                    _cv_interpolant,
                    "return the time derivative a'_t x0 + b'_t eps, not "
                    "x_t = a_t x0 + b_t eps."),
            Mistake("chain rule forgotten (factor pi/2)",
                    _cv_vp_no_chain_rule,
                    "d/dt cos(pi t / 2) = -(pi/2) sin(pi t / 2): keep "
                    "the factor pi/2 of the chain rule."),
            Mistake("sign of the derivative of the cosine",
                    _cv_vp_cos_sign,
                    "d/dt cos(pi t / 2) = -(pi/2) sin(pi t / 2) is "
                    "negative for t in (0, 1]: the data coefficient "
                    "a_t shrinks as t grows."),
        ],
        hint="x_t = a_t x0 + b_t eps; differentiate a_t and b_t in t.")


# ---------------------------------------------------------------------------
# Velocity from the data prediction
# ---------------------------------------------------------------------------

def _vx_reference(xt, x0_hat, t):
    return (xt - x0_hat) / t


def _vx_sign(xt, x0_hat, t):
    return (x0_hat - xt) / t


def _vx_no_division(xt, x0_hat, t):
    return xt - x0_hat


def _vx_wrong_endpoint(xt, x0_hat, t):
    return (x0_hat - xt) / (1 - t)


def _vx_wrong_denominator(xt, x0_hat, t):
    return (xt - x0_hat) / (1 - t)


def _vx_eps_hat_without_a(xt, x0_hat, t):
    return (xt - x0_hat) / t - x0_hat


def _vx_cases() -> list[Case]:
    rng = np.random.default_rng(1002)
    x, x0 = rng.standard_normal((2, 6, 2))
    x1, y1 = rng.standard_normal((2, 3, 1))
    return [
        Case("t = 0.25, 6 points in 2-D", (x, x0, 0.25)),
        Case("t = 0.7, 1-D", (x1, y1, 0.7)),
        Case("t = 1 (pure noise)", (x1, y1, 1.0)),
        Case("t = 0.5", (x, 0.5 * x0, 0.5)),
    ]


def check_velocity_from_x0(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(xt, x0_hat, t)`` = (x_t − x̂_0)/t, the velocity of
    the linear path from a data prediction (exercise
    ex-10-velocity-from-x0)."""
    return run_check(
        "velocity from the data prediction", answer, _vx_reference,
        _vx_cases(), strict=strict,
        mistakes=[
            Mistake("wrong sign", _vx_sign,
                    "the velocity points from the data towards the "
                    "noise, i.e. away from x0_hat: (xt - x0_hat) / t."),
            Mistake("missing division by t", _vx_no_division,
                    "eps - x0 = (xt - x0) / t: x_t is only the fraction "
                    "t of the way from x0 to eps."),
            Mistake("built from the wrong endpoint", _vx_wrong_endpoint,
                    "(x0_hat - xt) / (1 - t) would be the velocity if "
                    "x0_hat were the NOISE end at t = 1. Here it is the "
                    "data end, at t = 0."),
            Mistake("divided by 1 - t", _vx_wrong_denominator,
                    "x_t - x0 = t (eps - x0): divide by t, the time "
                    "elapsed since the data end."),
            Mistake("factor (1 - t) dropped in eps_hat",
                    _vx_eps_hat_without_a,
                    "x_t = (1 - t) x0_hat + t eps_hat, so eps_hat = "
                    "(xt - (1 - t) x0_hat) / t: keep a_t = 1 - t on "
                    "x0_hat before dividing by t."),
        ],
        hint="with x_t built from a known x_0 and eps, your velocity "
             "must equal the conditional velocity eps - x_0 of eq. "
             "(10.2); eq. (10.7) gives it from x_t and x0_hat. Check the "
             "sign and which endpoint is data (t = 0).")


# ---------------------------------------------------------------------------
# Euler sampler
# ---------------------------------------------------------------------------

def _euler_reference(velocity, x1, num_steps):
    return flows.integrate(velocity, x1, flows.time_grid(num_steps))


def _euler_plus(velocity, x1, num_steps):
    x = np.array(x1, dtype=float)
    for k in range(num_steps):
        t = 1 - k / num_steps
        x = x + velocity(x, t) / num_steps
    return x


def _euler_end_of_step(velocity, x1, num_steps):
    x = np.array(x1, dtype=float)
    for k in range(num_steps):
        t_next = 1 - (k + 1) / num_steps
        x = x - velocity(x, t_next) / num_steps
    return x


def _euler_times_reversed(velocity, x1, num_steps):
    x = np.array(x1, dtype=float)
    for k in range(num_steps):
        x = x - velocity(x, k / num_steps) / num_steps
    return x


def _euler_one_step_short(velocity, x1, num_steps):
    x = np.array(x1, dtype=float)
    for k in range(num_steps - 1):
        t = 1 - k / num_steps
        x = x - velocity(x, t) / num_steps
    return x


def _euler_no_step_size(velocity, x1, num_steps):
    x = np.array(x1, dtype=float)
    for k in range(num_steps):
        x = x - velocity(x, 1 - k / num_steps)
    return x


def _gauss_velocity(x, t):
    """Exact linear-path velocity for N(0.5, 0.2) data (affine in x)."""
    m, v = 0.5, 0.2
    a, b = 1 - t, t
    x0 = m + a * v * (x - a * m) / (a ** 2 * v + b ** 2)
    if b == 0:
        return -x0
    return -x0 + (x - a * x0) / b


def _rotation(x, t):
    """A time-dependent rotation field (not a flow of any interpolant)."""
    return np.stack([-x[:, 1], x[:, 0]], axis=1) * (1 + t)


def _euler_cases() -> list[Case]:
    rng = np.random.default_rng(1003)
    return [
        Case("Gaussian data, 4 steps", (_gauss_velocity,
                                        rng.standard_normal((5, 1)), 4)),
        Case("Gaussian data, 1 step", (_gauss_velocity,
                                       rng.standard_normal((3, 1)), 1)),
        Case("a rotating field in 2-D, 5 steps",
             (_rotation, rng.standard_normal((4, 2)), 5)),
    ]


def check_euler_sampler(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(velocity, x1, num_steps)`` = K Euler steps of
    dx/dt = u(x, t) from t = 1 down to t = 0 on the grid t_k = 1 − k/K
    (exercise ex-10-euler-sampler)."""
    return run_check(
        "Euler sampler", answer, _euler_reference, _euler_cases(),
        strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("step with the wrong sign", _euler_plus,
                    "time DEcreases from 1 to 0: the step is h = -1/K, "
                    "x <- x - u(x, t) / K."),
            Mistake("velocity evaluated at the end of the step",
                    _euler_end_of_step,
                    "Euler evaluates u at the start of each step, "
                    "t_k = 1 - k/K (the first call is at t = 1)."),
            Mistake("times reversed", _euler_times_reversed,
                    "sampling starts from noise at t = 1: evaluate u at "
                    "1, 1 - 1/K, ..., 1/K, not at 0, 1/K, ..."),
            Mistake("one step short", _euler_one_step_short,
                    "K steps of size 1/K are needed to get from t = 1 "
                    "to t = 0."),
            Mistake("step size forgotten", _euler_no_step_size,
                    "each step moves by (t_{k+1} - t_k) u = -u / K, not "
                    "by -u: with one step the two agree, with K > 1 "
                    "the particles overshoot."),
        ],
        hint="eq. (10.9) runs from t = 1 (noise) down to t = 0 (data) "
             "in K equal steps: check the direction of time, that the "
             "step size is negative, and that each step evaluates u at "
             "the start of the step.")
