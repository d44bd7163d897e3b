"""The Gaussian algebra of the forward process and its posterior.

* q(x_t | x_{t−1}) and q(x_t | x_0): :func:`q_step`, :func:`q_mean_var`,
  :func:`q_sample`;
* q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I): :func:`posterior_mean_var`;
* the model's reverse step p_θ(x_{t−1} | x_t) = N(μ_θ, σ_t² I):
  :func:`posterior_mean_from_eps` and :func:`reverse_variance`;
* conversions between the prediction targets ε, x_0, score and v.

Every function takes the schedule ``s`` first, data of shape (N, D)
(a 1-D array of length N is read as (N, 1)) and ``t`` as an int or an
int array of shape (N,) with values in 1..T. Variances are returned as
arrays of shape (N, 1) that broadcast against the data.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._validate import as_data
from .schedules import Schedule, as_schedule, as_timesteps, coef

__all__ = [
    "q_mean_var",
    "q_sample",
    "q_step",
    "posterior_mean_var",
    "posterior_mean_from_eps",
    "reverse_variance",
    "predict_x0",
    "predict_eps",
    "score_from_eps",
    "eps_from_score",
    "v_from_x0_eps",
    "predict_x0_from_v",
    "predict_eps_from_v",
    "VarType",
]

VarType = Literal["fixed_small", "fixed_large"]


def _same_shape(a: np.ndarray, b: np.ndarray, name_a: str,
                name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b} must have the same shape as {name_a}, (N, D) = "
            f"{a.shape}; got {b.shape}")


def _prepare(s, x, t, name: str = "x"):
    """Validate (s, x, t); return the schedule, x as (N, D), t as (N,)."""
    s = as_schedule(s)
    x = as_data(x, name)
    t = as_timesteps(t, s.T, x.shape[0])
    return s, x, t


def _pair(s, x, t, other, name_x: str, name_other: str):
    s, x, t = _prepare(s, x, t, name_x)
    other = as_data(other, name_other)
    _same_shape(x, other, name_x, name_other)
    return s, x, t, other


def q_mean_var(s: Schedule, x0, t):
    """Mean and variance of q(x_t | x_0).

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I).

    Args:
        s: schedule.
        x0: data, shape (N, D).
        t: int or int array (N,), in 1..T.

    Returns:
        (mean, var): mean of shape (N, D), var of shape (N, 1).

    Book: chapter 3, eq. (eq-closed-form)
    """
    s, x0, t = _prepare(s, x0, t, "x0")
    alpha_bar = coef(s.alpha_bar, t, x0)
    return np.sqrt(alpha_bar) * x0, 1.0 - alpha_bar


def q_sample(s: Schedule, x0, t, noise) -> np.ndarray:
    """Draw x_t ~ q(x_t | x_0) in one shot (reparameterisation).

    x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,  ε ~ N(0, I).

    Args:
        s: schedule.
        x0: data, shape (N, D).
        t: int or int array (N,), in 1..T.
        noise: ε, shape (N, D).

    Returns:
        x_t, shape (N, D).

    Book: chapter 3, eq. (eq-reparam)
    """
    s, x0, t, noise = _pair(s, x0, t, noise, "x0", "noise")
    alpha_bar = coef(s.alpha_bar, t, x0)
    return np.sqrt(alpha_bar) * x0 + np.sqrt(1.0 - alpha_bar) * noise


def q_step(s: Schedule, x_prev, t, noise) -> np.ndarray:
    """One forward step: draw x_t ~ q(x_t | x_{t−1}).

    x_t = √α_t x_{t−1} + √β_t ε,  i.e. q(x_t | x_{t−1}) =
    N(√(1 − β_t) x_{t−1}, β_t I).

    Args:
        s: schedule.
        x_prev: x_{t−1}, shape (N, D).
        t: int or int array (N,), in 1..T (the step being taken).
        noise: ε, shape (N, D).

    Returns:
        x_t, shape (N, D).

    Book: chapter 2, eq. (eq-forward-step)
    """
    s, x_prev, t, noise = _pair(s, x_prev, t, noise, "x_prev", "noise")
    alpha = coef(s.alpha, t, x_prev)
    beta = coef(s.beta, t, x_prev)
    return np.sqrt(alpha) * x_prev + np.sqrt(beta) * noise


def posterior_mean_var(s: Schedule, x0, xt, t):
    """Mean μ̃_t and variance β̃_t of q(x_{t−1} | x_t, x_0).

    μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0
          + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t,
    β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)   (β̃_1 = 0).

    Args:
        s: schedule.
        x0: data, shape (N, D).
        xt: x_t, shape (N, D).
        t: int or int array (N,), in 1..T.

    Returns:
        (mu_tilde, beta_tilde): shapes (N, D) and (N, 1).

    Book: chapter 4, eq. (eq-posterior-mean), eq. (eq-posterior-var)
    """
    s, x0, t, xt = _pair(s, x0, t, xt, "x0", "xt")
    alpha_bar = coef(s.alpha_bar, t, x0)
    alpha_bar_prev = coef(s.alpha_bar, t - 1, x0, t_min=0)
    alpha = coef(s.alpha, t, x0)
    beta = coef(s.beta, t, x0)
    coef_x0 = np.sqrt(alpha_bar_prev) * beta / (1.0 - alpha_bar)
    coef_xt = np.sqrt(alpha) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    mu_tilde = coef_x0 * x0 + coef_xt * xt
    beta_tilde = coef(s.beta_tilde, t, x0)
    return mu_tilde, beta_tilde


def posterior_mean_from_eps(s: Schedule, xt, t, eps) -> np.ndarray:
    """Reverse-step mean μ_θ(x_t, t) from a noise prediction ε̂.

    μ_θ = (x_t − β_t / √(1 − ᾱ_t) · ε̂) / √α_t   (Ho et al. 2020),
    which is μ̃_t with x_0 replaced by x̂_0 = predict_x0(s, x_t, t, ε̂).

    Args:
        s: schedule.
        xt: x_t, shape (N, D).
        t: int or int array (N,), in 1..T.
        eps: ε̂, shape (N, D).

    Returns:
        μ_θ, shape (N, D).

    Book: chapter 4, eq. (eq-posterior-mean-eps)
    """
    s, xt, t, eps = _pair(s, xt, t, eps, "xt", "eps")
    alpha_bar = coef(s.alpha_bar, t, xt)
    alpha = coef(s.alpha, t, xt)
    beta = coef(s.beta, t, xt)
    return (xt - beta / np.sqrt(1.0 - alpha_bar) * eps) / np.sqrt(alpha)


def reverse_variance(s: Schedule, var_type: VarType = "fixed_small"
                     ) -> np.ndarray:
    """The variances σ_t² of p_θ(x_{t−1} | x_t) = N(μ_θ, σ_t² I).

    ``"fixed_small"``: σ_t² = β̃_t (the posterior variance; exact when
    x_0 is a single point); ``"fixed_large"``: σ_t² = β_t (exact when
    x_0 ~ N(0, I)). Ho et al. (2020) report similar samples with both.
    The sampler adds no noise at t = 1 whatever σ_1² is.

    Args:
        s: schedule.
        var_type: "fixed_small" or "fixed_large".

    Returns:
        read-only float64 array of shape (T + 1,), indexed by t
        (entry 0 is 0).

    Book: chapter 6, eq. (eq-ddpm-step)
    """
    s = as_schedule(s)
    if var_type == "fixed_small":
        return s.beta_tilde
    if var_type == "fixed_large":
        return s.beta
    raise ValueError(f"var_type must be 'fixed_small' or 'fixed_large'; "
                     f"got {var_type!r}")


def predict_x0(s: Schedule, xt, t, eps) -> np.ndarray:
    """Recover x_0 from x_t and the noise ε (inverts :func:`q_sample`).

    x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t.

    Args:
        s: schedule.
        xt: x_t, shape (N, D).
        t: int or int array (N,), in 1..T.
        eps: ε (or a prediction ε̂), shape (N, D).

    Returns:
        x̂_0, shape (N, D).

    Book: chapter 4, eq. (eq-x0-from-eps)
    """
    s, xt, t, eps = _pair(s, xt, t, eps, "xt", "eps")
    alpha_bar = coef(s.alpha_bar, t, xt)
    return (xt - np.sqrt(1.0 - alpha_bar) * eps) / np.sqrt(alpha_bar)


def predict_eps(s: Schedule, xt, t, x0) -> np.ndarray:
    """Recover the noise ε from x_t and x_0.

    ε = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t).

    Args:
        s: schedule.
        xt: x_t, shape (N, D).
        t: int or int array (N,), in 1..T.
        x0: x_0 (or a prediction x̂_0), shape (N, D).

    Returns:
        ε, shape (N, D).

    Book: chapter 4, eq. (eq-x0-from-eps)
    """
    s, xt, t, x0 = _pair(s, xt, t, x0, "xt", "x0")
    alpha_bar = coef(s.alpha_bar, t, xt)
    return (xt - np.sqrt(alpha_bar) * x0) / np.sqrt(1.0 - alpha_bar)


def score_from_eps(s: Schedule, xt, t, eps) -> np.ndarray:
    """Score of q(x_t) from the ideal noise prediction.

    ∇_{x_t} log q(x_t) = −E[ε | x_t] / √(1 − ᾱ_t).

    Args:
        s: schedule.
        xt: x_t, shape (N, D) (sets the shape; the formula does not use
            its values).
        t: int or int array (N,), in 1..T.
        eps: ε̂(x_t, t), shape (N, D).

    Returns:
        score, shape (N, D).

    Book: chapter 7, eq. (eq-score-from-eps)
    """
    s, xt, t, eps = _pair(s, xt, t, eps, "xt", "eps")
    alpha_bar = coef(s.alpha_bar, t, xt)
    return -eps / np.sqrt(1.0 - alpha_bar)


def eps_from_score(s: Schedule, xt, t, score) -> np.ndarray:
    """Noise prediction from a score: ε̂ = −√(1 − ᾱ_t) ∇ log q(x_t).

    Args:
        s: schedule.
        xt: x_t, shape (N, D) (sets the shape).
        t: int or int array (N,), in 1..T.
        score: ∇_{x_t} log q(x_t), shape (N, D).

    Returns:
        ε̂, shape (N, D).

    Book: chapter 7, eq. (eq-score-from-eps)
    """
    s, xt, t, score = _pair(s, xt, t, score, "xt", "score")
    alpha_bar = coef(s.alpha_bar, t, xt)
    return -np.sqrt(1.0 - alpha_bar) * score


def v_from_x0_eps(s: Schedule, x0, t, eps) -> np.ndarray:
    """The v target of Salimans & Ho (2022) from x_0 and ε.

    v = √ᾱ_t ε − √(1 − ᾱ_t) x_0.

    Args:
        s: schedule.
        x0: data, shape (N, D).
        t: int or int array (N,), in 1..T.
        eps: ε, shape (N, D).

    Returns:
        v, shape (N, D).

    Book: chapter 3, eq. (eq-reparam)
    """
    s, x0, t, eps = _pair(s, x0, t, eps, "x0", "eps")
    alpha_bar = coef(s.alpha_bar, t, x0)
    return np.sqrt(alpha_bar) * eps - np.sqrt(1.0 - alpha_bar) * x0


def predict_x0_from_v(s: Schedule, xt, t, v) -> np.ndarray:
    """x_0 from x_t and a v prediction: x̂_0 = √ᾱ_t x_t − √(1 − ᾱ_t) v.

    Args:
        s: schedule.
        xt: x_t, shape (N, D).
        t: int or int array (N,), in 1..T.
        v: v̂, shape (N, D).

    Returns:
        x̂_0, shape (N, D).

    Book: chapter 3, eq. (eq-reparam)
    """
    s, xt, t, v = _pair(s, xt, t, v, "xt", "v")
    alpha_bar = coef(s.alpha_bar, t, xt)
    return np.sqrt(alpha_bar) * xt - np.sqrt(1.0 - alpha_bar) * v


def predict_eps_from_v(s: Schedule, xt, t, v) -> np.ndarray:
    """ε from x_t and a v prediction: ε̂ = √(1 − ᾱ_t) x_t + √ᾱ_t v.

    Args:
        s: schedule.
        xt: x_t, shape (N, D).
        t: int or int array (N,), in 1..T.
        v: v̂, shape (N, D).

    Returns:
        ε̂, shape (N, D).

    Book: chapter 3, eq. (eq-reparam)
    """
    s, xt, t, v = _pair(s, xt, t, v, "xt", "v")
    alpha_bar = coef(s.alpha_bar, t, xt)
    return np.sqrt(1.0 - alpha_bar) * xt + np.sqrt(alpha_bar) * v
