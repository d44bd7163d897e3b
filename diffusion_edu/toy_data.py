"""Toy data sets whose noised marginals q(x_t) are known exactly.

For every distribution here the density of x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε
is available in closed form (Gaussian mixtures) or by one-dimensional
quadrature (the Swiss roll), and so are

* the score ∇ log q(x_t),
* the ideal denoiser E[x_0 | x_t] (the posterior mean; Tweedie),
* the ideal noise prediction E[ε | x_t] = −√(1 − ᾱ_t) ∇ log q(x_t).

These oracles play the part of a perfectly trained network: plug
``dist.eps_model(s)`` into a sampler and whatever goes wrong is the
sampler's fault, not the network's.

Methods that describe a density take ``(x, s=None, t=None)``: without a
schedule they describe the data distribution itself, with a schedule
``s`` and a step ``t`` (an int or an int array of shape (N,), in 1..T)
they describe the noised marginal q(x_t). Data always has shape (N, D);
1-D data is (N, 1) (see :func:`ensure_2d`).
"""

from __future__ import annotations

from math import erf

import numpy as np

from ._validate import (
    as_data,
    as_float_array,
    as_int,
    as_positive_float,
    as_rng,
)
from .schedules import Schedule, as_schedule, as_timesteps

__all__ = [
    "ensure_2d",
    "GaussianMixture1D",
    "GaussianMixture2D",
    "SwissRoll2D",
]


def ensure_2d(x, name: str = "x") -> np.ndarray:
    """Return data as a float64 array of shape (N, D).

    A 1-D array of N numbers becomes (N, 1) (N examples of dimension 1);
    (N, D) is returned unchanged; anything else is rejected.
    """
    return as_data(x, name)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def _softmax(a: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


class _Distribution:
    """Shared plumbing: noise levels from (s, t), ε and eps_model."""

    dim: int

    def _levels(self, x, s, t):
        """Return x (N, D), √ᾱ_t (N, 1) and 1 − ᾱ_t (N, 1).

        Without a schedule (the data itself) √ᾱ = 1 and 1 − ᾱ = 0.
        """
        x = as_data(x, "x")
        if x.shape[1] != self.dim:
            raise ValueError(
                f"x must have shape (N, {self.dim}) for this "
                f"{self.dim}-D distribution; got {x.shape}")
        n = x.shape[0]
        if s is None:
            if t is not None:
                raise TypeError("t was given without a schedule s; pass "
                                "both (noised marginal) or neither (data)")
            return x, np.ones((n, 1)), np.zeros((n, 1))
        s = as_schedule(s)
        if t is None:
            raise TypeError("a schedule s was given without t; pass t "
                            "(int or int array (N,) in 1..T)")
        t = as_timesteps(t, s.T, n)
        alpha_bar = s.alpha_bar[t][:, None]
        return x, np.sqrt(alpha_bar), 1.0 - alpha_bar

    def pdf(self, x, s: Schedule | None = None, t=None) -> np.ndarray:
        """Density of the data (or of q(x_t) given s, t); shape (N,)."""
        return np.exp(self.log_pdf(x, s, t))

    def eps(self, x, s: Schedule, t) -> np.ndarray:
        """The ideal noise prediction E[ε | x_t = x], shape (N, D).

        ε̂*(x_t, t) = −√(1 − ᾱ_t) ∇_{x_t} log q(x_t).

        Book: chapter 7, eq. (eq-score-from-eps)
        """
        if s is None or t is None:
            raise TypeError("eps(x, s, t) needs a schedule s and a step t")
        x, a, c = self._levels(x, s, t)
        return -np.sqrt(c) * self._score(x, a, c)

    def eps_model(self, s: Schedule):
        """An exact ``eps_model(x, t)`` for schedule s, for the samplers.

        Returns:
            callable (x of shape (N, D), t int array (N,)) -> ε̂*, (N, D).

        Book: chapter 7, eq. (eq-score-from-eps)
        """
        s = as_schedule(s)

        def eps_model(x, t):
            return self.eps(x, s, t)

        return eps_model

    def score_model(self, s: Schedule):
        """An exact ``score_model(x, t)`` = ∇ log q(x_t) for schedule s.

        Book: chapter 7, eq. (eq-tweedie)
        """
        s = as_schedule(s)

        def score_model(x, t):
            return self.score(x, s, t)

        return score_model


class _DiagonalGaussianMixture(_Distribution):
    """Σ_k w_k N(m_k, diag(v_k)); closed forms for every q(x_t)."""

    def __init__(self, weights, means, variances, dim: int):
        self.dim = dim
        w = as_float_array(weights, "weights", ndim=1)
        k = w.shape[0]
        if k == 0 or np.any(w <= 0):
            raise ValueError(f"weights must be a non-empty array of "
                             f"positive numbers; got {w}")
        if abs(w.sum() - 1) > 1e-9:
            raise ValueError(f"weights must sum to 1; got sum {w.sum()}")
        m = as_float_array(means, "means")
        if dim == 1 and m.shape == (k,):
            m = m[:, None]
        if m.shape != (k, dim):
            raise ValueError(
                f"means must have shape (K, {dim}) = ({k}, {dim})"
                + (f" or ({k},)" if dim == 1 else "")
                + f"; got {np.shape(means)}")
        v = as_float_array(variances, "variances")
        if v.shape == (k,):
            v = np.repeat(v[:, None], dim, axis=1)
        if v.shape != (k, dim) or np.any(v <= 0):
            raise ValueError(
                f"variances must be positive, of shape ({k},) or "
                f"({k}, {dim}); got {np.shape(variances)} {v.ravel()}")
        self.weights, self.means, self.variances = w, m, v
        for arr in (w, m, v):
            arr.flags.writeable = False

    def sample(self, n: int, rng) -> np.ndarray:
        """Draw n examples, shape (n, D)."""
        return self.sample_with_labels(n, rng)[0]

    def sample_with_labels(self, n: int, rng):
        """Draw n examples and their component index k, shapes (n, D), (n,).
        """
        n = as_int(n, "n", minimum=1)
        rng = as_rng(rng)
        k = rng.choice(self.weights.shape[0], size=n, p=self.weights)
        z = rng.standard_normal((n, self.dim))
        return self.means[k] + np.sqrt(self.variances[k]) * z, k

    def _components(self, x, a, c):
        """log w_k + log N_k(x) (K, N), x − mean (K, N, D), variances.

        Component k of q(x_t) is N(a m_k, a² v_k + c) with a = √ᾱ_t and
        c = 1 − ᾱ_t; a, c have shape (N, 1). The component axis comes
        first so that sums over k are fast elementwise sums.
        """
        if np.all(c == c[0]):              # one noise level for all rows
            a, c = a[:1], c[:1]
        mean = self.means[:, None, :] * a[None]         # (K, ·, D)
        var = self.variances[:, None, :] * a[None] ** 2 + c[None]
        diff = x[None] - mean                           # (K, N, D)
        log_norm = np.log(self.weights)[:, None] - 0.5 * np.sum(
            np.log(2 * np.pi * var), axis=2)            # (K, ·)
        logits = log_norm - 0.5 * np.sum(diff ** 2 / var, axis=2)
        return logits, diff, var

    def log_pdf(self, x, s: Schedule | None = None, t=None) -> np.ndarray:
        """log q(x) of the data (or of q(x_t) given s, t); shape (N,).

        q(x_t) = Σ_k w_k N(x_t; √ᾱ_t m_k, ᾱ_t v_k + 1 − ᾱ_t).

        Book: chapter 3, eq. (eq-closed-form)
        """
        x, a, c = self._levels(x, s, t)
        logits, _, _ = self._components(x, a, c)
        return _logsumexp(logits, axis=0)

    def score(self, x, s: Schedule | None = None, t=None) -> np.ndarray:
        """Exact score ∇_x log q(x) (or of q(x_t)); shape (N, D).

        ∇ log q(x_t) = Σ_k r_k(x_t) (√ᾱ_t m_k − x_t) / (ᾱ_t v_k + 1 − ᾱ_t),
        with r_k the responsibilities (posterior component weights).

        Book: chapter 7, eq. (eq-tweedie)
        """
        return self._score(*self._levels(x, s, t))

    def _score(self, x, a, c):
        logits, diff, var = self._components(x, a, c)
        r = _softmax(logits, axis=0)[:, :, None]       # r_k(x), (K, N, 1)
        return np.sum(r * (-diff / var), axis=0)

    def posterior_mean_x0(self, x, s: Schedule, t) -> np.ndarray:
        """The ideal denoiser E[x_0 | x_t = x], shape (N, D).

        E[x_0 | x_t] = Σ_k r_k(x_t) (m_k + √ᾱ_t v_k (x_t − √ᾱ_t m_k)
        / (ᾱ_t v_k + 1 − ᾱ_t)); equals (x_t + (1 − ᾱ_t) ∇ log q(x_t))
        / √ᾱ_t (Tweedie).

        Book: chapter 7, eq. (eq-tweedie)
        """
        if s is None or t is None:
            raise TypeError("posterior_mean_x0(x, s, t) needs s and t")
        x, a, c = self._levels(x, s, t)
        logits, diff, var = self._components(x, a, c)
        r = _softmax(logits, axis=0)[:, :, None]       # r_k(x), (K, N, 1)
        gain = a[None] * self.variances[:, None, :] / var
        return np.sum(r * (self.means[:, None, :] + gain * diff), axis=0)

    def smoothed(self, sigma: float):
        """The data convolved with N(0, σ² I) (variance-exploding noise).

        p_σ = Σ_k w_k N(m_k, v_k + σ²): the distribution NCSN's score
        network s(x, σ) targets.

        Book: chapter 7, eq. (eq-annealed-langevin)
        """
        sigma = as_positive_float(sigma, "sigma", allow_zero=True)
        return self._with(self.means, self.variances + sigma ** 2)

    def noised(self, s: Schedule, t: int):
        """The exact marginal q(x_t), again a Gaussian mixture.

        q(x_t) = Σ_k w_k N(√ᾱ_t m_k, ᾱ_t v_k + 1 − ᾱ_t).

        Args:
            s: schedule.
            t: one int in 1..T.

        Book: chapter 3, eq. (eq-closed-form)
        """
        s = as_schedule(s)
        t = as_int(t, "t", minimum=1, maximum=s.T)
        alpha_bar = s.alpha_bar[t]
        return self._with(np.sqrt(alpha_bar) * self.means,
                          alpha_bar * self.variances + 1.0 - alpha_bar)

    def mean(self) -> np.ndarray:
        """E[x_0], shape (D,)."""
        return self.weights @ self.means

    def variance(self) -> np.ndarray:
        """Var[x_0] per coordinate, shape (D,)."""
        second = self.weights @ (self.variances + self.means ** 2)
        return second - self.mean() ** 2


class GaussianMixture1D(_DiagonalGaussianMixture):
    """A 1-D Gaussian mixture Σ_k w_k N(m_k, v_k): data of shape (N, 1).

    The default has four components of different weights and widths,
    mean −0.005 and variance ≈ 1.18:

    ======  =====  =====  =====  =====
    w_k     0.20   0.30   0.35   0.15
    m_k     −1.6   −0.5   0.6    1.7
    v_k     0.04   0.03   0.05   0.02
    ======  =====  =====  =====  =====

    Args:
        weights: (K,), positive, summing to 1.
        means: (K,).
        variances: (K,), positive (variances, not standard deviations).

    Book: chapter 3, eq. (eq-closed-form)
    """

    DEFAULT = ((0.2, 0.3, 0.35, 0.15), (-1.6, -0.5, 0.6, 1.7),
               (0.04, 0.03, 0.05, 0.02))

    def __init__(self, weights=None, means=None, variances=None):
        dw, dm, dv = self.DEFAULT
        super().__init__(dw if weights is None else weights,
                         dm if means is None else means,
                         dv if variances is None else variances, dim=1)

    def _with(self, means, variances) -> GaussianMixture1D:
        return GaussianMixture1D(self.weights, means[:, 0],
                                 variances[:, 0])

    def cdf(self, x) -> np.ndarray:
        """Cumulative distribution function of the data, shape (N,)."""
        x, _, _ = self._levels(x, None, None)
        # NumPy has no erf: apply math.erf elementwise (N·K calls).
        z = (x - self.means[:, 0][None]) / np.sqrt(
            self.variances[:, 0][None])
        phi = 0.5 * (1 + np.frompyfunc(erf, 1, 1)(z / np.sqrt(2)).astype(
            np.float64))
        return phi @ self.weights

    def __repr__(self) -> str:
        return (f"GaussianMixture1D(weights={self.weights.tolist()}, "
                f"means={self.means[:, 0].tolist()}, "
                f"variances={self.variances[:, 0].tolist()})")


class GaussianMixture2D(_DiagonalGaussianMixture):
    """A labelled 2-D Gaussian mixture Σ_k w_k N(m_k, diag(v_k)).

    Each component carries a class label (for classifier-free and
    classifier guidance); :meth:`conditional` gives the mixture of one
    class, whose oracles are the class-conditional ones.

    The default: 8 equally weighted components on a circle of radius 1.4
    (m_k = 1.4 (cos 2πk/8, sin 2πk/8)), variance 0.02 each, label k.

    Args:
        weights: (K,), positive, summing to 1.
        means: (K, 2).
        variances: (K,) (isotropic) or (K, 2) (diagonal), positive.
        labels: (K,) non-negative ints (default 0..K−1).

    Book: chapter 3, eq. (eq-closed-form)
    """

    def __init__(self, weights=None, means=None, variances=None,
                 labels=None):
        if means is None:
            angles = 2 * np.pi * np.arange(8) / 8
            means = 1.4 * np.stack([np.cos(angles), np.sin(angles)], 1)
        k = np.shape(means)[0]
        weights = np.full(k, 1 / k) if weights is None else weights
        variances = np.full(k, 0.02) if variances is None else variances
        super().__init__(weights, means, variances, dim=2)
        labels = np.arange(k) if labels is None else np.asarray(labels)
        if (labels.shape != (k,) or labels.dtype.kind not in "iu"
                or labels.min() < 0):
            raise ValueError(f"labels must be {k} non-negative ints, one "
                             f"per component; got {labels!r}")
        self.labels = labels.astype(np.int64)
        self.labels.flags.writeable = False

    def _with(self, means, variances) -> GaussianMixture2D:
        return GaussianMixture2D(self.weights, means, variances,
                                 self.labels)

    @property
    def classes(self) -> np.ndarray:
        """The distinct labels, sorted."""
        return np.unique(self.labels)

    def sample(self, n: int, rng, return_labels: bool = False):
        """Draw n points (n, 2); with return_labels also their labels (n,).
        """
        x, k = self.sample_with_labels(n, rng)
        return (x, self.labels[k]) if return_labels else x

    def conditional(self, label: int) -> GaussianMixture2D:
        """The mixture of the components with this label (renormalised).
        """
        label = as_int(label, "label", minimum=0)
        keep = self.labels == label
        if not np.any(keep):
            raise ValueError(f"label must be one of {self.classes.tolist()}"
                             f"; got {label}")
        w = self.weights[keep]
        return GaussianMixture2D(w / w.sum(), self.means[keep],
                                 self.variances[keep], self.labels[keep])

    def __repr__(self) -> str:
        return (f"GaussianMixture2D(K={self.weights.shape[0]}, "
                f"classes={self.classes.tolist()})")


class SwissRoll2D(_Distribution):
    """The 2-D Swiss roll, with its exact noised score by quadrature.

    Parametric form (data of shape (N, 2)):

        θ ~ U(1.5π, 4.5π),   μ(θ) = θ (cos θ, sin θ) / c,
        x_0 = μ(θ) + σ_d z,  z ~ N(0, I),

    with c = 7 (so the data are roughly standardised: mean
    (0.286, 0.030), coordinate variances 0.895 + σ_d² and 0.986 + σ_d²) and
    σ_d = ``noise_std`` (default 0.05). Then q(x_t) is a continuous
    mixture of isotropic Gaussians,

        q(x_t) = ∫ p(θ) N(x_t; √ᾱ_t μ(θ), (ᾱ_t σ_d² + 1 − ᾱ_t) I) dθ,

    evaluated by composite Gauss-Legendre quadrature in θ (16 nodes per
    panel, panels of equal arc length) with a number of panels that grows
    as the kernel narrows (its width is √(σ_d² + 1/SNR_t) in x_0 units):
    score, ε and E[x_0 | x_t] agree with an eight times finer quadrature
    to better than 1e-6 relative at every t, near the roll and far from
    it.

    Args:
        noise_std: σ_d > 0.
        scale: c > 0.

    Book: chapter 3, eq. (eq-closed-form)
    """

    THETA_MIN = 1.5 * np.pi
    THETA_MAX = 4.5 * np.pi
    _GL_ORDER = 16                 # Gauss-Legendre nodes per panel
    _PANELS_PER_WIDTH = 0.5        # panels per kernel width (arc length)
    _MIN_PANELS = 8

    def __init__(self, noise_std: float = 0.05, scale: float = 7.0):
        self.dim = 2
        self.noise_std = as_positive_float(noise_std, "noise_std")
        self.scale = as_positive_float(scale, "scale")
        self._nodes_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __repr__(self) -> str:
        return (f"SwissRoll2D(noise_std={self.noise_std:g}, "
                f"scale={self.scale:g})")

    def curve(self, theta) -> np.ndarray:
        """μ(θ) = θ (cos θ, sin θ) / c for θ of shape (M,); shape (M, 2).
        """
        theta = as_float_array(theta, "theta", ndim=1)
        return theta[:, None] * np.stack(
            [np.cos(theta), np.sin(theta)], axis=1) / self.scale

    def arc_length(self, theta) -> np.ndarray:
        """Length of the curve μ from θ_min to θ (|μ'(θ)| = √(1+θ²)/c)."""
        theta = as_float_array(theta, "theta")

        def antiderivative(th):
            return (th * np.sqrt(1 + th ** 2) + np.arcsinh(th)) / 2

        return (antiderivative(theta)
                - antiderivative(self.THETA_MIN)) / self.scale

    def mean(self) -> np.ndarray:
        """E[x_0] = E[θ (cos θ, sin θ)] / c, shape (2,), in closed form.

        With the antiderivatives cos θ + θ sin θ of θ cos θ and
        sin θ − θ cos θ of θ sin θ, over θ ~ U(θ_min, θ_max).
        """
        def antiderivative(th):
            return np.array([np.cos(th) + th * np.sin(th),
                             np.sin(th) - th * np.cos(th)])

        width = self.THETA_MAX - self.THETA_MIN
        return (antiderivative(self.THETA_MAX)
                - antiderivative(self.THETA_MIN)) / (width * self.scale)

    def sample(self, n: int, rng) -> np.ndarray:
        """Draw n points, shape (n, 2)."""
        n = as_int(n, "n", minimum=1)
        rng = as_rng(rng)
        theta = rng.uniform(self.THETA_MIN, self.THETA_MAX, size=n)
        noise = rng.standard_normal((n, 2))
        return self.curve(theta) + self.noise_std * noise

    def smoothed(self, sigma: float) -> SwissRoll2D:
        """The data convolved with N(0, σ² I): σ_d² becomes σ_d² + σ².

        Book: chapter 7, eq. (eq-annealed-langevin)
        """
        sigma = as_positive_float(sigma, "sigma", allow_zero=True)
        return SwissRoll2D(np.sqrt(self.noise_std ** 2 + sigma ** 2),
                           self.scale)

    def _panels(self, width: float) -> int:
        """Number of quadrature panels for a kernel of this width.

        One panel per two kernel widths of arc length, rounded up to
        8 · 2^(k/4) so that only a few node sets are cached.
        """
        length = float(self.arc_length(self.THETA_MAX))
        wanted = self._PANELS_PER_WIDTH * length / width
        k = np.ceil(4 * np.log2(max(wanted, 1.0) / self._MIN_PANELS))
        return int(np.ceil(self._MIN_PANELS * 2 ** (max(k, 0) / 4)))

    def _nodes(self, panels: int):
        """Quadrature nodes μ(θ_j) (M, 2) and log-weights (M,) of p(θ).

        Composite Gauss-Legendre in θ; the panels have equal arc length,
        so the nodes are evenly spread along the curve.
        """
        if panels not in self._nodes_cache:
            grid = np.linspace(self.THETA_MIN, self.THETA_MAX, 4097)
            lengths = np.linspace(0, self.arc_length(self.THETA_MAX),
                                  panels + 1)
            edges = np.interp(lengths, self.arc_length(grid), grid)
            u, w = np.polynomial.legendre.leggauss(self._GL_ORDER)
            half = (edges[1:] - edges[:-1]) / 2
            mid = (edges[1:] + edges[:-1]) / 2
            theta = (mid[:, None] + half[:, None] * u[None]).ravel()
            weight = (half[:, None] * w[None]).ravel()
            weight = weight / (self.THETA_MAX - self.THETA_MIN)  # p(θ)
            self._nodes_cache[panels] = (self.curve(theta), np.log(weight))
        return self._nodes_cache[panels]

    def _posterior_over_nodes(self, x, a: float, c: float):
        """log q(x) (N,), m̄ = Σ_j r_j μ_j (N, 2) and the variance S.

        One noise level: x_t = a x_0 + √c ε with a = √ᾱ_t, c = 1 − ᾱ_t,
        so q(x_t) = Σ_j ω_j N(x_t; a μ_j, S I) with S = a² σ_d² + c and
        r_j ∝ ω_j N(x_t; a μ_j, S I) (the posterior over the nodes).
        """
        var = a ** 2 * self.noise_std ** 2 + c
        mu, log_w = self._nodes(self._panels(np.sqrt(var) / a))
        # log ω_j N(x; aμ_j, S) = logit_j − |x|²/(2S) − log(2πS), with
        # logit_j = (a/S) x·μ_j + log ω_j − a²|μ_j|²/(2S): one matmul.
        weights = np.concatenate(
            [mu * (a / var),
             (log_w - a ** 2 * np.sum(mu ** 2, axis=1) / (2 * var))[:, None]],
            axis=1)                                        # (M, 3)
        mu_one = np.concatenate([mu, np.ones((mu.shape[0], 1))], axis=1)
        x_one = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
        log_q = np.empty(x.shape[0])
        mean_mu = np.empty_like(x)
        chunk = max(1, 1_000_000 // mu.shape[0])
        for lo in range(0, x.shape[0], chunk):
            rows = slice(lo, lo + chunk)
            logits = x_one[rows] @ weights.T               # (n, M)
            top = np.max(logits, axis=1, keepdims=True)
            np.subtract(logits, top, out=logits)
            np.exp(logits, out=logits)
            sums = logits @ mu_one                         # Σ e_j (μ_j, 1)
            mean_mu[rows] = sums[:, :2] / sums[:, 2:]
            log_q[rows] = np.log(sums[:, 2]) + top[:, 0]
        log_q += -np.sum(x ** 2, axis=1) / (2 * var) - np.log(2 * np.pi * var)
        return log_q, mean_mu, var

    @staticmethod
    def _by_level(x, a, c, fn):
        """Apply fn(x_rows, a, c) to each group of rows with equal t.

        a = √ᾱ_t and c = 1 − ᾱ_t (a = 1, c = 0 for the data itself).
        """
        if np.all(c == c[0]):          # one noise level (samplers)
            return fn(x, float(a[0, 0]), float(c[0, 0]))
        uniq, inverse = np.unique(c[:, 0], return_inverse=True)
        results = None
        for g in range(uniq.shape[0]):
            rows = np.flatnonzero(inverse == g)
            out = fn(x[rows], float(a[rows[0], 0]), float(c[rows[0], 0]))
            if results is None:
                results = np.empty((x.shape[0],) + out.shape[1:])
            results[rows] = out
        return results

    def log_pdf(self, x, s: Schedule | None = None, t=None) -> np.ndarray:
        """log q(x) of the data (or of q(x_t) given s, t), shape (N,).

        Book: chapter 3, eq. (eq-closed-form)
        """
        def fn(xg, a, c):
            return self._posterior_over_nodes(xg, a, c)[0]

        return self._by_level(*self._levels(x, s, t), fn)

    def score(self, x, s: Schedule | None = None, t=None) -> np.ndarray:
        """Score ∇ log q(x_t) = (√ᾱ_t m̄(x_t) − x_t) / S_t, shape (N, 2).

        m̄(x_t) = E[μ(θ) | x_t] (quadrature), S_t = ᾱ_t σ_d² + 1 − ᾱ_t.

        Book: chapter 7, eq. (eq-tweedie)
        """
        return self._score(*self._levels(x, s, t))

    def _score(self, x, a, c):
        def fn(xg, a, c):
            _, mean_mu, var = self._posterior_over_nodes(xg, a, c)
            return (a * mean_mu - xg) / var

        return self._by_level(x, a, c, fn)

    def posterior_mean_x0(self, x, s: Schedule, t) -> np.ndarray:
        """The ideal denoiser E[x_0 | x_t = x], shape (N, 2).

        E[x_0 | x_t] = m̄ + √ᾱ_t σ_d² (x_t − √ᾱ_t m̄) / S_t.

        Book: chapter 7, eq. (eq-tweedie)
        """
        if s is None or t is None:
            raise TypeError("posterior_mean_x0(x, s, t) needs s and t")

        def fn(xg, a, c):
            _, mean_mu, var = self._posterior_over_nodes(xg, a, c)
            gain = a * self.noise_std ** 2 / var
            return mean_mu + gain * (xg - a * mean_mu)

        return self._by_level(*self._levels(x, s, t), fn)
