"""Tests of diffusion_edu.metrics: exact small cases and the baseline."""

import numpy as np
import pytest

from diffusion_edu import metrics as M
from diffusion_edu import toy_data as TD


def _energy_brute(a, b):
    def mean_dist(p, q):
        return np.mean(np.linalg.norm(p[:, None] - q[None], axis=2))
    return 2 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)


def test_energy_distance_matches_brute_force_1d_and_2d():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 1)), rng.normal(0.3, 1.2, size=(200, 1))
    assert M.energy_distance(a, b) == pytest.approx(_energy_brute(a, b),
                                                    rel=1e-10)
    a, b = rng.normal(size=(300, 2)), rng.normal(0.2, 1.0, size=(250, 2))
    assert M.energy_distance(a, b) == pytest.approx(_energy_brute(a, b),
                                                    rel=1e-10)
    # 1-D input (N,) is read as (N, 1)
    assert M.energy_distance(a[:, 0], b[:, 0]) == pytest.approx(
        _energy_brute(a[:, :1], b[:, :1]), rel=1e-10)


def test_energy_distance_blocks_do_not_change_the_result():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 500, 3))
    assert M._mean_dist(a, b, block=700) == pytest.approx(
        M._mean_dist(a, b), rel=1e-12)


def test_energy_distance_of_point_masses():
    # P = δ_0, Q = δ_1: 2·1 − 0 − 0 = 2
    assert M.energy_distance(np.zeros((5, 1)), np.ones((3, 1))) == 2.0
    x = np.random.default_rng(2).normal(size=(50, 2))
    assert M.energy_distance(x, x) == pytest.approx(0, abs=1e-12)


def test_wasserstein_1d_exact_cases():
    rng = np.random.default_rng(3)
    a = rng.normal(size=1000)
    assert M.wasserstein_1d(a, a + 0.7) == pytest.approx(0.7, rel=1e-12)
    b = rng.normal(size=1000)
    # equal sizes: mean |sorted a − sorted b|
    assert M.wasserstein_1d(a, b) == pytest.approx(
        np.mean(np.abs(np.sort(a) - np.sort(b))), rel=1e-12)
    # unequal sizes: 2 points vs 1 point
    assert M.wasserstein_1d([0.0, 2.0], [1.0]) == pytest.approx(1.0)
    assert M.wasserstein_1d([0.0, 1.0, 2.0, 3.0], [0.0, 3.0]) == \
        pytest.approx(0.5)
    assert M.wasserstein_1d(a[:, None], b[:, None]) == pytest.approx(
        M.wasserstein_1d(a, b))


def test_baseline_separates_true_from_shifted_samples():
    mix = TD.GaussianMixture1D()
    rng = np.random.default_rng(4)
    good = mix.sample(2000, rng)
    cmp = M.compare_with_baseline(M.wasserstein_1d, good, mix.sample, 5,
                                  n_draws=8)
    assert cmp.n_draws == 8
    assert 0.5 < cmp.ratio < 2.0
    bad = good + 0.2
    cmp_bad = M.compare_with_baseline(M.wasserstein_1d, bad, mix.sample, 5,
                                      n_draws=8)
    assert cmp_bad.ratio > 5
    # the same reference draws: the baseline does not depend on samples
    assert cmp_bad.baseline == cmp.baseline
    assert "data vs data" in str(cmp)


def test_single_draw_baseline_fluctuates_and_averaging_helps():
    # the reason for averaging: single-draw baselines spread widely
    mix = TD.GaussianMixture1D()
    rng = np.random.default_rng(6)
    singles = [M.wasserstein_1d(mix.sample(2000, rng), mix.sample(2000, rng))
               for _ in range(30)]
    assert np.std(singles) / np.mean(singles) > 0.2


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("call, exc, match", [
    (lambda: M.energy_distance(np.zeros((3, 2)), np.zeros((3, 1))),
     ValueError, "same dimension"),
    (lambda: M.energy_distance(np.zeros((3, 2, 1)), np.zeros((3, 2))),
     ValueError, r"shape \(N, D\)"),
    (lambda: M.energy_distance([np.nan], [0.0]), ValueError, "finite"),
    (lambda: M.energy_distance([], [0.0]), ValueError, "empty"),
    (lambda: M.wasserstein_1d(np.zeros((3, 2)), np.zeros((3, 2))),
     ValueError, "1-D samples"),
    (lambda: M.wasserstein_1d([0.0, np.inf], [0.0]), ValueError, "finite"),
    (lambda: M.compare_with_baseline(M.wasserstein_1d, np.zeros((5, 1)),
                                     lambda n, r: np.zeros((n, 2)), 0),
     ValueError, "must return shape"),
    (lambda: M.compare_with_baseline(M.wasserstein_1d, np.zeros((5, 1)),
                                     lambda n, r: np.zeros((n, 1)), 0,
                                     n_draws=1), ValueError,
     "n_draws must be >= 2"),
    (lambda: M.compare_with_baseline("w1", np.zeros((5, 1)),
                                     lambda n, r: np.zeros((n, 1)), 0),
     TypeError, "callables"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
