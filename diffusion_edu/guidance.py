"""Conditional generation and guidance, exact on labelled mixtures.

* :func:`class_posterior` — the exact classifier p(c | x_t) of a noised
  labelled Gaussian mixture (``toy_data.GaussianMixture2D``);
* :func:`classifier_grad` — ∇_{x_t} log p(c | x_t), the term classifier
  guidance adds to the score;
* :func:`cfg_eps`, :func:`gamma_from_w`, :func:`w_from_gamma` — the
  classifier-free combination of two noise predictions and the
  conversion between its two conventions;
* :func:`classifier_guided_eps` — classifier guidance written for a
  noise prediction (the score's term times −√(1 − ᾱ_t));
* :func:`guided_eps_model` — an ``eps_model(x, t)`` for the samplers
  from a conditional and an unconditional one;
* :func:`sharpened_log_density` — log p(x | c) + w log p(c | x), the
  density guidance is often said to sample, unnormalised;
* :class:`NoisyLinearClassifier` / :func:`train_noisy_classifier` — a
  small classifier of noisy inputs trained by logistic regression.

Conventions (chapter 9): ε = −√(1 − ᾱ_t) × score. Classifier-free
guidance with the *guidance scale* γ is ε̃ = ε(x, ∅) + γ (ε(x, c) −
ε(x, ∅)); with the *guidance weight* w of Ho and Salimans (2022) it is
ε̃ = (1 + w) ε(x, c) − w ε(x, ∅). They are the same for γ = 1 + w:
γ = 1 (w = 0) is the conditional model, γ = 0 (w = −1) the
unconditional one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._validate import as_data, as_float_array, as_int, as_rng
from .schedules import Schedule, as_schedule, as_timesteps, coef

__all__ = [
    "class_posterior",
    "log_class_posterior",
    "classifier_grad",
    "gamma_from_w",
    "w_from_gamma",
    "cfg_eps",
    "classifier_guided_eps",
    "guided_eps_model",
    "sharpened_log_density",
    "grid_moments",
    "knn_precision_recall",
    "NoisyLinearClassifier",
    "train_noisy_classifier",
]


def _check_mixture(mixture):
    labels = getattr(mixture, "labels", None)
    if labels is None or not hasattr(mixture, "conditional"):
        raise TypeError(f"mixture must be a labelled mixture such as "
                        f"toy_data.GaussianMixture2D; got "
                        f"{type(mixture).__name__}")
    return mixture


def _check_label(mixture, label) -> int:
    label = as_int(label, "label", minimum=0)
    if label not in mixture.classes:
        raise ValueError(f"label must be one of "
                         f"{mixture.classes.tolist()}; got {label}")
    return label


def log_class_posterior(mixture, x, s: Schedule | None = None, t=None
                        ) -> np.ndarray:
    """log p(c | x_t) for every class c, shape (N, C).

    p(c | x_t) = Σ_{k: label k = c} w_k N_k(x_t) / Σ_k w_k N_k(x_t),
    with N_k(x_t) = N(x_t; √ᾱ_t m_k, ᾱ_t v_k + 1 − ᾱ_t): the
    responsibilities of the components, summed over each class. Without
    s and t, the classifier of the clean data.

    Args:
        mixture: a labelled mixture (``toy_data.GaussianMixture2D``).
        x: points of shape (N, D).
        s, t: schedule and step (int or (N,) ints), or both None.

    Returns:
        float64 (N, C); column j is the class ``mixture.classes[j]``.

    Book: chapter 9, eq. (eq-exact-classifier)
    """
    mixture = _check_mixture(mixture)
    x, a, c = mixture._levels(x, s, t)
    logits, _, _ = mixture._components(x, a, c)          # (K, N)
    logits = np.broadcast_to(logits, (logits.shape[0], x.shape[0]))
    total = np.logaddexp.reduce(logits, axis=0)          # log q(x_t)
    out = np.empty((x.shape[0], mixture.classes.shape[0]))
    for j, label in enumerate(mixture.classes):
        keep = mixture.labels == label
        out[:, j] = np.logaddexp.reduce(logits[keep], axis=0) - total
    return out


def class_posterior(mixture, x, s: Schedule | None = None, t=None
                    ) -> np.ndarray:
    """The exact classifier p(c | x_t), shape (N, C); rows sum to 1.

    Book: chapter 9, eq. (eq-exact-classifier)
    """
    return np.exp(log_class_posterior(mixture, x, s, t))


def classifier_grad(mixture, x, s: Schedule | None, t, label
                    ) -> np.ndarray:
    """∇_{x_t} log p(c | x_t) = ∇ log q(x_t | c) − ∇ log q(x_t).

    Bayes' rule, log p(c | x_t) = log q(x_t | c) + log π_c − log q(x_t),
    and the prior π_c does not depend on x_t.

    Returns:
        float64 (N, D).

    Book: chapter 9, eq. (eq-classifier-grad)
    """
    mixture = _check_mixture(mixture)
    label = _check_label(mixture, label)
    cond = mixture.conditional(label)
    if s is None:
        return cond.score(x) - mixture.score(x)
    return cond.score(x, s, t) - mixture.score(x, s, t)


def gamma_from_w(w):
    """γ = 1 + w: Ho and Salimans' weight w as a guidance scale γ.

    Book: chapter 9, eq. (eq-cfg-w)
    """
    return 1.0 + as_float_array(w, "w") if np.ndim(w) else 1.0 + float(w)


def w_from_gamma(gamma):
    """w = γ − 1: a guidance scale γ as Ho and Salimans' weight w.

    Book: chapter 9, eq. (eq-cfg-w)
    """
    if np.ndim(gamma):
        return as_float_array(gamma, "gamma") - 1.0
    return float(gamma) - 1.0


def cfg_eps(eps_uncond, eps_cond, w: float) -> np.ndarray:
    """Classifier-free guidance with weight w (Ho and Salimans 2022).

    ε̃ = (1 + w) ε(x, c) − w ε(x, ∅) = ε(x, ∅) + γ (ε(x, c) − ε(x, ∅)),
    γ = 1 + w. w = 0 is the conditional model.

    Args:
        eps_uncond: ε(x_t, ∅), shape (N, D).
        eps_cond: ε(x_t, c), shape (N, D).
        w: the guidance weight (a number; w > −1 guides towards c).

    Book: chapter 9, eq. (eq-cfg-w)
    """
    eps_uncond = as_data(eps_uncond, "eps_uncond")
    eps_cond = as_data(eps_cond, "eps_cond")
    if eps_uncond.shape != eps_cond.shape:
        raise ValueError(f"eps_uncond and eps_cond must have the same "
                         f"shape; got {eps_uncond.shape} and "
                         f"{eps_cond.shape}")
    w = float(as_float_array(w, "w", ndim=0))
    return (1.0 + w) * eps_cond - w * eps_uncond


def classifier_guided_eps(s: Schedule, xt, t, eps, grad_log_prob,
                          scale: float) -> np.ndarray:
    """Classifier guidance applied to a noise prediction.

    The guided score is ∇ log q(x_t) + λ ∇ log p(c | x_t); since
    ε = −√(1 − ᾱ_t) × score, the guided noise prediction is

    ε̃ = ε − λ √(1 − ᾱ_t) ∇_{x_t} log p(c | x_t).

    Args:
        s: schedule; t: int or int array (N,) in 1..T.
        xt: x_t, shape (N, D) (for the shapes only).
        eps: the model's ε(x_t) (unconditional or conditional).
        grad_log_prob: ∇_{x_t} log p(c | x_t), shape (N, D).
        scale: λ, the classifier scale.

    Book: chapter 9, eq. (eq-classifier-guided-eps)
    """
    s = as_schedule(s)
    xt = as_data(xt, "xt")
    eps = as_data(eps, "eps")
    grad = as_data(grad_log_prob, "grad_log_prob")
    if not eps.shape == grad.shape == xt.shape:
        raise ValueError(f"xt, eps and grad_log_prob must have the same "
                         f"shape (N, D); got {xt.shape}, {eps.shape}, "
                         f"{grad.shape}")
    scale = float(as_float_array(scale, "scale", ndim=0))
    sd = np.sqrt(coef(1.0 - s.alpha_bar, t, xt))
    return eps - scale * sd * grad


def guided_eps_model(eps_cond: Callable, eps_uncond: Callable, w: float
                     ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The classifier-free guided ``eps_model(x, t)`` for the samplers.

    eps_model(x, t) = (1 + w) eps_cond(x, t) − w eps_uncond(x, t).

    Book: chapter 9, eq. (eq-cfg-w)
    """
    if not (callable(eps_cond) and callable(eps_uncond)):
        raise TypeError("eps_cond and eps_uncond must be functions "
                        "eps_model(x, t)")
    w = float(as_float_array(w, "w", ndim=0))

    def eps_model(x, t):
        if w == 0.0:
            return eps_cond(x, t)
        return cfg_eps(eps_uncond(x, t), eps_cond(x, t), w)

    return eps_model


def sharpened_log_density(mixture, x, label, w: float) -> np.ndarray:
    """log p(x | c) + w log p(c | x) of the clean data, unnormalised.

    p_w(x | c) ∝ p(x | c) p(c | x)^w ∝ p(x | c)^{1+w} / p(x)^w: the
    density whose score is the guided score at t = 0.

    Returns:
        float64 (N,).

    Book: chapter 9, eq. (eq-sharpened)
    """
    mixture = _check_mixture(mixture)
    label = _check_label(mixture, label)
    w = float(as_float_array(w, "w", ndim=0))
    j = int(np.flatnonzero(mixture.classes == label)[0])
    log_cond = mixture.conditional(label).log_pdf(x)
    return log_cond + w * log_class_posterior(mixture, x)[:, j]


def grid_moments(log_density, xs, ys, centre=None):
    """Normalise a density on a regular grid and return its moments.

    Args:
        log_density: function of points (M, 2) -> (M,), unnormalised.
        xs, ys: 1-D increasing, evenly spaced grid coordinates.
        centre: (2,) point for the mean distance (default: the mean).

    Returns:
        dict with ``density`` (len(ys), len(xs)) normalised on the grid,
        ``mean`` (2,), ``cov`` (2, 2), ``mean_dist`` E|x − centre| and
        ``log_norm`` the log of the integral of exp(log_density).

    Book: chapter 9, eq. (eq-sharpened)
    """
    xs = as_float_array(xs, "xs", ndim=1)
    ys = as_float_array(ys, "ys", ndim=1)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    logp = np.asarray(log_density(pts), dtype=np.float64)
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    top = np.max(logp)
    p = np.exp(logp - top)
    z = p.sum() * cell
    p = p / z
    mean = (p[:, None] * pts).sum(0) * cell
    diff = pts - mean
    cov = (p[:, None, None] * diff[:, :, None] * diff[:, None, :]
           ).sum(0) * cell
    centre = mean if centre is None else as_float_array(centre, "centre")
    dist = np.linalg.norm(pts - centre, axis=1)
    return {"density": p.reshape(gx.shape), "mean": mean, "cov": cov,
            "mean_dist": float((p * dist).sum() * cell),
            "log_norm": float(top + math.log(z))}


# --------------------------------------------------------------------------
# A small trained classifier of noisy inputs
# --------------------------------------------------------------------------

class NoisyLinearClassifier:
    """p_φ(c | x_t) = softmax_c(A_c(t)·x_t + b_c(t)), smooth in t.

    The weights are combinations of J Gaussian bumps in the log-SNR
    λ_t = log(ᾱ_t / (1 − ᾱ_t)): A_c(t) = Σ_j φ_j(t) A_cj, likewise b.
    Logistic regression in x_t with coefficients that vary with the
    noise level, a few dozen parameters in all.

    Args:
        s: schedule; num_classes: C; centres: the λ of the bumps.
        params: array (C, J, D + 1) (default zeros).

    Book: chapter 9, sec. (sec-09-classifier-guidance)
    """

    def __init__(self, s: Schedule, num_classes: int, dim: int = 2,
                 centres=None, params=None):
        self.schedule = as_schedule(s)
        self.num_classes = as_int(num_classes, "num_classes", minimum=2)
        self.dim = as_int(dim, "dim", minimum=1)
        ab = self.schedule.alpha_bar[1:]
        lam = np.log(ab / (1 - ab))
        if centres is None:
            centres = np.linspace(lam.min(), lam.max(), 6)
        self.centres = as_float_array(centres, "centres", ndim=1)
        self.width = (float(np.ptp(self.centres)) / max(
            len(self.centres) - 1, 1)) or 1.0
        shape = (self.num_classes, len(self.centres), self.dim + 1)
        self.params = (np.zeros(shape) if params is None
                       else as_float_array(params, "params"))
        if self.params.shape != shape:
            raise ValueError(f"params must have shape {shape}; got "
                             f"{self.params.shape}")

    def _basis(self, t, n) -> np.ndarray:
        t = as_timesteps(t, self.schedule.T, n)
        ab = self.schedule.alpha_bar[t]
        lam = np.log(ab / (1 - ab))
        return np.exp(-0.5 * ((lam[:, None] - self.centres[None])
                              / self.width) ** 2)            # (N, J)

    def _parts(self, x, t):
        x = as_data(x, "x")
        phi = self._basis(t, x.shape[0])
        slope = np.einsum("nj,cjd->ncd", phi, self.params[:, :, :-1])
        bias = phi @ self.params[:, :, -1].T                 # (N, C)
        logits = np.einsum("ncd,nd->nc", slope, x) + bias
        logp = logits - np.logaddexp.reduce(logits, axis=1,
                                            keepdims=True)
        return x, phi, slope, logp

    def log_prob(self, x, t) -> np.ndarray:
        """log p_φ(c | x_t), shape (N, C)."""
        return self._parts(x, t)[3]

    def grad_log_prob(self, x, t, label) -> np.ndarray:
        """∇_{x_t} log p_φ(c | x_t) = A_c − Σ_k p_k A_k, shape (N, D)."""
        label = as_int(label, "label", minimum=0,
                       maximum=self.num_classes - 1)
        _, _, slope, logp = self._parts(x, t)
        p = np.exp(logp)
        return slope[:, label] - np.einsum("nc,ncd->nd", p, slope)


def train_noisy_classifier(mixture, s: Schedule, steps: int = 300,
                           n: int = 4000, lr: float = 0.1, seed: int = 0
                           ) -> NoisyLinearClassifier:
    """Fit a :class:`NoisyLinearClassifier` by logistic regression.

    Minimises the cross-entropy −E log p_φ(c | x_t) over x_0, c from
    the labelled data, t ~ U{1..T} and x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,
    with full-batch Adam on a fresh batch of n examples at every step.
    The labels must be 0..C−1.

    Returns:
        the trained classifier; ``.losses`` holds the cross-entropy of
        each step.

    Book: chapter 9, sec. (sec-09-classifier-guidance)
    """
    mixture = _check_mixture(mixture)
    s = as_schedule(s)
    classes = mixture.classes
    if not np.array_equal(classes, np.arange(len(classes))):
        raise ValueError(f"the labels must be 0..C-1; got "
                         f"{classes.tolist()}")
    steps = as_int(steps, "steps", minimum=1)
    n = as_int(n, "n", minimum=2)
    rng = as_rng(seed, "seed")
    clf = NoisyLinearClassifier(s, len(classes), mixture.dim)
    m = np.zeros_like(clf.params)
    v = np.zeros_like(clf.params)
    losses = np.empty(steps)
    for k in range(steps):
        x0, c = mixture.sample(n, rng, return_labels=True)
        t = rng.integers(1, s.T + 1, size=n)
        ab = s.alpha_bar[t][:, None]
        xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * rng.standard_normal(
            x0.shape)
        x, phi, _, logp = clf._parts(xt, t)
        losses[k] = -np.mean(logp[np.arange(n), c])
        resid = np.exp(logp)
        resid[np.arange(n), c] -= 1.0                     # ∂loss/∂logit
        x1 = np.concatenate([x, np.ones((n, 1))], axis=1)
        grad = np.einsum("nc,nj,nd->cjd", resid, phi, x1) / n
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        m_hat = m / (1 - 0.9 ** (k + 1))
        v_hat = v / (1 - 0.999 ** (k + 1))
        clf.params -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    clf.losses = losses
    return clf


def knn_precision_recall(reference, samples, k: int = 5):
    """Precision and recall of samples against reference points.

    Each point's k-NN ball is the ball around it whose radius is the
    distance to its k-th nearest neighbour in its own set. Precision:
    the fraction of samples inside at least one ball of a reference
    point (samples look like data). Recall: the fraction of reference
    points inside at least one ball of a sample (the data are covered).

    Args:
        reference: (N, D) points of the target; samples: (M, D).
        k: neighbours (>= 1; fewer than N and M).

    Returns:
        (precision, recall), two floats in [0, 1].

    Book: chapter 9, eq. (eq-precision-recall)
    """
    a = as_data(reference, "reference")
    b = as_data(samples, "samples")
    k = as_int(k, "k", minimum=1,
               maximum=min(a.shape[0], b.shape[0]) - 1)

    def dist(u, v):
        d2 = (np.sum(u ** 2, 1)[:, None] + np.sum(v ** 2, 1)[None]
              - 2 * u @ v.T)
        return np.sqrt(np.maximum(d2, 0.0))

    r_a = np.sort(dist(a, a), axis=1)[:, k]     # column 0 is the point
    r_b = np.sort(dist(b, b), axis=1)[:, k]
    ab = dist(a, b)                              # (N, M)
    precision = float(np.mean(np.any(ab <= r_a[:, None], axis=0)))
    recall = float(np.mean(np.any(ab <= r_b[None, :], axis=1)))
    return precision, recall
