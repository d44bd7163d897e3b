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
