"""Distances between samples, and what "small" means for them.

A distance between generated samples and the data is meaningless on its
own: two independent samples of the *true* distribution are also at a
positive distance, which fluctuates a lot from draw to draw (by about
±50 % with 2000–4000 points). :func:`compare_with_baseline` therefore
reports the metric next to that data-vs-data baseline, both averaged
over several reference draws.

These distances judge samples, and through them the whole pipeline
(network, sampler, prior); their noise hides small differences between
two denoisers. To compare a network with the ideal denoiser of a toy
data set, score both on the same draws in nats instead:
:func:`diffusion_edu.elbo.paired_draws` and ``PairedDraws.excess``
(chapter 6, eq. (eq-excess-nll)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._validate import as_data, as_int, as_rng

__all__ = [
    "energy_distance",
    "wasserstein_1d",
    "Comparison",
    "compare_with_baseline",
]


def _pair(a, b):
    a = as_data(a, "a")
    b = as_data(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a and b must have the same dimension D; got shapes "
            f"{a.shape} and {b.shape}")
    return a, b


def _sum_pairwise_1d(z: np.ndarray) -> float:
    """Σ_{i<j} |z_i − z_j| for a 1-D array, in O(n log n) by sorting."""
    z = np.sort(z)
    n = z.shape[0]
    return float(np.dot(2 * np.arange(n) - n + 1, z))


def _mean_dist(a: np.ndarray, b: np.ndarray, block: int = 1_000_000
               ) -> float:
    """Mean of ‖a_i − b_j‖ over all pairs, in row blocks of ~block pairs.
    """
    rows = max(1, block // b.shape[0])
    total = 0.0
    b_sq = np.sum(b ** 2, axis=1)
    for lo in range(0, a.shape[0], rows):
        ac = a[lo:lo + rows]
        d2 = np.sum(ac ** 2, axis=1)[:, None] - 2 * ac @ b.T + b_sq[None]
        total += np.sum(np.sqrt(np.maximum(d2, 0.0)))
    return total / (a.shape[0] * b.shape[0])


def energy_distance(a, b) -> float:
    """Squared energy distance between two samples (V-statistic).

    D²(P, Q) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖,  X, X' ~ P, Y, Y' ~ Q,

    with every expectation replaced by the average over all pairs of the
    samples (including i = j, so the estimate is >= 0; it is biased up by
    O(1/n), which is why it is compared with a data-vs-data baseline).
    D² = 0 iff P = Q; take np.sqrt for a metric. In 1-D it is computed
    exactly in O(n log n) by sorting.

    Args:
        a: samples of P, shape (N, D) (or (N,) for 1-D).
        b: samples of Q, shape (M, D).

    Returns:
        D², a float >= 0.

    Book: chapter 6, eq. (eq-energy-distance)
    """
    a, b = _pair(a, b)
    n, m = a.shape[0], b.shape[0]
    if a.shape[1] == 1:
        sa = _sum_pairwise_1d(a[:, 0])
        sb = _sum_pairwise_1d(b[:, 0])
        cross = _sum_pairwise_1d(np.concatenate([a[:, 0], b[:, 0]]))
        cross -= sa + sb                       # Σ_{i,j} |a_i − b_j|
        e_ab, e_aa, e_bb = cross / (n * m), 2 * sa / n ** 2, 2 * sb / m ** 2
    else:
        e_ab = _mean_dist(a, b)
        e_aa = _mean_dist(a, a)
        e_bb = _mean_dist(b, b)
    return max(2 * e_ab - e_aa - e_bb, 0.0)


def wasserstein_1d(a, b) -> float:
    """Wasserstein-1 distance between two 1-D samples.

    W_1(P, Q) = ∫ |F_P(x) − F_Q(x)| dx, with the empirical CDFs of the
    samples (sizes may differ).

    Args:
        a: shape (N,) or (N, 1).
        b: shape (M,) or (M, 1).

    Returns:
        W_1, a float >= 0 (in the units of the data).

    Book: chapter 6 (measuring sample quality)
    """
    a, b = _pair(a, b)
    if a.shape[1] != 1:
        raise ValueError(f"wasserstein_1d needs 1-D samples, shape (N,) "
                         f"or (N, 1); got {a.shape}")
    a, b = np.sort(a[:, 0]), np.sort(b[:, 0])
    grid = np.sort(np.concatenate([a, b]))
    widths = np.diff(grid)
    cdf_a = np.searchsorted(a, grid[:-1], side="right") / a.shape[0]
    cdf_b = np.searchsorted(b, grid[:-1], side="right") / b.shape[0]
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


class Comparison(NamedTuple):
    """A metric of samples vs data, next to the data-vs-data baseline.

    Attributes:
        value: mean over draws of metric(samples, reference draw).
        value_std: its standard deviation over the draws.
        baseline: mean over draws of metric(reference, other reference),
            two independent true samples of the same size as samples.
        baseline_std: its standard deviation over the draws.
        n_draws: number of reference draws.

    Book: chapter 6, eq. (eq-energy-distance)
    """

    value: float
    value_std: float
    baseline: float
    baseline_std: float
    n_draws: int

    @property
    def ratio(self) -> float:
        """value / baseline: ≈ 1 means "as good as fresh data"."""
        return self.value / self.baseline

    def __str__(self) -> str:
        return (f"{self.value:.4g} ± {self.value_std:.2g} "
                f"(data vs data: {self.baseline:.4g} ± "
                f"{self.baseline_std:.2g}; ratio {self.ratio:.2f}, "
                f"{self.n_draws} draws)")


def compare_with_baseline(metric: Callable[[np.ndarray, np.ndarray], float],
                          samples, sample_fn: Callable, rng,
                          n_draws: int = 5) -> Comparison:
    """Report metric(samples, data) next to metric(data, data').

    For each of ``n_draws`` draws, two independent reference samples r, r'
    of the true distribution with as many points as ``samples`` are drawn
    with ``sample_fn(n, rng)``; the value is the mean of
    metric(samples, r) and the baseline the mean of metric(r, r').

    Args:
        metric: e.g. :func:`energy_distance` or :func:`wasserstein_1d`.
        samples: generated points, shape (N, D).
        sample_fn: callable (n, rng) -> (n, D) true samples, e.g.
            ``GaussianMixture1D().sample``.
        rng: np.random.Generator or int seed.
        n_draws: number of reference draws (>= 2).

    Returns:
        Comparison (value, value_std, baseline, baseline_std, n_draws);
        print it for a one-line summary.

    Book: chapter 6, eq. (eq-energy-distance)
    """
    if not callable(metric) or not callable(sample_fn):
        raise TypeError("metric and sample_fn must be callables")
    samples = as_data(samples, "samples")
    rng = as_rng(rng)
    n_draws = as_int(n_draws, "n_draws", minimum=2)
    n = samples.shape[0]
    values, baselines = [], []
    for _ in range(n_draws):
        ref = as_data(sample_fn(n, rng), "sample_fn(n, rng)")
        other = as_data(sample_fn(n, rng), "sample_fn(n, rng)")
        if ref.shape != samples.shape:
            raise ValueError(f"sample_fn(n, rng) must return shape "
                             f"{samples.shape}; got {ref.shape}")
        values.append(metric(samples, ref))
        baselines.append(metric(ref, other))
    return Comparison(float(np.mean(values)), float(np.std(values)),
                      float(np.mean(baselines)), float(np.std(baselines)),
                      n_draws)
