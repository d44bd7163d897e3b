"""Tests of the chapter 1 exercise checks (diffusion_edu.checks.ch01).

Each check must accept the reference and other correct implementations,
report "not implemented" for the stub, and reject every classic mistake it
lists while naming it.
"""

import numpy as np
import pytest

from diffusion_edu import checks
from diffusion_edu import markov as mk
from diffusion_edu.checks import ch01, listed_mistakes


def stub(*args, **kwargs):
    raise NotImplementedError


# Correct answers written the way a learner would (loops, eig, ...).

def n_step_by_loop(P, p0, n):
    p = np.array(p0, dtype=float)
    for _ in range(n):
        p = p @ P
    return p


def gaussian_step(x_prev, beta, noise):
    return np.sqrt(1 - beta) * x_prev + np.sqrt(beta) * noise


def simulate_by_loop(P, x0, u, side="right"):
    n_steps, C = u.shape
    paths = np.zeros((n_steps + 1, C), dtype=int)
    paths[0] = x0
    for n in range(1, n_steps + 1):
        for c in range(C):
            cdf = np.cumsum(P[paths[n - 1, c]])
            paths[n, c] = np.searchsorted(cdf, u[n - 1, c], side=side)
    return paths


def stationary_by_eig(P):
    values, vectors = np.linalg.eig(P.T)
    v = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    return v / v.sum()


def reverse_by_loop(P, pi):
    S = len(pi)
    P_hat = np.zeros((S, S))
    for i in range(S):
        for j in range(S):
            P_hat[j, i] = pi[i] * P[i, j] / pi[j]
    return P_hat


CHECKS = [
    (ch01.check_n_step_distribution, mk.n_step_distribution,
     n_step_by_loop),
    (ch01.check_gaussian_chain_step, mk.gaussian_chain_step,
     gaussian_step),
    (ch01.check_simulate_chain, mk.simulate_from_uniforms, simulate_by_loop),
    (ch01.check_stationary_distribution, mk.stationary_distribution,
     stationary_by_eig),
    (ch01.check_reverse_chain, mk.reverse_chain, reverse_by_loop),
]

# The package's gaussian_chain_step returns (N, D) for (N, D) input, so it
# is a valid reference answer too; all are exported from checks.
IDS = [c.__name__ for c, _, _ in CHECKS]


@pytest.mark.parametrize("check, reference, learner", CHECKS, ids=IDS)
def test_check_accepts_reference_and_learner_style_answer(
        check, reference, learner):
    for answer in (reference, learner):
        result = check(answer, strict=True)
        assert result.status == "passed", result.report
        assert len(result.passed) >= 5


def test_every_check_lists_at_least_two_mistakes():
    for check, _, _ in CHECKS:
        assert len(listed_mistakes(check)) >= 2


def test_n_step_check_names_transpose_mistake_for_P_at_p():
    result = ch01.check_n_step_distribution(
        lambda P, p0, n: np.linalg.matrix_power(P, n) @ p0)
    assert result.mistake == "using the transpose of P"
    assert "`p @ P`" in result.report


def test_gaussian_step_check_names_beta_instead_of_sqrt_beta():
    result = ch01.check_gaussian_chain_step(
        lambda x, beta, noise: np.sqrt(1 - beta) * x + beta * noise)
    assert result.mistake == "beta instead of sqrt(beta) as the noise scale"


def test_reverse_check_names_missing_division_by_pi_j():
    result = ch01.check_reverse_chain(lambda P, pi: (pi[:, None] * P).T)
    assert result.mistake == "forgot to divide by pi_j"


@pytest.mark.parametrize("n_iter", [100, 101])
def test_stationary_check_rejects_power_iteration_on_periodic_chain(
        n_iter):
    def power_iteration(P):
        p = np.full(P.shape[0], 1.0 / P.shape[0])
        for _ in range(n_iter):
            p = p @ P
        return p

    result = ch01.check_stationary_distribution(power_iteration)
    assert result.status == "failed"
    assert any("periodic" in msg for msg in result.failed)
    assert "periodic" in result.hint
    assert result.mistake == ""     # not misnamed as another mistake


def test_stationary_check_hints_at_eigenvalue_minus_one():
    def largest_modulus_eigenvector(P):
        values, vectors = np.linalg.eig(P.T)
        v = np.real(vectors[:, np.argmax(np.abs(values))])
        return v / v.sum()

    result = ch01.check_stationary_distribution(largest_modulus_eigenvector)
    assert result.status == "failed"
    assert any("periodic" in msg for msg in result.failed)
    assert "eigenvalue -1" in result.hint


def test_check_reports_unknown_wrong_answer_without_raising():
    result = ch01.check_n_step_distribution(
        lambda P, p0, n: np.zeros_like(p0))
    assert result.status == "failed" and result.mistake == ""
    assert "FAILED" in result.report


def test_check_reports_exception_raised_by_answer():
    def broken(P, pi):
        raise ValueError("boom")

    result = ch01.check_reverse_chain(broken)
    assert result.status == "failed"
    assert "ValueError: boom" in result.report


def test_check_reports_wrong_shape():
    result = ch01.check_simulate_chain(
        lambda P, x0, u: np.zeros((u.shape[0] + 2, u.shape[1])))
    assert result.status == "failed"
    assert "shape" in result.report


def test_checks_are_exported_from_package():
    for name in ch01.__all__:
        assert getattr(checks, name) is getattr(ch01, name)


def test_check_cases_are_deterministic():
    a = ch01._simulate_cases()
    b = ch01._simulate_cases()
    for ca, cb in zip(a, b, strict=True):
        for xa, xb in zip(ca.args, cb.args, strict=True):
            np.testing.assert_array_equal(xa, xb)


def test_simulate_check_rejects_non_strict_tie_rule():
    # "smallest j with u <= c_j": right except when u hits a cumulative
    # sum exactly, where it can pick a state of probability 0.
    def searchsorted_left(P, x0, u):
        return simulate_by_loop(P, x0, u, side="left")

    result = ch01.check_simulate_chain(searchsorted_left)
    assert result.status == "failed"
    assert result.mistake == "u <= c_j instead of u < c_j"
    assert len(result.failed) == 1 and "ties" in result.failed[0]


def test_simulate_tie_case_never_picks_a_state_of_probability_zero():
    case = [c for c in ch01._simulate_cases() if "ties" in c.label][0]
    P, x0, u = case.args
    paths = mk.simulate_from_uniforms(P, x0, u)
    for n in range(1, paths.shape[0]):
        assert np.all(P[paths[n - 1], paths[n]] > 0)
