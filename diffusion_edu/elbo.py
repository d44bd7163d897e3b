"""The variational bound (ELBO) of a diffusion model, term by term.

−log p_θ(x_0) <= L = L_T + Σ_{t=2}^{T} L_{t−1} + L_0, with

* L_T = KL(q(x_T | x_0) || N(0, I))                      (prior term),
* L_{t−1} = E_q KL(q(x_{t−1} | x_t, x_0) || p_θ(x_{t−1} | x_t)),
* L_0 = −E_q log p_θ(x_0 | x_1)                          (decoder term).

The ELBO is −L. All quantities are in nats, per example (summed over
the D coordinates); :func:`nats_to_bits` and :func:`bits_per_dim` convert.

Decoder choice (documented, and tested): x_0 is continuous, so the
decoder is the Gaussian density p_θ(x_0 | x_1) = N(μ_θ(x_1, 1), σ_dec² I)
with σ_dec² = β_1 by default, for both var_type values (``decoder_var``
overrides it). Note μ_θ(x_1, 1) = x̂_0(x_1), because ᾱ_0 = 1. There is
no 8-bit discretised decoder: the toy data of this book is not an image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validate import as_data, as_float_array, as_int, as_rng
from .gaussian import (
    VarType,
    posterior_mean_from_eps,
    posterior_mean_var,
    q_mean_var,
    q_sample,
    reverse_variance,
)
from .samplers import eval_eps_model
from .schedules import Schedule, as_schedule

__all__ = [
    "gaussian_kl",
    "gaussian_log_likelihood",
    "prior_kl",
    "ElboTerms",
    "elbo_terms",
    "elbo",
    "nats_to_bits",
    "bits_per_dim",
]


def _variance(value, name: str) -> np.ndarray:
    var = as_float_array(value, name)
    if np.any(var <= 0):
        raise ValueError(
            f"{name} must be a variance > 0 (not a standard deviation, "
            f"not 0); got min {var.min()}")
    return var


def gaussian_kl(mean1, var1, mean2, var2) -> np.ndarray:
    """KL divergence between 1-D Gaussians, elementwise (nats).

    KL(N(μ_1, σ_1²) || N(μ_2, σ_2²))
        = ½ (log(σ_2²/σ_1²) + (σ_1² + (μ_1 − μ_2)²)/σ_2² − 1).

    For diagonal Gaussians in D dimensions, sum the result over the
    coordinates. Arguments broadcast against each other; variances must
    be > 0.

    Args:
        mean1, var1: mean and variance of the first Gaussian.
        mean2, var2: mean and variance of the second.

    Returns:
        array of the broadcast shape, >= 0.

    Book: chapter 5, eq. (eq-gaussian-kl)
    """
    mean1 = as_float_array(mean1, "mean1")
    mean2 = as_float_array(mean2, "mean2")
    var1 = _variance(var1, "var1")
    var2 = _variance(var2, "var2")
    try:
        np.broadcast_shapes(mean1.shape, var1.shape, mean2.shape,
                            var2.shape)
    except ValueError as exc:
        raise ValueError(
            "mean1, var1, mean2, var2 must broadcast together; got shapes "
            f"{mean1.shape}, {var1.shape}, {mean2.shape}, {var2.shape}"
        ) from exc
    return 0.5 * (np.log(var2 / var1)
                  + (var1 + (mean1 - mean2) ** 2) / var2 - 1.0)


def gaussian_log_likelihood(x, mean, var) -> np.ndarray:
    """Log-density of N(mean, var) at x, elementwise (nats).

    log N(x; μ, σ²) = −½ (log(2π σ²) + (x − μ)² / σ²).

    Sum over coordinates for a diagonal Gaussian. Arguments broadcast.

    Book: chapter 5, eq. (eq-decoder-term)
    """
    x = as_float_array(x, "x")
    mean = as_float_array(mean, "mean")
    var = _variance(var, "var")
    try:
        np.broadcast_shapes(x.shape, mean.shape, var.shape)
    except ValueError as exc:
        raise ValueError(
            f"x, mean, var must broadcast together; got shapes {x.shape}, "
            f"{mean.shape}, {var.shape}") from exc
    return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)


def prior_kl(s: Schedule, x0) -> np.ndarray:
    """The prior term L_T = KL(q(x_T | x_0) || N(0, I)) per example.

    L_T = Σ_d KL(N(√ᾱ_T x_{0,d}, 1 − ᾱ_T) || N(0, 1)); it has no
    parameters and is ≈ 0 when ᾱ_T ≈ 0.

    Args:
        s: schedule.
        x0: data, shape (N, D).

    Returns:
        array (N,), nats.

    Book: chapter 5, eq. (eq-prior-term)
    """
    s = as_schedule(s)
    x0 = as_data(x0, "x0")
    mean, var = q_mean_var(s, x0, s.T)
    return np.sum(gaussian_kl(mean, var, 0.0, 1.0), axis=1)


@dataclass(frozen=True, eq=False)
class ElboTerms:
    """The terms of L = −ELBO per example, in nats.

    Attributes:
        prior: L_T, shape (N,).
        kl: shape (N, T + 1), indexed by t: ``kl[:, t]`` is L_{t−1} for
            t = 2..T; columns 0 and 1 are 0 (the t = 1 term is
            ``decoder``).
        decoder: L_0 = −log p_θ(x_0 | x_1), shape (N,).

    Book: chapter 5, eq. (eq-elbo-decomposition)
    """

    prior: np.ndarray
    kl: np.ndarray
    decoder: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """L = L_T + Σ_{t>=2} L_{t−1} + L_0 = −ELBO, shape (N,)."""
        return self.prior + self.kl.sum(axis=1) + self.decoder


def _decoder_var(s: Schedule, decoder_var) -> float:
    if decoder_var is None:
        return float(s.beta[1])
    value = float(as_float_array(decoder_var, "decoder_var", ndim=0))
    if value <= 0:
        raise ValueError(f"decoder_var must be a variance > 0; got {value}")
    return value


def elbo_terms(s: Schedule, eps_model: Callable, x0, rng,
               var_type: VarType = "fixed_small",
               decoder_var: float | None = None) -> ElboTerms:
    """Every term of L = −ELBO for each example (one-sample estimate).

    For each t one x_t ~ q(x_t | x_0) is drawn, so the terms are
    unbiased single-sample estimates of the expectations:

    * L_{t−1} = Σ_d KL(N(μ̃_t, β̃_t) || N(μ_θ(x_t, t), σ_t²)), t = 2..T,
      with μ_θ from ε̂ = eps_model(x_t, t) and σ_t² = β̃_t
      ("fixed_small") or β_t ("fixed_large");
    * L_0 = −Σ_d log N(x_0; μ_θ(x_1, 1), σ_dec²), σ_dec² = decoder_var
      (default β_1, for both var types; see the module doc);
    * L_T = prior_kl(s, x_0) (exact).

    Args:
        s: schedule.
        eps_model: callable eps_model(x, t) -> ε̂, t an int array (N,).
        x0: data, shape (N, D).
        rng: np.random.Generator or int seed.
        var_type: "fixed_small" or "fixed_large".
        decoder_var: σ_dec² > 0, or None for β_1.

    Returns:
        ElboTerms (prior (N,), kl (N, T + 1), decoder (N,)), nats.

    Book: chapter 5, eq. (eq-elbo-decomposition)
    """
    s = as_schedule(s)
    x0 = as_data(x0, "x0")
    rng = as_rng(rng)
    sigma2 = reverse_variance(s, var_type)
    dec_var = _decoder_var(s, decoder_var)
    if not callable(eps_model):
        raise TypeError("eps_model must be a callable eps_model(x, t); "
                        f"got {type(eps_model).__name__}")
    n = x0.shape[0]
    kl = np.zeros((n, s.T + 1))
    decoder = None
    for t in range(1, s.T + 1):
        xt = q_sample(s, x0, t, rng.standard_normal(x0.shape))
        eps = eval_eps_model(eps_model, xt, t)
        mu_theta = posterior_mean_from_eps(s, xt, t, eps)
        if t == 1:
            decoder = -np.sum(
                gaussian_log_likelihood(x0, mu_theta, dec_var), axis=1)
        else:
            mu_tilde, beta_tilde = posterior_mean_var(s, x0, xt, t)
            kl[:, t] = np.sum(
                gaussian_kl(mu_tilde, beta_tilde, mu_theta, sigma2[t]),
                axis=1)
    return ElboTerms(prior=prior_kl(s, x0), kl=kl, decoder=decoder)


def elbo(s: Schedule, eps_model: Callable, x0, rng,
         var_type: VarType = "fixed_small",
         decoder_var: float | None = None) -> np.ndarray:
    """The evidence lower bound per example, in nats.

    ELBO = −(L_T + Σ_{t=2}^{T} L_{t−1} + L_0) <= log p_θ(x_0)
    (a single-sample estimate; see :func:`elbo_terms`). For bits per
    dimension use ``bits_per_dim(-elbo(...), D)``.

    Returns:
        array (N,), nats (usually negative).

    Book: chapter 5, eq. (eq-elbo-decomposition)
    """
    return -elbo_terms(s, eps_model, x0, rng, var_type, decoder_var).total


def nats_to_bits(nats):
    """Convert nats to bits: bits = nats / ln 2.

    Book: chapter 5, eq. (eq-elbo-decomposition)
    """
    return as_float_array(nats, "nats") / np.log(2.0)


def bits_per_dim(nats, dim: int):
    """Per-example nats (e.g. −ELBO) to bits per dimension: n/(D ln 2).

    Book: chapter 5, eq. (eq-elbo-decomposition)
    """
    dim = as_int(dim, "dim", minimum=1)
    return nats_to_bits(nats) / dim
