"""Tests of diffusion_edu.elbo: KL, likelihood, every term of the bound."""

import numpy as np
import pytest

from diffusion_edu import elbo as E
from diffusion_edu import gaussian as G
from diffusion_edu import schedules as S
from diffusion_edu import toy_data as TD

M_DATA, V_DATA = 0.5, 0.1          # Gaussian data N(m, v), 1-D


def exact_expected_gap(s, m, v, var_type):
    """E_x0[−ELBO] − E_x0[−log q(x0)] for data N(m, v) and the exact mean.

    Written out independently of the package: with the ideal ε̂ the model
    mean is μ̃_t(E[x0|x_t], x_t), so
    E L_{t−1} = ½(log(σ²/β̃) + β̃/σ² − 1 + c_t² Var[x0|x_t]/σ²) with
    c_t = √ᾱ_{t−1} β_t/(1 − ᾱ_t) and Var[x0|x_t] = 1/(1/v + SNR_t);
    E L_0 = ½ log(2π β_1) + Var[x0|x_1]/(2 β_1);
    E L_T = ½(−log(1 − ᾱ_T) + (1 − ᾱ_T) + ᾱ_T (m² + v) − 1).
    """
    ab, b, bt = s.alpha_bar, s.beta, s.beta_tilde
    sig2 = bt if var_type == "fixed_small" else b
    total = 0.0
    for t in range(2, s.T + 1):
        c = np.sqrt(ab[t - 1]) * b[t] / (1 - ab[t])
        v_post = 1 / (1 / v + ab[t] / (1 - ab[t]))
        total += 0.5 * (np.log(sig2[t] / bt[t]) + bt[t] / sig2[t] - 1
                        + c ** 2 * v_post / sig2[t])
    v_post1 = 1 / (1 / v + ab[1] / (1 - ab[1]))
    total += 0.5 * np.log(2 * np.pi * b[1]) + v_post1 / (2 * b[1])
    a_T = ab[s.T]
    total += 0.5 * (-np.log(1 - a_T) + (1 - a_T) + a_T * (m * m + v) - 1)
    return total - 0.5 * np.log(2 * np.pi * np.e * v)


@pytest.fixture(scope="module")
def gauss():
    return TD.GaussianMixture1D([1.0], [M_DATA], [V_DATA])


@pytest.fixture(scope="module")
def data(gauss):
    x0 = gauss.sample(20_000, np.random.default_rng(0))
    nll = 0.5 * np.log(2 * np.pi * V_DATA) + (x0[:, 0] - M_DATA) ** 2 / (
        2 * V_DATA)
    return x0, nll


# ------------------------------------------------------- KL and likelihood

def test_gaussian_kl_formula_and_properties():
    assert E.gaussian_kl(0.3, 2.0, 0.3, 2.0) == 0.0
    # KL(N(1, 1) || N(0, 4)) = ½(log 4 + (1 + 1)/4 − 1)
    assert E.gaussian_kl(1.0, 1.0, 0.0, 4.0) == pytest.approx(
        0.5 * (np.log(4) + 0.5 - 1), rel=1e-14)
    # not symmetric
    assert E.gaussian_kl(0.0, 4.0, 1.0, 1.0) != pytest.approx(
        E.gaussian_kl(1.0, 1.0, 0.0, 4.0))
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=(2, 100))
    v1, v2 = rng.uniform(0.1, 3, size=(2, 100))
    assert np.all(E.gaussian_kl(m1, v1, m2, v2) >= 0)


def test_gaussian_kl_matches_monte_carlo():
    # KL = E_{x~p}[log p(x) − log q(x)]; 400k draws, SE ≈ 0.002,
    # tolerance 5 SE.
    rng = np.random.default_rng(2)
    x = 0.4 + np.sqrt(0.7) * rng.standard_normal(400_000)
    diff = (E.gaussian_log_likelihood(x, 0.4, 0.7)
            - E.gaussian_log_likelihood(x, -0.3, 1.9))
    se = diff.std() / np.sqrt(diff.size)
    assert diff.mean() == pytest.approx(
        E.gaussian_kl(0.4, 0.7, -0.3, 1.9), abs=5 * se)


def test_gaussian_log_likelihood_is_normal_log_density():
    x = np.array([-1.0, 0.0, 2.5])
    expected = np.log(np.exp(-(x - 0.5) ** 2 / (2 * 0.3))
                      / np.sqrt(2 * np.pi * 0.3))
    np.testing.assert_allclose(E.gaussian_log_likelihood(x, 0.5, 0.3),
                               expected, rtol=1e-13)


def test_prior_kl_is_kl_to_standard_normal():
    s = S.linear(50, 1e-3, 0.1)
    x0 = np.array([[0.5, -2.0], [1.0, 0.0]])
    ab = s.alpha_bar[50]
    expected = np.sum(0.5 * (-np.log(1 - ab) + (1 - ab) + ab * x0 ** 2
                             - 1), axis=1)
    np.testing.assert_allclose(E.prior_kl(s, x0), expected, rtol=1e-12)
    assert E.prior_kl(S.linear(1000), x0).max() < 1e-3


# --------------------------------------------------------------- the terms

def test_terms_are_t_indexed_and_recomputable_by_hand():
    # Recompute every term with the same random stream (one x_t per t, in
    # increasing t) and an arbitrary linear ε-model.
    s = S.linear(6, 0.01, 0.3)
    x0 = np.array([[0.3, -1.0], [2.0, 0.5], [0.0, 0.1]])

    def model(x, t):
        return 0.7 * x + 0.01 * t[:, None]

    terms = E.elbo_terms(s, model, x0, np.random.default_rng(3))
    assert terms.kl.shape == (3, 7)
    assert np.all(terms.kl[:, :2] == 0)
    rng = np.random.default_rng(3)
    for t in range(1, 7):
        xt = G.q_sample(s, x0, t, rng.standard_normal(x0.shape))
        mu = G.posterior_mean_from_eps(s, xt, t, model(xt, np.full(3, t)))
        if t == 1:
            dec = np.sum(0.5 * np.log(2 * np.pi * s.beta[1])
                         + (x0 - mu) ** 2 / (2 * s.beta[1]), axis=1)
            np.testing.assert_allclose(terms.decoder, dec, rtol=1e-12)
        else:
            mt, vt = G.posterior_mean_var(s, x0, xt, t)
            kl = np.sum((mt - mu) ** 2 / (2 * vt), axis=1)  # equal vars
            np.testing.assert_allclose(terms.kl[:, t], kl, rtol=1e-10)
    np.testing.assert_allclose(terms.prior, E.prior_kl(s, x0), rtol=1e-14)
    np.testing.assert_allclose(
        terms.total, terms.prior + terms.kl.sum(1) + terms.decoder)
    np.testing.assert_allclose(
        E.elbo(s, model, x0, np.random.default_rng(3)), -terms.total)


def test_decoder_variance_is_beta_1_for_both_var_types_or_as_given():
    s = S.linear(5, 0.01, 0.2)
    x0 = np.array([[0.4], [-1.2]])

    def model(x, t):
        return np.zeros_like(x)

    small = E.elbo_terms(s, model, x0, 4, "fixed_small")
    large = E.elbo_terms(s, model, x0, 4, "fixed_large")
    np.testing.assert_array_equal(small.decoder, large.decoder)
    # with ε̂ = 0, μ_θ(x_1, 1) = x_1/√α_1; recompute with σ_dec² = 0.05
    custom = E.elbo_terms(s, model, x0, 4, decoder_var=0.05)
    x1 = G.q_sample(s, x0, 1, np.random.default_rng(4).standard_normal(
        x0.shape))
    mu = x1 / np.sqrt(s.alpha[1])
    np.testing.assert_allclose(
        custom.decoder,
        -E.gaussian_log_likelihood(x0, mu, 0.05)[:, 0], rtol=1e-12)
    np.testing.assert_allclose(
        small.decoder,
        -E.gaussian_log_likelihood(x0, mu, s.beta[1])[:, 0], rtol=1e-12)


def test_nats_bits_conversions():
    assert E.nats_to_bits(np.log(2)) == pytest.approx(1.0)
    np.testing.assert_allclose(E.bits_per_dim(np.array([8 * np.log(2)]), 4),
                               [2.0])


# ---------------------------------------------- the bound on Gaussian data

@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_monte_carlo_terms_match_exact_expectations(gauss, data, var_type):
    # 20_000 examples; each estimate's SE is 0.003-0.012 nats; the
    # tolerance is 5 SE. Mutations tried by hand (σ_t for σ_t² in the KL,
    # a missing ½, the KL's arguments swapped with fixed_large) move the
    # mean by 40 to 7000 SE.
    x0, nll = data
    for T in (5, 20, 100):
        s = S.cosine(T)
        gap = E.elbo_terms(s, gauss.eps_model(s), x0, T,
                           var_type).total - nll
        se = gap.std() / np.sqrt(gap.size)
        assert gap.mean() == pytest.approx(
            exact_expected_gap(s, M_DATA, V_DATA, var_type), abs=5 * se)


def test_negative_elbo_bounds_nll_and_gap_shrinks_with_T(gauss, data):
    # With σ_t² = β_t (the reverse variance of near-unit-variance data at
    # small t) the expected gap is 0.279 (T = 5), 0.085 (T = 20) and
    # 0.018 (T = 100): it shrinks like 1/T. Asserted on the Monte Carlo
    # estimates with 5-SE margins.
    x0, nll = data
    gaps = {}
    for T in (5, 20, 100):
        s = S.cosine(T)
        gaps[T] = E.elbo_terms(s, gauss.eps_model(s), x0, 100 + T,
                               "fixed_large").total - nll
    for T, gap in gaps.items():
        se = gap.std() / np.sqrt(gap.size)
        assert gap.mean() > -3 * se, T          # −ELBO >= NLL
    for a, b in [(5, 20), (20, 100)]:
        d = gaps[a] - gaps[b]
        assert d.mean() > 5 * d.std() / np.sqrt(d.size)
    assert gaps[5].mean() > 0.2


def test_fixed_small_gap_does_not_vanish(gauss, data):
    # With σ_t² = β̃_t the steps t = 2, 3, ... cost ½(log(β/β̃) + β̃/β − 1)
    # with β̃/β ≈ (t−1)/t whatever T is, so the gap tends to ≈ 0.3 nats,
    # not 0 (exact: 0.40 at T = 1000). −ELBO >= NLL by many SE.
    x0, nll = data
    s = S.cosine(1000)
    gap = E.elbo_terms(s, gauss.eps_model(s), x0[:5000], 7,
                       "fixed_small").total - nll[:5000]
    assert exact_expected_gap(s, M_DATA, V_DATA, "fixed_small") > 0.3
    assert gap.mean() > 0.3
    assert gap.mean() > 10 * gap.std() / np.sqrt(gap.size)


def test_worse_model_has_worse_bound(gauss, data):
    x0, nll = data
    s = S.cosine(20)
    exact = E.elbo(s, gauss.eps_model(s), x0, 9)
    worse = E.elbo(s, lambda x, t: 1.2 * gauss.eps(x, s, t), x0, 9)
    assert np.mean(exact - worse) > 0.05
    assert np.mean(-worse - nll) > 0


# ------------------------------------------------------------------ bad input

X = np.zeros((3, 2))
S10 = S.linear(10)


def _zero_model(x, t):
    return np.zeros_like(x)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: E.gaussian_kl(0.0, 0.0, 0.0, 1.0), ValueError,
     "var1 must be a variance > 0"),
    (lambda: E.gaussian_kl(0.0, 1.0, 0.0, -1.0), ValueError,
     "var2 must be a variance > 0"),
    (lambda: E.gaussian_kl(np.nan, 1.0, 0.0, 1.0), ValueError, "finite"),
    (lambda: E.gaussian_kl(np.zeros(3), 1.0, np.zeros(4), 1.0), ValueError,
     "broadcast"),
    (lambda: E.gaussian_log_likelihood(0.0, 0.0, 0.0), ValueError,
     "var must be a variance > 0"),
    (lambda: E.gaussian_log_likelihood(np.zeros(2), np.zeros(3), 1.0),
     ValueError, "broadcast"),
    (lambda: E.prior_kl(S10, np.zeros((2, 2, 2))), ValueError,
     r"shape \(N, D\)"),
    (lambda: E.prior_kl(S10, [[np.inf]]), ValueError, "finite"),
    (lambda: E.prior_kl([0.0, 0.1], X), TypeError, "must be a Schedule"),
    (lambda: E.elbo_terms(S10, _zero_model, X, 0, "learned"), ValueError,
     "var_type must be"),
    (lambda: E.elbo_terms(S10, _zero_model, X, 0, decoder_var=0.0),
     ValueError, "decoder_var must be a variance > 0"),
    (lambda: E.elbo_terms(S10, _zero_model, X, None), TypeError,
     "Generator"),
    (lambda: E.elbo_terms(S10, lambda x, t: x[:2], X, 0), ValueError,
     "must return shape"),
    (lambda: E.elbo(S10, _zero_model, [[np.nan, 0.0]], 0), ValueError,
     "finite"),
    (lambda: E.bits_per_dim(1.0, 0), ValueError, "dim must be >= 1"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------- excess over the ideal denoiser, KL

def _offset(ideal, delta):
    """A damaged denoiser: the ideal prediction plus a fixed vector."""
    def eps_model(x, t):
        return ideal(x, t) + delta
    return eps_model


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_elbo_weights_turn_kl_and_decoder_into_eps_errors(var_type):
    # L_{t-1}(ε̂) − L_{t-1}(ε) = w_t ||ε − ε̂||², from the Gaussian KL and
    # the decoder's log-density written out independently.
    s = S.cosine(20)
    w = E.elbo_weights(s, var_type)
    sig2 = G.reverse_variance(s, var_type)
    rng = np.random.default_rng(3)
    x0, eps, eps_hat = rng.standard_normal((3, 50, 2))
    for t in range(1, s.T + 1):
        xt = G.q_sample(s, x0, t, eps)
        mu_hat = G.posterior_mean_from_eps(s, xt, t, eps_hat)
        err = np.sum((eps - eps_hat) ** 2, axis=1)
        if t == 1:
            extra = np.sum((x0 - mu_hat) ** 2, axis=1) / (2 * s.beta[1])
        else:
            mu, bt = G.posterior_mean_var(s, x0, xt, t)
            extra = np.sum(E.gaussian_kl(mu, bt, mu_hat, sig2[t])
                           - E.gaussian_kl(mu, bt, mu, sig2[t]), axis=1)
        np.testing.assert_allclose(extra, w[t] * err, rtol=1e-9)
    assert w[0] == 0.0
    assert E.elbo_weights(s, var_type, decoder_var=2 * s.beta[1])[1] == (
        pytest.approx(w[1] / 2, rel=1e-14))


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("n_t", [None, 3])
def test_ideal_denoiser_scores_zero_excess_exactly(var_type, n_t):
    s = S.linear(60)
    for data in [TD.GaussianMixture1D(), TD.SwissRoll2D()]:
        ideal = data.eps_model(s)
        x0 = data.sample(40, np.random.default_rng(4))
        draws = E.paired_draws(s, ideal, x0, 5, var_type, n_t=n_t)
        for estimator in ["distance", "difference"]:
            r = draws.excess(ideal, estimator)
            assert r.mean == 0.0 and r.se == 0.0
            assert np.all(r.per_t == 0.0) and np.all(r.per_example == 0)


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_damaged_denoiser_excess_is_the_weighted_eps_error(var_type):
    # ε̂ = ε* + δ: ΔL = Σ_t w_t ||δ||² exactly (distance form, every t)
    # and within 4 SE for the difference of the two bounds.
    s = S.linear(200)
    mix = TD.GaussianMixture1D()
    ideal = mix.eps_model(s)
    delta = np.array([0.07])
    exact = E.elbo_weights(s, var_type)[1:].sum() * 0.07 ** 2
    x0 = mix.sample(3000, np.random.default_rng(6))
    draws = E.paired_draws(s, ideal, x0, 7, var_type)
    r = draws.excess(_offset(ideal, delta))
    assert r.mean == pytest.approx(exact, rel=1e-12)
    np.testing.assert_allclose(
        r.per_t[1:], E.elbo_weights(s, var_type)[1:] * 0.07 ** 2,
        rtol=1e-12)
    diff = draws.excess(_offset(ideal, delta), "difference")
    assert 0 < diff.se < exact / 3
    assert abs(diff.mean - exact) < 4 * diff.se
    assert diff.per_t.sum() == pytest.approx(diff.mean, rel=1e-12)


def test_difference_estimator_is_the_difference_of_elbos():
    s = S.cosine(30)
    roll = TD.SwissRoll2D()
    ideal = roll.eps_model(s)
    x0 = roll.sample(25, np.random.default_rng(8))
    worse = _offset(ideal, np.array([0.05, -0.1]))
    for var_type in ["fixed_small", "fixed_large"]:
        draws = E.paired_draws(s, ideal, x0, 9, var_type)
        r = draws.excess(worse, "difference")
        by_elbo = (E.elbo(s, ideal, x0, 9, var_type)
                   - E.elbo(s, worse, x0, 9, var_type))
        np.testing.assert_allclose(r.per_example, by_elbo, rtol=1e-9,
                                   atol=1e-9)
        np.testing.assert_allclose(draws.neg_elbo(worse),
                                   -E.elbo(s, worse, x0, 9, var_type),
                                   rtol=1e-10)


def test_importance_sampled_t_is_unbiased():
    # A damage that grows with t, so that p(t) ∝ w_t is not the optimal
    # proposal: the estimate must still match Σ_t w_t ||δ_t||².
    s = S.linear(100)
    mix = TD.GaussianMixture1D()
    ideal = mix.eps_model(s)

    def worse(x, t):
        return ideal(x, t) + 0.2 * np.sqrt(t / s.T)[:, None]

    w = E.elbo_weights(s)
    exact = float(np.sum(w[1:] * 0.04 * np.arange(1, s.T + 1) / s.T))
    x0 = mix.sample(4000, np.random.default_rng(10))
    r = E.excess_nll(s, worse, ideal, x0, 11, n_t=2)
    assert 0 < r.se < exact / 10
    assert abs(r.mean - exact) < 4 * r.se
    assert r.per_t.sum() == pytest.approx(r.mean, rel=1e-12)
    # the big step weights of small t are the most visited
    draws = E.paired_draws(s, ideal, x0, 11, n_t=2)
    assert np.mean(draws.t <= 10) > 0.3


def test_kl_bound_of_ideal_matches_exact_gap_for_gaussian_data(gauss):
    # Gaussian data: the ideal model's E[−ELBO] − H is known in closed
    # form (exact_expected_gap); the estimate must match it.
    s = S.linear(100)
    ideal = gauss.eps_model(s)
    x0 = gauss.sample(4000, np.random.default_rng(12))
    for var_type in ["fixed_small", "fixed_large"]:
        b = E.kl_upper_bound(s, ideal, gauss.log_pdf, x0, 13, var_type)
        exact = exact_expected_gap(s, M_DATA, V_DATA, var_type)
        assert abs(b.mean - exact) < 4 * b.se, (var_type, b, exact)


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_kl_bound_is_nonnegative_and_paired_with_excess(var_type):
    s = S.linear(1000)
    mix = TD.GaussianMixture1D()
    ideal = mix.eps_model(s)
    x0 = mix.sample(1500, np.random.default_rng(14))
    draws = E.paired_draws(s, ideal, x0, 15, var_type,
                           log_pdf=mix.log_pdf)
    bound = draws.kl_bound(ideal)
    assert bound.mean > -3 * bound.se
    worse = _offset(ideal, np.array([0.02]))
    gain = draws.kl_bound(worse).mean - bound.mean
    assert gain == pytest.approx(draws.excess(worse, "difference").mean,
                                 rel=1e-9)


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
def test_kl_bound_of_swiss_roll_is_nonnegative(var_type):
    s = S.linear(1000)
    roll = TD.SwissRoll2D()
    x0 = roll.sample(300, np.random.default_rng(16))
    b = E.kl_upper_bound(s, roll.eps_model(s), roll.log_pdf, x0, 17,
                         var_type)
    assert b.mean > -3 * b.se and b.se < 0.2


@pytest.mark.parametrize("call, exc, match", [
    (lambda d, m: d.excess(m, "mse"), ValueError, "estimator"),
    (lambda d, m: d.excess(3.0), TypeError, "callable"),
    (lambda d, m: E.paired_draws(S.linear(10), None, np.zeros((4, 1)),
                                 0).excess(m), ValueError, "ideal"),
    (lambda d, m: d.kl_bound(m), ValueError, "log_pdf"),
    (lambda d, m: E.paired_draws(S.linear(10), m, np.zeros((4, 1)), 0,
                                 n_t=0), ValueError, "n_t"),
    (lambda d, m: E.paired_draws(S.linear(10), m, np.zeros((1, 1)), 0),
     ValueError, "at least 2"),
    (lambda d, m: E.paired_draws(S.linear(10), m, np.zeros((4, 1)), 0,
                                 log_pdf=lambda x: x), ValueError,
     "shape"),
])
def test_excess_rejects_bad_input(call, exc, match):
    s = S.linear(10)
    mix = TD.GaussianMixture1D()
    draws = E.paired_draws(s, mix.eps_model(s), mix.sample(4, 0), 0)
    with pytest.raises(exc, match=match):
        call(draws, mix.eps_model(s))


def test_reweighted_draws_equal_fresh_draws_for_the_other_variance():
    s = S.linear(80)
    mix = TD.GaussianMixture1D()
    ideal = mix.eps_model(s)
    worse = _offset(ideal, np.array([0.03]))
    x0 = mix.sample(200, np.random.default_rng(18))
    for n_t in [None, 4]:
        small = E.paired_draws(s, ideal, x0, 19, "fixed_small", n_t=n_t,
                               log_pdf=mix.log_pdf)
        large = E.paired_draws(s, ideal, x0, 19, "fixed_large", n_t=n_t,
                               log_pdf=mix.log_pdf)
        moved = small.reweighted("fixed_large")
        assert moved.var_type == "fixed_large"
        if n_t is None:     # same t and ε: identical numbers
            np.testing.assert_allclose(moved.neg_elbo(worse),
                                       large.neg_elbo(worse), rtol=1e-12)
        np.testing.assert_allclose(
            moved.excess(worse).per_t[1:],
            small.excess(worse).per_t[1:]
            * (E.elbo_weights(s, "fixed_large")
               / np.where(E.elbo_weights(s) > 0, E.elbo_weights(s), 1)
               )[1:], rtol=1e-10)


def test_predictions_can_be_passed_instead_of_the_model():
    s = S.linear(40)
    mix = TD.GaussianMixture1D()
    ideal = mix.eps_model(s)
    worse = _offset(ideal, np.array([0.05]))
    draws = E.paired_draws(s, ideal, mix.sample(30, 1), 2,
                           log_pdf=mix.log_pdf)
    pred = draws.predict(worse)
    assert pred.shape == draws.xt.shape
    assert draws.excess(pred).mean == draws.excess(worse).mean
    np.testing.assert_array_equal(draws.neg_elbo(pred),
                                  draws.neg_elbo(worse))
    assert draws.kl_bound(pred) == draws.kl_bound(worse)
    with pytest.raises(ValueError, match="shape of the draws"):
        draws.excess(pred[:-1])


def test_excess_by_band_sums_the_steps_with_per_example_errors():
    s = S.linear(50)
    mix = TD.GaussianMixture1D()
    ideal = mix.eps_model(s)

    def worse(x, t):
        return ideal(x, t) + 0.1 * x              # error varies with x_0

    draws = E.paired_draws(s, ideal, mix.sample(400, 3), 4)
    r = draws.excess(worse)
    bands = [(1, 1), (2, 10), (11, 50)]
    got = draws.excess_by_band(worse, bands)
    for (a, b), est in zip(bands, got, strict=True):
        assert est.mean == pytest.approx(r.per_t[a:b + 1].sum(),
                                         rel=1e-12)
    whole = draws.excess_by_band(worse, [(1, 50)])[0]
    assert whole.mean == pytest.approx(r.mean, rel=1e-12)
    assert whole.se == pytest.approx(r.se, rel=1e-12)
    with pytest.raises(ValueError, match="a <= b"):
        draws.excess_by_band(worse, [(5, 2)])
    with pytest.raises(ValueError, match="band edge"):
        draws.excess_by_band(worse, [(0, 2)])
