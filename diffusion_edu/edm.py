"""The sampler design space of Karras et al. (2022), "EDM".

Every diffusion model of this book is one probability-flow ODE. In the
coordinates of chapter 8, x̄ = x / √ᾱ (the scaling s = 1) and the noise
level σ = √((1 − ᾱ) / ᾱ), the noised data are x̄_σ = x_0 + σ ε and the
ODE reads

    dx̄/dσ = (x̄ − D(x̄; σ)) / σ,

with the *denoiser* D(x; σ) = E[x_0 | x̄_σ = x] (ideal) or a network's
estimate of it. This module holds the pieces of that design space:

* conversions: :func:`alpha_bar_from_sigma`, :func:`denoiser_from_eps_model`
  (the book's ε-network as a denoiser) and :func:`ideal_denoiser` (the
  exact denoiser of the toy data, at any σ);
* the preconditioning c_skip, c_out, c_in, c_noise (:func:`preconditioning`);
* time steps: :func:`sigma_steps` (the ρ-spacing; ρ = 1 is uniform in σ);
* solvers: :func:`solve` (Euler or Heun for any dx/dσ, e.g.
  :func:`ode_velocity` or its variance-preserving twin :func:`vp_velocity`)
  and :func:`sample`, EDM's Algorithms 1 (deterministic) and 2 (with
  "churn": noise added and removed at every step).

A *denoiser* here is a callable ``D(x, sigma) -> ndarray`` with x of
shape (N, D) and sigma a float >= 0 or a float array of shape (N,) (one
noise level per row). Everything is NumPy float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

from ._validate import (
    as_data,
    as_float_array,
    as_int,
    as_positive_float,
    as_rng,
)
from .ode import sigma_from_alpha_bar
from .schedules import Schedule, as_schedule

__all__ = [
    "alpha_bar_from_sigma",
    "Preconditioning",
    "preconditioning",
    "sigma_steps",
    "ideal_denoiser",
    "denoiser_from_eps_model",
    "ode_velocity",
    "vp_velocity",
    "solve",
    "sample",
    "num_evaluations",
]

Denoiser = Callable[[np.ndarray, np.ndarray], np.ndarray]
Velocity = Callable[[np.ndarray, float], np.ndarray]
Method = Literal["euler", "heun"]


def alpha_bar_from_sigma(sigma) -> np.ndarray:
    """ᾱ = 1 / (1 + σ²), the inverse of :func:`ode.sigma_from_alpha_bar`.

    Args:
        sigma: σ >= 0, a number or an array.

    Returns:
        ᾱ in (0, 1], float64 array of the shape of sigma.

    Book: chapter 11, eq. (eq-11-coordinates)
    """
    sigma = as_float_array(sigma, "sigma")
    if np.any(sigma < 0):
        raise ValueError(f"sigma must be >= 0 (a standard deviation); got "
                         f"min {sigma.min()}")
    return 1.0 / (1.0 + sigma ** 2)


def _sigma_rows(sigma, n: int, *, allow_zero: bool = False) -> np.ndarray:
    """σ as an (N, 1) column: one float for all rows, or one per row."""
    sig = as_float_array(sigma, "sigma")
    if sig.ndim == 0:
        sig = np.full(n, float(sig))
    if sig.shape != (n,):
        raise ValueError(f"sigma must be a number or an array of shape "
                         f"(N,) = ({n},), one noise level per row; got "
                         f"shape {sig.shape}")
    if np.any(sig < 0) or (not allow_zero and np.any(sig == 0)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"sigma must be {bound}; got min {sig.min()}")
    return sig[:, None]


class Preconditioning(NamedTuple):
    """The four coefficients of D = c_skip x + c_out F(c_in x, c_noise).

    Book: chapter 11, eq. (eq-11-precond)
    """

    c_skip: np.ndarray
    c_out: np.ndarray
    c_in: np.ndarray
    c_noise: np.ndarray


def preconditioning(sigma, sigma_data: float) -> Preconditioning:
    """EDM's preconditioning of a denoiser network F at noise level σ.

    c_in = 1 / √(σ² + σ_d²)        (the input c_in x̄_σ has unit second
                                     moment),
    c_skip = σ_d² / (σ² + σ_d²),   (minimises c_out),
    c_out = σ σ_d / √(σ² + σ_d²)   (the target (x_0 − c_skip x̄_σ) / c_out
                                     has unit second moment),
    c_noise = ¼ ln σ               (the noise level the network sees),

    for data with second moment E[x_0²] = σ_d² per coordinate.

    Args:
        sigma: σ > 0, a number or an array.
        sigma_data: σ_d > 0, the root mean square of the data.

    Returns:
        Preconditioning(c_skip, c_out, c_in, c_noise), float64 arrays of
        the shape of sigma.

    Book: chapter 11, eq. (eq-11-cskip-cout)
    """
    sigma = as_float_array(sigma, "sigma")
    if np.any(sigma <= 0):
        raise ValueError(f"sigma must be > 0; got min {sigma.min()}")
    sd = as_positive_float(sigma_data, "sigma_data")
    total = sigma ** 2 + sd ** 2
    return Preconditioning(sd ** 2 / total, sigma * sd / np.sqrt(total),
                           1.0 / np.sqrt(total), 0.25 * np.log(sigma))


def sigma_steps(num_steps: int, sigma_min: float = 0.002,
                sigma_max: float = 80.0, rho: float = 7.0) -> np.ndarray:
    """The noise levels of an N-step sampler, σ_0 = σ_max > ... > σ_N = 0.

    σ_i = (σ_max^{1/ρ} + i/(N − 1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ for
    i = 0..N − 1, and σ_N = 0: evenly spaced in σ^{1/ρ}, so a large ρ
    puts short steps at small σ. ρ = 1 is uniform in σ; EDM uses ρ = 7.
    With N = 1 the grid is [σ_max, 0].

    Args:
        num_steps: N >= 1, the number of steps.
        sigma_min: σ_min > 0, the last non-zero level.
        sigma_max: σ_max > σ_min, the first level.
        rho: ρ > 0.

    Returns:
        float64 array of shape (N + 1,), strictly decreasing, ending at 0.

    Book: chapter 11, eq. (eq-11-rho-steps)
    """
    n = as_int(num_steps, "num_steps", minimum=1)
    lo = as_positive_float(sigma_min, "sigma_min")
    hi = as_positive_float(sigma_max, "sigma_max")
    rho = as_positive_float(rho, "rho")
    if not hi > lo:
        raise ValueError(f"sigma_max must be > sigma_min; got sigma_max = "
                         f"{hi}, sigma_min = {lo} (did you swap them?)")
    if n == 1:
        return np.array([hi, 0.0])
    i = np.arange(n) / (n - 1)
    levels = (hi ** (1 / rho) + i * (lo ** (1 / rho) - hi ** (1 / rho))
              ) ** rho
    levels[0], levels[-1] = hi, lo          # exact ends despite rounding
    return np.append(levels, 0.0)


# --------------------------------------------------------------------------
# Denoisers
# --------------------------------------------------------------------------

def _mixture_posterior(data, x: np.ndarray, sig2: np.ndarray):
    """Posterior of x_0 given x̄_σ = x for a diagonal Gaussian mixture.

    Component k of x̄_σ is N(m_k, v_k + σ²); given it, x_0 is Gaussian
    with mean m_k + v_k (x − m_k) / (v_k + σ²) and variance
    v_k σ² / (v_k + σ²). Returns the responsibilities r (K, N, 1), the
    component means (K, N, D) and variances (K, N, D).
    """
    var = data.variances[:, None, :] + sig2[None]          # (K, N, D)
    diff = x[None] - data.means[:, None, :]
    logits = (np.log(data.weights)[:, None]
              - 0.5 * np.sum(np.log(2 * np.pi * var) + diff ** 2 / var,
                             axis=2))
    logits -= logits.max(axis=0, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(axis=0, keepdims=True)
    gain = data.variances[:, None, :] / var
    return r[:, :, None], data.means[:, None, :] + gain * diff, gain * sig2


def _is_mixture(data) -> bool:
    return all(hasattr(data, a) for a in ("weights", "means", "variances"))


def ideal_denoiser(data) -> Denoiser:
    """The exact denoiser D(x; σ) = E[x_0 | x_0 + σ ε = x] of toy data.

    For the Gaussian mixtures of :mod:`toy_data` in closed form,
    D = Σ_k r_k(x) (m_k + v_k (x − m_k) / (v_k + σ²)); for other data sets
    with ``smoothed(σ).score`` (the Swiss roll) by Tweedie's formula,
    D = x + σ² ∇ log p_σ(x). D(x; 0) = x.

    Args:
        data: a toy data set (GaussianMixture1D, GaussianMixture2D,
            SwissRoll2D).

    Returns:
        D(x, sigma): x (N, D), sigma >= 0 a number or (N,) -> (N, D).

    Book: chapter 11, eq. (eq-11-coordinates)
    """
    mixture = _is_mixture(data)
    if not mixture and not hasattr(data, "smoothed"):
        raise TypeError(f"data must be a toy data set of diffusion_edu."
                        f"toy_data (a Gaussian mixture or the Swiss roll); "
                        f"got {type(data).__name__}")
    dim = data.dim

    def denoiser(x, sigma):
        x = as_data(x, "x")
        if x.shape[1] != dim:
            raise ValueError(f"x must have shape (N, {dim}); got "
                             f"{x.shape}")
        sig = _sigma_rows(sigma, x.shape[0], allow_zero=True)
        if mixture:
            r, mean, _ = _mixture_posterior(data, x, sig ** 2)
            out = np.sum(r * mean, axis=0)
        else:
            out = np.empty_like(x)
            levels, inverse = np.unique(sig[:, 0], return_inverse=True)
            for g, level in enumerate(levels):
                rows = inverse == g
                out[rows] = x[rows] + level ** 2 * data.smoothed(
                    level).score(x[rows])
        return np.where(sig == 0, x, out)

    denoiser.data = data
    return denoiser


def denoiser_from_eps_model(eps_model: Callable, s: Schedule) -> Denoiser:
    """The book's noise prediction ε̂(x_t, t) as a denoiser D(x̄; σ).

    x_t = √ᾱ_t x̄ with ᾱ_t = 1 / (1 + σ_t²), and x̄ = x_0 + σ ε, so

        D(x̄; σ_t) = x̄ − σ_t ε̂(√ᾱ_t x̄, t).

    The network exists only at the steps t = 1..T of its schedule; at a
    σ between σ_t and σ_{t+1} the noise prediction is interpolated
    linearly in ln σ between ε̂(√ᾱ_t x̄, t) and ε̂(√ᾱ_{t+1} x̄, t + 1)
    (one evaluation when σ is a step's own level).

    Args:
        eps_model: callable eps_model(x, t) -> ε̂, t an int array (N,).
        s: the schedule the model was trained with.

    Returns:
        D(x, sigma), sigma in [σ_1, σ_T] (a number or (N,)). Attributes:
        ``sigmas``, σ_t for t = 0..T; ``round_sigma(levels)``, the
        levels moved to the nearest σ_t (in ln σ; 0 stays 0), so that a
        sampler on that grid needs one evaluation per level, as Karras
        et al. (2022) do for networks trained in discrete time.

    Book: chapter 11, eq. (eq-11-coordinates)
    """
    if not callable(eps_model):
        raise TypeError(f"eps_model must be a callable eps_model(x, t); "
                        f"got {type(eps_model).__name__}")
    s = as_schedule(s)
    grid = sigma_from_alpha_bar(s.alpha_bar)            # σ_t, t = 0..T
    log_grid = np.log(grid[1:])                         # t = 1..T
    lo_ok, hi_ok = grid[1], grid[-1]

    def denoiser(x, sigma):
        x = as_data(x, "x")
        n = x.shape[0]
        sig = _sigma_rows(sigma, n)[:, 0]
        tol = 1e-9
        if np.any(sig < lo_ok * (1 - tol)) or np.any(sig > hi_ok * (1 + tol)):
            raise ValueError(
                f"sigma must lie in [sigma_1, sigma_T] = [{lo_ok:.6g}, "
                f"{hi_ok:.6g}] of the model's schedule; got values from "
                f"{sig.min():.6g} to {sig.max():.6g}")
        sig = np.clip(sig, lo_ok, hi_ok)
        pos = np.interp(np.log(sig), log_grid, np.arange(s.T))  # t − 1
        lower = np.minimum(np.floor(pos).astype(np.int64), s.T - 1)
        frac = pos - lower
        exact = frac < 1e-9
        frac[exact] = 0.0
        t_lo = lower + 1
        eps = _eval(eps_model, s, x, t_lo)
        need = ~exact
        if np.any(need):
            t_hi = np.minimum(t_lo[need] + 1, s.T)
            eps_hi = _eval(eps_model, s, x[need], t_hi)
            w = frac[need][:, None]
            eps[need] = (1 - w) * eps[need] + w * eps_hi
        return x - sig[:, None] * eps

    def round_sigma(sigmas) -> np.ndarray:
        """Each level replaced by the nearest σ_t (in ln σ); 0 stays 0."""
        sig = as_float_array(sigmas, "sigmas")
        out = np.zeros_like(sig)
        pos = sig > 0
        idx = np.abs(np.log(sig[pos])[..., None] - log_grid).argmin(-1)
        out[pos] = grid[1:][idx]
        return out

    denoiser.sigmas = grid
    denoiser.schedule = s
    denoiser.round_sigma = round_sigma
    return denoiser


def _eval(eps_model, s: Schedule, x_bar: np.ndarray, t: np.ndarray):
    """ε̂(√ᾱ_t x̄, t) with one call (one call per step if t is constant)."""
    xt = np.sqrt(s.alpha_bar[t])[:, None] * x_bar
    out = np.asarray(eps_model(xt, t), dtype=np.float64)
    if out.shape != x_bar.shape:
        raise ValueError(f"eps_model returned shape {out.shape}; expected "
                         f"{x_bar.shape}")
    return out


def _check_denoiser(denoiser) -> None:
    if not callable(denoiser):
        raise TypeError(f"denoiser must be a callable D(x, sigma); got "
                        f"{type(denoiser).__name__}")


def _call(denoiser, x, sigma) -> np.ndarray:
    out = np.asarray(denoiser(x, sigma), dtype=np.float64)
    if out.shape != x.shape:
        raise ValueError(f"the denoiser returned shape {out.shape}; "
                         f"expected the shape of x, {x.shape}")
    return out


def ode_velocity(denoiser: Denoiser, x, sigma) -> np.ndarray:
    """dx/dσ = (x − D(x; σ)) / σ, the probability-flow ODE with s = 1.

    Args:
        denoiser: D(x, sigma).
        x: points x̄, shape (N, D).
        sigma: σ > 0, a number or (N,).

    Returns:
        dx/dσ, shape (N, D).

    Book: chapter 11, eq. (eq-11-edm-ode)
    """
    _check_denoiser(denoiser)
    x = as_data(x, "x")
    sig = _sigma_rows(sigma, x.shape[0])
    return (x - _call(denoiser, x, sigma)) / sig


def vp_velocity(denoiser: Denoiser, x, sigma) -> np.ndarray:
    """The same ODE in the book's variance-preserving coordinates.

    With x = s(σ) x̄ and s(σ) = √ᾱ = 1 / √(1 + σ²) (chapters 2–8),

        dx/dσ = −σ / (1 + σ²) x + s(σ) (x̄ − D(x̄; σ)) / σ,   x̄ = x / s.

    The solutions are those of :func:`ode_velocity` multiplied by s(σ);
    only their shape, and so a solver's error, differs.

    Book: chapter 11, eq. (eq-11-vp-ode)
    """
    _check_denoiser(denoiser)
    x = as_data(x, "x")
    sig = _sigma_rows(sigma, x.shape[0])
    scale = 1.0 / np.sqrt(1.0 + sig ** 2)
    x_bar = x / scale
    return (-sig / (1 + sig ** 2) * x
            + scale * (x_bar - _call(denoiser, x_bar, sigma)) / sig)


def _check_grid(sigmas, *, decreasing: bool | None = None) -> np.ndarray:
    sig = as_float_array(sigmas, "sigmas", ndim=1)
    if sig.shape[0] < 2:
        raise ValueError(f"sigmas must hold at least 2 levels (one step); "
                         f"got {sig.shape[0]}")
    steps = np.diff(sig)
    down, up = np.all(steps < 0), np.all(steps > 0)
    if np.any(sig < 0) or not (down or up):
        raise ValueError("sigmas must be strictly monotone noise levels "
                         f">= 0; got {np.array2string(sig, precision=4)}")
    if decreasing is True and not down:
        raise ValueError("sigmas must decrease (from sigma_max down to 0) "
                         "to sample; got an increasing grid (is your "
                         "rho-spacing the wrong way round?)")
    if up and sig[0] == 0:
        raise ValueError("an increasing grid must start at sigma > 0: the "
                         "velocity (x - D)/sigma is not defined at 0")
    return sig


def _method(method) -> str:
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun'; got "
                         f"{method!r}")
    return method


def solve(velocity: Velocity, x, sigmas, method: Method = "heun",
          return_trajectory: bool = False):
    """Integrate dx/dσ = velocity(x, σ) over the grid ``sigmas``.

    Euler: x_{i+1} = x_i + h_i f(x_i, σ_i), h_i = σ_{i+1} − σ_i.
    Heun: x̃ = Euler step, then x_{i+1} = x_i + h_i (f(x_i, σ_i) +
    f(x̃, σ_{i+1})) / 2, except on a step that ends at σ = 0, where f
    cannot be evaluated and the Euler step is kept (Karras et al. 2022).

    Args:
        velocity: f(x, sigma) -> dx/dσ, e.g. ``lambda x, s:
            ode_velocity(D, x, s)``.
        x: the state at sigmas[0], shape (N, D).
        sigmas: strictly decreasing levels (sampling; may end at 0) or
            strictly increasing ones starting above 0 (encoding).
        method: "euler" or "heun".
        return_trajectory: also return the states at every level.

    Returns:
        x at sigmas[-1], shape (N, D); with ``return_trajectory`` the
        pair (x, states of shape (len(sigmas), N, D)).

    Book: chapter 11, eq. (eq-11-heun)
    """
    if not callable(velocity):
        raise TypeError(f"velocity must be a callable f(x, sigma); got "
                        f"{type(velocity).__name__}")
    method = _method(method)
    x = as_data(x, "x").copy()
    sig = _check_grid(sigmas)
    states = [x] if return_trajectory else None
    for cur, nxt in zip(sig[:-1], sig[1:], strict=True):
        h = nxt - cur
        d = velocity(x, cur)
        x_new = x + h * d
        if method == "heun" and nxt != 0:
            x_new = x + 0.5 * h * (d + velocity(x_new, nxt))
        x = x_new
        if return_trajectory:
            states.append(x)
    return (x, np.stack(states)) if return_trajectory else x


def sample(denoiser: Denoiser, x, sigmas, method: Method = "heun", *,
           churn: float = 0.0, sigma_tmin: float = 0.0,
           sigma_tmax: float = np.inf, noise_scale: float = 1.0,
           rng=None, round_sigma: Callable | None = None,
           return_trajectory: bool = False):
    """EDM's sampler: Algorithm 1 (churn = 0) and Algorithm 2 (churn > 0).

    At step i (N = len(sigmas) − 1 steps), with
    γ_i = min(S_churn / N, √2 − 1) if σ_i ∈ [sigma_tmin, sigma_tmax]
    else 0:

    1. raise the noise level: σ̂ = (1 + γ_i) σ_i,
       x̂ = x_i + √(σ̂² − σ_i²) S_noise ε,  ε ~ N(0, I);
    2. one Euler (or Heun) step of dx/dσ = (x − D(x; σ)) / σ from
       (x̂, σ̂) to σ_{i+1} (no correction on a step to σ = 0).

    With churn = 0 no noise is drawn and the result is
    :func:`solve` with :func:`ode_velocity`.

    Args:
        denoiser: D(x, sigma).
        x: the start at sigmas[0], e.g. ``sigmas[0] * rng.standard_normal
            ((N, D))``, shape (N, D).
        sigmas: strictly decreasing levels, e.g. :func:`sigma_steps`.
        method: "euler" or "heun".
        churn: S_churn >= 0, the total amount of added noise.
        sigma_tmin, sigma_tmax: the range of σ_i where noise is added.
        noise_scale: S_noise > 0 (slightly above 1 in EDM).
        rng: np.random.Generator or int seed; required when churn > 0.
        round_sigma: optional map of σ̂ to a level the denoiser supports
            (e.g. ``D.round_sigma`` of :func:`denoiser_from_eps_model`);
            None keeps σ̂.
        return_trajectory: also return the states x_i, (N + 1, N, D).

    Returns:
        samples at sigmas[-1], shape (N, D) (and the trajectory).

    Book: chapter 11, eq. (eq-11-churn)
    """
    _check_denoiser(denoiser)
    method = _method(method)
    x = as_data(x, "x").copy()
    sig = _check_grid(sigmas, decreasing=True)
    churn = as_positive_float(churn, "churn", allow_zero=True)
    s_noise = as_positive_float(noise_scale, "noise_scale")
    t_min = as_positive_float(sigma_tmin, "sigma_tmin", allow_zero=True)
    t_max = float(sigma_tmax)
    if not t_max >= t_min:
        raise ValueError(f"sigma_tmax must be >= sigma_tmin; got "
                         f"{t_max} < {t_min}")
    if churn > 0:
        if rng is None:
            raise TypeError("churn > 0 adds noise: pass rng (a numpy "
                            "Generator or an int seed)")
        rng = as_rng(rng)
    n_steps = sig.shape[0] - 1
    gamma_max = min(churn / n_steps, np.sqrt(2.0) - 1.0)
    states = [x] if return_trajectory else None
    for cur, nxt in zip(sig[:-1], sig[1:], strict=True):
        gamma = gamma_max if t_min <= cur <= t_max else 0.0
        hat = cur * (1.0 + gamma)
        if gamma > 0 and round_sigma is not None:
            hat = float(round_sigma(np.array(hat)))
            if hat < cur:
                raise ValueError(f"round_sigma lowered sigma_hat below "
                                 f"sigma_i = {cur}; it must round to a "
                                 f"supported level >= sigma_i")
        if gamma > 0:
            x = x + np.sqrt(hat ** 2 - cur ** 2) * s_noise * \
                rng.standard_normal(x.shape)
        d = (x - _call(denoiser, x, hat)) / hat
        x_new = x + (nxt - hat) * d
        if method == "heun" and nxt != 0:
            d2 = (x_new - _call(denoiser, x_new, nxt)) / nxt
            x_new = x + (nxt - hat) * 0.5 * (d + d2)
        x = x_new
        if return_trajectory:
            states.append(x)
    return (x, np.stack(states)) if return_trajectory else x


def num_evaluations(sigmas, method: Method) -> int:
    """Number of network evaluations (NFE) of a solve over ``sigmas``.

    Euler: one per step, N. Heun: two per step, except on a step to
    σ = 0, which has no correction: 2N − 1 when the grid ends at 0.

    Book: chapter 11, eq. (eq-11-heun)
    """
    method = _method(method)
    sig = _check_grid(sigmas)
    n = sig.shape[0] - 1
    if method == "euler":
        return n
    return 2 * n - int(sig[-1] == 0)
