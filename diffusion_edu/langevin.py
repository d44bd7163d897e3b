"""Langevin dynamics, annealed Langevin (NCSN) and denoising score matching.

Convention (one, everywhere in the book): with step size η > 0,

    x_{k+1} = x_k + η ∇_x log p(x_k) + √(2η) z_k,   z_k ~ N(0, I),

the Euler-Maruyama discretisation of dx = ∇ log p(x) dt + √2 dW, whose
stationary law is p (exactly as η → 0). Song & Ermon (2019) write the
same update as x + (α/2) ∇ log p + √α z, i.e. α = 2η.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validate import (
    as_data,
    as_float_array,
    as_int,
    as_positive_float,
    as_rng,
)

__all__ = [
    "langevin_sample",
    "annealed_langevin",
    "geometric_sigmas",
    "dsm_loss",
]


def _eval_score(score_fn, x, *args) -> np.ndarray:
    out = score_fn(x, *args)
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError("score_fn must return an array of numbers of "
                        f"shape {x.shape}; got {type(out).__name__}"
                        ) from exc
    if out.shape != x.shape:
        raise ValueError(f"score_fn must return shape (N, D) = {x.shape};"
                         f" got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("score_fn returned non-finite values")
    return out


def _check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable; got {type(fn).__name__}")


def langevin_sample(score_fn: Callable[[np.ndarray], np.ndarray], x_init,
                    step_size: float, n_steps: int, rng,
                    return_trajectory: bool = False):
    """Unadjusted Langevin dynamics with a fixed step size.

    x_{k+1} = x_k + η ∇ log p(x_k) + √(2η) z_k,  z_k ~ N(0, I),
    for k = 0..n_steps − 1 (η = step_size).

    Args:
        score_fn: callable score_fn(x) -> ∇ log p(x), shapes (N, D).
        x_init: starting points, shape (N, D).
        step_size: η > 0.
        n_steps: number of updates (>= 0).
        rng: np.random.Generator or int seed.
        return_trajectory: also return all states.

    Returns:
        the final points (N, D); with ``return_trajectory`` the pair
        (final, states) with states of shape (n_steps + 1, N, D).

    Book: chapter 7, eq. (eq-langevin)
    """
    _check_callable(score_fn, "score_fn")
    x = as_data(x_init, "x_init").copy()
    eta = as_positive_float(step_size, "step_size")
    n_steps = as_int(n_steps, "n_steps", minimum=0)
    rng = as_rng(rng)
    states = [x] if return_trajectory else None
    for _ in range(n_steps):
        z = rng.standard_normal(x.shape)
        x = x + eta * _eval_score(score_fn, x) + np.sqrt(2 * eta) * z
        if return_trajectory:
            states.append(x)
    return (x, np.stack(states)) if return_trajectory else x


def geometric_sigmas(sigma_1: float, sigma_L: float, L: int) -> np.ndarray:
    """Noise levels σ_1 > ... > σ_L in geometric progression (NCSN).

    σ_i = σ_1 (σ_L / σ_1)^{(i−1)/(L−1)}.

    Returns:
        array (L,), decreasing.

    Book: chapter 7, eq. (eq-annealed-langevin)
    """
    sigma_1 = as_positive_float(sigma_1, "sigma_1")
    sigma_L = as_positive_float(sigma_L, "sigma_L")
    L = as_int(L, "L", minimum=1)
    if L > 1 and not sigma_1 > sigma_L:
        raise ValueError(f"sigma_1 must be > sigma_L; got {sigma_1} and "
                         f"{sigma_L}")
    return np.geomspace(sigma_1, sigma_L, L)


def annealed_langevin(score_fn: Callable[[np.ndarray, float], np.ndarray],
                      sigmas, x_init, epsilon: float, n_steps_each: int,
                      rng, *, denoise: bool = False,
                      return_trajectory: bool = False):
    """Annealed Langevin dynamics of Song & Ermon (2019), Algorithm 1.

    For i = 1..L (σ_1 > ... > σ_L): α_i = ε σ_i² / σ_L², then
    n_steps_each updates x ← x + (α_i/2) s(x, σ_i) + √α_i z, i.e.
    :func:`langevin_sample` on p_{σ_i} with η_i = α_i / 2.
    With ``denoise`` a final Tweedie step x ← x + σ_L² s(x, σ_L)
    removes the remaining noise of level σ_L (introduced by
    Jolicoeur-Martineau et al. 2020, adopted by Song & Ermon 2020).

    Args:
        score_fn: callable score_fn(x, sigma) -> ∇ log p_σ(x), (N, D);
            p_σ is the data convolved with N(0, σ² I).
        sigmas: (L,) strictly decreasing noise levels > 0.
        x_init: starting points (N, D), e.g. uniform or N(0, σ_1² I).
        epsilon: ε > 0, the step size at the smallest level σ_L (Song &
            Ermon use 2e-5 for images).
        n_steps_each: Langevin steps per noise level (>= 1).
        rng: np.random.Generator or int seed.
        denoise: add the final denoising step.
        return_trajectory: also return the state after each level.

    Returns:
        the final points (N, D); with ``return_trajectory`` the pair
        (final, states) with states of shape (L + 1, N, D) (x_init then
        the state after each level, before the optional denoising).

    Book: chapter 7, eq. (eq-annealed-langevin)
    """
    _check_callable(score_fn, "score_fn")
    sigmas = as_float_array(sigmas, "sigmas", ndim=1)
    if sigmas.shape[0] == 0 or np.any(sigmas <= 0) or np.any(
            np.diff(sigmas) >= 0):
        raise ValueError("sigmas must be a non-empty, strictly decreasing "
                         f"array of positive noise levels; got {sigmas}")
    x = as_data(x_init, "x_init").copy()
    epsilon = as_positive_float(epsilon, "epsilon")
    n_steps_each = as_int(n_steps_each, "n_steps_each", minimum=1)
    rng = as_rng(rng)
    states = [x] if return_trajectory else None
    for sigma in sigmas:
        alpha = epsilon * sigma ** 2 / sigmas[-1] ** 2

        def score_at_level(y, sigma=float(sigma)):
            return _eval_score(score_fn, y, sigma)

        x = langevin_sample(score_at_level, x, alpha / 2, n_steps_each,
                            rng)
        if return_trajectory:
            states.append(x)
    if denoise:
        x = x + sigmas[-1] ** 2 * _eval_score(score_fn, x,
                                              float(sigmas[-1]))
    return (x, np.stack(states)) if return_trajectory else x


def dsm_loss(score_fn: Callable[[np.ndarray], np.ndarray], x0, sigma: float,
             noise) -> float:
    """Denoising score matching loss at one noise level (Vincent 2011).

    x̃ = x_0 + σ z,  ∇_x̃ log q_σ(x̃ | x_0) = −z / σ,
    J(s) = ½ · mean over examples of ‖s(x̃) + z / σ‖².

    Its minimiser over all functions s is the score of the smoothed
    data, ∇ log p_σ; J(s) equals the explicit score matching loss
    ½ E‖s − ∇ log p_σ‖² plus a constant that does not depend on s.
    Multiply by σ² for NCSN's weighting λ(σ) = σ².

    Args:
        score_fn: callable score_fn(x) -> s(x), shapes (N, D).
        x0: clean data, shape (N, D).
        sigma: σ > 0.
        noise: z ~ N(0, I), shape (N, D).

    Returns:
        the loss, a float.

    Book: chapter 7, eq. (eq-dsm)
    """
    _check_callable(score_fn, "score_fn")
    x0 = as_data(x0, "x0")
    sigma = as_positive_float(sigma, "sigma")
    noise = as_data(noise, "noise")
    if noise.shape != x0.shape:
        raise ValueError(f"noise must have the same shape as x0, "
                         f"{x0.shape}; got {noise.shape}")
    x_noisy = x0 + sigma * noise
    residual = _eval_score(score_fn, x_noisy) + noise / sigma
    return float(0.5 * np.mean(np.sum(residual ** 2, axis=1)))
