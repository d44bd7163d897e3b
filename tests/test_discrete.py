"""Tests of diffusion_edu.discrete and discrete_denoiser (exact answers)."""

import itertools
import math

import numpy as np
import pytest

from diffusion_edu import discrete as d
from diffusion_edu import markov

WEATHER = np.array([[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]])


def small_data(K=3, L=3, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(K ** L, 0.7))
    return d.SequenceData(K, L, p)


def brute_posterior(proc, xt, x0, t):
    """q(x_{t-1} | x_t, x_0) from the joint of (x_0, x_{t-1}, x_t)."""
    joint = np.array([proc.Qbar[t - 1][x0, j] * proc.Q[t][j, xt]
                      for j in range(proc.S)])
    return joint / joint.sum()


# --- transition matrices and cumulative products ---------------------------

@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_transition_rows_sum_to_one(kind):
    proc = d.discrete_process(kind, 5, d.keep_schedule(7, "cosine"))
    for t in range(proc.T + 1):
        markov.validate_transition_matrix(proc.Q[t])
        markov.validate_transition_matrix(proc.Qbar[t])
    assert proc.S == (5 if kind == "uniform" else 6)


@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_closed_form_matches_ordered_product(kind):
    ab = np.array([1.0, 0.9, 0.7, 0.65, 0.3, 0.1])
    proc = d.discrete_process(kind, 4, ab)
    for t in range(proc.T + 1):
        np.testing.assert_allclose(
            proc.Qbar[t], d.qbar_closed_form(kind, 4, ab[t]), atol=1e-14)
        np.testing.assert_allclose(
            proc.Qbar[t],
            np.linalg.multi_dot([np.eye(proc.S)] + list(proc.Q[1:t + 1])
                                + [np.eye(proc.S)]), atol=1e-14)
    np.testing.assert_allclose(
        np.cumprod(1 - proc.beta), ab, atol=1e-14)


def test_uniform_matrix_entries():
    Q = d.uniform_transition(0.3, 4)
    assert Q[0, 0] == pytest.approx(0.7 + 0.3 / 4)
    assert Q[0, 1] == pytest.approx(0.3 / 4)


def test_absorbing_matrix_entries():
    Q = d.absorbing_transition(0.25, 3)
    np.testing.assert_allclose(Q[0], [0.75, 0, 0, 0.25])
    np.testing.assert_allclose(Q[3], [0, 0, 0, 1])


def test_cumulative_product_order_matters():
    A = np.array([[0.9, 0.1], [0.0, 1.0]])
    B = np.array([[1.0, 0.0], [0.6, 0.4]])
    Q = np.stack([np.eye(2), A, B])
    Qbar = d.cumulative_product(Q)
    np.testing.assert_allclose(Qbar[2], A @ B)
    assert not np.allclose(Qbar[2], B @ A)


def test_cumulative_product_rejects_columns_summing_to_one():
    Q = np.stack([np.eye(2), np.array([[0.9, 0.5], [0.1, 0.5]])])
    with pytest.raises(ValueError, match="row 0"):
        d.cumulative_product(Q)


@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_stepwise_simulation_matches_the_closed_form(kind):
    # one step at a time with a different Q_t at each step (markov's
    # simulator), against the closed forms (12.4) / (12.5) written out
    # by hand (not the package's Qbar)
    K, T, n, x0 = 4, 5, 200_000, 2
    alpha_bar = np.cos(0.5 * np.pi * np.arange(T + 1) / T)
    alpha_bar[T] = 0.0
    proc = d.discrete_process(kind, K, alpha_bar)
    rng = np.random.default_rng(0)
    x = np.full(n, x0)
    for t in range(1, 4):
        x = markov.simulate_from_uniforms(proc.Q[t], x,
                                          rng.random((1, n)))[1]
    freq = np.bincount(x, minlength=proc.S) / n
    a = alpha_bar[3]
    exact = np.zeros(proc.S)
    if kind == "uniform":
        exact[:] = (1 - a) / K
        exact[x0] += a
    else:
        exact[x0], exact[K] = a, 1 - a
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(freq - exact) <= 5 * se + 1e-12)


def test_marginal_matches_simulation_with_markov():
    proc = d.discrete_process("uniform", 4, d.keep_schedule(5))
    rng = np.random.default_rng(0)
    x0 = np.full(200_000, 1)
    xt = d.q_sample(proc, x0, 3, rng)
    freq = np.bincount(xt, minlength=4) / x0.size
    exact = d.q_xt_probs(proc, np.array(1), 3)
    a = 1 - 3 / 5                                 # linear alpha_bar_3
    np.testing.assert_allclose(exact, [(1 - a) / 4 + a * (j == 1)
                                       for j in range(4)], atol=1e-14)
    se = np.sqrt(exact * (1 - exact) / x0.size)
    assert np.all(np.abs(freq - exact) < 5 * se)


@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_stationary_is_the_limit(kind):
    proc = d.discrete_process(kind, 4, d.keep_schedule(6))
    for x0 in range(4):
        np.testing.assert_allclose(d.q_xt_probs(proc, np.array(x0), 6),
                                   proc.stationary, atol=1e-15)
    np.testing.assert_allclose(proc.stationary @ proc.Q[3],
                               proc.stationary, atol=1e-15)


# --- posterior and reverse step --------------------------------------------

@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_posterior_matches_enumeration(kind):
    proc = d.discrete_process(kind, 3, np.array([1, .8, .5, .45, .1]))
    for t in range(1, proc.T + 1):
        for x0 in range(3):
            for xt in range(proc.S):
                if proc.Qbar[t][x0, xt] == 0:
                    continue
                got = d.posterior_probs(proc, np.array(xt), np.array(x0), t)
                np.testing.assert_allclose(
                    got, brute_posterior(proc, xt, x0, t), atol=1e-14)
                assert got.sum() == pytest.approx(1.0, abs=1e-14)


def test_posterior_at_t1_is_point_mass():
    proc = d.discrete_process("uniform", 4, d.keep_schedule(3))
    got = d.posterior_probs(proc, np.array([0, 3]), np.array([2, 1]), 1)
    np.testing.assert_allclose(got, np.eye(4)[[2, 1]])


def test_posterior_rejects_impossible_pair():
    proc = d.discrete_process("absorbing", 3, d.keep_schedule(3))
    with pytest.raises(ValueError, match="undefined"):
        d.posterior_probs(proc, np.array(1), np.array(0), 2)


def test_reverse_with_true_posterior_is_true_reverse_step():
    # One token: sum_x0 q(x_{t-1}|x_t,x0) q(x0|x_t) = q(x_{t-1}|x_t).
    p0 = np.array([0.5, 0.3, 0.2])
    for kind in ["uniform", "absorbing"]:
        proc = d.discrete_process(kind, 3, d.keep_schedule(4, "cosine"))
        for t in range(1, 5):
            pt = p0 @ proc.Qbar[t][:3]
            prev = p0 @ proc.Qbar[t - 1][:3]
            for xt in np.flatnonzero(pt > 0):
                x0_post = p0 * proc.Qbar[t][:3, xt] / pt[xt]
                got = d.reverse_probs(proc, np.array(xt), t, x0_post)
                true = prev * proc.Q[t][:, xt] / pt[xt]
                np.testing.assert_allclose(got, true, atol=1e-14)


def test_reverse_keeps_unmasked_tokens():
    proc = d.discrete_process("absorbing", 3, d.keep_schedule(4))
    got = d.reverse_probs(proc, np.array([1]), 3,
                          np.array([[0.5, 0.2, 0.3]]))
    np.testing.assert_allclose(got, [[0, 1, 0, 0]])


def test_reverse_rejects_bad_probabilities():
    proc = d.discrete_process("uniform", 3, d.keep_schedule(4))
    with pytest.raises(ValueError, match="shape"):
        d.reverse_probs(proc, np.array([1]), 2, np.ones((1, 4)) / 4)
    with pytest.raises(ValueError, match="sum"):
        d.reverse_probs(proc, np.array([1]), 2, np.ones((1, 3)))


# --- the D3PM bound ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["uniform", "absorbing"])
def test_one_token_bound_is_exact_with_true_posterior(kind):
    data = d.SequenceData(4, 1, [0.1, 0.2, 0.3, 0.4])
    proc = d.discrete_process(kind, 4, d.keep_schedule(5))
    terms = d.d3pm_terms(data, proc, d.ideal_x0_marginals(data, proc))
    np.testing.assert_allclose(terms.total, -np.log(data.probs),
                               atol=1e-12)


def test_bound_below_model_likelihood_and_prior_gap():
    # -ELBO >= -log p_model(x0) for every x0, with p_model the exact law
    # of the model's samples; strict for a poor predictor, and a prior
    # term > 0 when alpha_bar_T > 0.
    data = small_data(K=2, L=2)

    def flat(xt, t):
        return np.broadcast_to([0.3, 0.7], xt.shape + (2,))

    for kind, ab in [("uniform", [1.0, 0.6, 0.3, 0.1]),
                     ("absorbing", [1.0, 0.6, 0.3, 0.0])]:
        proc = d.discrete_process(kind, 2, np.array(ab))
        for fn in [flat, d.ideal_x0_marginals(data, proc)]:
            terms = d.d3pm_terms(data, proc, fn)
            model = d.reverse_output_distribution(proc, fn, 2)
            assert np.all(terms.total >= -np.log(model) - 1e-12)
            if kind == "absorbing" and fn is flat:
                # a predictor that ignores x_t: the model is a product
                # of independent tokens and the bound is exact
                np.testing.assert_allclose(terms.total, -np.log(model),
                                           atol=1e-12)
        # the factorised reverse step of a correlated model loses
        assert np.all(terms.total > -np.log(model) + 1e-3)
        assert np.all(terms.prior > 0) == (kind == "uniform")


def test_absorbing_gap_is_mutual_information_over_T():
    data = d.swiss_roll_pairs(8)
    info = d.total_correlation(data)
    for T in [1, 2, 5]:
        proc = d.discrete_process("absorbing", 8, d.keep_schedule(T))
        terms = d.d3pm_terms(data, proc, d.ideal_x0_marginals(data, proc))
        gap = data.probs @ terms.total - data.entropy()
        assert gap == pytest.approx(info / T, abs=1e-10)
        out = d.reverse_output_distribution(
            proc, d.ideal_x0_marginals(data, proc), 2)
        product = np.outer(*data.marginals()).ravel()
        np.testing.assert_allclose(out, (1 - 1 / T) * data.probs
                                   + product / T, atol=1e-12)


@pytest.mark.parametrize("predictor", ["constant", "ideal", "blurred"])
def test_d3pm_terms_match_monte_carlo_of_path_log_ratio(predictor):
    data = small_data(K=2, L=2, seed=3)
    proc = d.discrete_process("uniform", 2, np.array([1, .7, .4, .2]))
    ideal = d.ideal_x0_marginals(data, proc)

    def fn(xt, t):
        if predictor == "constant":          # ignores x_t
            return np.full(xt.shape + (2,), 0.5) * np.array([0.8, 1.2])
        if predictor == "ideal":
            return ideal(xt, t)
        # depends on x_t and on the position, and is not the ideal one
        p = ideal(xt, t)
        return 0.6 * p + 0.4 * p[..., ::-1, :]

    terms = d.d3pm_terms(data, proc, fn)
    rng = np.random.default_rng(1)
    i0 = 1
    x0 = np.repeat(data.sequences[i0][None], 100_000, axis=0)
    # sample the whole forward path, sum log q(x_t|x_{t-1}) - log p(...)
    x = [x0]
    for t in range(1, proc.T + 1):
        x.append(d._draw(proc.Q[t][x[-1]], rng))
    logratio = np.zeros(x0.shape[0])
    for t in range(1, proc.T + 1):
        logratio += np.log(proc.Q[t][x[t - 1], x[t]]).sum(1)
        r = d.reverse_probs(proc, x[t], t, fn(x[t], t))
        logratio -= np.log(np.take_along_axis(
            r, x[t - 1][..., None], -1)[..., 0]).sum(1)
    logratio -= np.log(proc.stationary[x[-1]]).sum(1)
    se = logratio.std() / np.sqrt(logratio.size)
    assert abs(logratio.mean() - terms.total[i0]) < 5 * se


# --- masked diffusion in continuous time ----------------------------------

def test_masked_bound_with_exact_conditionals_is_exact_nll():
    data = small_data(K=3, L=3)
    cond = d.ideal_conditionals(data)
    np.testing.assert_allclose(d.masked_nelbo(data, cond),
                               -np.log(data.probs), atol=1e-12)
    np.testing.assert_allclose(d.any_order_nll(data, cond),
                               -np.log(data.probs), atol=1e-12)


def test_masked_bound_is_schedule_invariant_and_equals_any_order():
    data = small_data(K=2, L=3, seed=2)
    rng = np.random.default_rng(4)

    W = np.random.default_rng(5).normal(size=(3, 3, 2))

    def cond(xt):   # an arbitrary (wrong) predictor that uses the context
        logits = np.einsum("nk,klc->nlc", (xt == 2).astype(float), W) \
            + np.einsum("nk,klc->nlc", xt.astype(float), W[::-1]) * 0.4
        p = np.exp(logits)
        return p / p.sum(-1, keepdims=True)

    exact = d.masked_nelbo(data, cond)
    for kind in ["linear", "cosine"]:
        np.testing.assert_allclose(
            d.masked_nelbo_quadrature(data, cond, kind, 200), exact,
            rtol=1e-8)
    np.testing.assert_allclose(d.any_order_nll(data, cond), exact,
                               atol=1e-12)
    assert data.probs @ exact > data.entropy()
    # the bound depends on how often each mask occurs, not only on each
    # position's total weight: a sum of per-position terms would not see it
    c = d._masked_nll_by_pattern(data, cond)
    singles = [i for i, p in enumerate(d._masked_patterns(3))
               if p.sum() == 1]                  # masks of one position
    per_position = c[:, singles].sum(1)
    assert np.max(np.abs(exact - per_position)) > 0.05
    x0 = np.repeat(data.sequences[3][None], 200_000, axis=0)
    est = d.masked_nelbo_monte_carlo(data, cond, x0, rng, "cosine")
    assert abs(est.mean() - exact[3]) < 5 * est.std() / np.sqrt(est.size)


def test_schedules_have_their_formulas():
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(d.alpha_continuous(t, "linear"), 1 - t)
    np.testing.assert_allclose(d.alpha_continuous(t, "cosine"),
                               np.cos(np.pi * t / 2), atol=1e-15)
    T = 8
    s = np.arange(T + 1)
    np.testing.assert_allclose(d.keep_schedule(T, "linear"), 1 - s / T)
    np.testing.assert_allclose(d.keep_schedule(T, "cosine"),
                               np.cos(np.pi * s / (2 * T)), atol=1e-15)
    # alpha'(t) against a central finite difference of alpha(t)
    h = 1e-6
    inner = np.linspace(0.05, 0.95, 10)
    for kind in ("linear", "cosine"):
        fd = (d.alpha_continuous(inner + h, kind)
              - d.alpha_continuous(inner - h, kind)) / (2 * h)
        np.testing.assert_allclose(d.alpha_prime(inner, kind), fd,
                                   atol=1e-8)

def test_ideal_conditionals_match_absorbing_x0_marginals():
    data = small_data(K=2, L=3)
    proc = d.discrete_process("absorbing", 2, d.keep_schedule(4))
    xt = d.all_sequences(3, 3)
    for t in [1, 2, 3]:
        np.testing.assert_allclose(d.ideal_x0_marginals(data, proc)(xt, t),
                                   d.ideal_conditionals(data)(xt),
                                   atol=1e-12)


def test_total_correlation_is_mutual_information_for_pairs():
    data = d.swiss_roll_pairs(8)
    m = data.marginals()
    kl = d.categorical_kl(data.probs, np.outer(m[0], m[1]).ravel())
    assert d.total_correlation(data) == pytest.approx(kl, abs=1e-12)
    assert d.total_correlation(d.SequenceData(
        2, 2, np.outer([.3, .7], [.6, .4]).ravel())) == pytest.approx(
            0.0, abs=1e-12)


def test_markov_sequences_joint():
    pi = markov.stationary_distribution(WEATHER)
    data = d.markov_sequences(WEATHER, pi, 4)
    x = np.array([[0, 1, 2, 2]])
    assert data.log_prob(x)[0] == pytest.approx(
        np.log(pi[0] * 0.2 * 0.3 * 0.5))
    np.testing.assert_allclose(data.marginals(), np.tile(pi, (4, 1)),
                               atol=1e-12)


def test_sequence_data_index_and_sampling():
    data = small_data(K=3, L=2)
    seqs = data.sequences
    np.testing.assert_array_equal(data.index(seqs), np.arange(9))
    assert list(map(tuple, seqs)) == list(
        itertools.product(range(3), repeat=2))
    x = data.sample(100_000, 0)
    freq = np.bincount(data.index(x), minlength=9) / 100_000
    se = np.sqrt(data.probs * (1 - data.probs) / 100_000)
    assert np.all(np.abs(freq - data.probs) < 5 * se + 1e-12)


def test_sample_reverse_matches_exact_output_law():
    data = d.swiss_roll_pairs(6)
    proc = d.discrete_process("absorbing", 6, d.keep_schedule(3))
    fn = d.ideal_x0_marginals(data, proc)
    exact = d.reverse_output_distribution(proc, fn, 2)
    x = d.sample_reverse(proc, fn, 60_000, 2, 0)
    freq = np.bincount(data.index(x), minlength=36) / x.shape[0]
    se = np.sqrt(exact * (1 - exact) / x.shape[0])
    assert np.all(np.abs(freq - exact) < 5 * se + 1e-9)


def test_masked_nelbo_is_the_beta_weighted_sum_over_masks():
    # (12.12) by hand: a loop over masks with weights (m-1)!(L-m)!/L!,
    # for a predictor that uses the context
    data = small_data(K=2, L=3, seed=4)
    L, K = data.L, data.K
    blur = d.ideal_conditionals(data)

    def cond(xt):
        p = blur(xt)
        return 0.6 * p + 0.4 * p[:, ::-1, :]

    by_hand = np.zeros(len(data.probs))
    for m in range(1, L + 1):
        w = math.factorial(m - 1) * math.factorial(L - m) / math.factorial(L)
        for M in itertools.combinations(range(L), m):
            xt = data.sequences.copy()
            xt[:, list(M)] = K
            p = np.take_along_axis(cond(xt), data.sequences[..., None],
                                   -1)[..., 0]
            by_hand += w * -np.log(p[:, list(M)]).sum(1)
    np.testing.assert_allclose(d.masked_nelbo(data, cond), by_hand,
                               atol=1e-12)
    # a predictor that ignores the context (fixed laws q_l): the bound is
    # sum_l -log q_l(x^l), because the weights of each size sum to 1/m
    q = np.array([[0.3, 0.7], [0.6, 0.4], [0.45, 0.55]])
    fixed = d.masked_nelbo(data, lambda xt: np.broadcast_to(
        q, xt.shape + (K,)))
    expected = -np.log(q[np.arange(L), data.sequences]).sum(1)
    np.testing.assert_allclose(fixed, expected, atol=1e-12)


# --- bad input ---------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="uniform' or 'absorbing"):
        d.discrete_process("gaussian", 3, d.keep_schedule(2))
    with pytest.raises(ValueError, match="non-increasing"):
        d.discrete_process("uniform", 3, [1.0, 0.5, 0.7])
    with pytest.raises(ValueError, match=r"alpha_bar\[0\] must be 1"):
        d.discrete_process("uniform", 3, [0.9, 0.5])
    with pytest.raises(ValueError, match="jump probability"):
        d.uniform_transition(1.5, 3)
    with pytest.raises(ValueError, match="must lie in 0..2"):
        d.q_xt_probs(d.discrete_process("uniform", 3, [1, .5]),
                     np.array([3]), 1)
    with pytest.raises(TypeError, match="integer tokens"):
        d.q_xt_probs(d.discrete_process("uniform", 3, [1, .5]),
                     np.array([0.5]), 1)
    with pytest.raises(ValueError, match="t must be <= 1"):
        d.q_xt_probs(d.discrete_process("uniform", 3, [1, .5]),
                     np.array([0]), 2)
    with pytest.raises(ValueError, match="must sum to 1"):
        d.SequenceData(2, 2, [0.5, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="t must lie in"):
        d.alpha_continuous(1.5)
    with pytest.raises(ValueError, match="p must sum to 1"):
        d.categorical_kl([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="q must sum to 1"):
        d.categorical_kl([0.5, 0.5], [0.2, 0.2])


def test_bad_predictors_raise_clear_errors():
    data = small_data(K=2, L=2)

    def ones(xt):                    # not normalised: -ELBO would be 0
        return np.ones(xt.shape + (2,))

    def wrong_k(xt):
        return np.full(xt.shape + (5,), 0.2)

    for fn in (d.masked_nelbo, d.any_order_nll,
               lambda data, c: d.masked_nelbo_quadrature(data, c,
                                                         "cosine")):
        with pytest.raises(ValueError, match="sum to 1 over the K tokens"):
            fn(data, ones)
        with pytest.raises(ValueError, match=r"shape \(M, L, K\)"):
            fn(data, wrong_k)
    with pytest.raises(ValueError, match="sum to 1"):
        d.masked_nelbo_monte_carlo(data, ones, data.sequences, 0)


def test_masked_loss_refuses_bad_tokens():
    torch = pytest.importorskip("torch")
    from diffusion_edu import discrete_denoiser as dd
    net = dd.TokenDenoiser(3, 2, hidden=8, seed=0)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"\[MASK\] = 3 is not data"):
        dd.masked_loss(net, torch.tensor([[0, 3]]), gen)
    with pytest.raises(TypeError, match="integer tokens"):
        dd.masked_loss(net, torch.tensor([[0.0, 1.0]]), gen)
    with pytest.raises(ValueError, match=r"shape \(N, L = 2\)"):
        dd.masked_loss(net, torch.tensor([0, 1]), gen)
    with pytest.raises(TypeError, match="torch integer tensor"):
        dd.masked_loss(net, np.array([[0, 1]]), gen)


# --- the network ------------------------------------------------------

def test_token_denoiser_learns_the_conditionals():
    torch = pytest.importorskip("torch")
    from diffusion_edu import discrete_denoiser as dd
    torch.set_num_threads(1)
    data = d.markov_sequences(WEATHER, markov.stationary_distribution(
        WEATHER), 3)
    net = dd.TokenDenoiser(3, 3, hidden=64, seed=0)
    cond = dd.as_cond_fn(net)
    before = data.probs @ d.masked_nelbo(data, cond)
    losses = dd.train_masked(net, data, steps=300, batch_size=128, rng=0)
    after = data.probs @ d.masked_nelbo(data, cond)
    assert losses.shape == (300,)
    assert after < before
    assert after >= data.entropy() - 1e-9
    assert after - data.entropy() < 0.05
    xt = np.array([[0, 3, 1]])
    np.testing.assert_allclose(cond(xt)[0, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="K = 3, L = 3"):
        dd.train_masked(dd.TokenDenoiser(3, 2), data, steps=1)


def test_ideal_x0_marginals_match_bayes_by_hand():
    data = small_data(K=2, L=2, seed=5)
    proc = d.discrete_process("uniform", 2, np.array([1, .7, .3]))
    fn = d.ideal_x0_marginals(data, proc)
    xt = np.array([[0, 1], [1, 1]])
    for t in (1, 2):
        got = fn(xt, t)
        for m, y in enumerate(xt):
            w = np.array([data.probs[i] * proc.Qbar[t][x[0], y[0]]
                          * proc.Qbar[t][x[1], y[1]]
                          for i, x in enumerate(data.sequences)])
            w /= w.sum()
            first = [w[data.sequences[:, 0] == a].sum() for a in (0, 1)]
            second = [w[data.sequences[:, 1] == a].sum() for a in (0, 1)]
            np.testing.assert_allclose(got[m], [first, second], atol=1e-14)


def test_too_large_enumeration_is_refused():
    big = d.SequenceData(3, 9, np.full(3 ** 9, 3.0 ** -9))
    with pytest.raises(ValueError, match="keep their product"):
        d.ideal_conditionals(big)


def test_masked_loss_is_unbiased_for_the_exact_bound():
    torch = pytest.importorskip("torch")
    from diffusion_edu import discrete_denoiser as dd
    torch.set_num_threads(1)
    data = small_data(K=3, L=3, seed=7)
    net = dd.TokenDenoiser(3, 3, hidden=32, seed=1)
    exact = data.probs @ d.masked_nelbo(data, dd.as_cond_fn(net))
    gen = torch.Generator().manual_seed(0)
    x = torch.from_numpy(data.sample(200 * 256, 3))
    with torch.no_grad():
        losses = np.array([dd.masked_loss(net, xb, gen).item()
                           for xb in x.split(256)])
    se = losses.std() / np.sqrt(losses.size)
    assert abs(losses.mean() - exact) < 4 * se


def test_as_cond_fn_rejects_bad_tokens():
    pytest.importorskip("torch")
    from diffusion_edu import discrete_denoiser as dd
    cond = dd.as_cond_fn(dd.TokenDenoiser(3, 2))
    with pytest.raises(ValueError, match=r"0\.\.3"):
        cond(np.array([[0, 4]]))
    with pytest.raises(TypeError, match="integer"):
        cond(np.array([[0.0, 1.0]]))
    probs = cond(np.array([[3, 1]]))
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    np.testing.assert_allclose(probs[0, 1], [0, 1, 0])


def test_one_step_decoding_error_is_total_correlation():
    data = small_data(K=3, L=3, seed=11)
    proc = d.discrete_process("absorbing", 3, d.keep_schedule(1))
    out = d.reverse_output_distribution(
        proc, d.ideal_x0_marginals(data, proc), 3)
    m = data.marginals()
    product = np.einsum("a,b,c->abc", *m).ravel()
    np.testing.assert_allclose(out, product, atol=1e-14)
    h_marg = -(m * np.log(m)).sum()
    tc = h_marg - data.entropy()
    assert d.total_correlation(data) == pytest.approx(tc, abs=1e-12)
    assert d.categorical_kl(data.probs, out) == pytest.approx(tc, abs=1e-12)
