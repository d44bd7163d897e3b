"""Tests of the chapter 12 exercise checks (diffusion_edu.checks.ch12).

Each check must accept its reference and answers written the way a
learner would (loops, one-hot vectors, torch), report "not implemented"
for the stub, reject every classic mistake it lists while naming it, and
reject other plausible wrong answers. The references themselves are
tested against brute-force enumeration and known identities, so that a
check cannot accept a wrong formula.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks, discrete
from diffusion_edu.checks import ch12, listed_mistakes

torch.set_num_threads(1)


def stub(*args, **kwargs):
    raise NotImplementedError


# ---------------------------------------------------------------------------
# Correct answers written the way a learner would
# ---------------------------------------------------------------------------

def transition_by_entries(kind, beta, K):
    if kind == "uniform":
        Q = np.full((K, K), beta / K)
        Q[np.arange(K), np.arange(K)] += 1 - beta
        return Q
    Q = np.zeros((K + 1, K + 1))
    for i in range(K):
        Q[i, i] = 1 - beta
        Q[i, K] = beta
    Q[K, K] = 1.0
    return Q


def transition_torch(kind, beta, K):
    if kind == "uniform":
        return ((1 - beta) * torch.eye(K)
                + beta / K * torch.ones(K, K))
    Q = (1 - beta) * torch.eye(K + 1)
    Q[:, K] += beta
    return Q


def transition_via_package(kind, beta, K):
    if kind == "uniform":
        return discrete.uniform_transition(beta, K)
    return discrete.absorbing_transition(beta, K)


def cumulative_by_loop(Q):
    Qbar = [np.eye(Q.shape[1])]
    for t in range(1, Q.shape[0]):
        Qbar.append(Qbar[-1] @ Q[t])
    return np.array(Qbar)


def cumulative_by_matrix_power_style(Q):
    # multiply the whole prefix each time (slow but correct)
    out = []
    for t in range(Q.shape[0]):
        M = np.eye(Q.shape[1])
        for s in range(1, t + 1):
            M = M @ Q[s]
        out.append(M)
    return out                               # a list of arrays


def posterior_one_hot(Q, Qbar, xt, x0, t):
    S = Q.shape[1]
    out = []
    for a, b in zip(x0, xt, strict=True):
        x0_row, xt_row = np.eye(S)[a], np.eye(S)[b]
        p = (xt_row @ Q[t].T) * (x0_row @ Qbar[t - 1])
        out.append(p / p.sum())
    return np.array(out)


def posterior_torch_float32(Q, Qbar, xt, x0, t):
    Qt = torch.tensor(Q[t], dtype=torch.float32)
    Qb = torch.tensor(Qbar[t - 1], dtype=torch.float32)
    p = Qt[:, torch.as_tensor(xt)].T * Qb[torch.as_tensor(x0)]
    return p / p.sum(dim=1, keepdim=True)


def reverse_by_loop(Q, Qbar, xt, t, x0_probs):
    N, K = x0_probs.shape
    out = np.zeros((N, Q.shape[1]))
    for n in range(N):
        weights, posts = [], []
        for a in range(K):
            evidence = Qbar[t][a, xt[n]]
            if evidence == 0:
                continue
            posts.append(Q[t][:, xt[n]] * Qbar[t - 1][a] / evidence)
            weights.append(x0_probs[n, a])
        weights = np.array(weights) / np.sum(weights)
        out[n] = weights @ np.array(posts)
    return out


def masked_loss_by_loop(log_probs, x0, xt, alpha, dalpha):
    N, L, K = log_probs.shape
    out = np.zeros(N)
    for n in range(N):
        for pos in range(L):
            if xt[n, pos] == K:
                out[n] -= log_probs[n, pos, x0[n, pos]]
        out[n] *= -dalpha[n] / (1 - alpha[n])
    return out


def masked_loss_torch(log_probs, x0, xt, alpha, dalpha):
    lp = torch.tensor(log_probs, dtype=torch.float32)
    K = lp.shape[-1]
    nll = -torch.gather(lp, 2, torch.as_tensor(x0)[..., None])[..., 0]
    mask = (torch.as_tensor(xt) == K).float()
    w = -torch.tensor(dalpha, dtype=torch.float32) / (
        1 - torch.tensor(alpha, dtype=torch.float32))
    return w * (nll * mask).sum(dim=1)


CHECKS = [
    (ch12.check_transition_matrix,
     [ch12._tm_reference, transition_by_entries, transition_torch,
      transition_via_package]),
    (ch12.check_cumulative_product,
     [ch12._ct_reference, cumulative_by_loop,
      cumulative_by_matrix_power_style, discrete.cumulative_product]),
    (ch12.check_posterior_probs,
     [ch12._post_reference, posterior_one_hot, posterior_torch_float32]),
    (ch12.check_reverse_probs, [ch12._rev_reference, reverse_by_loop]),
    (ch12.check_masked_loss,
     [ch12._mdl_reference, masked_loss_by_loop, masked_loss_torch]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_reference_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 4)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_reports_stub_without_raising(check, answers):
    result = check(stub)
    assert result.status == "not implemented"
    with pytest.raises(checks.CheckFailed):
        check(stub, strict=True)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_rejects_and_names_every_listed_mistake(check, answers):
    for mistake in listed_mistakes(check):
        result = check(mistake.wrong)
        assert result.status == "failed", mistake.name
        assert result.mistake == mistake.name, result.report
        assert mistake.hint in result.report


def test_every_check_lists_the_classic_mistakes():
    assert_lists_mistakes(CHECKS, least=5)


def test_checks_are_exported_from_package():
    for name in ch12.__all__:
        assert getattr(checks, name) is getattr(ch12, name)


# ---------------------------------------------------------------------------
# The references are right (brute force, identities)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_transition_reference_is_stochastic_with_the_right_jumps(kind):
    K, beta = 5, 0.3
    Q = ch12._tm_reference(kind, beta, K)
    assert np.allclose(Q.sum(axis=1), 1.0, atol=1e-15)
    assert np.all(Q >= 0)
    # probability of leaving a clean token is beta (1 - 1/K) / beta
    stay = 1 - beta + (beta / K if kind == "uniform" else 0.0)
    assert np.allclose(np.diag(Q)[:K], stay)
    if kind == "absorbing":
        assert np.array_equal(Q[K], np.eye(K + 1)[K])


def test_cumulative_reference_gives_the_uniform_closed_form():
    # Qbar_t = alpha_bar_t I + (1 - alpha_bar_t) / K 11^T
    K, betas = 4, np.array([0.1, 0.3, 0.05, 0.6])
    Q = np.stack([np.eye(K)] + [ch12._uniform(K, b) for b in betas])
    Qbar = ch12._ct_reference(Q)
    alpha_bar = np.concatenate([[1.0], np.cumprod(1 - betas)])
    for t in range(len(alpha_bar)):
        closed = (alpha_bar[t] * np.eye(K)
                  + (1 - alpha_bar[t]) / K * np.ones((K, K)))
        assert np.allclose(Qbar[t], closed, atol=1e-14)


def test_cumulative_cases_do_not_commute():
    # the reversed-order mistake is only visible on non-commuting steps
    for case in ch12._ct_cases()[:2]:
        Q = case.args[0]
        assert not np.allclose(ch12._ct_reference(Q),
                               ch12._ct_reversed(Q))


def test_posterior_reference_is_bayes_rule_by_enumeration():
    rng = np.random.default_rng(0)
    Q = np.stack([np.eye(3)] + [ch12._random_stochastic(rng, 3)
                                for _ in range(4)])
    Qbar = ch12._ct_reference(Q)
    t, x0 = 3, 1
    # joint of (x_(t-1), x_t) given x_0 by summing paths
    joint = np.zeros((3, 3))
    for path in itertools.product(range(3), repeat=t):
        p, prev = 1.0, x0
        for s, state in enumerate(path, start=1):
            p *= Q[s][prev, state]
            prev = state
        joint[path[-2], path[-1]] += p
    for xt in range(3):
        expected = joint[:, xt] / joint[:, xt].sum()
        got = ch12._post_reference(Q, Qbar, np.array([xt]),
                                   np.array([x0]), t)[0]
        assert np.allclose(got, expected, atol=1e-14)


def test_reverse_reference_with_the_exact_x0_posterior_is_exact():
    # With p(x_0 | x_t) the exact posterior under a prior p_data, the
    # reverse step equals q(x_(t-1) | x_t) computed from the joint.
    rng = np.random.default_rng(1)
    for kind in ["uniform", "absorbing"]:
        K = 3
        Qs = [ch12._tm_reference(kind, b, K) for b in (0.2, 0.4, 0.5)]
        Q = ch12._stack(*Qs)
        Qbar = ch12._ct_reference(Q)
        S, t = Q.shape[1], 2
        p_data = rng.dirichlet(np.ones(K))
        # joint over (x_0, x_(t-1), x_t)
        joint = (p_data[:, None, None] * Qbar[t - 1][:K, :, None]
                 * Q[t][None, :, :])
        for xt in range(S):
            p_xt = joint[:, :, xt].sum()
            if p_xt == 0:
                continue
            exact = joint[:, :, xt].sum(axis=0) / p_xt
            x0_post = joint[:, :, xt].sum(axis=1) / p_xt
            got = ch12._rev_reference(Q, Qbar, np.array([xt]), t,
                                      x0_post[None])[0]
            assert np.allclose(got, exact, atol=1e-14), (kind, xt)
            plug = ch12._rev_plug_in(Q, Qbar, np.array([xt]), t,
                                     x0_post[None])[0]
            if kind == "uniform":
                assert not np.allclose(plug, exact, atol=1e-6)


def _exact_masked_nelbo(logp):
    """sum over nonempty M of (|M|-1)!(L-|M|)!/L! sum_{l in M} -logp[M][l]
    for a model that sees which positions are masked: logp(M) -> (L,)."""
    L = len(logp(()))
    total = 0.0
    for k in range(1, L + 1):
        c = math.factorial(k - 1) * math.factorial(L - k) / math.factorial(L)
        for M in itertools.combinations(range(L), k):
            total -= c * sum(logp(M)[pos] for pos in M)
    return total


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_loss_reference_integrates_to_the_schedule_free_bound(schedule):
    # E over t ~ U(0, 1) and the masks of the per-sequence loss is the
    # any-order bound, whatever the schedule.
    rng = np.random.default_rng(2)
    L, K = 3, 4
    x0 = rng.integers(0, K, (1, L))
    table = {}

    def logp(M):
        if M not in table:
            table[M] = ch12._log_softmax(rng.standard_normal((L, K)))[
                np.arange(L), x0[0]]
        return table[M]

    expected = _exact_masked_nelbo(logp)
    nodes, weights = np.polynomial.legendre.leggauss(200)
    ts, ws = (nodes + 1) / 2, weights / 2
    integral = 0.0
    for t, w in zip(ts, ws, strict=True):
        if schedule == "linear":
            a, da = 1 - t, -1.0
        else:
            a, da = np.cos(np.pi * t / 2), -np.pi / 2 * np.sin(np.pi * t / 2)
        for k in range(L + 1):
            for M in itertools.combinations(range(L), k):
                prob = (1 - a) ** k * a ** (L - k)
                xt = x0.copy()
                xt[0, list(M)] = K
                log_probs = np.full((1, L, K), -np.log(K))
                log_probs[0, np.arange(L), x0[0]] = logp(M)
                loss = ch12._mdl_reference(log_probs, x0, xt,
                                           np.array([a]), np.array([da]))
                integral += w * prob * loss[0]
    assert integral == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------------
# Wrong answers found by trying the exercises (not listed mistakes)
# ---------------------------------------------------------------------------

def transition_integer_division(kind, beta, K):
    if kind == "uniform":
        return (1 - beta) * np.eye(K) + beta // K * np.ones((K, K))
    return ch12._absorbing(K, beta)


def transition_uniform_over_mask_too(kind, beta, K):
    if kind == "uniform":
        return ch12._uniform(K, beta)
    Q = (1 - beta) * np.eye(K + 1) + beta / (K + 1) * np.ones((K + 1,
                                                             K + 1))
    Q[K] = np.eye(K + 1)[K]
    return Q


def cumulative_without_identity(Q):
    return ch12._ct_reference(Q)[1:]


def cumulative_as_matrix_power(Q):
    # chapter 1's n-step matrix, as if every step were Q_t
    return np.array([np.linalg.matrix_power(Q[t], t)
                     for t in range(Q.shape[0])])


def posterior_one_step_only(Q, Qbar, xt, x0, t):
    # ignores x_0: the reverse of one step under a uniform prior
    p = Q[t][:, xt].T
    return p / p.sum(axis=1, keepdims=True)


def posterior_divided_by_q_xt_given_x0_prev(Q, Qbar, xt, x0, t):
    p = Q[t][:, xt].T * Qbar[t - 1][x0]
    return p / Qbar[t - 1][x0, xt][:, None]


def reverse_argmax_x0(Q, Qbar, xt, t, x0_probs):
    x0 = np.argmax(x0_probs, axis=1)
    return ch12._post_reference(Q, Qbar, xt, x0, t)


def cumulative_starting_from_q0(Q):
    # Qbar[0] = Q[0] and Qbar[t] = Q[0] Q[1] ... Q[t]
    out = [np.asarray(Q[0], dtype=float)]
    for t in range(1, Q.shape[0]):
        out.append(out[-1] @ Q[t])
    return np.stack(out)


def cumulative_qbar0_is_q0(Q):
    out = ch12._ct_reference(Q)
    out[0] = Q[0]
    return out


def reverse_impossible_x0_as_point_mass(Q, Qbar, xt, t, x0_probs):
    # the posterior of an impossible x_0 replaced by e_(x_t), no
    # renormalisation: right for the uniform and the absorbing chains
    p0, evidence, post = ch12._rev_parts(Q, Qbar, xt, t, x0_probs)
    S = np.shape(Q)[1]
    point = np.eye(S)[np.asarray(xt)][:, None, :]
    post = np.where(evidence[..., None] > 0, post, point)
    return np.einsum("nk,nks->ns", p0, post)


def reverse_visible_token_shortcut(Q, Qbar, xt, t, x0_probs):
    # "a visible token stays" applied to every chain with S > K
    xt = np.asarray(xt)
    S, K = np.shape(Q)[1], np.shape(x0_probs)[1]
    out = ch12._rev_not_renormalised(Q, Qbar, xt, t, x0_probs)
    if S > K:
        visible = xt < K
        out[visible] = np.eye(S)[xt[visible]]
    return out


def masked_loss_probabilities_not_logs(log_probs, x0, xt, alpha, dalpha):
    lp, masked = ch12._terms(np.exp(log_probs), x0, xt)
    return dalpha / (1 - alpha) * np.sum(np.where(masked, lp, 0), axis=1)


def masked_loss_batch_mean(log_probs, x0, xt, alpha, dalpha):
    return np.full(len(alpha), np.mean(ch12._mdl_reference(
        log_probs, x0, xt, alpha, dalpha)))


LEARNER_WRONG = [
    (ch12.check_transition_matrix, transition_integer_division),
    (ch12.check_transition_matrix, transition_uniform_over_mask_too),
    (ch12.check_cumulative_product, cumulative_without_identity),
    (ch12.check_cumulative_product, cumulative_as_matrix_power),
    (ch12.check_posterior_probs, posterior_one_step_only),
    (ch12.check_posterior_probs, posterior_divided_by_q_xt_given_x0_prev),
    (ch12.check_cumulative_product, cumulative_starting_from_q0),
    (ch12.check_cumulative_product, cumulative_qbar0_is_q0),
    (ch12.check_reverse_probs, reverse_argmax_x0),
    (ch12.check_reverse_probs, reverse_impossible_x0_as_point_mass),
    (ch12.check_reverse_probs, reverse_visible_token_shortcut),
    (ch12.check_masked_loss, masked_loss_probabilities_not_logs),
    (ch12.check_masked_loss, masked_loss_batch_mean),
]


@pytest.mark.parametrize("check, wrong", LEARNER_WRONG,
                         ids=[w.__name__ for _, w in LEARNER_WRONG])
def test_plausible_wrong_answer_is_rejected(check, wrong):
    result = check(wrong)
    assert result.status == "failed", result.report
    assert result.diagnosis or result.hint
    with pytest.raises(checks.CheckFailed):
        check(wrong, strict=True)


def test_transpose_is_named_in_the_absorbing_cases_only():
    result = ch12.check_transition_matrix(
        lambda kind, beta, K: ch12._tm_reference(kind, beta, K).T)
    assert result.mistake == "rows and columns swapped"
    assert all("absorbing" in msg for msg in result.failed)


def test_posterior_without_keepdims_fails_with_a_clear_report():
    def no_keepdims(Q, Qbar, xt, x0, t):
        p = Q[t][:, xt].T * Qbar[t - 1][x0]
        return p / p.sum(axis=1)

    result = ch12.check_posterior_probs(no_keepdims)
    assert result.status == "failed"
    assert "raised ValueError" in result.report


def test_reverse_without_removal_reports_nan_where_x0_is_impossible():
    result = ch12.check_reverse_probs(ch12._rev_not_removed)
    assert result.mistake == "impossible x_0 not removed (0/0)"
    assert all("absorbing" in msg or "moves up" in msg
               for msg in result.failed)


def test_austin_form_of_the_reverse_step_is_named_as_the_plug_in():
    # p(x_(t-1) | x_t) proportional to sum_a q(x_(t-1), x_t | a) p(a),
    # written as a learner would from Austin et al.'s eq. (4)
    def austin(Q, Qbar, xt, t, x0_probs):
        K = x0_probs.shape[1]
        out = np.zeros((len(xt), Q.shape[1]))
        for n in range(len(xt)):
            for a in range(K):
                out[n] += (x0_probs[n, a] * Qbar[t - 1][a]
                           * Q[t][:, xt[n]])
        return out / out.sum(axis=1, keepdims=True)

    result = ch12.check_reverse_probs(austin)
    assert result.mistake == "x_0 probabilities plugged into the posterior"
    # the absorbing cases pass: there q(x_t | a) is the same for every
    # possible a, and the two forms agree
    assert all("uniform" in msg or "moves up" in msg
               for msg in result.failed)
    assert not any("absorbing" in msg for msg in result.failed)
