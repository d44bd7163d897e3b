"""Tests of diffusion_edu.markov against analytic answers (chapter 1)."""

import numpy as np
import pytest

from diffusion_edu import markov as mk

WEATHER = np.array([[0.7, 0.2, 0.1],
                    [0.3, 0.4, 0.3],
                    [0.2, 0.3, 0.5]])

# A birth-death chain (moves only to neighbours): always reversible.
BIRTH_DEATH = np.array([[0.5, 0.5, 0.0, 0.0],
                        [0.2, 0.3, 0.5, 0.0],
                        [0.0, 0.4, 0.2, 0.4],
                        [0.0, 0.0, 0.6, 0.4]])

# A 3-cycle with a drift: doubly stochastic, pi uniform, not reversible.
DRIFT_CYCLE = np.array([[0.1, 0.7, 0.2],
                        [0.2, 0.1, 0.7],
                        [0.7, 0.2, 0.1]])


def two_state(p, q):
    return np.array([[1 - p, p], [q, 1 - q]])


def random_chain(rng, S):
    P = rng.random((S, S)) + 0.05
    return P / P.sum(axis=1, keepdims=True)


# --- n-step behaviour ------------------------------------------------------

@pytest.mark.parametrize("p, q", [(0.3, 0.6), (0.05, 0.9), (0.5, 0.5),
                                  (0.9, 0.8)])
def test_two_state_stationary_is_q_p_over_p_plus_q(p, q):
    pi = mk.stationary_distribution(two_state(p, q))
    np.testing.assert_allclose(pi, np.array([q, p]) / (p + q), atol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 30])
def test_two_state_n_step_matches_one_minus_p_minus_q_power(n):
    p, q = 0.3, 0.45
    p0 = np.array([0.9, 0.1])
    pi0 = q / (p + q)
    expected0 = pi0 + (1 - p - q) ** n * (p0[0] - pi0)
    got = mk.n_step_distribution(two_state(p, q), p0, n)
    np.testing.assert_allclose(got, [expected0, 1 - expected0], atol=1e-12)


def test_two_state_n_step_matrix_matches_spectral_formula():
    p, q, n = 0.2, 0.7, 5
    limit = np.array([[q, p], [q, p]]) / (p + q)
    transient = np.array([[p, -p], [-q, q]]) / (p + q)
    expected = limit + (1 - p - q) ** n * transient
    np.testing.assert_allclose(mk.n_step_matrix(two_state(p, q), n),
                               expected, atol=1e-12)


def test_n_step_zero_returns_identity_and_start():
    p0 = np.array([0.2, 0.5, 0.3])
    np.testing.assert_array_equal(mk.n_step_matrix(WEATHER, 0), np.eye(3))
    np.testing.assert_array_equal(mk.n_step_distribution(WEATHER, p0, 0),
                                  p0)


def test_n_step_distribution_uses_row_vector_convention():
    # p0 @ P, not P @ p0: from "sunny" one step gives row 0 of P.
    p1 = mk.n_step_distribution(WEATHER, [1.0, 0.0, 0.0], 1)
    np.testing.assert_allclose(p1, WEATHER[0], atol=1e-15)


def test_distribution_path_rows_are_n_step_distributions():
    p0 = np.array([0.0, 0.0, 1.0])
    path = mk.distribution_path(WEATHER, p0, 12)
    assert path.shape == (13, 3)
    for n in (0, 1, 5, 12):
        np.testing.assert_allclose(
            path[n], mk.n_step_distribution(WEATHER, p0, n), atol=1e-14)


def test_irreducible_aperiodic_chain_converges_from_every_start():
    pi = mk.stationary_distribution(WEATHER)
    for start in np.eye(3):
        p = mk.n_step_distribution(WEATHER, start, 60)
        np.testing.assert_allclose(p, pi, atol=1e-12)


def test_periodic_chain_does_not_converge():
    flip = np.array([[0.0, 1.0], [1.0, 0.0]])
    p0 = np.array([1.0, 0.0])
    assert mk.period(flip) == 2
    assert not mk.is_aperiodic(flip)
    np.testing.assert_allclose(mk.stationary_distribution(flip), [0.5, 0.5])
    for n in (100, 101):
        p = mk.n_step_distribution(flip, p0, n)
        np.testing.assert_array_equal(p, p0 if n % 2 == 0 else p0[::-1])


# --- stationary distribution and structure ---------------------------------

def test_doubly_stochastic_chain_has_uniform_stationary_distribution():
    np.testing.assert_allclose(mk.stationary_distribution(DRIFT_CYCLE),
                               np.full(3, 1 / 3), atol=1e-12)


def test_stationary_distribution_is_fixed_point_of_random_chains():
    rng = np.random.default_rng(0)
    for S in (1, 2, 5, 9):
        P = random_chain(rng, S)
        pi = mk.stationary_distribution(P)
        np.testing.assert_allclose(pi @ P, pi, atol=1e-12)
        assert pi.min() > 0 and abs(pi.sum() - 1) < 1e-12


def test_stationary_distribution_is_zero_on_transient_states():
    # state 0 leaks into the closed class {1, 2} and never comes back
    P = np.array([[0.5, 0.25, 0.25], [0.0, 0.1, 0.9], [0.0, 0.6, 0.4]])
    pi = mk.stationary_distribution(P)
    np.testing.assert_allclose(pi, [0.0, 0.4, 0.6], atol=1e-12)


def test_stationary_distribution_rejects_two_closed_classes():
    P = np.array([[1.0, 0.0, 0.0], [0.3, 0.4, 0.3], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="not unique"):
        mk.stationary_distribution(P)


def test_communicating_classes_marks_closed_classes():
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [0.0, 0.8, 0.2]])
    assert mk.communicating_classes(P) == [([0], False), ([1, 2], True)]
    assert not mk.is_irreducible(P)
    assert mk.is_irreducible(WEATHER)


@pytest.mark.parametrize("P, d", [
    (np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]]), 3),
    (np.array([[0.5, 0.5, 0], [0, 0, 1], [1, 0, 0]]), 1),
    (np.array([[0, .5, 0, .5], [.5, 0, .5, 0], [0, .5, 0, .5],
               [.5, 0, .5, 0]]), 2),
    (np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
               [0.5, 0, 0.5, 0]]), 2),
    (np.array([[1.0]]), 1),
])
def test_period_matches_gcd_of_cycle_lengths(P, d):
    assert mk.period(P) == d
    assert mk.is_aperiodic(P) == (d == 1)


def test_period_rejects_reducible_chain():
    with pytest.raises(ValueError, match="irreducible"):
        mk.period(np.array([[1.0, 0.0], [0.5, 0.5]]))


# --- simulation ------------------------------------------------------------

def test_simulate_matches_n_step_distribution_within_standard_errors():
    C, n = 40_000, 4
    paths = mk.simulate(WEATHER, 2, n, rng=1, n_chains=C)
    assert paths.shape == (n + 1, C) and np.all(paths[0] == 2)
    p_n = mk.n_step_distribution(WEATHER, np.eye(3)[2], n)
    freq = np.bincount(paths[n], minlength=3) / C
    se = np.sqrt(p_n * (1 - p_n) / C)
    assert np.all(np.abs(freq - p_n) < 4 * se)


def test_simulate_from_distribution_draws_start_from_it():
    C = 40_000
    p0 = np.array([0.1, 0.6, 0.3])
    paths = mk.simulate(WEATHER, p0, 0, rng=2, n_chains=C)
    freq = np.bincount(paths[0], minlength=3) / C
    assert np.all(np.abs(freq - p0) < 4 * np.sqrt(p0 * (1 - p0) / C))


def test_simulate_is_reproducible_from_seed():
    a = mk.simulate(WEATHER, 0, 20, rng=np.random.default_rng(5),
                    n_chains=7)
    b = mk.simulate(WEATHER, 0, 20, rng=5, n_chains=7)
    np.testing.assert_array_equal(a, b)


def test_simulate_never_takes_a_zero_probability_transition():
    P = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0]])
    paths = mk.simulate(P, 0, 50, rng=3, n_chains=200)
    steps = P[paths[:-1], paths[1:]]
    assert np.all(steps > 0)


def test_simulate_from_uniforms_is_inverse_cdf():
    P = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    u = np.array([[0.1, 0.2, 0.69, 0.7]])
    x0 = np.array([0, 0, 0, 0])
    paths = mk.simulate_from_uniforms(P, x0, u)
    np.testing.assert_array_equal(paths[1], [0, 1, 1, 2])


# --- detailed balance and reversal -----------------------------------------

def test_birth_death_chain_satisfies_detailed_balance():
    assert mk.satisfies_detailed_balance(BIRTH_DEATH)
    assert mk.satisfies_detailed_balance(two_state(0.3, 0.1))


def test_drift_cycle_violates_detailed_balance():
    assert not mk.satisfies_detailed_balance(DRIFT_CYCLE)


def test_reversal_of_reversible_chain_is_itself():
    np.testing.assert_allclose(mk.reverse_chain(BIRTH_DEATH), BIRTH_DEATH,
                               atol=1e-12)


def test_reversal_of_drift_cycle_is_its_transpose():
    # pi uniform, so P_hat[j, i] = P[i, j]
    np.testing.assert_allclose(mk.reverse_chain(DRIFT_CYCLE),
                               DRIFT_CYCLE.T, atol=1e-12)


def test_reverse_chain_is_stochastic_and_an_involution():
    rng = np.random.default_rng(4)
    P = random_chain(rng, 5)
    pi = mk.stationary_distribution(P)
    P_hat = mk.reverse_chain(P, pi)
    mk.validate_transition_matrix(P_hat)
    np.testing.assert_allclose(pi @ P_hat, pi, atol=1e-12)
    np.testing.assert_allclose(mk.reverse_chain(P_hat, pi), P, atol=1e-12)


def test_reverse_chain_matches_empirical_reversed_frequencies():
    C, n = 60_000, 3
    pi = mk.stationary_distribution(WEATHER)
    paths = mk.simulate(WEATHER, pi, n, rng=6, n_chains=C)
    later, earlier = paths[n], paths[n - 1]
    P_hat = mk.reverse_chain(WEATHER, pi)
    for j in range(3):
        given = earlier[later == j]
        freq = np.bincount(given, minlength=3) / given.size
        se = np.sqrt(P_hat[j] * (1 - P_hat[j]) / given.size)
        assert np.all(np.abs(freq - P_hat[j]) < 4 * se + 1e-12)


def test_reverse_chain_step_matches_empirical_from_point_start():
    C, n = 60_000, 2
    paths = mk.simulate(WEATHER, 0, n, rng=7, n_chains=C)
    P_hat = mk.reverse_chain_step(WEATHER, [1.0, 0.0, 0.0], n)
    for j in range(3):
        given = paths[n - 1][paths[n] == j]
        freq = np.bincount(given, minlength=3) / given.size
        se = np.sqrt(P_hat[j] * (1 - P_hat[j]) / given.size)
        assert np.all(np.abs(freq - P_hat[j]) < 4 * se + 1e-12)


def test_reverse_chain_step_depends_on_n_and_tends_to_reverse_chain():
    p0 = [1.0, 0.0, 0.0]
    first = mk.reverse_chain_step(WEATHER, p0, 1)
    # from a point mass, X_0 is known: every row of the reversal is p0
    np.testing.assert_allclose(first, np.tile(p0, (3, 1)), atol=1e-15)
    late = mk.reverse_chain_step(WEATHER, p0, 80)
    np.testing.assert_allclose(late, mk.reverse_chain(WEATHER), atol=1e-12)


def test_reverse_chain_step_in_stationarity_equals_reverse_chain():
    pi = mk.stationary_distribution(DRIFT_CYCLE)
    np.testing.assert_allclose(mk.reverse_chain_step(DRIFT_CYCLE, pi, 4),
                               mk.reverse_chain(DRIFT_CYCLE), atol=1e-12)


def test_reverse_chain_rejects_non_stationary_pi():
    with pytest.raises(ValueError, match="stationary"):
        mk.reverse_chain(WEATHER, [0.5, 0.25, 0.25])


def test_reverse_chain_rejects_zero_probability_state():
    P = np.array([[0.5, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="> 0"):
        mk.reverse_chain(P, [0.0, 1.0])


def test_reverse_chain_step_rejects_unreachable_state():
    P = np.array([[0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    with pytest.raises(ValueError, match="impossible"):
        mk.reverse_chain_step(P, [1.0, 0.0, 0.0], 1)


# --- the Gaussian chain ----------------------------------------------------

@pytest.mark.parametrize("m0, v0, beta", [(2.0, 0.0, 0.1), (-1.5, 4.0, 0.02),
                                          (0.0, 1.0, 0.5), (3.0, 0.3, 0.9)])
def test_gaussian_chain_moments_match_closed_form(m0, v0, beta):
    T = 50
    t = np.arange(T + 1)
    means, variances = mk.gaussian_chain_moments(m0, v0, beta, T)
    np.testing.assert_allclose(means, (1 - beta) ** (t / 2) * m0,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(variances, 1 + (1 - beta) ** t * (v0 - 1),
                               rtol=1e-12, atol=1e-14)


def test_gaussian_chain_moments_converge_to_zero_and_one():
    means, variances = mk.gaussian_chain_moments(5.0, 9.0, 0.05, 1000)
    assert abs(means[-1]) < 1e-10 and abs(variances[-1] - 1) < 1e-10


def test_gaussian_chain_keeps_unit_variance_when_started_at_one():
    _, variances = mk.gaussian_chain_moments(0.0, 1.0, 0.3, 10)
    np.testing.assert_allclose(variances, 1.0, atol=1e-15)


def test_simulate_gaussian_chain_matches_moments_within_standard_errors():
    N, T, beta = 20_000, 25, 0.08
    rng = np.random.default_rng(8)
    x0 = np.where(rng.random(N) < 0.5, -2.0, 2.0) + 1.0   # mean 1, var 4
    path = mk.simulate_gaussian_chain(x0, beta, T, rng)
    assert path.shape == (T + 1, N, 1)
    means, variances = mk.gaussian_chain_moments(1.0, 4.0, beta, T)
    for t in (1, 5, 25):
        x = path[t, :, 0]
        se_mean = np.sqrt(variances[t] / N)
        se_var = np.sqrt(np.var((x - x.mean()) ** 2) / N)
        assert abs(x.mean() - means[t]) < 4 * se_mean
        assert abs(x.var() - variances[t]) < 4 * se_var


def test_simulate_gaussian_chain_is_reproducible_and_starts_at_x0():
    x0 = np.array([[0.5, -1.0], [2.0, 0.0]])
    a = mk.simulate_gaussian_chain(x0, 0.1, 5, 3)
    b = mk.simulate_gaussian_chain(x0, 0.1, 5, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], x0)


def test_gaussian_chain_step_scales_noise_by_sqrt_beta():
    x = np.array([[2.0]])
    eps = np.array([[1.0]])
    got = mk.gaussian_chain_step(x, 0.36, eps)
    np.testing.assert_allclose(got, [[0.8 * 2.0 + 0.6 * 1.0]], atol=1e-15)


# --- bad input -------------------------------------------------------------

@pytest.mark.parametrize("P, match", [
    (np.ones((2, 3)) / 3, "square"),
    (np.ones(3) / 3, "square"),
    (np.ones((2, 2, 2)) / 2, "square"),
    (np.zeros((0, 0)), "at least one state"),
    ([[1.2, -0.2], [0.5, 0.5]], ">= 0"),
    ([[0.5, 0.4], [0.5, 0.5]], "sum to 1"),
    ([[np.nan, 1.0], [0.5, 0.5]], "finite"),
    ([[np.inf, 0.0], [0.5, 0.5]], "finite"),
])
def test_validate_transition_matrix_rejects_bad_matrices(P, match):
    with pytest.raises(ValueError, match=match):
        mk.validate_transition_matrix(P)


@pytest.mark.parametrize("P", ["not a matrix", [["a", "b"], ["c", "d"]],
                               None, [[object(), 1], [0, 1]]])
def test_validate_transition_matrix_rejects_non_numeric(P):
    with pytest.raises(TypeError):
        mk.validate_transition_matrix(P)


@pytest.mark.parametrize("p0, err", [
    ([0.5, 0.5], ValueError),          # wrong length
    ([0.5, 0.6, -0.1], ValueError),    # negative entry
    ([0.2, 0.2, 0.2], ValueError),     # does not sum to 1
    ([[1.0, 0.0, 0.0]], ValueError),   # not 1-D
    ("abc", TypeError),
])
def test_n_step_distribution_rejects_bad_start(p0, err):
    with pytest.raises(err):
        mk.n_step_distribution(WEATHER, p0, 1)


@pytest.mark.parametrize("n, err", [(-1, ValueError), (1.5, TypeError),
                                    (True, TypeError)])
def test_n_step_functions_reject_bad_n(n, err):
    with pytest.raises(err):
        mk.n_step_matrix(WEATHER, n)


def test_simulate_rejects_bad_start_and_missing_rng():
    with pytest.raises(ValueError):
        mk.simulate(WEATHER, 3, 5, rng=0)
    with pytest.raises(TypeError):
        mk.simulate(WEATHER, 0, 5, rng=None)


@pytest.mark.parametrize("beta", [0.0, 1.0, -0.1, 1.5])
def test_gaussian_chain_rejects_beta_outside_unit_interval(beta):
    with pytest.raises(ValueError, match="beta"):
        mk.gaussian_chain_moments(0.0, 1.0, beta, 3)
    with pytest.raises(ValueError, match="beta"):
        mk.simulate_gaussian_chain(np.zeros(3), beta, 3, 0)


def test_gaussian_chain_rejects_negative_variance_and_bad_noise_shape():
    with pytest.raises(ValueError, match="var0"):
        mk.gaussian_chain_moments(0.0, -1.0, 0.1, 3)
    with pytest.raises(ValueError, match="noise"):
        mk.gaussian_chain_step(np.zeros((4, 2)), 0.1, np.zeros((4, 1)))
