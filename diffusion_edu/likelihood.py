"""The exact likelihood of a diffusion model through its ODE.

The probability-flow ODE dx/dσ = f(x, σ) is a smooth invertible map
from the data (σ ≈ 0) to the noise (σ = σ_max). Along a solution x(σ)
the density p_σ of the ODE's marginals obeys the instantaneous change of
variables (Chen et al. 2018; Song et al. 2021)

    d log p_σ(x(σ)) / dσ = −∇·f(x(σ), σ),

so log p_{σ_min}(x_0) = log p_{σ_max}(x(σ_max)) + ∫ ∇·f dσ, with the
prior N(0, σ_max² I) for p_{σ_max}. This module solves that augmented ODE
(:func:`ode_log_likelihood`) with the divergence computed

* to O(h⁴), by fourth-order central differences one coordinate at a
  time (:func:`divergence`: 4d evaluations in dimension d, fine for
  d = 1, 2), or
  exactly, analytically for the ideal denoiser of a Gaussian mixture
  (:func:`ideal_divergence`, via the posterior covariance);
* by Hutchinson's unbiased estimator E[zᵀ J z] (:func:`hutchinson`).

It also gives the continuous-time −ELBO of Kingma et al. (2021)
(:func:`neg_elbo_continuous`) and the bits-per-dimension bookkeeping of
discrete data (:func:`discrete_bits_per_dim`). Log-likelihoods are in
nats per example (summed over the D coordinates).
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
from .edm import _check_grid, _is_mixture, _mixture_posterior, _sigma_rows

__all__ = [
    "divergence",
    "ideal_divergence",
    "hutchinson",
    "gaussian_log_pdf",
    "ODELikelihood",
    "ode_log_likelihood",
    "discrete_bits_per_dim",
    "ContinuousElbo",
    "neg_elbo_continuous",
]

Velocity = Callable[[np.ndarray, float], np.ndarray]


def _check_velocity(velocity) -> None:
    if not callable(velocity):
        raise TypeError(f"velocity must be a callable f(x, sigma) -> dx/"
                        f"dsigma; got {type(velocity).__name__}")


def _directional(velocity, x, sigma, v, h) -> np.ndarray:
    """J v by the fourth-order central difference along v, (N, D)."""
    def f(y):
        out = np.asarray(velocity(y, sigma), dtype=np.float64)
        if out.shape != x.shape:
            raise ValueError(f"velocity returned shape {out.shape}; "
                             f"expected {x.shape}")
        return out

    return (8 * (f(x + h * v) - f(x - h * v))
            - (f(x + 2 * h * v) - f(x - 2 * h * v))) / (12 * h)


def divergence(velocity: Velocity, x, sigma, h: float = 1e-3
               ) -> np.ndarray:
    """∇·f(x, σ) = Σ_d ∂f_d/∂x_d by central differences.

    ∂f_d/∂x_d ≈ (8 (f(x + h e_d) − f(x − h e_d)) − (f(x + 2h e_d) −
    f(x − 2h e_d)))_d / (12 h), exact up to O(h⁴): 4 D evaluations.

    Args:
        velocity: f(x, sigma) -> (N, D).
        x: points, shape (N, D).
        sigma: the noise level passed on to f.
        h: step > 0 (1e-3 for float64 models; about 1e-2 for a float32
            network, whose rounding error grows like 1e-7 / h).

    Returns:
        float64 array (N,).

    Book: chapter 11, eq. (eq-11-change-of-variables)
    """
    _check_velocity(velocity)
    x = as_data(x, "x")
    h = as_positive_float(h, "h")
    out = np.zeros(x.shape[0])
    for d in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, d] = 1.0
        out += _directional(velocity, x, sigma, e, h)[:, d]
    return out


def ideal_divergence(data, x, sigma) -> np.ndarray:
    """Exact ∇·f of dx/dσ = (x − D*(x; σ)) / σ for a Gaussian mixture.

    The Jacobian of the ideal denoiser is ∂D*/∂x = Cov[x_0 | x̄_σ = x] / σ²
    (differentiate Tweedie's formula D* = x + σ² ∇ log p_σ), so

        ∇·f = (D − tr Cov[x_0 | x̄_σ = x] / σ²) / σ,

    with the covariance of the posterior mixture in closed form.

    Args:
        data: a GaussianMixture1D or GaussianMixture2D.
        x: points x̄, shape (N, D).
        sigma: σ > 0, a number or (N,).

    Returns:
        float64 array (N,).

    Book: chapter 11, eq. (eq-11-jacobian)
    """
    if not _is_mixture(data):
        raise TypeError(f"data must be a Gaussian mixture of toy_data; got "
                        f"{type(data).__name__} (use divergence() with "
                        f"finite differences instead)")
    x = as_data(x, "x")
    if x.shape[1] != data.dim:
        raise ValueError(f"x must have shape (N, {data.dim}); got "
                         f"{x.shape}")
    sig = _sigma_rows(sigma, x.shape[0])
    r, mean, var = _mixture_posterior(data, x, sig ** 2)
    second = np.sum(r * (var + mean ** 2), axis=0)          # E[x0² | x]
    first = np.sum(r * mean, axis=0)
    trace = np.sum(second - first ** 2, axis=1)
    return (x.shape[1] - trace / sig[:, 0] ** 2) / sig[:, 0]


def _probes(rng, shape, kind: str) -> np.ndarray:
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=shape)
    if kind == "gaussian":
        return rng.standard_normal(shape)
    raise ValueError(f"kind must be 'rademacher' or 'gaussian'; got "
                     f"{kind!r}")


def hutchinson(velocity: Velocity, x, sigma, rng=None, num_probes: int = 1,
               kind: Literal["rademacher", "gaussian"] = "rademacher", *,
               probes=None, h: float = 1e-3) -> np.ndarray:
    """Hutchinson's estimates zᵀ (∂f/∂x) z of the divergence ∇·f.

    For a probe z with E[z zᵀ] = I (Rademacher ±1 or standard Gaussian
    entries), E[zᵀ J z] = tr J = ∇·f: an unbiased estimate that costs
    one directional derivative J z (here 4 evaluations of f by central
    differences, as in :func:`divergence`) whatever the dimension D.

    Args:
        velocity: f(x, sigma) -> (N, D).
        x: points, shape (N, D).
        sigma: the noise level passed on to f.
        rng: np.random.Generator or int seed (not needed with probes).
        num_probes: K >= 1 probes per point.
        kind: "rademacher" (lower variance) or "gaussian".
        probes: optional given probes, shape (K, N, D).
        h: finite-difference step > 0.

    Returns:
        float64 array (K, N): one estimate per probe and point.

    Book: chapter 11, eq. (eq-11-hutchinson)
    """
    _check_velocity(velocity)
    x = as_data(x, "x")
    h = as_positive_float(h, "h")
    if probes is None:
        if rng is None:
            raise TypeError("pass rng (a numpy Generator or an int seed) "
                            "or probes")
        k = as_int(num_probes, "num_probes", minimum=1)
        z = _probes(as_rng(rng), (k,) + x.shape, kind)
    else:
        z = as_float_array(probes, "probes")
        if z.ndim != 3 or z.shape[1:] != x.shape:
            raise ValueError(f"probes must have shape (K, N, D) = (K, "
                             f"{x.shape[0]}, {x.shape[1]}); got {z.shape}")
    return np.stack([np.sum(zk * _directional(velocity, x, sigma, zk, h),
                            axis=1) for zk in z])


def gaussian_log_pdf(x, var) -> np.ndarray:
    """log N(x; 0, var I), summed over coordinates, shape (N,).

    Book: chapter 11, eq. (eq-11-ode-likelihood)
    """
    x = as_data(x, "x")
    var = as_positive_float(var, "var")
    return -0.5 * np.sum(np.log(2 * np.pi * var) + x ** 2 / var, axis=1)


class ODELikelihood(NamedTuple):
    """Result of :func:`ode_log_likelihood` (nats per example).

    Attributes:
        log_p: log p_{σ_min}(x_0) = log_prior + delta, shape (N,).
        log_prior: log of the prior density at x(σ_max), shape (N,).
        delta: ∫_{σ_min}^{σ_max} ∇·f(x(σ), σ) dσ, shape (N,).
        x_end: x(σ_max), shape (N, D).

    Book: chapter 11, eq. (eq-11-ode-likelihood)
    """

    log_p: np.ndarray
    log_prior: np.ndarray
    delta: np.ndarray
    x_end: np.ndarray


def ode_log_likelihood(velocity: Velocity, x0, sigmas, *,
                       divergence_fn: str | Callable = "exact",
                       prior: Callable | None = None, rng=None,
                       num_probes: int = 1,
                       kind: Literal["rademacher", "gaussian"]
                       = "rademacher",
                       h: float = 1e-3) -> ODELikelihood:
    """log p(x_0) of an ODE model by the instantaneous change of variables.

    Solves, over the increasing grid ``sigmas`` (σ_min = sigmas[0] > 0
    up to σ_max = sigmas[-1]), the augmented ODE

        dx/dσ = f(x, σ),   dδ/dσ = ∇·f(x, σ),   x(σ_min) = x_0, δ = 0,

    and returns log p(x_0) = log prior(x(σ_max)) + δ(σ_max). x follows
    Heun's method in σ; δ the trapezoidal rule in ln σ (dδ/d ln σ =
    σ ∇·f, smoother than ∇·f in σ), evaluated at Heun's predicted
    points, as Heun's method would: second order in both.

    Args:
        velocity: f(x, sigma) -> dx/dσ, e.g. ``lambda x, s:
            edm.ode_velocity(D, x, s)``.
        x0: data, shape (N, D).
        sigmas: strictly increasing levels, sigmas[0] > 0.
        divergence_fn: "exact" (:func:`divergence`), "hutchinson" (one
            fixed set of probes per point for the whole path, so that
            the integral is unbiased) or a callable div(x, sigma) -> (N,).
        prior: log-density of x(σ_max), callable x -> (N,); default
            log N(x; 0, σ_max² I).
        rng, num_probes, kind: for "hutchinson" (the mean over the
            probes is used).
        h: finite-difference step.

    Returns:
        ODELikelihood(log_p, log_prior, delta, x_end).

    Book: chapter 11, eq. (eq-11-ode-likelihood)
    """
    _check_velocity(velocity)
    x = as_data(x0, "x0").copy()
    sig = _check_grid(sigmas)
    if not sig[-1] > sig[0]:
        raise ValueError("sigmas must increase, from sigma_min > 0 (the "
                         "data) up to sigma_max (the prior)")
    if isinstance(divergence_fn, str):
        if divergence_fn == "exact":
            def div(y, s):
                return divergence(velocity, y, s, h)
        elif divergence_fn == "hutchinson":
            if rng is None:
                raise TypeError("divergence_fn='hutchinson' needs rng")
            k = as_int(num_probes, "num_probes", minimum=1)
            z = _probes(as_rng(rng), (k,) + x.shape, kind)

            def div(y, s):
                return hutchinson(velocity, y, s, probes=z, h=h).mean(0)
        else:
            raise ValueError(f"divergence_fn must be 'exact', 'hutchinson'"
                             f" or a callable; got {divergence_fn!r}")
    elif callable(divergence_fn):
        div = divergence_fn
    else:
        raise TypeError(f"divergence_fn must be a string or a callable; "
                        f"got {type(divergence_fn).__name__}")
    if prior is None:
        var = float(sig[-1]) ** 2

        def prior(y):
            return gaussian_log_pdf(y, var)
    elif not callable(prior):
        raise TypeError(f"prior must be a callable log-density x -> (N,);"
                        f" got {type(prior).__name__}")
    # Heun's method for x in σ (where x(σ) is nearly linear at large σ),
    # and the trapezoidal rule for δ in u = ln σ (dδ/du = σ ∇·f is
    # smoother in u than ∇·f is in σ), on the same nodes.
    delta = np.zeros(x.shape[0])
    f, g = velocity(x, sig[0]), div(x, sig[0])
    for cur, nxt in zip(sig[:-1], sig[1:], strict=True):
        step = nxt - cur
        x_pred = x + step * f
        f2, g2 = velocity(x_pred, nxt), div(x_pred, nxt)
        x = x + 0.5 * step * (f + f2)
        delta = delta + 0.5 * np.log(nxt / cur) * (cur * g + nxt * g2)
        if nxt != sig[-1]:
            f, g = velocity(x, nxt), div(x, nxt)
    log_prior = np.asarray(prior(x), dtype=np.float64)
    return ODELikelihood(log_prior + delta, log_prior, delta, x)


def discrete_bits_per_dim(nll_nats, dim: int, bin_width: float
                          ) -> np.ndarray:
    """Bits per dimension of discrete data from a continuous model's NLL.

    Data on a grid of bins of width Δ, dequantised by uniform noise in
    each bin, has P(bin) ≈ p(x) Δ^D, so

        bits/dim = −log₂ P / D = NLL / (D ln 2) − log₂ Δ.

    For 8-bit images scaled to [−1, 1], Δ = 2/256 and the offset
    −log₂ Δ is 7 bits per dimension.

    Args:
        nll_nats: −log p(x) of the continuous model, nats per example.
        dim: D >= 1.
        bin_width: Δ > 0, in the units of x.

    Returns:
        float64 array of the shape of nll_nats.

    Book: chapter 11, eq. (eq-11-bits)
    """
    nll = as_float_array(nll_nats, "nll_nats")
    dim = as_int(dim, "dim", minimum=1)
    width = as_positive_float(bin_width, "bin_width")
    return nll / (dim * np.log(2.0)) - np.log2(width)


class ContinuousElbo(NamedTuple):
    """The continuous-time −ELBO per example, in nats.

    Attributes:
        prior: KL(N(x_0, σ_max² I) || N(0, σ_max² I)) = |x_0|² / (2σ_max²).
        decoder: E[−log N(x_0; x̄_{σ_min}, σ_min² I)] = d/2 ln(2πe σ_min²).
        diffusion: one-sample estimate of ½ ∫ (−dSNR/dt) ||x_0 −
            D(x̄_σ; σ)||² dt over t ∈ [0, 1].

    Book: chapter 11, eq. (eq-11-continuous-elbo)
    """

    prior: np.ndarray
    decoder: np.ndarray
    diffusion: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """−ELBO = prior + decoder + diffusion, shape (N,)."""
        return self.prior + self.decoder + self.diffusion


def neg_elbo_continuous(denoiser: Callable, x0, t, noise,
                        log_snr: Callable, d_log_snr: Callable
                        ) -> ContinuousElbo:
    """The continuous-time −ELBO of Kingma et al. (2021), per example.

    With the log signal-to-noise ratio λ(t) = −2 ln σ(t) decreasing on
    t ∈ [0, 1] (σ_min = σ(0), σ_max = σ(1)) and x̄_σ = x_0 + σ ε,

        −ELBO(x_0) = |x_0|² / (2σ_max²) + d/2 ln(2πe σ_min²)
            + ½ E_{t, ε}[(−λ'(t) e^{λ(t)}) ||x_0 − D(x̄_σ(t); σ(t))||²].

    The last term is ½ ∫ ||x_0 − D||² d SNR over SNR from SNR_max to
    SNR_min: it depends on the schedule only through its two ends, while
    the variance of this one-sample estimate depends on the schedule.

    Args:
        denoiser: D(x, sigma) (sigma an array (N,)).
        x0: data, shape (N, D).
        t: times in [0, 1], shape (N,) (e.g. uniform draws).
        noise: ε, shape (N, D).
        log_snr: λ(t), vectorised, strictly decreasing.
        d_log_snr: λ'(t) (< 0), vectorised.

    Returns:
        ContinuousElbo(prior, decoder, diffusion), each (N,).

    Book: chapter 11, eq. (eq-11-continuous-elbo)
    """
    if not callable(denoiser):
        raise TypeError(f"denoiser must be a callable D(x, sigma); got "
                        f"{type(denoiser).__name__}")
    if not (callable(log_snr) and callable(d_log_snr)):
        raise TypeError("log_snr and d_log_snr must be callables of t")
    x0 = as_data(x0, "x0")
    n, dim = x0.shape
    t = as_float_array(t, "t", ndim=1)
    if t.shape != (n,) or np.any(t < 0) or np.any(t > 1):
        raise ValueError(f"t must hold one time in [0, 1] per example, "
                         f"shape ({n},); got shape {t.shape}, range "
                         f"[{t.min():.3g}, {t.max():.3g}]")
    noise = as_data(noise, "noise")
    if noise.shape != x0.shape:
        raise ValueError(f"noise must have the shape of x0, {x0.shape}; "
                         f"got {noise.shape}")
    lam_ends = as_float_array(log_snr(np.array([0.0, 1.0])), "log_snr")
    if not lam_ends[0] > lam_ends[1]:
        raise ValueError(f"log_snr must decrease from t = 0 (data) to "
                         f"t = 1 (noise); got λ(0) = {lam_ends[0]}, "
                         f"λ(1) = {lam_ends[1]}")
    sigma_min, sigma_max = np.exp(-0.5 * lam_ends)
    lam = as_float_array(log_snr(t), "log_snr(t)")
    dlam = as_float_array(d_log_snr(t), "d_log_snr(t)")
    if np.any(dlam > 0):
        raise ValueError("d_log_snr(t) must be <= 0 (log_snr decreases)")
    sigma = np.exp(-0.5 * lam)
    x = x0 + sigma[:, None] * noise
    err = np.sum((x0 - np.asarray(denoiser(x, sigma))) ** 2, axis=1)
    diffusion = 0.5 * (-dlam) * np.exp(lam) * err
    prior = np.sum(x0 ** 2, axis=1) / (2 * sigma_max ** 2)
    decoder = np.full(n, 0.5 * dim * np.log(2 * np.pi * np.e
                                            * sigma_min ** 2))
    return ContinuousElbo(prior, decoder, diffusion)
