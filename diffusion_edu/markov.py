"""Markov chains: transition matrices, n-step laws, stationarity, reversal.

Conventions (chapter 1 of the book):

* States are ``0, 1, ..., S - 1``.
* A transition matrix is **row-stochastic**:
  ``P[i, j] = P(X_{n+1} = j | X_n = i)``; every row sums to 1.
* A distribution over the states is a **row vector** ``p`` of length S,
  so one step of the chain maps ``p`` to ``p @ P``.
* Simulated paths are indexed by the book's time first:
  ``paths[n]`` holds ``X_n`` of every chain.

The last two functions treat the continuous-state Gaussian chain
``x_t = sqrt(1 - beta) x_{t-1} + sqrt(beta) eps_t`` -- the DDPM forward
process with a constant beta.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import (
    as_data,
    as_float_array,
    as_int,
    as_probability,
    as_rng,
)

__all__ = [
    "validate_transition_matrix",
    "validate_distribution",
    "n_step_matrix",
    "n_step_distribution",
    "distribution_path",
    "simulate_from_uniforms",
    "simulate",
    "communicating_classes",
    "is_irreducible",
    "period",
    "is_aperiodic",
    "stationary_distribution",
    "satisfies_detailed_balance",
    "reverse_chain",
    "reverse_chain_step",
    "gaussian_chain_step",
    "gaussian_chain_moments",
    "simulate_gaussian_chain",
]

#: Tolerance on row sums and on the total mass of a distribution.
SUM_ATOL = 1e-8


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------

def validate_transition_matrix(P, name: str = "P") -> np.ndarray:
    """Check that ``P`` is a transition matrix and return it as float64.

    A transition matrix is square, has entries ``P[i, j] >= 0`` and rows
    that sum to one:  sum_j P[i, j] = 1 for every state i.

    Args:
        P: array-like of shape (S, S), S >= 1.
        name: name used in error messages.

    Returns:
        A float64 array of shape (S, S) (a copy when a conversion was
        needed).

    Raises:
        TypeError: if ``P`` is not numeric.
        ValueError: if ``P`` is not a non-empty square matrix, has NaN,
            infinite or negative entries, or a row that does not sum to 1.

    Book: chapter 1, eq. (eq-transition-matrix)
    """
    P = as_float_array(P, name, finite=False)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(
            f"{name} must be a square matrix of shape (S, S); "
            f"got shape {P.shape}")
    if P.shape[0] == 0:
        raise ValueError(f"{name} must have at least one state; got shape "
                         f"{P.shape}")
    if not np.all(np.isfinite(P)):
        i, j = (int(k) for k in np.argwhere(~np.isfinite(P))[0])
        raise ValueError(
            f"{name} must contain finite probabilities; found {P[i, j]} "
            f"at {name}[{i}, {j}]")
    if np.any(P < 0):
        i, j = (int(k) for k in np.argwhere(P < 0)[0])
        raise ValueError(
            f"{name} must have entries >= 0 (they are probabilities); "
            f"found {P[i, j]:.6g} at {name}[{i}, {j}]")
    sums = P.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > SUM_ATOL)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"every row of {name} must sum to 1 (row i holds "
            f"P(X_(n+1) = j | X_n = i)); row {i} sums to {sums[i]:.10g}")
    return P


def validate_distribution(p, n_states: int | None = None,
                          name: str = "p") -> np.ndarray:
    """Check that ``p`` is a probability vector and return it as float64.

    A distribution over S states is a row vector with p(i) >= 0 and
    sum_i p(i) = 1.

    Args:
        p: array-like of shape (S,).
        n_states: the expected length S (None: any length >= 1).
        name: name used in error messages.

    Returns:
        A float64 array of shape (S,).

    Book: chapter 1, eq. (eq-n-step)
    """
    p = as_float_array(p, name)
    if p.ndim != 1 or p.shape[0] == 0:
        raise ValueError(
            f"{name} must be a 1-D probability vector of shape (S,); "
            f"got shape {p.shape}")
    if n_states is not None and p.shape[0] != n_states:
        raise ValueError(
            f"{name} must have one entry per state (S = {n_states}); "
            f"got length {p.shape[0]}")
    if np.any(p < 0):
        i = int(np.flatnonzero(p < 0)[0])
        raise ValueError(f"{name} must have entries >= 0; found "
                         f"{p[i]:.6g} at {name}[{i}]")
    total = float(p.sum())
    if abs(total - 1.0) > SUM_ATOL:
        raise ValueError(f"{name} must sum to 1; it sums to {total:.10g}")
    return p


# ---------------------------------------------------------------------------
# n-step behaviour
# ---------------------------------------------------------------------------

def n_step_matrix(P, n: int) -> np.ndarray:
    """Return the n-step transition matrix P^n (Chapman-Kolmogorov).

    (P^n)[i, j] = P(X_n = j | X_0 = i); P^0 is the identity.

    Args:
        P: transition matrix, shape (S, S).
        n: number of steps, n >= 0.

    Returns:
        Array of shape (S, S), itself a transition matrix.

    Book: chapter 1, eq. (eq-n-step-matrix)
    """
    P = validate_transition_matrix(P)
    n = as_int(n, "n", minimum=0)
    return np.linalg.matrix_power(P, n)


def n_step_distribution(P, p0, n: int) -> np.ndarray:
    """Return the distribution of X_n: the row vector p_n = p_0 P^n.

    p_n(j) = sum_i p_{n-1}(i) P[i, j]  (law of total probability), hence
    p_n = p_0 P^n.

    Args:
        P: transition matrix, shape (S, S).
        p0: distribution of X_0, shape (S,).
        n: number of steps, n >= 0.

    Returns:
        Array of shape (S,).

    Book: chapter 1, eq. (eq-n-step)
    """
    P = validate_transition_matrix(P)
    p0 = validate_distribution(p0, P.shape[0], "p0")
    n = as_int(n, "n", minimum=0)
    return p0 @ np.linalg.matrix_power(P, n)


def distribution_path(P, p0, n_steps: int) -> np.ndarray:
    """Return p_0, p_1, ..., p_{n_steps} stacked: row n is p_n = p_0 P^n.

    Args:
        P: transition matrix, shape (S, S).
        p0: distribution of X_0, shape (S,).
        n_steps: last step, >= 0.

    Returns:
        Array of shape (n_steps + 1, S); row n is the distribution of X_n.

    Book: chapter 1, eq. (eq-n-step)
    """
    P = validate_transition_matrix(P)
    p = validate_distribution(p0, P.shape[0], "p0")
    n_steps = as_int(n_steps, "n_steps", minimum=0)
    out = np.empty((n_steps + 1, P.shape[0]))
    out[0] = p
    for n in range(1, n_steps + 1):
        out[n] = out[n - 1] @ P
    return out


# ---------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------

def _inverse_cdf(cdf_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the first entry of each row of ``cdf_rows`` exceeding u.

    With ``cdf_rows[k] = cumsum(P[x_k])`` and u ~ Uniform[0, 1), the result
    is j with probability P[x_k, j]: it is the number of entries of the
    cumulative row that are <= u.
    """
    j = np.sum(cdf_rows <= u[:, None], axis=1)
    return np.minimum(j, cdf_rows.shape[1] - 1)


def _cumulative(P: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(P, axis=1)
    return cdf / cdf[:, -1:]  # last entry exactly 1 despite rounding


def simulate_from_uniforms(P, x0, u) -> np.ndarray:
    """Run chains driven by given uniform numbers (inverse-CDF sampling).

    X_n = smallest j with u_n < sum_{k <= j} P[X_{n-1}, k], where
    u_n ~ Uniform[0, 1); this makes P(X_n = j | X_{n-1} = i) = P[i, j].
    Given the same ``u`` the result is always the same, which is what the
    book's exercise checks rely on.

    Args:
        P: transition matrix, shape (S, S).
        x0: initial states, int array of shape (C,) (one per chain).
        u: numbers in [0, 1), shape (n_steps, C); row n - 1 drives the
            step from X_{n-1} to X_n.

    Returns:
        Int array of shape (n_steps + 1, C); row n holds X_n of every
        chain (row 0 is ``x0``).

    Book: chapter 1, eq. (eq-transition-matrix)
    """
    P = validate_transition_matrix(P)
    x0 = np.asarray(x0)
    if x0.ndim != 1 or not np.issubdtype(x0.dtype, np.integer):
        raise TypeError(f"x0 must be a 1-D integer array of states; got "
                        f"dtype {x0.dtype} and shape {x0.shape}")
    if np.any((x0 < 0) | (x0 >= P.shape[0])):
        raise ValueError(f"states in x0 must lie in 0..{P.shape[0] - 1}")
    u = as_float_array(u, "u", ndim=2)
    if u.shape[1] != x0.shape[0]:
        raise ValueError(f"u must have shape (n_steps, C) with C = "
                         f"len(x0) = {x0.shape[0]}; got shape {u.shape}")
    if np.any((u < 0) | (u >= 1)):
        raise ValueError("u must lie in [0, 1)")
    cdf = _cumulative(P)
    paths = np.empty((u.shape[0] + 1, x0.shape[0]), dtype=np.int64)
    paths[0] = x0
    for n in range(1, u.shape[0] + 1):
        paths[n] = _inverse_cdf(cdf[paths[n - 1]], u[n - 1])
    return paths


def simulate(P, start, n_steps: int, rng, n_chains: int = 1) -> np.ndarray:
    """Simulate ``n_chains`` independent copies of the chain, vectorised.

    X_0 = start (an int state) or X_0 ~ start (a distribution), then
    X_n ~ P[X_{n-1}, :] for n = 1, ..., n_steps.

    Args:
        P: transition matrix, shape (S, S).
        start: an int state (every chain starts there) or a probability
            vector of shape (S,) (each chain draws X_0 from it).
        n_steps: number of steps, >= 0.
        rng: ``np.random.Generator`` or int seed.
        n_chains: number of independent chains C, >= 1.

    Returns:
        Int array of shape (n_steps + 1, C); ``paths[n]`` is X_n.

    Book: chapter 1, eq. (eq-transition-matrix)
    """
    P = validate_transition_matrix(P)
    n_steps = as_int(n_steps, "n_steps", minimum=0)
    n_chains = as_int(n_chains, "n_chains", minimum=1)
    rng = as_rng(rng)
    S = P.shape[0]
    if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        start = as_int(start, "start", minimum=0, maximum=S - 1)
        x0 = np.full(n_chains, start, dtype=np.int64)
    else:
        p0 = validate_distribution(start, S, "start")
        cdf0 = np.repeat(_cumulative(p0[None, :]), n_chains, axis=0)
        x0 = _inverse_cdf(cdf0, rng.random(n_chains))
    return simulate_from_uniforms(P, x0, rng.random((n_steps, n_chains)))


# ---------------------------------------------------------------------------
# Structure: classes, irreducibility, period
# ---------------------------------------------------------------------------

def _reachable(P: np.ndarray) -> np.ndarray:
    """R[i, j] is True iff j can be reached from i in zero or more steps."""
    S = P.shape[0]
    R = (P > 0) | np.eye(S, dtype=bool)
    while True:
        Ri = R.astype(np.int64)
        R_next = (Ri @ Ri) > 0
        if np.array_equal(R_next, R):
            return R
        R = R_next


def communicating_classes(P) -> list[tuple[list[int], bool]]:
    """Split the states into communicating classes and mark closed ones.

    i and j communicate if each can be reached from the other. A class is
    closed if the chain can never leave it.

    Args:
        P: transition matrix, shape (S, S).

    Returns:
        List of ``(states, closed)`` pairs, in order of smallest state.

    Book: chapter 1, eq. (eq-convergence)
    """
    P = validate_transition_matrix(P)
    R = _reachable(P)
    both = R & R.T
    seen = np.zeros(P.shape[0], dtype=bool)
    classes = []
    for i in range(P.shape[0]):
        if seen[i]:
            continue
        members = np.flatnonzero(both[i])
        seen[members] = True
        outside = np.ones(P.shape[0], dtype=bool)
        outside[members] = False
        closed = not np.any(P[np.ix_(members, outside)] > 0)
        classes.append(([int(k) for k in members], bool(closed)))
    return classes


def is_irreducible(P) -> bool:
    """Return True if every state can be reached from every other state.

    Irreducible: for all i, j there is n >= 0 with (P^n)[i, j] > 0.

    Args:
        P: transition matrix, shape (S, S).

    Book: chapter 1, eq. (eq-convergence)
    """
    P = validate_transition_matrix(P)
    return bool(np.all(_reachable(P)))


def period(P) -> int:
    """Return the period of an irreducible chain.

    d = gcd{n >= 1 : (P^n)[i, i] > 0}, the same for every state i of an
    irreducible chain. It is computed from breadth-first levels L(i) of
    the transition graph: d = gcd over edges i -> j of L(i) + 1 - L(j).

    Args:
        P: transition matrix of an irreducible chain, shape (S, S).

    Returns:
        The period d >= 1 (d = 1: aperiodic).

    Raises:
        ValueError: if the chain is not irreducible (the period is then a
            property of each class, not of the chain).

    Book: chapter 1, eq. (eq-convergence)
    """
    P = validate_transition_matrix(P)
    if not is_irreducible(P):
        raise ValueError(
            "period(P) needs an irreducible chain (every state reachable "
            "from every other); this chain has classes "
            f"{[c for c, _ in communicating_classes(P)]}")
    S = P.shape[0]
    level = np.full(S, -1)
    level[0] = 0
    frontier = [0]
    while frontier:
        nxt = []
        for i in frontier:
            for j in np.flatnonzero(P[i] > 0):
                if level[j] < 0:
                    level[j] = level[i] + 1
                    nxt.append(int(j))
        frontier = nxt
    d = 0
    for i, j in np.argwhere(P > 0):
        d = math.gcd(d, int(level[i] + 1 - level[j]))
    return int(d)


def is_aperiodic(P) -> bool:
    """Return True if the irreducible chain has period 1.

    Args:
        P: transition matrix of an irreducible chain, shape (S, S).

    Raises:
        ValueError: if the chain is not irreducible (see :func:`period`).

    Book: chapter 1, eq. (eq-convergence)
    """
    return period(P) == 1


# ---------------------------------------------------------------------------
# Stationarity, detailed balance, time reversal
# ---------------------------------------------------------------------------

def stationary_distribution(P) -> np.ndarray:
    """Return the unique stationary distribution pi, with pi P = pi.

    Solves the linear system pi (P - I) = 0, sum_i pi(i) = 1. The solution
    is unique exactly when the chain has one closed communicating class
    (in particular when it is irreducible, periodic or not); states
    outside that class get pi(i) = 0.

    Args:
        P: transition matrix, shape (S, S).

    Returns:
        Array of shape (S,).

    Raises:
        ValueError: if the chain has several closed classes: then every
            mixture of their stationary distributions is stationary and
            there is no unique answer.

    Book: chapter 1, eq. (eq-stationary)
    """
    P = validate_transition_matrix(P)
    closed = [c for c, is_closed in communicating_classes(P) if is_closed]
    if len(closed) > 1:
        raise ValueError(
            "the stationary distribution is not unique: the chain has "
            f"{len(closed)} closed classes {closed}, and any mixture of "
            "their stationary distributions is stationary. Study each "
            "closed class as a chain of its own.")
    S = P.shape[0]
    A = np.vstack([P.T - np.eye(S), np.ones((1, S))])
    b = np.zeros(S + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(A, b, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _positive_distribution(pi, S: int, name: str) -> np.ndarray:
    pi = validate_distribution(pi, S, name)
    if np.any(pi <= 0):
        i = int(np.flatnonzero(pi <= 0)[0])
        raise ValueError(
            f"{name} must be > 0 on every state to condition on it; "
            f"{name}[{i}] = {pi[i]}. Restrict the chain to the states "
            f"with positive probability first.")
    return pi


def satisfies_detailed_balance(P, pi=None, atol: float = 1e-10) -> bool:
    """Return True if pi(i) P[i, j] = pi(j) P[j, i] for all states i, j.

    Detailed balance says that, in equilibrium, the probability flow from
    i to j equals the flow from j to i; it implies pi P = pi.

    Args:
        P: transition matrix, shape (S, S).
        pi: distribution of shape (S,); default: the stationary
            distribution of P.
        atol: absolute tolerance on each flow pi(i) P[i, j].

    Book: chapter 1, eq. (eq-detailed-balance)
    """
    P = validate_transition_matrix(P)
    if pi is None:
        pi = stationary_distribution(P)
    pi = validate_distribution(pi, P.shape[0], "pi")
    flow = pi[:, None] * P
    return bool(np.allclose(flow, flow.T, rtol=0.0, atol=atol))


def reverse_chain(P, pi=None) -> np.ndarray:
    """Return the time-reversed transition matrix of a stationary chain.

    For a chain started in its stationary distribution pi, Bayes' rule
    gives  P_hat[j, i] = P(X_{n-1} = i | X_n = j) = pi(i) P[i, j] / pi(j),
    the same for every n. The chain is reversible iff P_hat = P.

    Args:
        P: transition matrix, shape (S, S).
        pi: stationary distribution of P, shape (S,), positive everywhere;
            default: :func:`stationary_distribution` of P.

    Returns:
        The reversed transition matrix P_hat, shape (S, S).

    Raises:
        ValueError: if pi is not stationary for P (then the reversal
            depends on n: use :func:`reverse_chain_step`) or has a zero.

    Book: chapter 1, eq. (eq-reverse-chain)
    """
    P = validate_transition_matrix(P)
    if pi is None:
        pi = stationary_distribution(P)
    pi = _positive_distribution(pi, P.shape[0], "pi")
    err = float(np.max(np.abs(pi @ P - pi)))
    if err > SUM_ATOL:
        raise ValueError(
            "pi must be stationary for P (pi P = pi) for the reversed "
            f"chain to be time-homogeneous; max |pi P - pi| = {err:.3g}. "
            "For a chain that starts elsewhere use reverse_chain_step.")
    return (pi[:, None] * P).T / pi[:, None]


def reverse_chain_step(P, p0, n: int) -> np.ndarray:
    """Return the reversed transition matrix from step n to step n - 1.

    For a chain started from p_0 (not necessarily stationary),
    P_hat_n[j, i] = P(X_{n-1} = i | X_n = j) = p_{n-1}(i) P[i, j] / p_n(j)
    with p_n = p_0 P^n; it changes with n -- just like the reverse process
    of a diffusion model.

    Args:
        P: transition matrix, shape (S, S).
        p0: distribution of X_0, shape (S,).
        n: the later time, n >= 1.

    Returns:
        Array of shape (S, S); row j is the law of X_{n-1} given X_n = j.

    Raises:
        ValueError: if some state has p_n(j) = 0 (conditioning on an
            impossible event is undefined).

    Book: chapter 1, eq. (eq-reverse-step)
    """
    P = validate_transition_matrix(P)
    n = as_int(n, "n", minimum=1)
    p_prev = n_step_distribution(P, p0, n - 1)
    p_n = p_prev @ P
    if np.any(p_n <= 0):
        j = int(np.flatnonzero(p_n <= 0)[0])
        raise ValueError(
            f"p_n(j) = 0 for state j = {j} at n = {n}: the reversed "
            "step from an impossible state is undefined")
    return (p_prev[:, None] * P).T / p_n[:, None]


# ---------------------------------------------------------------------------
# The Gaussian chain x_t = sqrt(1 - beta) x_{t-1} + sqrt(beta) eps_t
# ---------------------------------------------------------------------------

def gaussian_chain_step(x_prev, beta: float, noise) -> np.ndarray:
    """One step of the Gaussian chain, with the noise given explicitly.

    x_t = sqrt(1 - beta) x_{t-1} + sqrt(beta) eps,  eps ~ N(0, I):
    beta is the variance of the added noise, so the noise is scaled by
    sqrt(beta).

    Args:
        x_prev: x_{t-1}, shape (N, D) (or (N,), read as (N, 1)).
        beta: noise variance, in (0, 1).
        noise: eps, same shape as ``x_prev``.

    Returns:
        x_t, shape (N, D).

    Book: chapter 1, eq. (eq-gaussian-chain)
    """
    x_prev = as_data(x_prev, "x_prev")
    beta = as_probability(beta, "beta")
    noise = as_data(noise, "noise")
    if noise.shape != x_prev.shape:
        raise ValueError(f"noise must have the shape of x_prev "
                         f"{x_prev.shape}; got {noise.shape}")
    return np.sqrt(1.0 - beta) * x_prev + np.sqrt(beta) * noise


def gaussian_chain_moments(mean0, var0, beta: float, n_steps: int
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance of x_t for t = 0, ..., n_steps.

    Recursions  m_t = sqrt(1 - beta) m_{t-1},
                v_t = (1 - beta) v_{t-1} + beta,
    with solution m_t = (1 - beta)^(t/2) m_0 and
    v_t = 1 + (1 - beta)^t (v_0 - 1). They hold for any distribution of
    x_0 with mean m_0 and variance v_0.

    Args:
        mean0: m_0, a real number.
        var0: v_0 >= 0.
        beta: noise variance, in (0, 1).
        n_steps: last time T >= 0.

    Returns:
        (means, variances), each of shape (n_steps + 1,) and indexed by t.

    Book: chapter 1, eq. (eq-gaussian-moments)
    """
    mean0 = float(as_float_array(mean0, "mean0", ndim=0))
    var0 = float(as_float_array(var0, "var0", ndim=0))
    if var0 < 0:
        raise ValueError(f"var0 is a variance and must be >= 0; got {var0}")
    beta = as_probability(beta, "beta")
    n_steps = as_int(n_steps, "n_steps", minimum=0)
    means = np.empty(n_steps + 1)
    variances = np.empty(n_steps + 1)
    means[0], variances[0] = mean0, var0
    for t in range(1, n_steps + 1):
        means[t] = np.sqrt(1.0 - beta) * means[t - 1]
        variances[t] = (1.0 - beta) * variances[t - 1] + beta
    return means, variances


def simulate_gaussian_chain(x0, beta: float, n_steps: int, rng
                            ) -> np.ndarray:
    """Simulate the Gaussian chain from x_0 for n_steps steps.

    x_t = sqrt(1 - beta) x_{t-1} + sqrt(beta) eps_t with fresh
    eps_t ~ N(0, I) at every step (drawn from ``rng``).

    Args:
        x0: starting points, shape (N, D) (or (N,), read as (N, 1)).
        beta: noise variance, in (0, 1).
        n_steps: number of steps T >= 0.
        rng: ``np.random.Generator`` or int seed.

    Returns:
        Array of shape (n_steps + 1, N, D); entry t is x_t.

    Book: chapter 1, eq. (eq-gaussian-chain)
    """
    x0 = as_data(x0, "x0")
    beta = as_probability(beta, "beta")
    n_steps = as_int(n_steps, "n_steps", minimum=0)
    rng = as_rng(rng)
    path = np.empty((n_steps + 1, *x0.shape))
    path[0] = x0
    for t in range(1, n_steps + 1):
        noise = rng.standard_normal(x0.shape)
        path[t] = gaussian_chain_step(path[t - 1], beta, noise)
    return path
