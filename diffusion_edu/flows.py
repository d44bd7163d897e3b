"""Flow matching: interpolants, velocity fields and their integration.

A Gaussian *interpolant* joins data x_0 and noise ε ~ N(0, I) by

    x_t = a_t x_0 + b_t ε,    t ∈ [0, 1],  a_0 = b_1 = 1, a_1 = b_0 = 0,

so that t = 0 is the data and t = 1 is the noise (the convention of
this book; see the conventions table of chapter 10). Two paths:

* ``"linear"``: a_t = 1 − t, b_t = t (rectified flow; Liu et al. 2023;
  the conditional optimal-transport path of Lipman et al. 2023);
* ``"vp"``: a_t = cos(πt/2), b_t = sin(πt/2), the variance-preserving
  path (a_t² + b_t² = 1) of chapters 2–3 with ᾱ(t) = cos²(πt/2).

The *conditional velocity* is d x_t/dt = a'_t x_0 + b'_t ε; the
*marginal velocity* u_t(x) = E[a'_t x_0 + b'_t ε | x_t = x] moves
samples of p_0 (data) to p_1 (noise) and, integrated from t = 1 down to
0, noise to data. For the toy data of :mod:`diffusion_edu.toy_data` it
is exact, through the ideal denoiser E[x_0 | x_t].

Conversions between the velocity u, the noise prediction ε̂, the data
prediction x̂_0, the score ∇ log p_t and the v-prediction of Salimans and
Ho (2022) are linear in (x_t, prediction) with coefficients depending
only on t; they are exact identities of the ideal predictors and the
usual way to reuse one network for another target.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

from ._validate import as_data, as_float_array, as_int
from .schedules import Schedule, from_alpha_bar

__all__ = [
    "PATHS",
    "Coefficients",
    "coefficients",
    "interpolate",
    "conditional_velocity",
    "posterior_mean_x0",
    "marginal_velocity",
    "velocity_model",
    "marginal_pdf",
    "velocity_from_v_model",
    "velocity_from_x0",
    "velocity_from_eps",
    "velocity_from_score",
    "velocity_from_v",
    "x0_from_velocity",
    "eps_from_velocity",
    "score_from_velocity",
    "v_from_velocity",
    "vp_alpha_bar",
    "schedule_for_path",
    "time_grid",
    "integrate",
    "straightness",
]

Path = Literal["linear", "vp"]
PATHS = ("linear", "vp")
VelocityFn = Callable[[np.ndarray, float], np.ndarray]


class Coefficients(NamedTuple):
    """a_t, b_t and their time derivatives a'_t, b'_t (floats)."""

    a: float
    b: float
    da: float
    db: float


def _time(t) -> float:
    t = float(as_float_array(t, "t", ndim=0))
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1] (0 = data, 1 = noise); "
                         f"got {t}")
    return t


def coefficients(t, path: Path = "linear") -> Coefficients:
    """The interpolant's a_t, b_t, a'_t, b'_t at one time t ∈ [0, 1].

    linear: a = 1 − t, b = t, a' = −1, b' = 1;
    vp: a = cos(πt/2), b = sin(πt/2), a' = −(π/2) b, b' = (π/2) a.

    Book: chapter 10, eq. (eq-10-interpolant)
    """
    t = _time(t)
    if path == "linear":
        return Coefficients(1.0 - t, t, -1.0, 1.0)
    if path == "vp":
        a, b = np.cos(np.pi * t / 2), np.sin(np.pi * t / 2)
        if t == 1.0:
            a = 0.0
        return Coefficients(float(a), float(b), -np.pi / 2 * float(b),
                            np.pi / 2 * float(a))
    raise ValueError(f"path must be one of {PATHS}; got {path!r}")


def _pair(x, other, name_x, name_other):
    x = as_data(x, name_x)
    other = as_data(other, name_other)
    if other.shape != x.shape:
        raise ValueError(f"{name_other} must have the shape of {name_x}, "
                         f"{x.shape}; got {other.shape}")
    return x, other


def interpolate(x0, eps, t, path: Path = "linear") -> np.ndarray:
    """x_t = a_t x_0 + b_t ε, shape (N, D).

    Book: chapter 10, eq. (eq-10-interpolant)
    """
    x0, eps = _pair(x0, eps, "x0", "eps")
    c = coefficients(t, path)
    return c.a * x0 + c.b * eps


def conditional_velocity(x0, eps, t, path: Path = "linear") -> np.ndarray:
    """d x_t / dt = a'_t x_0 + b'_t ε along one path, shape (N, D).

    For the linear path it is ε − x_0, the same at every t.

    Book: chapter 10, eq. (eq-10-conditional-velocity)
    """
    x0, eps = _pair(x0, eps, "x0", "eps")
    c = coefficients(t, path)
    return c.da * x0 + c.db * eps


def vp_alpha_bar(t, path: Path = "linear") -> float:
    """ᾱ of the variance-preserving state x_t / √(a_t² + b_t²).

    x_t / r_t = √ᾱ x_0 + √(1 − ᾱ) ε with r_t = √(a_t² + b_t²) and
    ᾱ = a_t² / r_t²: the same signal-to-noise ratio a_t² / b_t².

    Book: chapter 10, eq. (eq-10-snr-map)
    """
    c = coefficients(t, path)
    return c.a ** 2 / (c.a ** 2 + c.b ** 2)


def posterior_mean_x0(data, x, t, path: Path = "linear") -> np.ndarray:
    """The exact E[x_0 | x_t = x] for a toy data set, shape (N, D).

    x_t = a_t x_0 + b_t ε is, after division by r_t = √(a_t² + b_t²),
    the variance-preserving state with ᾱ = a_t² / r_t², so
    E[x_0 | x_t = x] = E_VP[x_0 | √ᾱ x_0 + √(1 − ᾱ) ε = x / r_t],
    computed by ``data.posterior_mean_x0`` on a one-step schedule with
    that ᾱ. At t = 0 it is x; at t = 1 the data mean.

    Args:
        data: a distribution of :mod:`diffusion_edu.toy_data`.
        x: points, shape (N, D).
        t: time in [0, 1].
        path: "linear" or "vp".

    Book: chapter 10, eq. (eq-10-snr-map)
    """
    if not hasattr(data, "posterior_mean_x0"):
        raise TypeError("data must be a toy_data distribution with a "
                        "posterior_mean_x0 method; got "
                        f"{type(data).__name__}")
    x = as_data(x, "x")
    c = coefficients(t, path)
    if c.b == 0.0:
        return x.copy()
    if c.a == 0.0:
        if not callable(getattr(data, "mean", None)):
            raise TypeError("at t = 1, E[x_0 | x_1] = E[x_0]: data must "
                            "have a mean() method")
        mean = np.asarray(data.mean(), dtype=np.float64)
        return np.broadcast_to(mean, x.shape).copy()
    r = np.hypot(c.a, c.b)
    one_step = from_alpha_bar(np.array([c.a ** 2 / r ** 2]))
    return data.posterior_mean_x0(x / r, one_step, 1)


def marginal_velocity(data, x, t, path: Path = "linear") -> np.ndarray:
    """The exact marginal velocity u_t(x) = E[a'_t x_0 + b'_t ε | x_t = x].

    u_t(x) = a'_t x̂_0 + b'_t ε̂ with x̂_0 = E[x_0 | x_t = x] and
    ε̂ = (x − a_t x̂_0) / b_t (ε̂ = 0 at t = 0, its limit for a smooth
    density).

    Book: chapter 10, eq. (eq-10-marginal-velocity)
    """
    x = as_data(x, "x")
    c = coefficients(t, path)
    x0_hat = posterior_mean_x0(data, x, t, path)
    if c.b == 0.0:
        return c.da * x0_hat
    return velocity_from_x0(x, x0_hat, t, path)


def velocity_model(data, path: Path = "linear") -> VelocityFn:
    """The exact field as a function ``u(x, t)`` for :func:`integrate`.

    Book: chapter 10, eq. (eq-10-marginal-velocity)
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")

    def u(x, t):
        return marginal_velocity(data, x, t, path)

    return u


def marginal_pdf(data, x, t, path: Path = "linear") -> np.ndarray:
    """The density p_t(x) of x_t = a_t x_0 + b_t ε, shape (N,).

    p_t(x) = q_VP(x / r_t) / r_t^D with r_t = √(a_t² + b_t²) and the
    variance-preserving marginal q_VP at ᾱ = a_t² / r_t² (change of
    variables x = r_t z). Needs 0 < t < 1.

    Book: chapter 10, eq. (eq-10-continuity)
    """
    x = as_data(x, "x")
    c = coefficients(t, path)
    if c.a == 0.0 or c.b == 0.0:
        raise ValueError(f"marginal_pdf needs 0 < t < 1; got t = {t}")
    r = np.hypot(c.a, c.b)
    one_step = from_alpha_bar(np.array([c.a ** 2 / r ** 2]))
    return data.pdf(x / r, one_step, 1) / r ** x.shape[1]


def velocity_from_v_model(v_model, s: Schedule, path: Path = "linear",
                          t_max: float = 1.0) -> VelocityFn:
    """The velocity u(x, t) of a network that predicts v on step k.

    The network was trained on ``schedule_for_path(T, path, t_max)``:
    step k is time t = k t_max / T, and its input is the variance-
    preserving state x / r_t. u = :func:`velocity_from_v`. Times must
    lie on that grid; at t = 0 v̂ = 0, the exact limit (v = ε there,
    and E[ε | x_0] = 0).

    Args:
        v_model: v_model(x, k) -> v̂, e.g. ``denoiser.as_v_model``.
        s: the schedule of the training.
        path, t_max: as in :func:`schedule_for_path`.

    Book: chapter 10, eq. (eq-10-v)
    """
    if not callable(v_model):
        raise TypeError("v_model must be a callable v_model(x, k); got "
                        f"{type(v_model).__name__}")
    T = s.T

    def u(x, t):
        x = as_data(x, "x")
        t = _time(t)
        k = t * T / t_max
        if abs(k - round(k)) > 1e-6 or round(k) > T:
            raise ValueError(f"t = {t} is not on the grid of the "
                             f"network's schedule (k t_max / T with T = "
                             f"{T}, t_max = {t_max})")
        k = int(round(k))
        if k == 0:
            return velocity_from_v(x, np.zeros_like(x), 0.0, path)
        c = coefficients(t, path)
        r = np.hypot(c.a, c.b)
        v_hat = v_model(x / r, np.full(x.shape[0], k))
        return velocity_from_v(x, v_hat, t, path)

    return u


# ---------------------------------------------------------------------------
# Conversions between predictions (exact identities of the ideal ones)
# ---------------------------------------------------------------------------

def _nonzero(value: float, what: str, t: float) -> None:
    if value == 0.0:
        raise ValueError(f"{what} is 0 at t = {t}: this conversion is "
                         f"undefined there; convert through the velocity "
                         f"or v instead")


def velocity_from_x0(x, x0_hat, t, path: Path = "linear") -> np.ndarray:
    """u = a' x̂_0 + b' (x − a x̂_0) / b (needs b_t > 0).

    Book: chapter 10, eq. (eq-10-to-velocity)
    """
    x, x0_hat = _pair(x, x0_hat, "x", "x0_hat")
    c = coefficients(t, path)
    _nonzero(c.b, "b_t", t)
    return c.da * x0_hat + c.db * (x - c.a * x0_hat) / c.b


def velocity_from_eps(x, eps_hat, t, path: Path = "linear") -> np.ndarray:
    """u = a' (x − b ε̂) / a + b' ε̂ (needs a_t > 0).

    Book: chapter 10, eq. (eq-10-to-velocity)
    """
    x, eps_hat = _pair(x, eps_hat, "x", "eps_hat")
    c = coefficients(t, path)
    _nonzero(c.a, "a_t", t)
    return c.da * (x - c.b * eps_hat) / c.a + c.db * eps_hat


def velocity_from_score(x, score, t, path: Path = "linear") -> np.ndarray:
    """u from the score ∇ log p_t(x) = −ε̂ / b_t (needs a_t, b_t > 0).

    Book: chapter 10, eq. (eq-10-to-velocity)
    """
    x, score = _pair(x, score, "x", "score")
    c = coefficients(t, path)
    _nonzero(c.b, "b_t", t)
    return velocity_from_eps(x, -c.b * score, t, path)


def velocity_from_v(x, v_hat, t, path: Path = "linear") -> np.ndarray:
    """u from Salimans and Ho's v = (a ε̂ − b x̂_0) / r, r = √(a² + b²).

    With c = a/r, s = b/r and the VP state z = x/r = c x̂_0 + s ε̂:
    x̂_0 = c z − s v, ε̂ = s z + c v, u = a' x̂_0 + b' ε̂ (defined for
    every t ∈ [0, 1]).

    Book: chapter 10, eq. (eq-10-v)
    """
    x, v_hat = _pair(x, v_hat, "x", "v_hat")
    co = coefficients(t, path)
    r = np.hypot(co.a, co.b)
    c, s, z = co.a / r, co.b / r, x / r
    return co.da * (c * z - s * v_hat) + co.db * (s * z + c * v_hat)


def _det(c: Coefficients) -> float:
    """Δ = a b' − b a' (> 0 for both paths: 1 and π/2)."""
    return c.a * c.db - c.b * c.da


def x0_from_velocity(x, u, t, path: Path = "linear") -> np.ndarray:
    """x̂_0 = (b' x − b u) / Δ with Δ = a b' − b a'.

    Solves x = a x̂_0 + b ε̂, u = a' x̂_0 + b' ε̂ for x̂_0.

    Book: chapter 10, eq. (eq-10-from-velocity)
    """
    x, u = _pair(x, u, "x", "u")
    c = coefficients(t, path)
    return (c.db * x - c.b * u) / _det(c)


def eps_from_velocity(x, u, t, path: Path = "linear") -> np.ndarray:
    """ε̂ = (a u − a' x) / Δ with Δ = a b' − b a'.

    Book: chapter 10, eq. (eq-10-from-velocity)
    """
    x, u = _pair(x, u, "x", "u")
    c = coefficients(t, path)
    return (c.a * u - c.da * x) / _det(c)


def score_from_velocity(x, u, t, path: Path = "linear") -> np.ndarray:
    """∇ log p_t(x) = −ε̂ / b_t (needs b_t > 0).

    Book: chapter 10, eq. (eq-10-from-velocity)
    """
    c = coefficients(t, path)
    _nonzero(c.b, "b_t", t)
    return -eps_from_velocity(x, u, t, path) / c.b


def v_from_velocity(x, u, t, path: Path = "linear") -> np.ndarray:
    """v = (a ε̂ − b x̂_0) / r with r = √(a² + b²).

    Book: chapter 10, eq. (eq-10-v)
    """
    c = coefficients(t, path)
    r = np.hypot(c.a, c.b)
    return (c.a * eps_from_velocity(x, u, t, path)
            - c.b * x0_from_velocity(x, u, t, path)) / r


# ---------------------------------------------------------------------------
# Discrete schedules and integration
# ---------------------------------------------------------------------------

def schedule_for_path(T: int, path: Path = "linear",
                      t_max: float = 1.0) -> Schedule:
    """A discrete schedule with ᾱ_k = vp_alpha_bar(k t_max / T).

    Step k of the schedule is time t_k = k t_max / T of the path, with
    the same signal-to-noise ratio. ᾱ(1) = 0 is not a valid schedule
    value, so with t_max = 1 the last ᾱ is replaced by a tiny positive
    number (the network still sees pure noise there).

    Book: chapter 10, eq. (eq-10-snr-map)
    """
    T = as_int(T, "T", minimum=1)
    t_max = float(as_float_array(t_max, "t_max", ndim=0))
    if not 0 < t_max <= 1:
        raise ValueError(f"t_max must lie in (0, 1]; got {t_max}")
    ab = np.array([vp_alpha_bar(k * t_max / T, path)
                   for k in range(1, T + 1)])
    ab[-1] = max(ab[-1], min(1e-12, 0.5 * ab[-2] if T > 1 else 1e-12))
    return from_alpha_bar(ab, name=f"{path} path, T={T}")


def time_grid(num_steps: int, start: float = 1.0,
              end: float = 0.0) -> np.ndarray:
    """num_steps + 1 evenly spaced times from ``start`` to ``end``.

    Book: chapter 10, eq. (eq-10-euler)
    """
    num_steps = as_int(num_steps, "num_steps", minimum=1)
    start, end = _time(start), _time(end)
    if start == end:
        raise ValueError("start and end must differ")
    return np.linspace(start, end, num_steps + 1)


def integrate(velocity, x, times, method: Literal["euler", "heun"]
              = "euler", return_trajectory: bool = False):
    """Integrate dx/dt = u(x, t) over ``times`` by Euler or Heun steps.

    Euler: x_{k+1} = x_k + h_k u(x_k, t_k), h_k = t_{k+1} − t_k.
    Heun: x̃ = Euler step; x_{k+1} = x_k + h_k (u(x_k, t_k)
    + u(x̃, t_{k+1})) / 2 (two evaluations per step).

    Args:
        velocity: u(x, t) -> (N, D), t a float in [0, 1].
        x: start, shape (N, D) (at times[0]).
        times: 1-D array of K + 1 times in [0, 1], strictly monotone
            (decreasing from 1 to 0 to sample, increasing to encode).
        method: "euler" or "heun".
        return_trajectory: also return the states, shape (K + 1, N, D).

    Returns:
        x at times[-1], shape (N, D) (and the trajectory).

    Book: chapter 10, eq. (eq-10-euler)
    """
    if not callable(velocity):
        raise TypeError("velocity must be a callable u(x, t); got "
                        f"{type(velocity).__name__}")
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun'; got "
                         f"{method!r}")
    x = as_data(x, "x").copy()
    times = as_float_array(times, "times", ndim=1)
    steps = np.diff(times)
    if (times.shape[0] < 2 or times.min() < 0 or times.max() > 1
            or not (np.all(steps < 0) or np.all(steps > 0))):
        raise ValueError("times must be a strictly monotone 1-D array of "
                         f"at least 2 values in [0, 1]; got {times!r}")
    states = [x] if return_trajectory else None
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        h = t_next - t
        u = as_data(velocity(x, float(t)), "velocity(x, t)")
        if u.shape != x.shape:
            raise ValueError(f"velocity(x, t) must have shape {x.shape}; "
                             f"got {u.shape}")
        x_next = x + h * u
        if method == "heun":
            x_next = x + h * 0.5 * (u + velocity(x_next, float(t_next)))
        x = x_next
        if return_trajectory:
            states.append(x)
    if return_trajectory:
        return x, np.stack(states)
    return x


def straightness(trajectory, times) -> float:
    """Mean squared deviation of the velocity from the straight line.

    S = (1/|t_K − t_0|) Σ_k |h_k| E||Δx_k / h_k − (x_K − x_0)/(t_K − t_0)||²
    (Liu et al. 2023): 0 exactly when every path moves along a straight
    line at constant speed.

    Args:
        trajectory: states, shape (K + 1, N, D), as from
            :func:`integrate`.
        times: the K + 1 times.

    Returns:
        S >= 0, a float.

    Book: chapter 10, eq. (eq-10-straightness)
    """
    traj = as_float_array(trajectory, "trajectory", ndim=3)
    times = as_float_array(times, "times", ndim=1)
    if times.shape[0] != traj.shape[0] or times.shape[0] < 2:
        raise ValueError(f"times must have one entry per state, "
                         f"{traj.shape[0]} (>= 2); got {times.shape[0]}")
    h = np.diff(times)
    if np.any(h == 0):
        raise ValueError("times must be strictly monotone")
    total = times[-1] - times[0]
    chord = (traj[-1] - traj[0]) / total
    vel = np.diff(traj, axis=0) / h[:, None, None]
    dev = np.sum((vel - chord) ** 2, axis=2).mean(axis=1)
    return float(np.sum(np.abs(h) * dev) / abs(total))
