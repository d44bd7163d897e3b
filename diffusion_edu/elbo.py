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

A sharp yardstick for a trained network (chapter 6): with fixed reverse
variances every model-dependent part of L is a weighted noise-prediction
error, L = c(x_0) + Σ_t w_t ||ε − ε̂(x_t, t)||² (:func:`elbo_weights`),
and the ideal denoiser ε*(x_t, t) = E[ε | x_t] minimises every term. So
the excess of a network over the ideal denoiser is

    ΔL = E[L(θ)] − E[L(*)] = Σ_{t=1}^{T} w_t E||ε*(x_t, t) − ε̂_θ(x_t, t)||²,

in nats per example. :func:`paired_draws` fixes x_0, t and ε once (and
evaluates ε* on them); :meth:`PairedDraws.excess` then scores any model
on the very same draws, so the Monte Carlo noise common to both models
cancels; :meth:`PairedDraws.kl_bound` gives the upper bound
E[−ELBO] − H(p_data) >= KL(p_data || p_θ) for data with a known density.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

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
    "elbo_weights",
    "Estimate",
    "ExcessNLL",
    "PairedDraws",
    "paired_draws",
    "excess_nll",
    "kl_upper_bound",
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


# --------------------------------------------------------------------------
# The excess over the ideal denoiser, and an upper bound on the KL
# --------------------------------------------------------------------------

def elbo_weights(s: Schedule, var_type: VarType = "fixed_small",
                 decoder_var: float | None = None) -> np.ndarray:
    """The weights w_t of the noise-prediction errors in L = −ELBO.

    w_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t))   for t = 2..T,
    w_1 = β_1 / (2 σ_dec² α_1)            (the decoder term L_0),

    so that L_{t−1} = const + w_t ||ε − ε̂(x_t, t)||² per example. For
    σ_dec² = β_1 = σ_1² (fixed large) the two lines agree at t = 1.

    Args:
        s: schedule.
        var_type: "fixed_small" (σ_t² = β̃_t) or "fixed_large" (β_t).
        decoder_var: σ_dec² > 0, or None for β_1 (as in :func:`elbo`).

    Returns:
        float64 array (T + 1,), indexed by t; entry 0 is 0.

    Book: chapter 5, eq. (eq-per-step-eps)
    """
    s = as_schedule(s)
    sigma2 = reverse_variance(s, var_type)
    dec_var = _decoder_var(s, decoder_var)
    w = np.zeros(s.T + 1)
    t = np.arange(2, s.T + 1)
    w[t] = s.beta[t] ** 2 / (2 * sigma2[t] * s.alpha[t]
                             * (1 - s.alpha_bar[t]))
    w[1] = s.beta[1] / (2 * dec_var * s.alpha[1])
    return w


def _constant_terms(s: Schedule, var_type: VarType, dec_var: float,
                    dim: int) -> float:
    """Σ_t of the parts of L that depend on no model: the variance part
    ½ D (log(σ_t²/β̃_t) + β̃_t/σ_t² − 1) of each KL, t >= 2, and the
    normaliser ½ D log(2π σ_dec²) of the decoder."""
    sigma2 = reverse_variance(s, var_type)
    t = np.arange(2, s.T + 1)
    ratio = s.beta_tilde[t] / sigma2[t]
    return float(0.5 * dim * (np.sum(-np.log(ratio) + ratio - 1.0)
                              + np.log(2 * np.pi * dec_var)))


class Estimate(NamedTuple):
    """A Monte Carlo mean over examples and its standard error (nats)."""

    mean: float
    se: float

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.se:.4f}"


class ExcessNLL(NamedTuple):
    """Excess of −ELBO over the ideal denoiser, in nats per example.

    Attributes:
        mean: the estimate of ΔL = E[L(θ)] − E[L(*)].
        se: its standard error (over the N examples).
        per_t: float64 (T + 1,): the contribution of step t (index t;
            entry 1 is the decoder term), summing to ``mean``.
        per_t_se: standard errors of ``per_t``.
        per_example: float64 (N,), one estimate per example x_0.

    Book: chapter 6, eq. (eq-excess-nll)
    """

    mean: float
    se: float
    per_t: np.ndarray
    per_t_se: np.ndarray
    per_example: np.ndarray

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.se:.4f} nats per example"


Estimator = Literal["distance", "difference"]


@dataclass(frozen=True, eq=False)
class PairedDraws:
    """Fixed draws (x_0, t, ε) on which models are scored and compared.

    Built by :func:`paired_draws`. Row j of the arrays is one draw: the
    example ``x0[example[j]]``, the step ``t[j]``, the noise
    ``noise[j]``, x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (``xt[j]``), the ideal
    prediction ε*(x_t, t) (``eps_ideal[j]``, or None) and the factor
    ``factor[j]`` that turns its squared error into nats (w_t, or
    w_t / (K p(t)) when t is sampled by importance).

    Book: chapter 6, eq. (eq-excess-nll)
    """

    s: Schedule
    var_type: str
    decoder_var: float
    x0: np.ndarray
    example: np.ndarray
    t: np.ndarray
    noise: np.ndarray
    xt: np.ndarray
    factor: np.ndarray
    eps_ideal: np.ndarray | None
    log_p_data: np.ndarray | None

    def predict(self, eps_model: Callable) -> np.ndarray:
        """ε̂(x_t, t) on every draw, shape (M, D) (one call per t).

        Pass the result instead of the model to :meth:`excess`,
        :meth:`neg_elbo` or :meth:`kl_bound` to score a model several
        times without evaluating it again.
        """
        if not callable(eps_model):
            raise TypeError("eps_model must be a callable eps_model(x, t)"
                            f" or its predictions from predict(); got "
                            f"{type(eps_model).__name__}")
        out = np.empty_like(self.xt)
        # One call per block of equal t (the samplers' calling pattern).
        order = np.argsort(self.t, kind="stable")
        bounds = np.flatnonzero(np.diff(self.t[order])) + 1
        for rows in np.split(order, bounds):
            out[rows] = eval_eps_model(eps_model, self.xt[rows],
                                       self.t[rows])
        return out

    def _predict(self, eps_model) -> np.ndarray:
        """Predictions of a model, or given predictions, checked."""
        if isinstance(eps_model, np.ndarray):
            if eps_model.shape != self.xt.shape:
                raise ValueError(
                    f"predictions must have the shape of the draws, "
                    f"{self.xt.shape}; got {eps_model.shape}")
            return eps_model
        return self.predict(eps_model)

    def _nats(self, eps_model, estimator: str) -> np.ndarray:
        """Per-draw excess in nats, shape (M,), by ``estimator``."""
        if self.eps_ideal is None:
            raise ValueError("these draws carry no ideal denoiser: build "
                             "them with paired_draws(s, ideal, ...)")
        if estimator not in ("distance", "difference"):
            raise ValueError(f"estimator must be 'distance' or "
                             f"'difference'; got {estimator!r}")
        pred = self._predict(eps_model)
        if estimator == "distance":
            err = np.sum((self.eps_ideal - pred) ** 2, axis=1)
        else:
            err = (np.sum((self.noise - pred) ** 2, axis=1)
                   - np.sum((self.noise - self.eps_ideal) ** 2, axis=1))
        return self.factor * err

    def _table(self, values: np.ndarray) -> np.ndarray:
        """Per-draw nats -> (N, T + 1): example i's nats at step t."""
        n, size = self.x0.shape[0], self.s.T + 1
        return np.bincount(self.example * size + self.t, weights=values,
                           minlength=n * size).reshape(n, size)

    def _summarise(self, values: np.ndarray) -> ExcessNLL:
        """Per-draw nats -> per example, per t, with standard errors."""
        n = self.x0.shape[0]
        table = self._table(values)
        per_example = table.sum(axis=1)
        root_n = math.sqrt(n)
        return ExcessNLL(float(per_example.mean()),
                         float(per_example.std(ddof=1) / root_n),
                         table.mean(axis=0),
                         table.std(axis=0, ddof=1) / root_n, per_example)

    def excess(self, eps_model: Callable,
               estimator: Estimator = "distance") -> ExcessNLL:
        """Excess of −ELBO of ``eps_model`` over the ideal denoiser.

        ΔL = Σ_t w_t E||ε*(x_t, t) − ε̂(x_t, t)||², estimated on these
        draws with ``estimator``:

        * "distance": w_t ||ε* − ε̂||² per draw (>= 0, lowest variance);
        * "difference": w_t (||ε − ε̂||² − ||ε − ε*||²) per draw, which
          is exactly L(θ) − L(*) on the same draws (with every t drawn,
          ``elbo(s, ideal, ...) − elbo(s, model, ...)`` with the same
          rng).

        Both are unbiased for ΔL because E[ε | x_t] = ε*.

        Args:
            eps_model: the model, eps_model(x, t) -> ε̂ (N, D), or its
                predictions on these draws (:meth:`predict`).
            estimator: "distance" or "difference".

        Returns:
            ExcessNLL (mean, se, per_t, per_t_se, per_example), nats.

        Book: chapter 6, eq. (eq-excess-nll)
        """
        return self._summarise(self._nats(eps_model, estimator))

    def reweighted(self, var_type: VarType,
                   decoder_var: float | None = None) -> PairedDraws:
        """The same draws (and ε*), scored for another σ_t² or σ_dec².

        Each factor is multiplied by w'_t / w_t, the ratio of the new
        weights to the old; nothing is drawn or evaluated again.

        Book: chapter 6, eq. (eq-excess-nll)
        """
        dec_var = _decoder_var(self.s, decoder_var)
        old = elbo_weights(self.s, self.var_type, self.decoder_var)
        new = elbo_weights(self.s, var_type, dec_var)
        factor = self.factor * new[self.t] / old[self.t]
        return PairedDraws(self.s, var_type, dec_var, self.x0,
                           self.example, self.t, self.noise, self.xt,
                           factor, self.eps_ideal, self.log_p_data)

    def excess_by_band(self, eps_model, bands,
                       estimator: Estimator = "distance"
                       ) -> list[Estimate]:
        """The excess of :meth:`excess` summed over bands of steps.

        For each band (a, b) the contribution Σ_{t=a}^{b} of the steps
        a..b (inclusive), with its standard error over the examples
        (which, unlike summing the per-step errors, accounts for the
        correlation between the steps of one example).

        Args:
            eps_model: the model or its predictions (:meth:`predict`).
            bands: pairs (a, b) with 1 <= a <= b <= T.
            estimator: as in :meth:`excess`.

        Returns:
            list of Estimate (mean, se), one per band, nats.

        Book: chapter 6, eq. (eq-excess-nll)
        """
        bands = [tuple(as_int(v, "band edge", minimum=1,
                              maximum=self.s.T) for v in band)
                 for band in bands]
        if any(len(b) != 2 or b[0] > b[1] for b in bands):
            raise ValueError(f"bands must be pairs (a, b) with a <= b; "
                             f"got {bands}")
        table = self._table(self._nats(eps_model, estimator))
        root_n = math.sqrt(table.shape[0])
        out = []
        for a, b in bands:
            per_example = table[:, a:b + 1].sum(axis=1)
            out.append(Estimate(float(per_example.mean()),
                                float(per_example.std(ddof=1) / root_n)))
        return out

    def neg_elbo(self, eps_model: Callable) -> np.ndarray:
        """L = −ELBO per example on these draws, shape (N,), nats.

        L = L_T + C + Σ_draws factor · ||ε − ε̂(x_t, t)||², with C the
        model-free parts of the KL terms and of the decoder. With every
        t drawn it equals ``-elbo(s, eps_model, x0, rng)`` for the same
        rng.

        Book: chapter 5, eq. (eq-elbo-decomposition)
        """
        pred = self._predict(eps_model)
        err = self.factor * np.sum((self.noise - pred) ** 2, axis=1)
        per_example = np.bincount(self.example, weights=err,
                                  minlength=self.x0.shape[0])
        const = _constant_terms(self.s, self.var_type, self.decoder_var,
                                self.x0.shape[1])
        return prior_kl(self.s, self.x0) + const + per_example

    def kl_bound(self, eps_model: Callable) -> Estimate:
        """Upper bound on KL(p_data || p_θ): E[−ELBO] − H(p_data).

        E[−log p_θ(x_0)] − H = KL(p_data || p_θ) and −ELBO >= −log p_θ,
        so E[−ELBO(x_0) + log p_data(x_0)] >= KL >= 0; estimated as the
        mean over the examples, with its standard error.

        Book: chapter 6, eq. (eq-kl-bound)
        """
        if self.log_p_data is None:
            raise ValueError("these draws carry no data log-density: pass "
                             "log_pdf= (e.g. data.log_pdf) to "
                             "paired_draws")
        values = self.neg_elbo(eps_model) + self.log_p_data
        return Estimate(float(values.mean()),
                        float(values.std(ddof=1)
                              / math.sqrt(values.shape[0])))


def paired_draws(s: Schedule, ideal: Callable | None, x0, rng,
                 var_type: VarType = "fixed_small",
                 decoder_var: float | None = None, *,
                 n_t: int | None = None,
                 log_pdf: Callable | None = None) -> PairedDraws:
    """Draw (t, ε) for each example once, for paired comparisons.

    With ``n_t=None`` every step t = 1..T is drawn for every example,
    with one ε per (example, t), in the order :func:`elbo_terms` draws
    them (so the same rng gives the same ε). With ``n_t = K`` each
    example gets K steps drawn by importance from p(t) ∝ w_t
    (:func:`elbo_weights`) and the factor w_t / (K p(t)) keeps every
    estimate unbiased: N·K draws instead of N·T. They are cheaper but
    noisier (the rare draws at small-weight steps carry large factors),
    so prefer every t when the ideal denoiser is cheap enough.

    Args:
        s: schedule.
        ideal: the ideal ``eps_model(x, t)`` (e.g.
            ``data.eps_model(s)``), evaluated once here; None if only
            :meth:`PairedDraws.neg_elbo` and ``kl_bound`` are wanted.
        x0: data, shape (N, D), N >= 2.
        rng: np.random.Generator or int seed.
        var_type: "fixed_small" or "fixed_large".
        decoder_var: σ_dec² > 0, or None for β_1.
        n_t: None (all T steps) or K >= 1 steps per example.
        log_pdf: the data's log-density ``log_pdf(x0) -> (N,)`` (e.g.
            ``data.log_pdf``), for the KL bound; or None.

    Returns:
        PairedDraws.

    Book: chapter 6, eq. (eq-excess-nll)
    """
    s = as_schedule(s)
    x0 = as_data(x0, "x0")
    n = x0.shape[0]
    if n < 2:
        raise ValueError(f"x0 must hold at least 2 examples (for a "
                         f"standard error); got shape {x0.shape}")
    rng = as_rng(rng)
    dec_var = _decoder_var(s, decoder_var)
    w = elbo_weights(s, var_type, dec_var)
    if ideal is not None and not callable(ideal):
        raise TypeError(f"ideal must be a callable eps_model(x, t) or "
                        f"None; got {type(ideal).__name__}")
    if log_pdf is not None and not callable(log_pdf):
        raise TypeError(f"log_pdf must be a callable log_pdf(x0) or None;"
                        f" got {type(log_pdf).__name__}")
    if n_t is None:
        t = np.repeat(np.arange(1, s.T + 1), n)
        example = np.tile(np.arange(n), s.T)
        noise = np.concatenate([rng.standard_normal(x0.shape)
                                for _ in range(s.T)])
        factor = w[t]
    else:
        n_t = as_int(n_t, "n_t", minimum=1)
        p = w[1:] / w[1:].sum()
        t = 1 + rng.choice(s.T, size=n * n_t, p=p)
        example = np.repeat(np.arange(n), n_t)
        noise = rng.standard_normal((n * n_t, x0.shape[1]))
        factor = w[t] / (n_t * p[t - 1])
    xt = q_sample(s, x0[example], t, noise)
    draws = PairedDraws(s, var_type, dec_var, x0, example, t, noise, xt,
                        factor, None, None)
    eps_ideal = None if ideal is None else draws.predict(ideal)
    log_p = None
    if log_pdf is not None:
        log_p = as_float_array(log_pdf(x0), "log_pdf(x0)", ndim=1)
        if log_p.shape != (n,):
            raise ValueError(f"log_pdf(x0) must return shape ({n},); got "
                             f"{log_p.shape}")
    return PairedDraws(s, var_type, dec_var, x0, example, t, noise, xt,
                       factor, eps_ideal, log_p)


def excess_nll(s: Schedule, eps_model: Callable, ideal: Callable, x0,
               rng, var_type: VarType = "fixed_small",
               decoder_var: float | None = None, *,
               estimator: Estimator = "distance",
               n_t: int | None = None) -> ExcessNLL:
    """Excess of −ELBO of a model over the ideal denoiser, nats/example.

    ΔL = E[L(θ)] − E[L(*)] = Σ_{t=1}^{T} w_t E||ε*(x_t, t) − ε̂_θ(x_t, t)||²

    with w_t of :func:`elbo_weights`, estimated with paired draws (the
    same x_0, t and ε for both models). Shorthand for
    ``paired_draws(s, ideal, x0, rng, ...).excess(eps_model)``; build
    the draws once yourself to score several models on them.

    Returns:
        ExcessNLL (mean, se, per_t, per_t_se, per_example).

    Book: chapter 6, eq. (eq-excess-nll)
    """
    if ideal is None:
        raise TypeError("ideal must be the ideal eps_model(x, t)")
    draws = paired_draws(s, ideal, x0, rng, var_type, decoder_var,
                         n_t=n_t)
    return draws.excess(eps_model, estimator)


def kl_upper_bound(s: Schedule, eps_model: Callable, log_pdf: Callable,
                   x0, rng, var_type: VarType = "fixed_small",
                   decoder_var: float | None = None, *,
                   n_t: int | None = None) -> Estimate:
    """Upper bound on KL(p_data || p_θ) in nats: E[−ELBO] − H(p_data).

    KL(p_data || p_θ) = E[−log p_θ(x_0)] − H(p_data) <= E[−ELBO(x_0) +
    log p_data(x_0)], estimated on the examples x0 (drawn from the data)
    with their exact log-density ``log_pdf`` (``data.log_pdf`` for the
    toy data sets).

    Returns:
        Estimate (mean, se).

    Book: chapter 6, eq. (eq-kl-bound)
    """
    if log_pdf is None:
        raise TypeError("log_pdf must be the data's log-density, e.g. "
                        "data.log_pdf")
    draws = paired_draws(s, None, x0, rng, var_type, decoder_var, n_t=n_t,
                         log_pdf=log_pdf)
    return draws.kl_bound(eps_model)
