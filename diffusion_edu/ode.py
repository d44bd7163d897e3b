"""Continuous time: the probability-flow ODE and its solvers.

The variance-preserving forward chain is, in the limit of many small
steps, the SDE dx = −½ β(τ) x dτ + √β(τ) dW. Its probability-flow ODE

    dx/dτ = −½ β(τ) (x + ∇ log p_τ(x))

moves samples so that their density is p_τ at every time τ. In the
variables x̄ = x / √ᾱ and σ = √((1 − ᾱ) / ᾱ) it becomes

    dx̄/dσ = ε*(x, t),

the ideal noise prediction, so a solver needs only ``eps_model``. An
Euler step of this ODE between two steps of a schedule is exactly the
deterministic DDIM step (η = 0); :func:`heun_step` is its second-order
(trapezoidal) refinement. The solvers work on the time steps of a
discrete :class:`~diffusion_edu.schedules.Schedule`, where a trained
``eps_model(x, t)`` can be evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from ._validate import as_data, as_float_array, as_rng
from .samplers import (
    Trajectory,
    _as_shape,
    _initial_state,
    ddim_timesteps,
    eval_eps_model,
)
from .schedules import Schedule, as_schedule, as_timesteps, coef

__all__ = [
    "sigma_from_alpha_bar",
    "pf_ode_drift",
    "euler_step",
    "heun_step",
    "solve_timesteps",
    "sample_ode",
    "encode_ode",
]

EpsModel = Callable[[np.ndarray, np.ndarray], np.ndarray]
Method = Literal["euler", "heun"]


def sigma_from_alpha_bar(alpha_bar) -> np.ndarray:
    """The noise-to-signal ratio σ = √((1 − ᾱ) / ᾱ).

    x_t / √ᾱ_t = x_0 + σ_t ε, so σ_t is the standard deviation of the
    noise in the rescaled variable x̄_t = x_t / √ᾱ_t (σ_0 = 0).

    Args:
        alpha_bar: ᾱ, a number or array with values in (0, 1].

    Returns:
        σ, float64 array of the same shape.

    Book: chapter 8, eq. (eq-08-sigma)
    """
    alpha_bar = as_float_array(alpha_bar, "alpha_bar")
    if np.any(alpha_bar <= 0) or np.any(alpha_bar > 1):
        raise ValueError("alpha_bar must lie in (0, 1]; got values from "
                         f"{alpha_bar.min()} to {alpha_bar.max()}")
    return np.sqrt((1.0 - alpha_bar) / alpha_bar)


def pf_ode_drift(x, beta, score) -> np.ndarray:
    """Velocity of the probability-flow ODE of the VP SDE, dx/dτ.

    dx/dτ = f(x, τ) − ½ g(τ)² ∇ log p_τ(x) = −½ β(τ) (x + ∇ log p_τ(x))
    with f = −½ β x and g² = β.

    Args:
        x: points, shape (N, D).
        beta: β(τ) >= 0, a number.
        score: ∇ log p_τ(x), shape (N, D).

    Returns:
        dx/dτ, shape (N, D).

    Book: chapter 8, eq. (eq-08-pf-ode)
    """
    x = as_data(x, "x")
    score = as_data(score, "score")
    if score.shape != x.shape:
        raise ValueError(f"score must have the shape of x, {x.shape}; got "
                         f"{score.shape}")
    beta = float(as_float_array(beta, "beta", ndim=0))
    if beta < 0:
        raise ValueError(f"beta must be >= 0; got {beta}")
    return -0.5 * beta * (x + score)


def _check_pair(s: Schedule, xt, t, t_prev):
    xt = as_data(xt, "xt")
    n = xt.shape[0]
    t = as_timesteps(t, s.T, n, t_min=0)
    t_prev = as_timesteps(t_prev, s.T, n, t_min=0, name="t_prev")
    return xt, t, t_prev


def euler_step(s: Schedule, xt, t, t_prev, eps) -> np.ndarray:
    """One Euler step of dx̄/dσ = ε from step t to step t_prev.

    x̄ = x / √ᾱ;  x̄_{t'} = x̄_t + (σ_{t'} − σ_t) ε̂,  x_{t'} = √ᾱ_{t'} x̄_{t'}.
    Going down (t' < t) this is the DDIM step with η = 0; going up
    (t' > t) it is one step of DDIM encoding.

    Args:
        s: schedule.
        xt: x_t, shape (N, D).
        t, t_prev: ints (or int arrays (N,)) in 0..T, t_prev != t.
        eps: ε̂(x_t, t), shape (N, D).

    Returns:
        x_{t_prev}, shape (N, D).

    Book: chapter 8, eq. (eq-08-euler)
    """
    s = as_schedule(s)
    xt, t, t_prev = _check_pair(s, xt, t, t_prev)
    if np.any(t_prev == t):
        raise ValueError("t_prev must differ from t")
    eps = as_data(eps, "eps")
    if eps.shape != xt.shape:
        raise ValueError(f"eps must have the shape of xt, {xt.shape}; got "
                         f"{eps.shape}")
    ab = coef(s.alpha_bar, t, xt, t_min=0)
    ab_prev = coef(s.alpha_bar, t_prev, xt, t_min=0)
    sig, sig_prev = sigma_from_alpha_bar(ab), sigma_from_alpha_bar(ab_prev)
    x_bar = xt / np.sqrt(ab) + (sig_prev - sig) * eps
    return np.sqrt(ab_prev) * x_bar


def _velocity(eps_model: EpsModel, x: np.ndarray, t: int) -> np.ndarray:
    """ε at step t; at t = 0 (σ = 0) the ideal velocity is 0."""
    if t == 0:
        return np.zeros_like(x)
    return eval_eps_model(eps_model, x, t)


def heun_step(s: Schedule, eps_model: EpsModel, xt, t: int, t_prev: int,
              eps=None) -> np.ndarray:
    """One Heun (trapezoidal) step of dx̄/dσ = ε from t to t_prev.

    Predictor: x̃ = Euler step with ε_1 = ε̂(x_t, t); corrector:
    x̄_{t'} = x̄_t + (σ_{t'} − σ_t) (ε_1 + ε̂(x̃, t')) / 2. When t' = 0
    the model cannot be evaluated (σ = 0) and the Euler step is
    returned, as in Karras et al. (2022).

    Args:
        s: schedule.
        eps_model: callable eps_model(x, t) -> ε̂.
        xt: x_t, shape (N, D).
        t, t_prev: ints in 0..T, t_prev != t.
        eps: optional ε̂(x_t, t) if already computed.

    Returns:
        x_{t_prev}, shape (N, D).

    Book: chapter 8, eq. (eq-08-heun)
    """
    s = as_schedule(s)
    xt = as_data(xt, "xt")
    if not callable(eps_model):
        raise TypeError("eps_model must be a callable eps_model(x, t); "
                        f"got {type(eps_model).__name__}")
    t, t_prev = int(t), int(t_prev)
    _check_pair(s, xt, t, t_prev)
    e1 = _velocity(eps_model, xt, t) if eps is None else as_data(eps)
    x_pred = euler_step(s, xt, t, t_prev, e1)
    if t_prev == 0:
        return x_pred
    e2 = _velocity(eps_model, x_pred, t_prev)
    return euler_step(s, xt, t, t_prev, 0.5 * (e1 + e2))


def solve_timesteps(T: int, num_steps: int) -> np.ndarray:
    """Decreasing steps T = τ_K > ... > τ_0 = 0, evenly spaced in t.

    The same grid as :func:`diffusion_edu.samplers.ddim_timesteps`.

    Book: chapter 8, eq. (eq-08-euler)
    """
    return ddim_timesteps(T, num_steps)


def _taus(s: Schedule, num_steps, timesteps, decreasing: bool):
    if timesteps is None:
        if num_steps is None:
            raise TypeError("pass num_steps (or timesteps)")
        taus = solve_timesteps(s.T, num_steps)
        return taus if decreasing else taus[::-1].copy()
    taus = np.asarray(timesteps)
    steps = np.diff(taus)
    ok = (taus.ndim == 1 and taus.shape[0] >= 2
          and taus.dtype.kind in "iu" and taus.min() >= 0
          and taus.max() <= s.T
          and (np.all(steps < 0) if decreasing else np.all(steps > 0)))
    if not ok:
        order = "decreasing" if decreasing else "increasing"
        raise ValueError(f"timesteps must be a strictly {order} 1-D int "
                         f"array with values in 0..T = 0..{s.T}; got "
                         f"{timesteps!r}")
    return taus


def _integrate(s, eps_model, x, taus, method, return_trajectory):
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun'; got "
                         f"{method!r}")
    if not callable(eps_model):
        raise TypeError("eps_model must be a callable eps_model(x, t); "
                        f"got {type(eps_model).__name__}")
    states = [x] if return_trajectory else None
    for t, t_next in zip(taus[:-1], taus[1:], strict=True):
        t, t_next = int(t), int(t_next)
        if method == "euler":
            x = euler_step(s, x, t, t_next, _velocity(eps_model, x, t))
        else:
            x = heun_step(s, eps_model, x, t, t_next)
        if return_trajectory:
            states.append(x)
    return x, states


def sample_ode(s: Schedule, eps_model: EpsModel, shape, rng,
               num_steps: int | None = None, method: Method = "euler", *,
               timesteps=None, x_T=None, return_trajectory: bool = False):
    """Solve the probability-flow ODE from t = T (noise) down to t = 0.

    x_T ~ N(0, I), then Euler (= DDIM, η = 0) or Heun steps in
    (x̄, σ) over ``solve_timesteps(T, num_steps)`` or ``timesteps``.

    Args:
        s: schedule the model was trained with.
        eps_model: callable eps_model(x, t) -> ε̂.
        shape: (N, D).
        rng: np.random.Generator or int seed (only draws x_T).
        num_steps: number of steps K.
        method: "euler" (1 evaluation per step) or "heun" (2, except
            the last step).
        timesteps: optional decreasing int steps in 0..T.
        x_T: optional start of shape (N, D).
        return_trajectory: also return the visited states.

    Returns:
        samples (N, D); with ``return_trajectory`` the pair (samples,
        Trajectory) with states at increasing t.

    Book: chapter 8, eq. (eq-08-heun)
    """
    s = as_schedule(s)
    shape = _as_shape(shape)
    rng = as_rng(rng)
    taus = _taus(s, num_steps, timesteps, decreasing=True)
    x = _initial_state(shape, x_T, rng)
    x, states = _integrate(s, eps_model, x, taus, method,
                           return_trajectory)
    if not return_trajectory:
        return x
    return x, Trajectory(taus[::-1].copy(), np.stack(states[::-1]))


def encode_ode(s: Schedule, eps_model: EpsModel, x0,
               num_steps: int | None = None, method: Method = "euler", *,
               timesteps=None) -> np.ndarray:
    """Map data to latents: solve the probability-flow ODE from 0 to T.

    The same steps as :func:`sample_ode`, in increasing t. At t = 0
    (σ = 0) the velocity is taken as 0, its exact value for data with
    a smooth density (ε* = −σ ∇ log p_σ → 0 as σ → 0).

    Args:
        s: schedule.
        eps_model: callable eps_model(x, t) -> ε̂.
        x0: data, shape (N, D).
        num_steps: number of steps K.
        method: "euler" or "heun".
        timesteps: optional increasing int steps in 0..T.

    Returns:
        latents x_T (or x at the last of ``timesteps``), shape (N, D).

    Book: chapter 8, eq. (eq-08-euler)
    """
    s = as_schedule(s)
    x = as_data(x0, "x0").copy()
    taus = _taus(s, num_steps, timesteps, decreasing=False)
    x, _ = _integrate(s, eps_model, x, taus, method, False)
    return x
