"""Discrete diffusion: categorical chains, masking, and their bounds.

Conventions (chapter 12 of the book, the same as chapter 1's
:mod:`diffusion_edu.markov`):

* Tokens are the states ``0, 1, ..., K - 1`` of a vocabulary of size K.
  The *uniform* process has ``S = K`` states; the *absorbing* (masked)
  process has ``S = K + 1``: the extra state ``K`` is [MASK].
* A transition matrix is **row-stochastic**,
  ``Q_t[i, j] = q(x_t = j | x_{t-1} = i)``, and a distribution is a
  **row vector**: one step maps ``p`` to ``p @ Q_t``.
* Discrete time t = 1, ..., T. Per-step arrays have length T + 1 and are
  indexed by the book's t: ``alpha_bar[0] = 1``, ``beta[0] = 0``,
  ``Q[0] = Qbar[0] = I``.
* ``Qbar[t] = Q[1] @ Q[2] @ ... @ Q[t]``: a product, in this order.
* Sequences are int arrays of shape (N, L), batch first; the forward
  process noises every position independently.
* An *x_0-predictor* is a function ``fn(xt, t) -> probs`` taking
  sequences ``xt`` of shape (M, L) and an int t and returning
  ``p(x_0^l = a | x_t)`` of shape (M, L, K). A *masked conditional*
  ``cond_fn(xt) -> probs`` is the same without t (for the absorbing
  process the exact one does not depend on t).
* Log-likelihoods and bounds are in nats.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

from ._validate import as_float_array, as_int, as_rng
from .markov import validate_distribution, validate_transition_matrix

__all__ = [
    "uniform_transition",
    "absorbing_transition",
    "keep_schedule",
    "betas_from_alpha_bar",
    "DiscreteProcess",
    "discrete_process",
    "cumulative_product",
    "qbar_closed_form",
    "q_xt_probs",
    "q_sample",
    "posterior_probs",
    "reverse_probs",
    "categorical_kl",
    "all_sequences",
    "SequenceData",
    "swiss_roll_pairs",
    "markov_sequences",
    "total_correlation",
    "ideal_x0_marginals",
    "DiscreteElboTerms",
    "d3pm_terms",
    "reverse_transition_matrix",
    "reverse_output_distribution",
    "sample_reverse",
    "alpha_continuous",
    "alpha_prime",
    "ideal_conditionals",
    "masked_nelbo",
    "masked_nelbo_quadrature",
    "masked_nelbo_monte_carlo",
    "any_order_nll",
]

Kind = Literal["uniform", "absorbing"]
KINDS = ("uniform", "absorbing")


# ---------------------------------------------------------------------------
# Transition matrices and schedules
# ---------------------------------------------------------------------------

def _as_kind(kind) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be 'uniform' or 'absorbing'; got "
                         f"{kind!r}")
    return kind


def _as_jump(beta, name: str = "beta") -> float:
    beta = float(as_float_array(beta, name, ndim=0))
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"{name} is a jump probability and must lie in "
                         f"[0, 1]; got {beta}")
    return beta


def uniform_transition(beta: float, K: int) -> np.ndarray:
    """One step of the uniform process: resample the token w.p. beta.

    Q_t = (1 - beta_t) I + (beta_t / K) 1 1^T: with probability
    1 - beta_t the token stays, otherwise it is redrawn uniformly from
    the K tokens (possibly itself).

    Args:
        beta: the jump probability beta_t, in [0, 1].
        K: vocabulary size, >= 2.

    Returns:
        Row-stochastic array of shape (K, K).

    Book: chapter 12, eq. (eq-12-transition-uniform)
    """
    beta = _as_jump(beta)
    K = as_int(K, "K", minimum=2)
    return (1.0 - beta) * np.eye(K) + beta / K * np.ones((K, K))


def absorbing_transition(beta: float, K: int) -> np.ndarray:
    """One step of the absorbing process: mask the token w.p. beta.

    Q_t[i, i] = 1 - beta_t and Q_t[i, K] = beta_t for a token i < K;
    the [MASK] state K stays: Q_t[K, K] = 1.

    Args:
        beta: the masking probability beta_t, in [0, 1].
        K: vocabulary size (tokens 0..K-1), >= 1.

    Returns:
        Row-stochastic array of shape (K + 1, K + 1); the last state is
        [MASK].

    Book: chapter 12, eq. (eq-12-transition-absorbing)
    """
    beta = _as_jump(beta)
    K = as_int(K, "K", minimum=1)
    Q = (1.0 - beta) * np.eye(K + 1)
    Q[:, K] += beta
    Q[K, K] = 1.0
    return Q


def keep_schedule(T: int, kind: Literal["linear", "cosine"] = "linear"
                  ) -> np.ndarray:
    """Keep probabilities alpha_bar_t for t = 0..T, from 1 down to 0.

    linear: alpha_bar_t = 1 - t/T (for the absorbing process this is
    the schedule beta_t = 1/(T - t + 1) of Austin et al. 2021);
    cosine: alpha_bar_t = cos(pi t / (2T)).

    Args:
        T: number of steps, >= 1.
        kind: ``"linear"`` or ``"cosine"``.

    Returns:
        Array of shape (T + 1,), alpha_bar[0] = 1, alpha_bar[T] = 0.

    Book: chapter 12, eq. (eq-12-closed-form-absorbing)
    """
    T = as_int(T, "T", minimum=1)
    alpha_bar = alpha_continuous(np.arange(T + 1) / T, kind)
    alpha_bar[T] = 0.0          # exactly (cos(pi/2) is 6e-17 in floats)
    return alpha_bar


def betas_from_alpha_bar(alpha_bar) -> np.ndarray:
    """Per-step jump probabilities from cumulative keep probabilities.

    beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, so that
    alpha_bar_t = prod_{s<=t} (1 - beta_s); beta_0 = 0.

    Args:
        alpha_bar: shape (T + 1,), alpha_bar[0] = 1, non-increasing,
            entries in [0, 1], alpha_bar_{t-1} > 0 for t <= T.

    Returns:
        Array of shape (T + 1,).

    Book: chapter 12, eq. (eq-12-closed-form-uniform)
    """
    ab = _validate_alpha_bar(alpha_bar)
    beta = np.zeros_like(ab)
    beta[1:] = 1.0 - ab[1:] / ab[:-1]
    return np.clip(beta, 0.0, 1.0)


def _validate_alpha_bar(alpha_bar) -> np.ndarray:
    ab = as_float_array(alpha_bar, "alpha_bar", ndim=1)
    if ab.shape[0] < 2:
        raise ValueError("alpha_bar must have length T + 1 >= 2 "
                         f"(indexed by t = 0..T); got length {ab.shape[0]}")
    if abs(ab[0] - 1.0) > 1e-12:
        raise ValueError(f"alpha_bar[0] must be 1 (t = 0 is the data); "
                         f"got {ab[0]}")
    if np.any((ab < 0) | (ab > 1)):
        raise ValueError("alpha_bar holds keep probabilities and must "
                         "lie in [0, 1]")
    if np.any(np.diff(ab) > 1e-12):
        t = int(np.flatnonzero(np.diff(ab) > 1e-12)[0]) + 1
        raise ValueError(f"alpha_bar must be non-increasing in t; "
                         f"alpha_bar[{t}] = {ab[t]} > alpha_bar[{t - 1}]")
    if np.any(ab[:-1] <= 0):
        t = int(np.flatnonzero(ab[:-1] <= 0)[0])
        raise ValueError(f"alpha_bar may reach 0 only at t = T; "
                         f"alpha_bar[{t}] = 0 with T = {ab.shape[0] - 1}")
    return ab


def cumulative_product(Q) -> np.ndarray:
    """Cumulative transition matrices Qbar_t = Q_1 Q_2 ... Q_t, in order.

    q(x_t | x_0) = e_{x_0} Qbar_t (Chapman-Kolmogorov for a chain whose
    matrix changes with t): Qbar_t = Qbar_{t-1} Q_t, Qbar_0 = I. When
    the Q_t do not commute the order matters.

    Args:
        Q: array of shape (T + 1, S, S); Q[t] for t >= 1 is the
            transition matrix of step t (Q[0] is ignored: the identity).

    Returns:
        Array of shape (T + 1, S, S); entry t is Qbar_t.

    Book: chapter 12, eq. (eq-12-qbar)
    """
    Q = as_float_array(Q, "Q", ndim=3)
    if Q.shape[1] != Q.shape[2] or Q.shape[0] < 1:
        raise ValueError(f"Q must have shape (T + 1, S, S); got {Q.shape}")
    out = np.empty_like(Q)
    out[0] = np.eye(Q.shape[1])
    for t in range(1, Q.shape[0]):
        out[t] = out[t - 1] @ validate_transition_matrix(Q[t], f"Q[{t}]")
    return out


def qbar_closed_form(kind: Kind, K: int, alpha_bar_t: float) -> np.ndarray:
    """Closed form of Qbar_t from the keep probability alpha_bar_t.

    uniform:   Qbar_t = alpha_bar_t I + (1 - alpha_bar_t)/K 1 1^T;
    absorbing: keep the token w.p. alpha_bar_t, else [MASK]
               (Qbar_t[i, i] = alpha_bar_t, Qbar_t[i, K] = 1 - alpha_bar_t).

    Args:
        kind: ``"uniform"`` or ``"absorbing"``.
        K: vocabulary size.
        alpha_bar_t: the product prod_{s<=t} (1 - beta_s), in [0, 1].

    Returns:
        Array of shape (S, S).

    Book: chapter 12, eqs. (eq-12-closed-form-uniform) and
    (eq-12-closed-form-absorbing)
    """
    kind = _as_kind(kind)
    ab = _as_jump(alpha_bar_t, "alpha_bar_t")
    if kind == "uniform":
        return uniform_transition(1.0 - ab, K)
    return absorbing_transition(1.0 - ab, K)


@dataclass(frozen=True)
class DiscreteProcess:
    """A categorical forward process: kind, vocabulary and schedule.

    Build it with :func:`discrete_process`. ``Q[t]`` and ``Qbar[t]`` are
    indexed by the book's t; ``Qbar`` is the ordered product of the
    ``Q``. ``mask`` is the index K of [MASK] (absorbing) or None.

    Book: chapter 12, eq. (eq-12-qbar)
    """

    kind: str
    K: int
    alpha_bar: np.ndarray
    beta: np.ndarray = field(repr=False)
    Q: np.ndarray = field(repr=False)
    Qbar: np.ndarray = field(repr=False)

    @property
    def T(self) -> int:
        return self.alpha_bar.shape[0] - 1

    @property
    def S(self) -> int:
        return self.Q.shape[1]

    @property
    def mask(self) -> int | None:
        return self.K if self.kind == "absorbing" else None

    @property
    def stationary(self) -> np.ndarray:
        """The limit law: uniform over K tokens, or all mass on [MASK]."""
        if self.kind == "uniform":
            return np.full(self.K, 1.0 / self.K)
        out = np.zeros(self.K + 1)
        out[self.K] = 1.0
        return out


def discrete_process(kind: Kind, K: int, alpha_bar) -> DiscreteProcess:
    """Build the uniform or absorbing process for a keep schedule.

    beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}; Q[t] from
    :func:`uniform_transition` or :func:`absorbing_transition`;
    Qbar[t] = Q[1] @ ... @ Q[t].

    Args:
        kind: ``"uniform"`` or ``"absorbing"``.
        K: vocabulary size (>= 2 for uniform, >= 1 for absorbing).
        alpha_bar: keep probabilities, shape (T + 1,), from
            :func:`keep_schedule` or your own.

    Returns:
        A :class:`DiscreteProcess`.

    Book: chapter 12, eq. (eq-12-qbar)
    """
    kind = _as_kind(kind)
    ab = _validate_alpha_bar(alpha_bar)
    beta = betas_from_alpha_bar(ab)
    make = uniform_transition if kind == "uniform" else absorbing_transition
    S = make(0.0, K).shape[0]
    Q = np.empty((ab.shape[0], S, S))
    Q[0] = np.eye(S)
    for t in range(1, ab.shape[0]):
        Q[t] = make(beta[t], K)
    return DiscreteProcess(kind, int(K), ab, beta, Q, cumulative_product(Q))


# ---------------------------------------------------------------------------
# Forward marginals, posterior, reverse step
# ---------------------------------------------------------------------------

def _as_tokens(x, name: str, n_states: int) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must hold integer tokens; got dtype "
                        f"{x.dtype}")
    if x.size and (x.min() < 0 or x.max() >= n_states):
        raise ValueError(f"tokens in {name} must lie in 0..{n_states - 1}; "
                         f"found {int(x.min())}..{int(x.max())}")
    return x.astype(np.int64)


def _as_t(proc: DiscreteProcess, t, minimum: int = 0) -> int:
    return as_int(t, "t", minimum=minimum, maximum=proc.T)


def _check_process(proc) -> DiscreteProcess:
    if not isinstance(proc, DiscreteProcess):
        raise TypeError("proc must be a DiscreteProcess (build it with "
                        f"discrete_process); got {type(proc).__name__}")
    return proc


def q_xt_probs(proc: DiscreteProcess, x0, t: int) -> np.ndarray:
    """The law of x_t given x_0: the row e_{x_0} Qbar_t.

    Args:
        proc: the process.
        x0: int tokens in 0..K-1, any shape.
        t: time, 0 <= t <= T.

    Returns:
        Array of shape ``x0.shape + (S,)``.

    Book: chapter 12, eq. (eq-12-qbar)
    """
    proc = _check_process(proc)
    t = _as_t(proc, t)
    x0 = _as_tokens(x0, "x0", proc.K)
    return proc.Qbar[t][x0]


def q_sample(proc: DiscreteProcess, x0, t: int, rng) -> np.ndarray:
    """Draw x_t ~ q(x_t | x_0) in one jump, independently per entry.

    Args:
        proc: the process.
        x0: int tokens in 0..K-1, any shape.
        t: time, 0 <= t <= T.
        rng: ``np.random.Generator`` or int seed.

    Returns:
        Int array of the shape of ``x0``, states in 0..S-1.

    Book: chapter 12, eq. (eq-12-qbar)
    """
    rng = as_rng(rng)
    probs = q_xt_probs(proc, x0, t)
    return _draw(probs, rng)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of the last axis (inverse CDF)."""
    cdf = np.cumsum(probs, axis=-1)
    cdf /= cdf[..., -1:]
    u = rng.random(probs.shape[:-1])
    out = np.sum(cdf <= u[..., None], axis=-1)
    return np.minimum(out, probs.shape[-1] - 1).astype(np.int64)


def posterior_probs(proc: DiscreteProcess, xt, x0, t: int) -> np.ndarray:
    """The posterior q(x_{t-1} | x_t, x_0) by Bayes' rule.

    q(x_{t-1} = j | x_t, x_0) = Q_t[j, x_t] Qbar_{t-1}[x_0, j]
    / Qbar_t[x_0, x_t]: the column x_t of Q_t times the row x_0 of
    Qbar_{t-1}, elementwise, normalised; at t = 1 a point mass on x_0.

    Args:
        proc: the process.
        xt: int states in 0..S-1; x0: int tokens in 0..K-1; the two
            broadcast against each other.
        t: time, 1 <= t <= T.

    Returns:
        Array of shape ``broadcast(xt, x0).shape + (S,)``.

    Raises:
        ValueError: if q(x_t | x_0) = 0 for some pair (then x_t cannot
            come from x_0 and the posterior is undefined).

    Book: chapter 12, eq. (eq-12-posterior)
    """
    proc = _check_process(proc)
    t = _as_t(proc, t, minimum=1)
    xt = _as_tokens(xt, "xt", proc.S)
    x0 = _as_tokens(x0, "x0", proc.K)
    xt, x0 = np.broadcast_arrays(xt, x0)
    num = proc.Q[t][:, xt].transpose(*range(1, xt.ndim + 1), 0)
    num = num * proc.Qbar[t - 1][x0]
    den = proc.Qbar[t][x0, xt]
    if np.any(den <= 0):
        raise ValueError(
            "q(x_t | x_0) = 0 for some pair (x_t, x_0): x_t cannot come "
            "from x_0 (e.g. an unmasked x_t different from x_0 in the "
            "absorbing process), so the posterior is undefined")
    return num / den[..., None]


def reverse_probs(proc: DiscreteProcess, xt, t: int, x0_probs
                  ) -> np.ndarray:
    """The reverse step from a prediction of x_0 (mixture of posteriors).

    p(x_{t-1} | x_t) = sum_a q(x_{t-1} | x_t, x_0 = a) p(x_0 = a | x_t).
    Predicted mass on tokens a that cannot produce x_t (q(x_t | a) = 0,
    e.g. a != x_t for an unmasked x_t of the absorbing process) is
    removed and the rest renormalised, so an unmasked token is kept.

    Args:
        proc: the process.
        xt: int states in 0..S-1, shape B.
        t: time, 1 <= t <= T.
        x0_probs: p(x_0 | x_t), shape B + (K,), rows summing to 1.

    Returns:
        Array of shape B + (S,).

    Book: chapter 12, eq. (eq-12-reverse-x0)
    """
    proc = _check_process(proc)
    t = _as_t(proc, t, minimum=1)
    xt = _as_tokens(xt, "xt", proc.S)
    w = as_float_array(x0_probs, "x0_probs")
    if w.shape != xt.shape + (proc.K,):
        raise ValueError(f"x0_probs must have shape xt.shape + (K,) = "
                         f"{xt.shape + (proc.K,)}; got {w.shape}")
    if np.any(w < 0) or np.any(np.abs(w.sum(-1) - 1) > 1e-6):
        raise ValueError("x0_probs must hold probabilities over the K "
                         "tokens (entries >= 0, summing to 1 on the last "
                         "axis)")
    possible = proc.Qbar[t][:proc.K][:, xt]            # (K,) + B
    possible = np.moveaxis(possible, 0, -1) > 0        # B + (K,)
    reachable = possible.any(-1, keepdims=True)
    # An x_t that no token can produce at time t never occurs; give it
    # uniform weights (so that nothing is divided by 0)...
    w = np.where(possible, w, 0.0)
    w = np.where(reachable, w, 1.0 / proc.K)
    total = w.sum(-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("x0_probs puts all its mass on tokens that "
                         "cannot produce x_t (for the absorbing process "
                         "an unmasked x_t = j needs p(x_0 = j | x_t) > 0)")
    w = w / total
    # table[a, j, :] = q(x_{t-1} | x_t = j, x_0 = a) (zero if impossible)
    table = _posterior_table(proc, t)
    post = table[:, xt]                                # (K,) + B + (S,)
    out = np.einsum("...a,a...s->...s", w, post)
    # ...and a point mass on itself (it has probability 0 anyway).
    return np.where(reachable, out, _onehot(xt, proc.S))


def _posterior_table(proc: DiscreteProcess, t: int) -> np.ndarray:
    """table[a, j, :] = q(x_{t-1} | x_t = j, x_0 = a), 0 where undefined."""
    K = proc.K
    num = proc.Qbar[t - 1][:K, None, :] * proc.Q[t].T[None, :, :]
    den = proc.Qbar[t][:K, :, None]                    # (K, S, 1)
    safe = np.where(den > 0, den, 1.0)
    return np.where(den > 0, num / safe, 0.0)


def categorical_kl(p, q, axis: int = -1) -> np.ndarray:
    """KL(p || q) = sum_j p_j log(p_j / q_j) between categorical laws.

    Terms with p_j = 0 contribute 0; p_j > 0 with q_j = 0 gives +inf.

    Args:
        p, q: probabilities, broadcastable, summing to 1 along ``axis``.
        axis: the axis of the categories.

    Returns:
        Array of KLs (nats), the broadcast shape without ``axis``.

    Raises:
        ValueError: negative entries, or p or q not summing to 1 (within
            1e-6) along ``axis``.

    Book: chapter 12, eq. (eq-12-elbo-terms)
    """
    p = as_float_array(p, "p")
    q = as_float_array(q, "q")
    if np.any(p < 0) or np.any(q < 0):
        raise ValueError("p and q must hold probabilities (entries >= 0)")
    for name, arr in (("p", p), ("q", q)):
        sums = arr.sum(axis=axis)
        if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
            worst = float(np.ravel(sums)[np.argmax(np.abs(np.ravel(sums)
                                                          - 1.0))])
            raise ValueError(
                f"{name} must sum to 1 along axis {axis} (a probability "
                f"distribution); found a sum of {worst:.6g}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=axis)


# ---------------------------------------------------------------------------
# Toy sequences with an exact joint law
# ---------------------------------------------------------------------------

def all_sequences(K: int, L: int) -> np.ndarray:
    """Every sequence of length L over K tokens, lexicographic order.

    Row i is the base-K expansion of i (first position most
    significant), so a joint table of shape (K,)*L flattens onto it.

    Returns:
        Int array of shape (K**L, L).

    Book: chapter 12, eq. (eq-12-any-order)
    """
    K = as_int(K, "K", minimum=1)
    L = as_int(L, "L", minimum=1)
    if K ** L > 2_000_000:
        raise ValueError(f"K**L = {K ** L} sequences are too many to "
                         "enumerate; keep K**L <= 2e6")
    return np.array(list(itertools.product(range(K), repeat=L)),
                    dtype=np.int64).reshape(K ** L, L)


@dataclass(frozen=True)
class SequenceData:
    """A law over sequences of length L with tokens 0..K-1, known exactly.

    ``probs[i]`` is the probability of ``all_sequences(K, L)[i]``.

    Book: chapter 12, eq. (eq-12-any-order)
    """

    K: int
    L: int
    probs: np.ndarray = field(repr=False)

    def __post_init__(self):
        K = as_int(self.K, "K", minimum=1)
        L = as_int(self.L, "L", minimum=1)
        p = validate_distribution(np.ravel(self.probs), K ** L, "probs")
        object.__setattr__(self, "probs", p)

    @property
    def sequences(self) -> np.ndarray:
        return all_sequences(self.K, self.L)

    def table(self) -> np.ndarray:
        """The joint as an array of shape (K,) * L."""
        return self.probs.reshape((self.K,) * self.L)

    def index(self, x) -> np.ndarray:
        """Flat index of each row of x (N, L) in ``sequences``."""
        x = _as_tokens(x, "x", self.K)
        if x.ndim != 2 or x.shape[1] != self.L:
            raise ValueError(f"x must have shape (N, L = {self.L}); got "
                             f"{x.shape}")
        return x @ (self.K ** np.arange(self.L - 1, -1, -1))

    def log_prob(self, x) -> np.ndarray:
        """log p(x) for each row of x (N, L); -inf off the support."""
        with np.errstate(divide="ignore"):
            return np.log(self.probs[self.index(x)])

    def sample(self, n: int, rng) -> np.ndarray:
        """n independent sequences, shape (n, L)."""
        n = as_int(n, "n", minimum=1)
        rng = as_rng(rng)
        cdf = np.cumsum(self.probs)
        cdf /= cdf[-1]
        idx = np.searchsorted(cdf, rng.random(n), side="right")
        return self.sequences[np.minimum(idx, self.probs.size - 1)]

    def marginals(self) -> np.ndarray:
        """p(x^l = a), shape (L, K)."""
        tab = self.table()
        return np.stack([
            tab.sum(axis=tuple(m for m in range(self.L) if m != pos))
            for pos in range(self.L)])

    def entropy(self) -> float:
        """H(X) = -sum_x p(x) log p(x): the exact NLL in nats."""
        p = self.probs[self.probs > 0]
        return float(-(p * np.log(p)).sum())


def swiss_roll_pairs(K: int = 16, width: float = 0.5) -> SequenceData:
    """A Swiss roll drawn on a K x K grid, as a pair of tokens (L = 2).

    p(i, j) is proportional to exp(-d^2 / (2 width^2)) where d is the
    distance of the cell centre (i, j) (in cell units) from a spiral
    r = (0.12 + 0.88 (theta - 0.5 pi) / (3 pi)) (K/2 - 1), theta in
    [0.5 pi, 3.5 pi] (2000 points of the curve), centred on the grid.
    Token 1 is the column i (horizontal), token 2 the row j.

    Args:
        K: grid size = vocabulary size, >= 6.
        width: thickness of the arm, in cells (> 0).

    Returns:
        :class:`SequenceData` with L = 2.

    Book: chapter 12, section "The bound, term by term" (sec-12-elbo)
    """
    K = as_int(K, "K", minimum=6)
    width = float(as_float_array(width, "width", ndim=0))
    if width <= 0:
        raise ValueError(f"width must be > 0; got {width}")
    theta = np.linspace(0.5 * np.pi, 3.5 * np.pi, 2000)
    radius = (0.12 + 0.88 * (theta - 0.5 * np.pi) / (3.0 * np.pi)) * (
        K / 2 - 1)
    c = (K - 1) / 2
    curve = np.stack([c + radius * np.cos(theta),
                      c + radius * np.sin(theta)], axis=1)
    cells = all_sequences(K, 2).astype(float)
    d2 = ((cells[:, None, :] - curve[None]) ** 2).sum(-1).min(1)
    w = np.exp(-d2 / (2 * width ** 2))
    return SequenceData(K, 2, w / w.sum())


def markov_sequences(P, p0, L: int) -> SequenceData:
    """Sequences of a Markov chain as data (chapter 1's chains).

    p(x^1, ..., x^L) = p0(x^1) P[x^1, x^2] ... P[x^{L-1}, x^L].

    Args:
        P: transition matrix, shape (K, K).
        p0: law of the first token, shape (K,).
        L: length, >= 1.

    Returns:
        :class:`SequenceData`.

    Book: chapter 12, eq. (eq-12-any-order)
    """
    P = validate_transition_matrix(P)
    K = P.shape[0]
    p0 = validate_distribution(p0, K, "p0")
    L = as_int(L, "L", minimum=1)
    seqs = all_sequences(K, L)
    probs = p0[seqs[:, 0]].copy()
    for pos in range(1, L):
        probs *= P[seqs[:, pos - 1], seqs[:, pos]]
    return SequenceData(K, L, probs)


def _check_data(data) -> SequenceData:
    if not isinstance(data, SequenceData):
        raise TypeError("data must be a SequenceData; got "
                        f"{type(data).__name__}")
    return data


def total_correlation(data: SequenceData) -> float:
    """KL(joint || product of marginals) = sum_l H(X^l) - H(X).

    For L = 2 this is the mutual information I(X^1; X^2): the error of
    unmasking all positions in one parallel step.

    Book: chapter 12, eq. (eq-12-parallel-error)
    """
    data = _check_data(data)
    m = data.marginals()
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(m > 0, m * np.log(m), 0.0).sum()
    return float(h - data.entropy())


# ---------------------------------------------------------------------------
# Exact x_0-predictions and the D3PM bound
# ---------------------------------------------------------------------------

def _likelihood_matrix(proc: DiscreteProcess, seqs0: np.ndarray,
                       xt: np.ndarray, t: int) -> np.ndarray:
    """W[i, m] = q(x_t = xt[m] | x_0 = seqs0[i]) = prod_l Qbar_t[.,.]."""
    Qb = proc.Qbar[t]
    W = np.ones((seqs0.shape[0], xt.shape[0]))
    for pos in range(seqs0.shape[1]):
        W *= Qb[seqs0[:, pos][:, None], xt[:, pos][None, :]]
    return W


def _onehot(x: np.ndarray, n: int) -> np.ndarray:
    return (x[..., None] == np.arange(n)).astype(float)


def _marginalise(joint: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Per-position marginals of p(x_0 | x_t) from joint[i, m].

    Columns with zero evidence (an x_t the data cannot produce, which
    has probability 0 and never occurs) get the uniform law.
    """
    evidence = joint.sum(0)
    ok = evidence > 0
    post = joint / np.where(ok, evidence, 1.0)
    out = np.einsum("im,ilk->mlk", post, onehot)
    out[~ok] = 1.0 / onehot.shape[-1]
    return out


def ideal_x0_marginals(data: SequenceData, proc: DiscreteProcess
                       ) -> Callable:
    """The exact x_0-predictor p(x_0^l = a | x_t) of the data, by Bayes.

    p(x_0 | x_t) is proportional to p_data(x_0) prod_l Qbar_t[x_0^l,
    x_t^l]; the returned function sums it over all positions but l.

    Args:
        data: the data law.
        proc: the forward process (its vocabulary must be data.K).

    Returns:
        ``fn(xt, t) -> probs`` with xt of shape (M, L) (states
        0..S-1), 0 <= t <= T, probs of shape (M, L, K). An x_t that no
        data sequence can produce (it never occurs) gets the uniform
        law.

    Book: chapter 12, eq. (eq-12-reverse-x0)
    """
    data, proc = _check_data(data), _check_process(proc)
    if data.K != proc.K:
        raise ValueError(f"data has K = {data.K} tokens but the process "
                         f"has K = {proc.K}")
    seqs = data.sequences
    onehot = _onehot(seqs, data.K)                       # (N0, L, K)
    _check_enumerable(data.K ** data.L, proc.S ** data.L)
    all_xt = all_sequences(proc.S, data.L)
    tables = {}          # t -> predictions for every x_t, made on demand

    def fn(xt, t):
        t = _as_t(proc, t)
        xt = _as_tokens(xt, "xt", proc.S)
        if xt.ndim != 2 or xt.shape[1] != data.L:
            raise ValueError(f"xt must have shape (M, L = {data.L}); got "
                             f"{xt.shape}")
        if t not in tables:
            joint = data.probs[:, None] * _likelihood_matrix(
                proc, seqs, all_xt, t)
            tables[t] = _marginalise(joint, onehot)
        return tables[t][_flat_index(xt, proc.S)]

    return fn


def _check_enumerable(n_clean: int, n_noisy: int) -> None:
    if n_clean * n_noisy > 50_000_000:
        raise ValueError(
            f"exact computation needs a table of {n_clean} clean by "
            f"{n_noisy} noisy sequences; keep their product <= 5e7 "
            "(a smaller vocabulary K or length L)")


def _flat_index(x: np.ndarray, base: int) -> np.ndarray:
    """Row index of each sequence of x (M, L) in all_sequences(base, L)."""
    return x @ (base ** np.arange(x.shape[1] - 1, -1, -1))


class DiscreteElboTerms(NamedTuple):
    """The terms of -ELBO per data sequence (nats).

    prior: (N,) L_T = KL(q(x_T | x_0) || p(x_T)).
    steps: (N, T + 1), column t (2 <= t <= T) holds L_{t-1}; columns
        0 and 1 are zero.
    reconstruction: (N,) L_0 = E_{q(x_1 | x_0)}[-log p(x_0 | x_1)].

    Book: chapter 12, eq. (eq-12-elbo-terms)
    """

    prior: np.ndarray
    steps: np.ndarray
    reconstruction: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """-ELBO per sequence = L_T + sum_t L_{t-1} + L_0."""
        return self.prior + self.steps.sum(1) + self.reconstruction


def _reverse_all(proc, x0_fn, xt_all, t, L):
    """r[m, l, :] = p(x_{t-1}^l | x_t = xt_all[m]) for every state m."""
    w = np.asarray(x0_fn(xt_all, t), dtype=float)
    if w.shape != (xt_all.shape[0], L, proc.K):
        raise ValueError(f"the x0-predictor must return shape (M, L, K) "
                         f"= {(xt_all.shape[0], L, proc.K)}; got "
                         f"{w.shape}")
    return reverse_probs(proc, xt_all, t, w)


def d3pm_terms(data: SequenceData, proc: DiscreteProcess, x0_fn
               ) -> DiscreteElboTerms:
    """Exact terms of the discrete-time bound (Austin et al. 2021).

    The model: p(x_T) = stationary law at every position, and
    p(x_{t-1} | x_t) = prod_l p(x_{t-1}^l | x_t) with each factor from
    :func:`reverse_probs` and the predictor ``x0_fn``. Every expectation
    over q(x_t | x_0) is a sum over all S**L sequences x_t, and the KL
    between two laws that factorise over positions is the sum of the
    per-position KLs. Nothing is sampled.

    Args:
        data: the data law (its sequences are the x_0).
        proc: the forward process.
        x0_fn: ``fn(xt, t) -> (M, L, K)`` probabilities of x_0.

    Returns:
        :class:`DiscreteElboTerms`, rows in the order of
        ``data.sequences``.

    Book: chapter 12, eq. (eq-12-elbo-terms)
    """
    data, proc = _check_data(data), _check_process(proc)
    L, S, T = data.L, proc.S, proc.T
    seqs0 = data.sequences
    xt_all = all_sequences(S, L)
    prior = sum(categorical_kl(proc.Qbar[T][seqs0[:, pos]], proc.stationary)
                for pos in range(L))
    steps = np.zeros((seqs0.shape[0], T + 1))
    for t in range(1, T + 1):
        W = _likelihood_matrix(proc, seqs0, xt_all, t)   # (N0, M)
        r = _reverse_all(proc, x0_fn, xt_all, t, L)       # (M, L, S)
        with np.errstate(divide="ignore"):
            log_r = np.log(r)
        if t == 1:
            # L_0: -sum_l log p(x_0^l | x_1) (x_{t-1} = x_0 exactly)
            nll = np.zeros_like(W)
            for pos in range(L):
                nll -= log_r[:, pos, :][:, seqs0[:, pos]].T
            with np.errstate(invalid="ignore"):
                recon = np.where(W > 0, W * nll, 0.0).sum(1)
            continue
        table = _posterior_table(proc, t)                 # (K, S, S)
        with np.errstate(divide="ignore", invalid="ignore"):
            neg_ent = np.where(table > 0, table * np.log(table), 0.0
                               ).sum(-1)                  # (K, S)
        kl = np.zeros_like(W)
        for pos in range(L):
            post = table[seqs0[:, pos][:, None], xt_all[:, pos][None, :]]
            with np.errstate(invalid="ignore"):
                cross = np.where(post > 0, post * log_r[None, :, pos, :],
                                 0.0).sum(-1)
            kl += neg_ent[seqs0[:, pos][:, None], xt_all[:, pos][None, :]
                          ] - cross
        with np.errstate(invalid="ignore"):
            steps[:, t] = np.where(W > 0, W * kl, 0.0).sum(1)
    return DiscreteElboTerms(prior, steps, recon)


def reverse_transition_matrix(proc: DiscreteProcess, x0_fn, L: int,
                              t: int) -> np.ndarray:
    """The factorised reverse step as a matrix over all S**L sequences.

    R[m, m'] = prod_l p(x_{t-1}^l = xt'[l] | x_t = xt[m]) with rows and
    columns in the order of ``all_sequences(S, L)``.

    Returns:
        Row-stochastic array of shape (S**L, S**L).

    Book: chapter 12, eq. (eq-12-reverse-x0)
    """
    proc = _check_process(proc)
    L = as_int(L, "L", minimum=1)
    t = _as_t(proc, t, minimum=1)
    xt_all = all_sequences(proc.S, L)
    r = _reverse_all(proc, x0_fn, xt_all, t, L)
    R = np.ones((xt_all.shape[0], xt_all.shape[0]))
    for pos in range(L):
        R *= r[:, pos, :][:, xt_all[:, pos]]
    return R


def reverse_output_distribution(proc: DiscreteProcess, x0_fn, L: int
                                ) -> np.ndarray:
    """Exact law of the samples of the factorised reverse chain.

    Start from the prior (the stationary law at every position) and
    apply :func:`reverse_transition_matrix` for t = T, ..., 1.

    Returns:
        Array of shape (K**L,), in the order of ``all_sequences(K, L)``.

    Book: chapter 12, eq. (eq-12-parallel-error)
    """
    proc = _check_process(proc)
    L = as_int(L, "L", minimum=1)
    xt_all = all_sequences(proc.S, L)
    p = np.ones(xt_all.shape[0])
    for pos in range(L):
        p *= proc.stationary[xt_all[:, pos]]
    for t in range(proc.T, 0, -1):
        p = p @ reverse_transition_matrix(proc, x0_fn, L, t)
    tokens = np.all(xt_all < proc.K, axis=1)
    if not np.isclose(p[tokens].sum(), 1.0, atol=1e-9):
        raise ValueError("the reverse chain ends with [MASK] tokens left "
                         "(is alpha_bar[T] = 0 and the process absorbing?)")
    return p[tokens]


def sample_reverse(proc: DiscreteProcess, x0_fn, n: int, L: int, rng
                   ) -> np.ndarray:
    """Ancestral sampling of the factorised reverse chain.

    x_T from the prior; for t = T..1 each position draws x_{t-1}^l from
    :func:`reverse_probs` given the whole x_t, independently of the
    other positions.

    Returns:
        Int array of shape (n, L).

    Book: chapter 12, eq. (eq-12-reverse-x0)
    """
    proc = _check_process(proc)
    n = as_int(n, "n", minimum=1)
    L = as_int(L, "L", minimum=1)
    rng = as_rng(rng)
    x = _draw(np.broadcast_to(proc.stationary, (n, L, proc.S)), rng)
    for t in range(proc.T, 0, -1):
        w = np.asarray(x0_fn(x, t), dtype=float)
        x = _draw(reverse_probs(proc, x, t, w), rng)
    return x


# ---------------------------------------------------------------------------
# Masked diffusion in continuous time (MDLM / MD4)
# ---------------------------------------------------------------------------

def alpha_continuous(t, kind: Literal["linear", "cosine"] = "linear"
                     ) -> np.ndarray:
    """Keep probability alpha(t) on [0, 1]: 1 - t or cos(pi t / 2).

    Book: chapter 12, eq. (eq-12-masked-elbo)
    """
    t = as_float_array(t, "t")
    if np.any((t < 0) | (t > 1)):
        raise ValueError("t must lie in [0, 1] (0: data, 1: all masked)")
    if kind == "linear":
        return 1.0 - t
    if kind == "cosine":
        return np.cos(0.5 * np.pi * t)
    raise ValueError(f"kind must be 'linear' or 'cosine'; got {kind!r}")


def alpha_prime(t, kind: Literal["linear", "cosine"] = "linear"
                ) -> np.ndarray:
    """Derivative alpha'(t) of :func:`alpha_continuous`.

    Book: chapter 12, eq. (eq-12-masked-elbo)
    """
    t = as_float_array(t, "t")
    alpha_continuous(t, kind)
    if kind == "linear":
        return -np.ones_like(t)
    return -0.5 * np.pi * np.sin(0.5 * np.pi * t)


def ideal_conditionals(data: SequenceData) -> Callable:
    """Exact p(x_0^l = a | the unmasked tokens of x_t) (absorbing).

    Masked positions carry the token K. For the absorbing process this
    is the exact x_0-predictor at every t: q(x_t | x_0) is the same for
    every x_0 that agrees with the unmasked tokens.

    Returns:
        ``cond_fn(xt) -> probs`` of shape (M, L, K).

    Book: chapter 12, eq. (eq-12-any-order)
    """
    data = _check_data(data)
    seqs = data.sequences
    onehot = _onehot(seqs, data.K)
    _check_enumerable(data.K ** data.L, (data.K + 1) ** data.L)
    all_xt = all_sequences(data.K + 1, data.L)
    agree = np.ones((seqs.shape[0], all_xt.shape[0]), dtype=bool)
    for pos in range(data.L):
        agree &= ((seqs[:, pos][:, None] == all_xt[:, pos][None, :])
                  | (all_xt[:, pos][None, :] == data.K))
    table = _marginalise(data.probs[:, None] * agree, onehot)

    def cond_fn(xt):
        xt = _as_tokens(xt, "xt", data.K + 1)
        if xt.ndim != 2 or xt.shape[1] != data.L:
            raise ValueError(f"xt must have shape (M, L = {data.L}); got "
                             f"{xt.shape}")
        return table[_flat_index(xt, data.K + 1)]

    return cond_fn


def _cond_probs(cond_fn, xt: np.ndarray, data: SequenceData
                ) -> np.ndarray:
    """``cond_fn(xt)`` as float64, checked: shape (M, L, K), entries in
    [0, 1], every row a distribution over the K tokens."""
    M, L, K = xt.shape[0], data.L, data.K
    probs = np.asarray(cond_fn(xt), dtype=float)
    if probs.shape != (M, L, K):
        raise ValueError(f"cond_fn must return shape (M, L, K) = "
                         f"{(M, L, K)} (probabilities of the K tokens at "
                         f"each position); got {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("cond_fn must return probabilities (finite, "
                         ">= 0); got negative or non-finite values")
    sums = probs.sum(-1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-5):
        worst = float(sums.ravel()[np.argmax(np.abs(sums.ravel() - 1.0))])
        raise ValueError(
            f"cond_fn must return probabilities that sum to 1 over the K "
            f"tokens at every position (apply a softmax to logits); found "
            f"a sum of {worst:.6g}")
    return probs


def _masked_patterns(L: int) -> np.ndarray:
    """All 2**L masks (bool, shape (2**L, L)); True = masked."""
    return all_sequences(2, L).astype(bool)


def _masked_nll_by_pattern(data: SequenceData, cond_fn) -> np.ndarray:
    """c[i, p] = sum_{l masked in p} -log p(x0^l | x0 with p masked)."""
    nll = _masked_nll_single(data, cond_fn)                 # (N, P, L)
    masked = _masked_patterns(data.L)[None]                 # (1, P, L)
    return np.where(masked, nll, 0.0).sum(-1)


def masked_nelbo(data: SequenceData, cond_fn) -> np.ndarray:
    """Continuous-time masked-diffusion -ELBO per sequence, exactly.

    -ELBO(x_0) = sum over non-empty masks M of
    (|M| - 1)! (L - |M|)! / L!  sum_{l in M} -log p(x_0^l | x_0 with
    M masked). This is the integral of eq. (eq-12-masked-elbo) done in
    closed form: it does not depend on the schedule alpha(t).

    Args:
        data: the data law (x_0 runs over ``data.sequences``).
        cond_fn: ``cond_fn(xt) -> (M, L, K)`` probabilities.

    Returns:
        Array of shape (K**L,).

    Book: chapter 12, eq. (eq-12-any-order)
    """
    data = _check_data(data)
    c = _masked_nll_by_pattern(data, cond_fn)
    L = data.L
    k = _masked_patterns(L).sum(1)
    weight = np.array([0.0 if m == 0 else math.factorial(m - 1)
                       * math.factorial(L - m) / math.factorial(L)
                       for m in k])
    return c @ weight


def masked_nelbo_quadrature(data: SequenceData, cond_fn,
                            kind: Literal["linear", "cosine"] = "linear",
                            n_nodes: int = 64) -> np.ndarray:
    """The masked -ELBO as a time integral, for one schedule.

    -ELBO(x_0) = int_0^1 (-alpha'(t) / (1 - alpha(t)))
    E_{q(x_t | x_0)}[sum_{l masked} -log p(x_0^l | x_t)] dt, each
    position masked independently with probability 1 - alpha(t); the
    expectation is a sum over the 2**L masks, the integral uses
    Gauss-Legendre nodes.

    Returns:
        Array of shape (K**L,).

    Book: chapter 12, eq. (eq-12-masked-elbo)
    """
    data = _check_data(data)
    n_nodes = as_int(n_nodes, "n_nodes", minimum=1)
    c = _masked_nll_by_pattern(data, cond_fn)            # (N, P)
    k = _masked_patterns(data.L).sum(1)                  # (P,)
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    t = 0.5 * (nodes + 1.0)
    a, da = alpha_continuous(t, kind), alpha_prime(t, kind)
    u = 1.0 - a                                          # mask probability
    prob = u[:, None] ** k * (1 - u[:, None]) ** (data.L - k)  # (n, P)
    integrand = (-da / u)[:, None] * prob                # (n, P)
    return c @ (0.5 * weights @ integrand)


def masked_nelbo_monte_carlo(data: SequenceData, cond_fn, x0, rng,
                             kind: Literal["linear", "cosine"] = "linear"
                             ) -> np.ndarray:
    """One-sample estimates of the masked -ELBO, as training computes it.

    For each row of x0: draw t ~ U(0, 1), mask each position w.p.
    1 - alpha(t), return (-alpha'(t) / (1 - alpha(t))) times
    sum_{l masked} -log p(x_0^l | x_t). Unbiased for
    eq. (eq-12-masked-elbo).

    Args:
        data: the data law (for K and L).
        cond_fn: ``cond_fn(xt) -> (M, L, K)``.
        x0: sequences, shape (N, L).
        rng: generator or seed.

    Returns:
        Array of shape (N,): one estimate per row.

    Book: chapter 12, eq. (eq-12-masked-elbo)
    """
    data = _check_data(data)
    rng = as_rng(rng)
    x0 = _as_tokens(x0, "x0", data.K)
    if x0.ndim != 2 or x0.shape[1] != data.L:
        raise ValueError(f"x0 must have shape (N, L = {data.L}); got "
                         f"{x0.shape}")
    t = rng.random(x0.shape[0])
    t = np.where(t == 0.0, 0.5, t)
    u = 1.0 - alpha_continuous(t, kind)
    masked = rng.random(x0.shape) < u[:, None]
    xt = np.where(masked, data.K, x0)
    probs = _cond_probs(cond_fn, xt, data)
    p_true = np.take_along_axis(probs, x0[..., None], -1)[..., 0]
    with np.errstate(divide="ignore"):
        nll = np.where(masked, -np.log(p_true), 0.0).sum(1)
    return -alpha_prime(t, kind) / u * nll


def any_order_nll(data: SequenceData, cond_fn) -> np.ndarray:
    """Average over all L! orderings of the autoregressive NLL.

    For an ordering sigma, -log p_sigma(x_0) = sum_i -log p(x_0^{sigma(i)}
    | x_0^{sigma(1)}, ..., x_0^{sigma(i-1)}), each conditional read from
    ``cond_fn`` with the not-yet-generated positions masked.

    Returns:
        Array of shape (K**L,).

    Book: chapter 12, eq. (eq-12-any-order)
    """
    data = _check_data(data)
    L = data.L
    c = _masked_nll_single(data, cond_fn)    # (N, P, L): -log p per l
    pats = _masked_patterns(L)
    code = {tuple(p): i for i, p in enumerate(pats)}
    total = np.zeros(c.shape[0])
    orders = list(itertools.permutations(range(L)))
    for sigma in orders:
        masked = np.ones(L, dtype=bool)
        for pos in sigma:
            total += c[:, code[tuple(masked)], pos]
            masked[pos] = False
    return total / len(orders)


def _masked_nll_single(data: SequenceData, cond_fn) -> np.ndarray:
    """nll[i, p, l] = -log p(x0^l | x0 with mask p), for every position l.

    Shape (N, P, L) over the N sequences, the P = 2**L masks and the L
    positions; positions visible in p are included (callers select).
    """
    seqs = data.sequences
    pats = _masked_patterns(data.L)
    N, P = seqs.shape[0], pats.shape[0]
    xt = np.where(pats[None], data.K, seqs[:, None, :]).reshape(N * P,
                                                                data.L)
    probs = _cond_probs(cond_fn, xt, data)
    truth = np.repeat(seqs, P, axis=0)
    p_true = np.take_along_axis(probs, truth[..., None], -1)[..., 0]
    with np.errstate(divide="ignore"):
        return (-np.log(p_true)).reshape(N, P, data.L)
