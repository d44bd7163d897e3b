"""Checks for the coding exercises of chapter 2 (the forward process).

Each check calls the learner's function on fixed, seeded inputs (small
schedules of several kinds, a one-step schedule, data of several
dimensions), compares the result with :mod:`diffusion_edu.schedules` and
:mod:`diffusion_edu.gaussian`, and recognises classic mistakes: β_t used
as a standard deviation, the missing √(1 − β_t), β_{t−1} instead of β_t,
the cumulative ᾱ_t taken for the per-step α_t, and so on. Every random
input is drawn in advance from a fixed seed, so a check is deterministic.
"""

from __future__ import annotations

import numpy as np

from .. import gaussian as gs
from .. import schedules as sch
from ._core import Case, CheckResult, Mistake, run_check

__all__ = [
    "check_forward_chain",
    "check_forward_variance",
    "check_cosine_schedule",
]


def _test_schedules() -> list[tuple[str, np.ndarray]]:
    """A few t-indexed beta arrays (length T + 1, beta[0] = 0)."""
    rng = np.random.default_rng(201)
    custom = np.sort(rng.uniform(0.05, 0.6, 6))[::-1]   # decreasing
    return [
        ("linear schedule, T = 10", sch.linear(10, 1e-3, 0.3).beta),
        ("cosine schedule, T = 8", sch.cosine(8).beta),
        ("one step, T = 1, beta_1 = 0.3", sch.constant(1, 0.3).beta),
        ("decreasing custom betas, T = 6", sch.from_betas(custom).beta),
    ]


# ---------------------------------------------------------------------------
# Running the forward chain with a schedule
# ---------------------------------------------------------------------------

def _chain_cases() -> list[Case]:
    rng = np.random.default_rng(202)
    cases = []
    shapes = [(5, 2), (4, 1), (3, 3), (6, 2)]
    runs = list(zip(_test_schedules(), shapes, strict=True))
    runs.append((("quadratic schedule, T = 12",
                  sch.quadratic(12, 1e-3, 0.5).beta), (2, 4)))
    for (label, beta), (n, d) in runs:
        T = beta.shape[0] - 1
        x0 = 2.0 * rng.standard_normal((n, d))
        noise = rng.standard_normal((T, n, d))
        cases.append(Case(f"{label}, {n} points in {d}-D",
                          (x0, beta, noise)))
    return cases


def _chain_reference(x0, beta, noise):
    s = sch.from_betas(beta[1:])
    path = [np.asarray(x0, dtype=float)]
    for t in range(1, s.T + 1):
        path.append(gs.q_step(s, path[-1], t, noise[t - 1]))
    return np.array(path)


def _chain_with(x0, beta, noise, step):
    path = [np.asarray(x0, dtype=float)]
    for t in range(1, beta.shape[0]):
        path.append(step(path[-1], t, beta, noise[t - 1]))
    return np.array(path)


def _chain_beta_as_std(x0, beta, noise):
    return _chain_with(x0, beta, noise, lambda x, t, b, e:
                       np.sqrt(1 - b[t]) * x + b[t] * e)


def _chain_no_sqrt_signal(x0, beta, noise):
    return _chain_with(x0, beta, noise, lambda x, t, b, e:
                       (1 - b[t]) * x + np.sqrt(b[t]) * e)


def _chain_not_shrunk(x0, beta, noise):
    return _chain_with(x0, beta, noise, lambda x, t, b, e:
                       x + np.sqrt(b[t]) * e)


def _chain_previous_beta(x0, beta, noise):
    return _chain_with(x0, beta, noise, lambda x, t, b, e:
                       np.sqrt(1 - b[t - 1]) * x + np.sqrt(b[t - 1]) * e)


def _chain_without_x0(x0, beta, noise):
    return _chain_reference(x0, beta, noise)[1:]


def _chain_one_jump(x0, beta, noise):
    # x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise[t - 1]:
    # the right marginals (chapter 3), but not the path of this noise.
    alpha_bar = np.cumprod(1.0 - beta)
    path = [np.asarray(x0, dtype=float)]
    for t in range(1, beta.shape[0]):
        path.append(np.sqrt(alpha_bar[t]) * x0
                    + np.sqrt(1.0 - alpha_bar[t]) * noise[t - 1])
    return np.array(path)


def check_forward_chain(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(x0, beta, noise)`` = the path x_0, x_1, ..., x_T of
    the forward chain (exercise ex-02-forward-chain)."""
    return run_check(
        "the forward chain x_0, ..., x_T", answer, _chain_reference,
        _chain_cases(), strict=strict,
        mistakes=[
            Mistake("beta_t as the noise scale", _chain_beta_as_std,
                    "beta_t is the *variance* of the noise added at step "
                    "t: multiply the noise by its standard deviation "
                    "sqrt(beta[t])."),
            Mistake("1 - beta_t instead of sqrt(1 - beta_t)",
                    _chain_no_sqrt_signal,
                    "the signal x_(t-1) is multiplied by sqrt(1 - beta[t]),"
                    " so that its variance is multiplied by 1 - beta[t]."),
            Mistake("x_(t-1) not scaled", _chain_not_shrunk,
                    "without the factor sqrt(1 - beta[t]) the variance "
                    "grows by beta[t] at every step (it explodes): scale "
                    "x_(t-1) by sqrt(1 - beta[t])."),
            Mistake("beta_(t-1) instead of beta_t", _chain_previous_beta,
                    "beta is indexed by t (beta[0] = 0 is a placeholder): "
                    "step t, from x_(t-1) to x_t, uses beta[t] and "
                    "noise[t - 1]."),
            Mistake("one jump from x_0 instead of the chain",
                    _chain_one_jump,
                    "x_t must be computed from x_(t-1) with the noise of "
                    "step t. The one-jump formula sqrt(alpha_bar_t) x_0 + "
                    "sqrt(1 - alpha_bar_t) eps of chapter 3 has the right "
                    "distribution, but it is not the path that these "
                    "noises produce."),
            Mistake("path without x_0", _chain_without_x0,
                    "return T + 1 rows: path[0] is x0 itself and path[t] "
                    "is x_t, so that the path is indexed by t."),
        ],
        hint="path[t] = sqrt(1 - beta[t]) * path[t - 1] + sqrt(beta[t]) * "
             "noise[t - 1] for t = 1, ..., T, starting from path[0] = x0.")


# ---------------------------------------------------------------------------
# The variance recursion
# ---------------------------------------------------------------------------

def _variance_cases() -> list[Case]:
    cases = []
    for (label, beta), var0 in zip(_test_schedules(),
                                   [4.0, 0.0, 1.0, 0.25], strict=True):
        cases.append(Case(f"{label}, Var(x_0) = {var0:g}", (beta, var0)))
    cases.append(Case("linear schedule, T = 1000, Var(x_0) = 9",
                      (sch.linear(1000).beta, 9.0)))
    return cases


def _variance_reference(beta, var0):
    # v_t - 1 = alpha_bar_t (v_0 - 1): the solution of the recursion.
    alpha_bar = sch.from_betas(beta[1:]).alpha_bar
    return 1.0 + alpha_bar * (var0 - 1.0)


def _variance_with(beta, var0, step):
    v = [float(var0)]
    for t in range(1, beta.shape[0]):
        v.append(step(v[-1], t, beta))
    return np.array(v)


def _variance_beta_squared(beta, var0):
    return _variance_with(beta, var0, lambda v, t, b:
                          (1 - b[t]) * v + b[t] ** 2)


def _variance_not_shrunk(beta, var0):
    return _variance_with(beta, var0, lambda v, t, b: v + b[t])


def _variance_sqrt_alpha(beta, var0):
    return _variance_with(beta, var0, lambda v, t, b:
                          np.sqrt(1 - b[t]) * v + b[t])


def _variance_previous_beta(beta, var0):
    return _variance_with(beta, var0, lambda v, t, b:
                          (1 - b[t - 1]) * v + b[t - 1])


def check_forward_variance(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(beta, var0)`` = [v_0, ..., v_T] with
    v_t = (1 - beta_t) v_(t-1) + beta_t (exercise ex-02-forward-variance).
    """
    return run_check(
        "the variance recursion v_t = alpha_t v_(t-1) + beta_t", answer,
        _variance_reference, _variance_cases(), strict=strict,
        mistakes=[
            Mistake("beta_t squared", _variance_beta_squared,
                    "the noise sqrt(beta_t) * eps has variance beta_t, not "
                    "beta_t ** 2: beta_t is already a variance."),
            Mistake("variance not multiplied by alpha_t",
                    _variance_not_shrunk,
                    "Var(sqrt(alpha_t) x) = alpha_t Var(x): the old "
                    "variance is multiplied by alpha_t = 1 - beta_t before "
                    "beta_t is added."),
            Mistake("sqrt(alpha_t) instead of alpha_t",
                    _variance_sqrt_alpha,
                    "scaling x by sqrt(alpha_t) scales its variance by the "
                    "*square*, alpha_t = 1 - beta_t, not by sqrt(alpha_t)."),
            Mistake("beta_(t-1) instead of beta_t", _variance_previous_beta,
                    "beta is indexed by t (beta[0] = 0): v[t] uses beta[t] "
                    "and v[t - 1]."),
        ],
        hint="v[0] = var0 and v[t] = (1 - beta[t]) * v[t - 1] + beta[t]; "
             "return an array of length T + 1.")


# ---------------------------------------------------------------------------
# The cosine schedule
# ---------------------------------------------------------------------------

def _cosine_cases() -> list[Case]:
    return [
        Case("T = 1000, s = 0.008, max_beta = 0.999", (1000,)),
        Case("T = 10, s = 0.008, max_beta = 0.999", (10,)),
        Case("T = 50, s = 0.02, max_beta = 0.999", (50,),
             {"s": 0.02}),
        Case("T = 20, s = 0 (no offset), max_beta = 0.999", (20,),
             {"s": 0.0}),
        Case("T = 5, s = 0.008, max_beta = 0.5 (clipping bites)", (5,),
             {"max_beta": 0.5}),
        Case("T = 1, s = 0.008, max_beta = 0.999", (1,)),
    ]


def _cosine_reference(T, s=0.008, max_beta=0.999):
    return sch.cosine(T, s=s, max_beta=max_beta).beta


def _f(u, s, power=2):
    return np.cos((u + s) / (1 + s) * np.pi / 2) ** power


def _cosine_from_alpha_bar(alpha_bar, max_beta):
    beta = np.minimum(1 - alpha_bar[1:] / alpha_bar[:-1], max_beta)
    return np.concatenate([[0.0], beta])


def _cosine_one_minus_alpha_bar(T, s=0.008, max_beta=0.999):
    u = np.arange(T + 1) / T
    alpha_bar = _f(u, s) / _f(0.0, s)
    return np.concatenate([[0.0], np.minimum(1 - alpha_bar[1:], max_beta)])


def _cosine_not_clipped(T, s=0.008, max_beta=0.999):
    u = np.arange(T + 1) / T
    return _cosine_from_alpha_bar(_f(u, s) / _f(0.0, s), 1.0)


def _cosine_no_offset(T, s=0.008, max_beta=0.999):
    u = np.arange(T + 1) / T
    return _cosine_from_alpha_bar(_f(u, 0.0), max_beta)


def _cosine_not_squared(T, s=0.008, max_beta=0.999):
    u = np.arange(T + 1) / T
    return _cosine_from_alpha_bar(_f(u, s, 1) / _f(0.0, s, 1), max_beta)


def _cosine_not_normalised(T, s=0.008, max_beta=0.999):
    u = np.arange(1, T + 1) / T
    alpha_bar = np.concatenate([[1.0], _f(u, s)])     # f(0) taken as 1
    return _cosine_from_alpha_bar(alpha_bar, max_beta)


def check_cosine_schedule(answer, strict: bool = False) -> CheckResult:
    """Check ``answer(T, s=0.008, max_beta=0.999)`` = the t-indexed betas
    of the cosine schedule (exercise ex-02-cosine-schedule)."""
    return run_check(
        "the cosine schedule", answer, _cosine_reference, _cosine_cases(),
        strict=strict,
        mistakes=[
            Mistake("1 - alpha_bar_t instead of 1 - alpha_bar_t / "
                    "alpha_bar_(t-1)", _cosine_one_minus_alpha_bar,
                    "the cosine formula gives the *cumulative* alpha_bar_t;"
                    " the per-step beta_t = 1 - alpha_t is "
                    "1 - alpha_bar_t / alpha_bar_(t-1)."),
            Mistake("betas not clipped at max_beta", _cosine_not_clipped,
                    "near t = T the ratio alpha_bar_t / alpha_bar_(t-1) "
                    "goes to 0, so beta_T would be 1: clip with "
                    "np.minimum(beta, max_beta)."),
            Mistake("offset s ignored", _cosine_no_offset,
                    "f(u) = cos((u + s) / (1 + s) * pi / 2) ** 2: the "
                    "offset s enters twice."),
            Mistake("cos instead of cos squared", _cosine_not_squared,
                    "f(u) is the *square* of the cosine."),
            Mistake("alpha_bar_0 set to 1 but the other alpha_bar_t not "
                    "divided by f(0)", _cosine_not_normalised,
                    "alpha_bar_0 must be f(0) / f(0) = 1 *and* every other "
                    "alpha_bar_t must be divided by the same f(0); mixing "
                    "normalised and unnormalised values makes beta_1 "
                    "wrong."),
        ],
        hint="u = t / T for t = 0..T; alpha_bar = f(u) / f(0) with "
             "f(u) = cos((u + s) / (1 + s) * pi / 2) ** 2; beta[t] = "
             "min(1 - alpha_bar[t] / alpha_bar[t - 1], max_beta) for "
             "t >= 1 and beta[0] = 0.")
