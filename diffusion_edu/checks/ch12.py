"""Checks for the coding exercises of chapter 12 (discrete and masked
diffusion).

Tokens are integers, distributions over them are ROW vectors and a
transition matrix has ``Q[i, j] = q(x_t = j | x_(t-1) = i)`` (rows sum to
1). The absorbing chain has K clean tokens 0, ..., K - 1 and the [MASK]
state K, the last one. Stacks of matrices have length T + 1 and are
indexed by the book's t (``Q[0] = Qbar[0] = I``).

* :func:`check_transition_matrix` -- the uniform kernel
  (1 - beta) I + beta/K 11^T and the absorbing kernel; recognises the
  transpose, beta/K missing on the diagonal, the noise spread over the
  other K - 1 tokens, a [MASK] row that is not e_mask, ...
* :func:`check_cumulative_product` -- Qbar_t = Q_1 Q_2 ... Q_t for
  every t; recognises a sum instead of a product, the elementwise
  product, the product in the reversed order, one factor short, ...
* :func:`check_posterior_probs` -- q(x_(t-1) | x_t, x_0) proportional
  to (x_t Q_t^T) * (x_0 Qbar_(t-1)); recognises an unnormalised answer,
  a row of Q_t where its column is needed, Qbar_t instead of
  Qbar_(t-1), a normalisation over the wrong axis, ...
* :func:`check_reverse_probs` -- p(x_(t-1) | x_t) = sum_a q(x_(t-1) |
  x_t, a) p(a | x_t); recognises the x_0 probabilities plugged into the
  posterior (evidence counted twice), impossible x_0 not removed, ...
* :func:`check_masked_loss` -- the Monte Carlo estimate
  (alpha'_t / (1 - alpha_t)) sum over masked l of log p(x_0^l | x_t);
  recognises unmasked positions counted, the weight missing or with the
  wrong sign, a mean instead of a sum over positions, ...

The references are written here from the formulas, independently of
:mod:`diffusion_edu.discrete`.
"""

from __future__ import annotations

import numpy as np

from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_transition_matrix",
    "check_cumulative_product",
    "check_posterior_probs",
    "check_reverse_probs",
    "check_masked_loss",
]


def _random_stochastic(rng: np.random.Generator, S: int,
                       zeros: bool = False) -> np.ndarray:
    P = rng.random((S, S)) + 0.05
    if zeros:
        P[rng.random((S, S)) < 0.3] = 0.0
        P[np.arange(S), np.arange(S)] += 0.2
    return P / P.sum(axis=1, keepdims=True)


def _uniform(K: int, beta: float) -> np.ndarray:
    return (1.0 - beta) * np.eye(K) + beta / K * np.ones((K, K))


def _absorbing(K: int, beta: float) -> np.ndarray:
    Q = (1.0 - beta) * np.eye(K + 1)
    Q[:, K] += beta
    return Q


# ---------------------------------------------------------------------------
# Transition matrices
# ---------------------------------------------------------------------------

def _tm_reference(kind, beta, K):
    return _uniform(K, beta) if kind == "uniform" else _absorbing(K, beta)


def _tm_transpose(kind, beta, K):
    return _tm_reference(kind, beta, K).T


def _tm_no_diagonal_share(kind, beta, K):
    if kind != "uniform":
        return _absorbing(K, beta)
    return (1.0 - beta) * np.eye(K) + beta / K * (np.ones((K, K))
                                                  - np.eye(K))


def _tm_other_states(kind, beta, K):
    if kind != "uniform":
        return _absorbing(K, beta)
    if K == 1:
        return np.ones((1, 1))
    return (1.0 - beta) * np.eye(K) + beta / (K - 1) * (np.ones((K, K))
                                                        - np.eye(K))


def _tm_swapped(kind, beta, K):
    if kind == "uniform":
        return _uniform(K, 1.0 - beta)
    return _absorbing(K, 1.0 - beta)


def _tm_mask_row_not_fixed(kind, beta, K):
    if kind == "uniform":
        return _uniform(K, beta)
    Q = (1.0 - beta) * np.eye(K + 1)
    Q[:K, K] = beta                   # the [MASK] row keeps 1 - beta
    return Q


def _tm_mask_column_overwritten(kind, beta, K):
    if kind == "uniform":
        return _uniform(K, beta)
    Q = (1.0 - beta) * np.eye(K + 1)
    Q[:, K] = beta                    # overwrites Q[K, K] = 1 - beta
    return Q


def _tm_cases() -> list[Case]:
    return [
        Case("uniform, K = 4, beta = 0.1", ("uniform", 0.1, 4)),
        Case("uniform, K = 6, beta = 0.37", ("uniform", 0.37, 6)),
        Case("uniform, K = 3, beta = 1 (a fresh uniform draw)",
             ("uniform", 1.0, 3)),
        Case("uniform, K = 5, beta = 0 (nothing changes)",
             ("uniform", 0.0, 5)),
        Case("absorbing, K = 3 (+ [MASK]), beta = 0.2",
             ("absorbing", 0.2, 3)),
        Case("absorbing, K = 5 (+ [MASK]), beta = 0.65",
             ("absorbing", 0.65, 5)),
        Case("absorbing, K = 4 (+ [MASK]), beta = 1 (everything masked)",
             ("absorbing", 1.0, 4)),
        Case("uniform, K = 2, beta = 0.3", ("uniform", 0.3, 2)),
    ]


def check_transition_matrix(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(kind, beta, K)``: for ``kind="uniform"`` the K x K
    matrix (1 - beta) I + beta/K 11^T, for ``kind="absorbing"`` the
    (K + 1) x (K + 1) matrix (1 - beta) I + beta 1 e_K^T whose last state
    K is [MASK] (exercise ex-12-transition-matrix)."""
    return run_check(
        "transition matrices Q_t", answer, _tm_reference, _tm_cases(),
        strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("rows and columns swapped", _tm_transpose,
                    "Q[i, j] = q(x_t = j | x_(t-1) = i): the row is the "
                    "current state and each ROW sums to 1. In the "
                    "absorbing chain the [MASK] column receives beta "
                    "from every row, and the [MASK] row is e_mask."),
            Mistake("beta/K missing on the diagonal",
                    _tm_no_diagonal_share,
                    "the uniform kernel keeps the token with probability "
                    "1 - beta and otherwise draws a fresh token from ALL "
                    "K tokens, the current one included: the diagonal is "
                    "1 - beta + beta/K, and every row sums to 1."),
            Mistake("noise spread over the other K - 1 tokens",
                    _tm_other_states,
                    "that is a valid chain, but not the book's: the "
                    "fresh token is uniform over all K tokens, so each "
                    "off-diagonal entry is beta/K and the diagonal "
                    "1 - beta + beta/K (beta I is replaced by beta/K "
                    "11^T)."),
            Mistake("beta and 1 - beta swapped", _tm_swapped,
                    "beta is the probability of CHANGING (resampling or "
                    "masking) the token at this step; 1 - beta is the "
                    "probability of keeping it."),
            Mistake("the [MASK] row is not e_mask",
                    _tm_mask_row_not_fixed,
                    "[MASK] is absorbing: once masked a token stays "
                    "masked, so the last row is (0, ..., 0, 1). Your "
                    "last row does not sum to 1."),
            Mistake("[MASK] column set to beta in every row",
                    _tm_mask_column_overwritten,
                    "setting the whole last column to beta also "
                    "overwrites Q[K, K]: the [MASK] row must stay "
                    "(0, ..., 0, 1). Add beta to the column of the "
                    "clean rows only (or use +=)."),
        ],
        hint="uniform: (1 - beta) * I + beta / K * ones((K, K)); "
             "absorbing: (1 - beta) * I of size K + 1, plus beta in the "
             "last column of every row (so the last row is e_mask). "
             "Every row must sum to 1.")


# ---------------------------------------------------------------------------
# Cumulative products
# ---------------------------------------------------------------------------

def _ct_reference(Q):
    Q = np.asarray(Q, dtype=float)
    out = np.empty_like(Q)
    out[0] = np.eye(Q.shape[1])
    for t in range(1, Q.shape[0]):
        out[t] = out[t - 1] @ Q[t]
    return out


def _ct_cumsum(Q):
    return np.cumsum(np.asarray(Q, dtype=float), axis=0)


def _ct_elementwise(Q):
    out = np.cumprod(np.asarray(Q, dtype=float), axis=0)
    out[0] = np.eye(out.shape[1])
    return out


def _ct_reversed(Q):
    Q = np.asarray(Q, dtype=float)
    out = np.empty_like(Q)
    out[0] = np.eye(Q.shape[1])
    for t in range(1, Q.shape[0]):
        out[t] = Q[t] @ out[t - 1]
    return out


def _ct_one_short(Q):
    full = _ct_reference(Q)
    out = full.copy()
    out[1:] = full[:-1]
    return out


def _ct_transposed(Q):
    return np.swapaxes(_ct_reference(Q), 1, 2)


def _stack(*Qs) -> np.ndarray:
    return np.stack([np.eye(Qs[0].shape[0]), *Qs])


def _ct_cases() -> list[Case]:
    rng = np.random.default_rng(1201)
    mixed = _stack(_uniform(3, 0.2), _uniform(3, 0.5), _random_stochastic(
        rng, 3), _uniform(3, 0.3))
    absorbing = _stack(*[_absorbing(3, b) for b in (0.1, 0.25, 0.4, 0.7)])
    uniform_then_mask = np.stack(
        [np.eye(4)]
        + [np.pad(_uniform(3, b), ((0, 1), (0, 1))) + np.diag(
            [0, 0, 0, 1.0]) for b in (0.3, 0.6)]
        + [_absorbing(3, b) for b in (0.2, 0.5)])
    return [
        Case("4 random 3-state matrices",
             (_stack(*[_random_stochastic(rng, 3) for _ in range(4)]),)),
        Case("uniform and random steps, 3 states", (mixed,)),
        Case("absorbing chain, K = 3, 4 steps", (absorbing,)),
        Case("2 uniform steps then 2 absorbing steps (4 states)",
             (uniform_then_mask,)),
        Case("T = 1, 5 states",
             (_stack(_random_stochastic(rng, 5, zeros=True)),)),
        Case("6 random 4-state matrices with zero entries",
             (_stack(*[_random_stochastic(rng, 4, zeros=True)
                       for _ in range(6)]),)),
        Case("Q[0] is not the identity (it must not be used: "
             "Qbar[0] = I, Qbar[1] = Q[1])",
             (np.stack([_random_stochastic(rng, 3, zeros=True)]
                       + [_random_stochastic(rng, 3) for _ in range(3)]),)),
    ]


def check_cumulative_product(answer, strict: bool = False
                                 ) -> CheckResult:
    """Check ``answer(Q)`` = Qbar with Qbar[0] = I and Qbar[t] = Q_1 Q_2
    ... Q_t, where ``Q`` has shape (T + 1, S, S) and Q[t] is Q_t (Q[0]
    is not used) (exercise ex-12-cumulative-product)."""
    return run_check(
        "cumulative transitions Qbar_t = Q_1 ... Q_t", answer,
        _ct_reference, _ct_cases(), strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("a sum instead of a product", _ct_cumsum,
                    "the t-step kernel composes the steps: "
                    "q(x_t | x_0) = x_0 Q_1 Q_2 ... Q_t is a matrix "
                    "PRODUCT. A sum of stochastic matrices is not even "
                    "stochastic (its rows sum to t + 1)."),
            Mistake("elementwise product", _ct_elementwise,
                    "np.cumprod multiplies entry by entry; the steps "
                    "compose by matrix multiplication, "
                    "Qbar[t] = Qbar[t - 1] @ Q[t]."),
            Mistake("product in the reversed order", _ct_reversed,
                    "with row vectors the FIRST step acts first: "
                    "x_0 Q_1 is the law of x_1, then (x_0 Q_1) Q_2, ... "
                    "so Qbar[t] = Qbar[t - 1] @ Q[t], not Q[t] @ "
                    "Qbar[t - 1]. The order matters when the Q_t do not "
                    "commute (different kinds of steps)."),
            Mistake("one factor short (Qbar[t] stops at Q_(t-1))",
                    _ct_one_short,
                    "Qbar[t] includes Q_t itself: Qbar[1] = Q_1, and "
                    "only Qbar[0] is the identity."),
            Mistake("transposed", _ct_transposed,
                    "Qbar[t][i, j] = q(x_t = j | x_0 = i): rows are the "
                    "starting token and sum to 1."),
        ],
        hint="start from Qbar[0] = I and multiply on the right: "
             "Qbar[t] = Qbar[t - 1] @ Q[t] for t = 1, ..., T.")


# ---------------------------------------------------------------------------
# The posterior q(x_(t-1) | x_t, x_0)
# ---------------------------------------------------------------------------

def _post_unnormalised(Q, Qbar, xt, x0, t):
    Q, Qbar = np.asarray(Q, dtype=float), np.asarray(Qbar, dtype=float)
    x0, xt = np.asarray(x0), np.asarray(xt)
    return Q[t][:, xt].T * Qbar[t - 1][x0, :]


def _post_reference(Q, Qbar, xt, x0, t):
    p = _post_unnormalised(Q, Qbar, xt, x0, t)
    return p / p.sum(axis=1, keepdims=True)


def _post_not_normalised(Q, Qbar, xt, x0, t):
    return _post_unnormalised(Q, Qbar, xt, x0, t)


def _post_row_of_q(Q, Qbar, xt, x0, t):
    Q, Qbar = np.asarray(Q, dtype=float), np.asarray(Qbar, dtype=float)
    p = Q[t][np.asarray(xt), :] * Qbar[t - 1][np.asarray(x0), :]
    return p / p.sum(axis=1, keepdims=True)


def _post_qbar_t(Q, Qbar, xt, x0, t):
    Q, Qbar = np.asarray(Q, dtype=float), np.asarray(Qbar, dtype=float)
    p = Q[t][:, np.asarray(xt)].T * Qbar[t][np.asarray(x0), :]
    return p / p.sum(axis=1, keepdims=True)


def _post_column_of_qbar(Q, Qbar, xt, x0, t):
    Q, Qbar = np.asarray(Q, dtype=float), np.asarray(Qbar, dtype=float)
    p = Q[t][:, np.asarray(xt)].T * Qbar[t - 1][:, np.asarray(x0)].T
    return p / p.sum(axis=1, keepdims=True)


def _post_wrong_axis(Q, Qbar, xt, x0, t):
    p = _post_unnormalised(Q, Qbar, xt, x0, t)
    return p / p.sum(axis=0, keepdims=True)


def _chain(Qs) -> tuple[np.ndarray, np.ndarray]:
    Q = _stack(*Qs)
    return Q, _ct_reference(Q)


def _post_cases() -> list[Case]:
    rng = np.random.default_rng(1202)
    Q_rand, Qbar_rand = _chain([_random_stochastic(rng, 4)
                                for _ in range(5)])
    Q_unif, Qbar_unif = _chain([_uniform(5, b)
                                for b in np.linspace(0.05, 0.4, 6)])
    Q_abs, Qbar_abs = _chain([_absorbing(3, b)
                              for b in (0.1, 0.2, 0.3, 0.5)])
    Q_mix, Qbar_mix = _chain([_random_stochastic(rng, 3)
                              for _ in range(3)])
    # absorbing: x_t = [MASK] (3) with any x_0, or x_t = x_0 unmasked
    x0_abs = np.array([0, 1, 2, 0, 2, 1])
    xt_abs = np.array([3, 3, 3, 0, 2, 3])
    return [
        Case("random 4-state chain, t = 3, 6 pairs",
             (Q_rand, Qbar_rand, rng.integers(0, 4, 6),
              rng.integers(0, 4, 6), 3)),
        Case("uniform chain, K = 5, t = 4, 7 pairs",
             (Q_unif, Qbar_unif, rng.integers(0, 5, 7),
              rng.integers(0, 5, 7), 4)),
        Case("absorbing chain, K = 3, t = 3",
             (Q_abs, Qbar_abs, xt_abs, x0_abs, 3)),
        Case("random 4-state chain, t = 5 (the last step)",
             (Q_rand, Qbar_rand, rng.integers(0, 4, 5),
              rng.integers(0, 4, 5), 5)),
        Case("random 3-state chain, t = 2, 3 pairs",
             (Q_mix, Qbar_mix, np.array([2, 2, 0]), np.array([0, 1, 2]),
              2)),
        Case("random 4-state chain, t = 1 (the answer is x_0 itself)",
             (Q_rand, Qbar_rand, np.array([1, 3, 0, 0, 2]),
              np.array([0, 3, 1, 2, 2]), 1)),
    ]


def check_posterior_probs(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(Q, Qbar, xt, x0, t)`` = the (N, S) array whose row
    n is q(x_(t-1) | x_t = xt[n], x_0 = x0[n]), proportional to
    (x_t Q_t^T) * (x_0 Qbar_(t-1)) and normalised; Q and Qbar have shape
    (T + 1, S, S), indexed by t (exercise ex-12-posterior-probs)."""
    return run_check(
        "posterior q(x_(t-1) | x_t, x_0)", answer, _post_reference,
        _post_cases(), strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("not normalised", _post_not_normalised,
                    "Bayes' rule divides by q(x_t | x_0): each row of the "
                    "answer is a distribution over x_(t-1) and must sum "
                    "to 1 (divide by the row sum)."),
            Mistake("row of Q_t instead of its column", _post_row_of_q,
                    "the likelihood of x_t seen from x_(t-1) = j is "
                    "Q_t[j, x_t], a COLUMN of Q_t (that is x_t Q_t^T), "
                    "not the row Q_t[x_t, :], which is the law of the "
                    "NEXT state."),
            Mistake("Qbar_t instead of Qbar_(t-1)", _post_qbar_t,
                    "the prior on x_(t-1) given x_0 is x_0 Qbar_(t-1) "
                    "(t - 1 steps), so use Qbar[t - 1]; Qbar[t] already "
                    "contains the step Q_t that the likelihood "
                    "accounts for."),
            Mistake("column of Qbar_(t-1) instead of its row",
                    _post_column_of_qbar,
                    "q(x_(t-1) = j | x_0) = Qbar_(t-1)[x_0, j]: the ROW "
                    "of x_0 (x_0 Qbar_(t-1) with x_0 a one-hot row)."),
            Mistake("normalised over the wrong axis", _post_wrong_axis,
                    "normalise each row (over the S values of x_(t-1)): "
                    "p / p.sum(axis=1, keepdims=True), not over the N "
                    "pairs (axis=0)."),
        ],
        hint="row n: Q[t][:, xt[n]] * Qbar[t - 1][x0[n], :], then divide "
             "by its sum (which is Qbar[t][x0[n], xt[n]]).")


# ---------------------------------------------------------------------------
# The reverse step from an x_0-prediction
# ---------------------------------------------------------------------------

def _rev_parts(Q, Qbar, xt, t, x0_probs):
    """Weights of the possible x_0 and the posteriors, (N, K), (N, K, S);
    the posteriors of impossible x_0 (q(x_t | x_0) = 0) are 0/0."""
    Q, Qbar = np.asarray(Q, dtype=float), np.asarray(Qbar, dtype=float)
    p0 = np.asarray(x0_probs, dtype=float)
    xt = np.asarray(xt)
    K = p0.shape[1]
    like = Q[t][:, xt].T                            # (N, S)
    evidence = Qbar[t][:K, xt].T                    # (N, K): q(x_t | a)
    post = like[:, None, :] * Qbar[t - 1][None, :K, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        post = post / evidence[..., None]
    return p0, evidence, post


def _rev_reference(Q, Qbar, xt, t, x0_probs):
    p0, evidence, post = _rev_parts(Q, Qbar, xt, t, x0_probs)
    w = np.where(evidence > 0, p0, 0.0)
    w = w / w.sum(axis=1, keepdims=True)
    post = np.where(evidence[..., None] > 0, post, 0.0)
    return np.einsum("nk,nks->ns", w, post)


def _rev_plug_in(Q, Qbar, xt, t, x0_probs):
    Q, Qbar = np.asarray(Q, dtype=float), np.asarray(Qbar, dtype=float)
    p0 = np.asarray(x0_probs, dtype=float)
    K = p0.shape[1]
    p = Q[t][:, np.asarray(xt)].T * (p0 @ Qbar[t - 1][:K, :])
    return p / p.sum(axis=1, keepdims=True)


def _rev_not_renormalised(Q, Qbar, xt, t, x0_probs):
    p0, evidence, post = _rev_parts(Q, Qbar, xt, t, x0_probs)
    w = np.where(evidence > 0, p0, 0.0)
    post = np.where(evidence[..., None] > 0, post, 0.0)
    return np.einsum("nk,nks->ns", w, post)


def _rev_not_removed(Q, Qbar, xt, t, x0_probs):
    p0, _, post = _rev_parts(Q, Qbar, xt, t, x0_probs)
    return np.einsum("nk,nks->ns", p0, post)


def _rev_x0_itself(Q, Qbar, xt, t, x0_probs):
    p0 = np.asarray(x0_probs, dtype=float)
    S = np.shape(Q)[1]
    return np.pad(p0, ((0, 0), (0, S - p0.shape[1])))


def _rev_qbar_t(Q, Qbar, xt, t, x0_probs):
    Qbar = np.asarray(Qbar, dtype=float)
    shifted = Qbar.copy()
    shifted[t - 1] = Qbar[t]
    return _rev_reference(Q, shifted, xt, t, x0_probs)


def _dirichlet(rng, N, K, sharp=1.0):
    return rng.dirichlet(np.full(K, sharp), N)


def _rev_cases() -> list[Case]:
    rng = np.random.default_rng(1204)
    Q_unif, Qbar_unif = _chain([_uniform(4, b)
                                for b in (0.1, 0.2, 0.3, 0.4, 0.5)])
    Q_abs, Qbar_abs = _chain([_absorbing(3, 1.0 / (5 - s))
                              for s in range(1, 5)])
    xt_abs = np.array([3, 3, 0, 2, 3, 1])
    # neither uniform nor absorbing: upper triangular, so q(x_t | a) = 0
    # for every a > x_t, and [MASK]-style shortcuts do not apply
    up = [np.triu(rng.random((4, 4)) + 0.1) for _ in range(3)]
    Q_up, Qbar_up = _chain([U / U.sum(axis=1, keepdims=True) for U in up])
    return [
        Case("uniform chain, K = 4, t = 3, 6 tokens",
             (Q_unif, Qbar_unif, rng.integers(0, 4, 6), 3,
              _dirichlet(rng, 6, 4))),
        Case("absorbing chain, K = 3, t = 2, masked and unmasked tokens",
             (Q_abs, Qbar_abs, xt_abs, 2, _dirichlet(rng, 6, 3))),
        Case("uniform chain, K = 4, t = 5 (the last step)",
             (Q_unif, Qbar_unif, rng.integers(0, 4, 5), 5,
              _dirichlet(rng, 5, 4, 0.5))),
        Case("absorbing chain, K = 3, t = 4 (everything masked at T)",
             (Q_abs, Qbar_abs, np.array([3, 3, 3]), 4,
              _dirichlet(rng, 3, 3))),
        Case("uniform chain, K = 4, t = 1 (the answer is p(x_0 | x_t))",
             (Q_unif, Qbar_unif, rng.integers(0, 4, 4), 1,
              _dirichlet(rng, 4, 4))),
        Case("absorbing chain, K = 3, t = 1",
             (Q_abs, Qbar_abs, np.array([3, 1, 3, 0, 2]), 1,
              _dirichlet(rng, 5, 3))),
        Case("a chain that only moves up (4 states, K = 3 data tokens), "
             "t = 2: some x_0 cannot have produced x_t",
             (Q_up, Qbar_up, np.array([0, 1, 2, 3, 1, 2]), 2,
              _dirichlet(rng, 6, 3))),
    ]


def check_reverse_probs(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(Q, Qbar, xt, t, x0_probs)`` = the (N, S) array of
    p(x_(t-1) | x_t) = sum_a q(x_(t-1) | x_t, x_0 = a) p(x_0 = a | x_t),
    the values a with q(x_t | a) = 0 removed and the rest renormalised
    (exercise ex-12-reverse-probs)."""
    return run_check(
        "reverse step from an x_0-prediction", answer, _rev_reference,
        _rev_cases(), strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("x_0 probabilities plugged into the posterior",
                    _rev_plug_in,
                    "(x_t Q_t^T) * (p Qbar_(t-1)), normalised, weights "
                    "each x_0 = a by p(a | x_t) q(x_t | a): the evidence "
                    "of x_t is counted twice. Average the NORMALISED "
                    "posteriors q(x_(t-1) | x_t, a) with the weights "
                    "p(a | x_t). (Austin et al. use the plug-in form "
                    "with a network trained for it; with the exact "
                    "p(x_0 | x_t) it is not the true reverse step.)"),
            Mistake("impossible x_0 not removed (0/0)", _rev_not_removed,
                    "a token a with q(x_t | x_0 = a) = 0 (an unmasked "
                    "x_t = b != a in the absorbing chain) has no "
                    "posterior: 0/0. Drop those a, then renormalise the "
                    "remaining weights."),
            Mistake("weights not renormalised after removing impossible "
                    "x_0", _rev_not_renormalised,
                    "after dropping the x_0 with q(x_t | x_0) = 0, divide "
                    "the remaining weights p(a | x_t) by their sum, so "
                    "that each row is a distribution."),
            Mistake("returned p(x_0 | x_t) itself", _rev_x0_itself,
                    "the reverse step goes to x_(t-1), not to x_0: mix "
                    "the posteriors q(x_(t-1) | x_t, x_0 = a) with the "
                    "weights p(a | x_t). (Only at t = 1 are they the "
                    "same.)"),
            Mistake("Qbar_t instead of Qbar_(t-1) in the posterior",
                    _rev_qbar_t,
                    "the posterior uses x_0 Qbar_(t-1), the law of "
                    "x_(t-1) given x_0: Qbar[t - 1], not Qbar[t]."),
        ],
        hint="for each possible a (q(x_t | a) = Qbar[t][a, xt] > 0): "
             "posterior_a = Q[t][:, xt] * Qbar[t - 1][a] / Qbar[t][a, "
             "xt]; weights p(a | x_t) renormalised over the possible a; "
             "return sum_a weight_a * posterior_a.")


# ---------------------------------------------------------------------------
# The masked-diffusion loss
# ---------------------------------------------------------------------------

def _terms(log_probs, x0, xt):
    """log p(x_0^l | x_t) at every position, and the mask, (N, L)."""
    log_probs = np.asarray(log_probs, dtype=float)
    x0, xt = np.asarray(x0), np.asarray(xt)
    lp = np.take_along_axis(log_probs, x0[..., None], axis=-1)[..., 0]
    return lp, xt == log_probs.shape[-1]


def _mdl_reference(log_probs, x0, xt, alpha, dalpha):
    lp, masked = _terms(log_probs, x0, xt)
    weight = np.asarray(dalpha, dtype=float) / (
        1.0 - np.asarray(alpha, dtype=float))
    return weight * np.sum(np.where(masked, lp, 0.0), axis=1)


def _mdl_all_positions(log_probs, x0, xt, alpha, dalpha):
    lp, _ = _terms(log_probs, x0, xt)
    weight = np.asarray(dalpha, dtype=float) / (
        1.0 - np.asarray(alpha, dtype=float))
    return weight * np.sum(lp, axis=1)


def _mdl_no_weight(log_probs, x0, xt, alpha, dalpha):
    lp, masked = _terms(log_probs, x0, xt)
    return -np.sum(np.where(masked, lp, 0.0), axis=1)


def _mdl_sign(log_probs, x0, xt, alpha, dalpha):
    return -_mdl_reference(log_probs, x0, xt, alpha, dalpha)


def _mdl_mean_positions(log_probs, x0, xt, alpha, dalpha):
    L = np.shape(x0)[1]
    return _mdl_reference(log_probs, x0, xt, alpha, dalpha) / L


def _mdl_mean_masked(log_probs, x0, xt, alpha, dalpha):
    _, masked = _terms(log_probs, x0, xt)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_mdl_reference(log_probs, x0, xt, alpha, dalpha)
                / masked.sum(axis=1))


def _mdl_no_derivative(log_probs, x0, xt, alpha, dalpha):
    lp, masked = _terms(log_probs, x0, xt)
    return -np.sum(np.where(masked, lp, 0.0), axis=1) / (
        1.0 - np.asarray(alpha, dtype=float))


def _mdl_over_alpha(log_probs, x0, xt, alpha, dalpha):
    lp, masked = _terms(log_probs, x0, xt)
    weight = np.asarray(dalpha, dtype=float) / np.asarray(alpha,
                                                          dtype=float)
    return weight * np.sum(np.where(masked, lp, 0.0), axis=1)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def _mdl_case(rng, N, L, K, t, schedule, masked=None):
    log_probs = _log_softmax(1.5 * rng.standard_normal((N, L, K)))
    x0 = rng.integers(0, K, (N, L))
    t = np.asarray(t, dtype=float)
    if schedule == "linear":
        alpha, dalpha = 1.0 - t, -np.ones_like(t)
    else:
        alpha = np.cos(np.pi * t / 2)
        dalpha = -np.pi / 2 * np.sin(np.pi * t / 2)
    if masked is None:
        masked = rng.random((N, L)) < 1.0 - alpha[:, None]
    xt = np.where(masked, K, x0)
    return (log_probs, x0, xt, alpha, dalpha)


def _mdl_cases() -> list[Case]:
    rng = np.random.default_rng(1203)
    few = np.zeros((3, 6), dtype=bool)
    few[0, 2] = few[1, [0, 5]] = True
    few[2, :] = True                   # everything masked
    return [
        Case("linear schedule, 5 sequences of 8 tokens, K = 4",
             _mdl_case(rng, 5, 8, 4, rng.uniform(0.2, 0.9, 5), "linear")),
        Case("cosine schedule, 4 sequences of 10 tokens, K = 3",
             _mdl_case(rng, 4, 10, 3, rng.uniform(0.3, 0.95, 4),
                       "cosine")),
        Case("cosine schedule, 1, 2 and all 6 tokens masked",
             _mdl_case(rng, 3, 6, 5, [0.3, 0.5, 0.8], "cosine", few)),
        Case("linear schedule, 3 sequences of 1 token, all masked",
             _mdl_case(rng, 3, 1, 6, [0.4, 0.6, 0.99], "linear",
                       np.ones((3, 1), dtype=bool))),
    ]


def check_masked_loss(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(log_probs, x0, xt, alpha, dalpha)`` = the (N,)
    per-sequence estimate (alpha'_t / (1 - alpha_t)) * sum over the
    masked positions l (xt[n, l] = K) of log p(x_0^l | x_t) (exercise
    ex-12-masked-loss)."""
    return run_check(
        "masked-diffusion loss", answer, _mdl_reference, _mdl_cases(),
        strict=strict, rtol=1e-9, atol=1e-12,
        mistakes=[
            Mistake("unmasked positions counted", _mdl_all_positions,
                    "only the MASKED positions (xt == K) enter the sum: "
                    "at an unmasked position x_t already shows x_0, and "
                    "its term is not part of the bound. Select the "
                    "masked positions (or multiply by the mask) before "
                    "summing."),
            Mistake("weight alpha'_t / (1 - alpha_t) missing",
                    _mdl_no_weight,
                    "the bound weights the masked cross-entropy by "
                    "-alpha'_t / (1 - alpha_t) >= 0; without the weight "
                    "it is not the ELBO (and depends on the schedule)."),
            Mistake("wrong sign", _mdl_sign,
                    "alpha'_t < 0 and log p < 0, so the product "
                    "(alpha'_t / (1 - alpha_t)) log p is >= 0: the loss "
                    "is a bound on the negative log-likelihood, a "
                    "positive number."),
            Mistake("mean over the L positions instead of the sum",
                    _mdl_mean_positions,
                    "the bound SUMS over positions: the log-likelihood "
                    "of a sequence is a sum over its tokens. Do not "
                    "divide by the length L."),
            Mistake("mean over the masked positions instead of the sum",
                    _mdl_mean_masked,
                    "do not divide by the number of masked tokens: the "
                    "weight -alpha'_t / (1 - alpha_t) already accounts "
                    "for how many tokens are masked at time t "
                    "(on average L (1 - alpha_t))."),
            Mistake("weight 1/(1 - alpha_t) without alpha'_t",
                    _mdl_no_derivative,
                    "the weight is alpha'_t / (1 - alpha_t): the "
                    "derivative alpha'_t = d alpha_t / dt is part of it "
                    "(for alpha_t = 1 - t it is -1, for the cosine "
                    "schedule it is not)."),
            Mistake("alpha'_t / alpha_t instead of alpha'_t / "
                    "(1 - alpha_t)", _mdl_over_alpha,
                    "divide by 1 - alpha_t, the probability that a "
                    "token is masked at time t, not by alpha_t."),
        ],
        hint="loss[n] = dalpha[n] / (1 - alpha[n]) * sum over the l with "
             "xt[n, l] == K of log_probs[n, l, x0[n, l]], where "
             "K = log_probs.shape[-1].")
