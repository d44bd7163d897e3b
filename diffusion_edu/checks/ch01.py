"""Checks for the coding exercises of chapter 1 (Markov chains).

Each check calls the learner's function on fixed, seeded inputs (random
chains and edge cases such as n = 0 or a 1-state chain), compares the
result with :mod:`diffusion_edu.markov`, and recognises classic mistakes
(using the transpose of P, forgetting to divide by pi_j, beta instead of
sqrt(beta) as the noise scale, ...).
"""

from __future__ import annotations

import numpy as np

from .. import markov as mk
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_n_step_distribution",
    "check_gaussian_chain_step",
    "check_simulate_chain",
    "check_stationary_distribution",
    "check_reverse_chain",
]

_WEATHER = np.array([[0.7, 0.2, 0.1],
                     [0.3, 0.4, 0.3],
                     [0.2, 0.3, 0.5]])
_FLIP = np.array([[0.0, 1.0], [1.0, 0.0]])
_ONE_STATE = np.array([[1.0]])
_BIRTH_DEATH = np.array([[0.5, 0.5, 0.0, 0.0],
                         [0.2, 0.3, 0.5, 0.0],
                         [0.0, 0.4, 0.2, 0.4],
                         [0.0, 0.0, 0.6, 0.4]])
_DRIFT_CYCLE = np.array([[0.1, 0.7, 0.2],
                         [0.2, 0.1, 0.7],
                         [0.7, 0.2, 0.1]])


def _random_chain(rng: np.random.Generator, S: int) -> np.ndarray:
    P = rng.random((S, S)) + 0.02
    return P / P.sum(axis=1, keepdims=True)


def _random_distribution(rng: np.random.Generator, S: int) -> np.ndarray:
    p = rng.random(S) + 0.05
    return p / p.sum()


# ---------------------------------------------------------------------------
# n-step distribution
# ---------------------------------------------------------------------------

def _n_step_cases() -> list[Case]:
    rng = np.random.default_rng(101)
    P3, P5 = _random_chain(rng, 3), _random_chain(rng, 5)
    P4 = _random_chain(rng, 4)
    return [
        Case("weather chain, start sunny, n = 1",
             (_WEATHER, np.array([1.0, 0.0, 0.0]), 1)),
        Case("weather chain, mixed start, n = 4",
             (_WEATHER, np.array([0.2, 0.3, 0.5]), 4)),
        Case("random 3-state chain, n = 0 (p_0 itself)",
             (P3, _random_distribution(rng, 3), 0)),
        Case("random 5-state chain, n = 2",
             (P5, _random_distribution(rng, 5), 2)),
        Case("random 4-state chain, n = 25",
             (P4, _random_distribution(rng, 4), 25)),
        Case("1-state chain, n = 3", (_ONE_STATE, np.array([1.0]), 3)),
        Case("periodic 2-state chain, n = 7",
             (_FLIP, np.array([0.9, 0.1]), 7)),
    ]


def _n_step_transpose(P, p0, n):
    return np.linalg.matrix_power(P, n) @ p0


def _n_step_elementwise(P, p0, n):
    return p0 @ (P ** n)


def _n_step_one_too_many(P, p0, n):
    return p0 @ np.linalg.matrix_power(P, n + 1)


def _n_step_one_too_few(P, p0, n):
    return p0 @ np.linalg.matrix_power(P, max(n - 1, 0))


def check_n_step_distribution(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(P, p0, n)`` = p_n = p_0 P^n (exercise
    ex-01-n-step-distribution)."""
    return run_check(
        "n-step distribution p_n = p_0 P^n", answer,
        mk.n_step_distribution, _n_step_cases(), strict=strict,
        mistakes=[
            Mistake("using the transpose of P", _n_step_transpose,
                    "distributions are row vectors and P[i, j] is the "
                    "probability of going from i to j, so one step is "
                    "`p @ P`. `P @ p` multiplies by the transpose of P."),
            Mistake("elementwise power P ** n", _n_step_elementwise,
                    "`P ** n` raises every entry to the power n. The "
                    "n-step matrix is the matrix power "
                    "`np.linalg.matrix_power(P, n)` (or apply `p = p @ P` "
                    "n times)."),
            Mistake("one step too many", _n_step_one_too_many,
                    "your result is p_(n+1): for n = 0 the answer must be "
                    "p_0 itself. Check the number of loop iterations."),
            Mistake("one step too few", _n_step_one_too_few,
                    "your result is p_(n-1): n steps need n products "
                    "with P. Check the number of loop iterations."),
        ],
        hint="p_n(j) = sum_i p_(n-1)(i) P[i, j]; start from p_0 and apply "
             "this n times.")


# ---------------------------------------------------------------------------
# One step of the Gaussian chain
# ---------------------------------------------------------------------------

def _gaussian_step_cases() -> list[Case]:
    rng = np.random.default_rng(102)
    cases = []
    for label, shape, beta in [
            ("5 points in 2-D, beta = 0.02", (5, 2), 0.02),
            ("1 point in 1-D, beta = 0.5", (1, 1), 0.5),
            ("10 points in 3-D, beta = 0.9", (10, 3), 0.9),
            ("4 points in 1-D, tiny beta = 1e-4", (4, 1), 1e-4)]:
        x = 3.0 * rng.standard_normal(shape)
        cases.append(Case(label, (x, beta, rng.standard_normal(shape))))
    cases.append(Case("x_(t-1) = 0, beta = 0.25 (pure noise part)",
                      (np.zeros((3, 2)), 0.25,
                       rng.standard_normal((3, 2)))))
    return cases


def _step_reference(x_prev, beta, noise):
    return np.sqrt(1.0 - beta) * x_prev + np.sqrt(beta) * noise


def check_gaussian_chain_step(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(x_prev, beta, noise)`` = sqrt(1-beta) x + sqrt(beta)
    noise (exercise ex-01-gaussian-chain-step)."""
    return run_check(
        "one step of the Gaussian chain", answer, _step_reference,
        _gaussian_step_cases(), strict=strict,
        mistakes=[
            Mistake("beta instead of sqrt(beta) as the noise scale",
                    lambda x, b, e: np.sqrt(1 - b) * x + b * e,
                    "beta is the *variance* of the added noise; the noise "
                    "must be multiplied by its standard deviation "
                    "sqrt(beta)."),
            Mistake("1 - beta instead of sqrt(1 - beta)",
                    lambda x, b, e: (1 - b) * x + np.sqrt(b) * e,
                    "the signal is scaled by sqrt(1 - beta), so that its "
                    "variance is multiplied by 1 - beta."),
            Mistake("no square roots",
                    lambda x, b, e: (1 - b) * x + b * e,
                    "both coefficients are standard deviations: "
                    "sqrt(1 - beta) for the signal and sqrt(beta) for the "
                    "noise, so that the variances add up to 1."),
            Mistake("coefficients swapped",
                    lambda x, b, e: np.sqrt(b) * x + np.sqrt(1 - b) * e,
                    "beta is the (small) noise variance: the noise gets "
                    "sqrt(beta) and x_(t-1) gets sqrt(1 - beta)."),
            Mistake("x_(t-1) not shrunk",
                    lambda x, b, e: x + np.sqrt(b) * e,
                    "x_(t-1) must be scaled by sqrt(1 - beta); without "
                    "it the variance grows by beta at every step."),
        ],
        hint="x_t = sqrt(1 - beta) * x_prev + sqrt(beta) * noise.")


# ---------------------------------------------------------------------------
# Simulating a discrete chain from uniform numbers
# ---------------------------------------------------------------------------

def _simulate_cases() -> list[Case]:
    rng = np.random.default_rng(103)
    P5 = _random_chain(rng, 5)
    cycle = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    sparse = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.3, 0.0, 0.7]])
    return [
        Case("weather chain, 6 chains, 10 steps",
             (_WEATHER, rng.integers(0, 3, 6), rng.random((10, 6)))),
        Case("random 5-state chain, 3 chains, 20 steps",
             (P5, rng.integers(0, 5, 3), rng.random((20, 3)))),
        Case("chain with zero entries, 4 chains, 15 steps",
             (sparse, np.array([0, 1, 2, 0]), rng.random((15, 4)))),
        Case("deterministic 3-cycle, 2 chains, 7 steps",
             (cycle, np.array([0, 2]), rng.random((7, 2)))),
        Case("1-state chain, 2 chains, 5 steps",
             (_ONE_STATE, np.array([0, 0]), rng.random((5, 2)))),
        Case("0 steps (the path is x0 alone)",
             (_WEATHER, np.array([1, 2, 0]), np.empty((0, 3)))),
        # u exactly on a cumulative sum: the rule u < c_j is strict, so
        # u = 0 from state 0 must not pick state 0 (probability 0).
        Case("ties: u = 0, 0.3 or 0.5, exactly on a cumulative sum",
             (sparse, np.array([0, 0, 2, 2]),
              np.array([[0.0, 0.5, 0.0, 0.3],
                        [0.5, 0.3, 0.0, 0.5]]))),
    ]


def _simulate_without_start(P, x0, u):
    return mk.simulate_from_uniforms(P, x0, u)[1:]


def _simulate_chains_first(P, x0, u):
    return mk.simulate_from_uniforms(P, x0, u).T


def _simulate_not_cumulative(P, x0, u):
    paths = [np.asarray(x0)]
    for n in range(u.shape[0]):
        paths.append(np.argmax(P[paths[-1]] > u[n][:, None], axis=1))
    return np.array(paths)


def _simulate_non_strict(P, x0, u):
    # smallest j with u <= c_j: wrong only when u hits a cumulative sum
    cdf = np.cumsum(P, axis=1)
    paths = [np.asarray(x0)]
    for n in range(u.shape[0]):
        rows = cdf[paths[-1]]
        paths.append(np.minimum(np.sum(rows < u[n][:, None], axis=1),
                                P.shape[0] - 1))
    return np.array(paths)


def check_simulate_chain(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(P, x0, u)`` against inverse-CDF simulation (exercise
    ex-01-simulate-chain)."""
    return run_check(
        "simulating a chain from uniform numbers", answer,
        mk.simulate_from_uniforms, _simulate_cases(), strict=strict,
        mistakes=[
            Mistake("initial state missing", _simulate_without_start,
                    "the path has n_steps + 1 rows: row 0 must be x0 "
                    "itself, row n is X_n."),
            Mistake("chains along rows", _simulate_chains_first,
                    "time comes first: `paths[n]` must hold X_n of every "
                    "chain, so the shape is (n_steps + 1, C)."),
            Mistake("probabilities instead of cumulative sums",
                    _simulate_not_cumulative,
                    "compare u with the cumulative sums "
                    "`np.cumsum(P[i])`, not with the probabilities P[i] "
                    "themselves: X_n is the first j with u < P[i, 0] + "
                    "... + P[i, j]."),
            Mistake("u <= c_j instead of u < c_j", _simulate_non_strict,
                    "the rule is strict: X_n is the smallest j with "
                    "u < c_j. With u exactly on a cumulative sum, u <= c_j "
                    "picks the state before, which can have probability 0 "
                    "(np.searchsorted(c, u, side='right') gives the strict "
                    "rule)."),
        ],
        hint="for step n use u[n - 1]: X_n is the smallest j with "
             "u[n - 1] < P[i, 0] + ... + P[i, j], where i = X_(n-1).")


# ---------------------------------------------------------------------------
# Stationary distribution
# ---------------------------------------------------------------------------

def _stationary_cases() -> list[Case]:
    rng = np.random.default_rng(104)
    # period 2, pi = (1/8, 1/2, 3/8); power iteration from the uniform
    # start alternates between two vectors, neither of them uniform, so
    # it is not mistaken for the right-eigenvector answer (uniform).
    bipartite = np.array([[0.0, 1.0, 0.0], [0.25, 0.0, 0.75],
                          [0.0, 1.0, 0.0]])
    transient = np.array([[0.5, 0.25, 0.25], [0.0, 0.1, 0.9],
                          [0.0, 0.6, 0.4]])
    return [
        Case("weather chain", (_WEATHER,)),
        Case("random 4-state chain", (_random_chain(rng, 4),)),
        Case("random 7-state chain", (_random_chain(rng, 7),)),
        Case("2-state chain with rare switches",
             (np.array([[0.99, 0.01], [0.04, 0.96]]),)),
        Case("1-state chain", (_ONE_STATE,)),
        Case("periodic chain (period 2)", (bipartite,)),
        Case("chain with a transient state (pi = 0 there)", (transient,)),
    ]


def _stationary_right_eigenvector(P):
    return np.full(P.shape[0], 1.0 / P.shape[0])


def _stationary_unit_norm(P):
    pi = mk.stationary_distribution(P)
    return pi / np.linalg.norm(pi)


def check_stationary_distribution(answer, strict: bool = False
                                  ) -> CheckResult:
    """Check ``answer(P)`` = the stationary distribution pi, pi P = pi
    (exercise ex-01-stationary-distribution)."""
    return run_check(
        "stationary distribution pi P = pi", answer,
        mk.stationary_distribution, _stationary_cases(), strict=strict,
        rtol=1e-6, atol=1e-8,
        mistakes=[
            Mistake("right eigenvector of P",
                    _stationary_right_eigenvector,
                    "pi is a *left* eigenvector (pi P = pi), i.e. an "
                    "eigenvector of P.T. The right eigenvector of P for "
                    "eigenvalue 1 is the constant vector, because the "
                    "rows of P sum to 1."),
            Mistake("normalised to unit length, not unit sum",
                    _stationary_unit_norm,
                    "eigenvectors come with unit Euclidean length; a "
                    "distribution must sum to 1: divide by the sum."),
        ],
        hint="solve pi (P - I) = 0 together with sum_i pi_i = 1. If you "
             "iterate p <- p P instead, remember that p_n need not "
             "converge for a periodic chain. If you use eigenvectors, "
             "a periodic chain also has an eigenvalue -1: select the "
             "eigenvalue closest to 1, not the largest in modulus.")


# ---------------------------------------------------------------------------
# Time reversal
# ---------------------------------------------------------------------------

def _reverse_cases() -> list[Case]:
    rng = np.random.default_rng(105)
    cases = []
    for label, P in [
            ("weather chain", _WEATHER),
            ("random 4-state chain", _random_chain(rng, 4)),
            ("reversible birth-death chain (answer: P itself)",
             _BIRTH_DEATH),
            ("doubly stochastic 3-cycle (uniform pi)", _DRIFT_CYCLE),
            ("2-state chain", np.array([[0.9, 0.1], [0.3, 0.7]])),
            ("1-state chain", _ONE_STATE),
            ("random 6-state chain", _random_chain(rng, 6))]:
        cases.append(Case(label, (P, mk.stationary_distribution(P))))
    return cases


def _reverse_reference(P, pi):
    return mk.reverse_chain(P, pi)


def _reverse_transpose(P, pi):
    return P.T.copy()


def _reverse_not_normalised(P, pi):
    return (pi[:, None] * P).T


def _reverse_not_swapped(P, pi):
    return pi[:, None] * P / pi[None, :]


def _reverse_ratio_inverted(P, pi):
    return (P * pi[None, :] / pi[:, None]).T


def check_reverse_chain(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(P, pi)`` = P_hat with P_hat[j, i] = pi_i P[i, j] /
    pi_j (exercise ex-01-reverse-chain)."""
    return run_check(
        "time-reversed chain by Bayes' rule", answer, _reverse_reference,
        _reverse_cases(), strict=strict,
        mistakes=[
            Mistake("plain transpose of P", _reverse_transpose,
                    "reversing time is not transposing P: Bayes' rule "
                    "gives P_hat[j, i] = pi_i P[i, j] / pi_j. The transpose "
                    "is right only when pi is uniform."),
            Mistake("forgot to divide by pi_j", _reverse_not_normalised,
                    "pi_i P[i, j] is the joint probability "
                    "P(X_(n-1) = i, X_n = j); to condition on X_n = j "
                    "divide by pi_j. Each row of P_hat must sum to 1."),
            Mistake("indices not swapped", _reverse_not_swapped,
                    "row j of P_hat is the law of X_(n-1) given X_n = j: "
                    "entry [j, i] is pi_i P[i, j] / pi_j. Your matrix is "
                    "the transpose of that."),
            Mistake("ratio pi_j / pi_i instead of pi_i / pi_j",
                    _reverse_ratio_inverted,
                    "Bayes' rule multiplies by the probability pi_i of "
                    "the earlier state i and divides by the probability "
                    "pi_j of the state j you condition on."),
        ],
        hint="P_hat[j, i] = P(X_(n-1) = i | X_n = j) = pi_i P[i, j] / pi_j.")
