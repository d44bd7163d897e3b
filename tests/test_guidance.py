"""Tests of diffusion_edu.guidance against closed forms and finite
differences."""

import numpy as np
import pytest

from diffusion_edu import guidance, samplers, schedules
from diffusion_edu.gaussian import eps_from_score
from diffusion_edu.toy_data import GaussianMixture2D

ANG = np.deg2rad([90, 210, 330])
MIX = GaussianMixture2D([0.5, 0.3, 0.2],
                        np.stack([np.cos(ANG), np.sin(ANG)], 1),
                        [0.2, 0.1, 0.3], [0, 1, 2])
PAIRED = GaussianMixture2D([0.1, 0.2, 0.3, 0.4],
                           [[-1.0, 0.0], [0.0, 1.0], [1.0, 0.2],
                            [0.2, -1.2]], np.full(4, 0.1), [0, 1, 0, 1])
S = schedules.cosine(200)
X = np.random.default_rng(0).standard_normal((7, 2))


@pytest.mark.parametrize("mixture", [MIX, PAIRED])
@pytest.mark.parametrize("t", [1, 50, 199])
def test_class_posterior_is_bayes_rule_on_the_noised_mixture(mixture, t):
    p = guidance.class_posterior(mixture, X, S, t)
    noised = mixture.noised(S, t)
    for j, c in enumerate(mixture.classes):
        prior = mixture.weights[mixture.labels == c].sum()
        expected = (prior * noised.conditional(int(c)).pdf(X)
                    / noised.pdf(X))
        np.testing.assert_allclose(p[:, j], expected, rtol=1e-10)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)


def test_class_posterior_tends_to_the_prior_at_high_noise():
    s = schedules.linear(1000)
    p = guidance.class_posterior(MIX, X, s, 1000)
    np.testing.assert_allclose(p, np.tile(MIX.weights, (7, 1)), atol=1e-2)


def test_classifier_grad_matches_finite_differences():
    h = 1e-6
    for t in [5, 100]:
        g = guidance.classifier_grad(PAIRED, X, S, t, 1)
        for d in range(2):
            e = np.zeros(2)
            e[d] = h
            fd = (guidance.log_class_posterior(PAIRED, X + e, S, t)[:, 1]
                  - guidance.log_class_posterior(PAIRED, X - e, S, t)[:, 1]
                  ) / (2 * h)
            np.testing.assert_allclose(g[:, d], fd, atol=1e-7)


def test_conventions_gamma_and_w_are_the_same_guidance():
    rng = np.random.default_rng(1)
    eu, ec = rng.standard_normal((2, 5, 2))
    for w in [0.0, 0.5, 3.0]:
        gamma = guidance.gamma_from_w(w)
        np.testing.assert_allclose(guidance.cfg_eps(eu, ec, w),
                                   eu + gamma * (ec - eu), rtol=1e-12)
        assert guidance.w_from_gamma(gamma) == pytest.approx(w)
    np.testing.assert_allclose(guidance.cfg_eps(eu, ec, 0.0), ec)
    np.testing.assert_allclose(guidance.cfg_eps(eu, ec, -1.0), eu)


def test_exact_classifier_guidance_equals_cfg_with_gamma_equal_scale():
    # unconditional score + lambda grad log p(c|x) = CFG with gamma=lambda
    t, lam = 60, 2.5
    e_u = MIX.eps(X, S, t)
    grad = guidance.classifier_grad(MIX, X, S, t, 0)
    cg = guidance.classifier_guided_eps(S, X, t, e_u, grad, lam)
    e_c = MIX.conditional(0).eps(X, S, t)
    np.testing.assert_allclose(cg, guidance.cfg_eps(e_u, e_c, lam - 1),
                               rtol=1e-10, atol=1e-12)
    # and it is the guided score mapped with eps = -sqrt(1 - ab) score
    score = MIX.score(X, S, t) + lam * grad
    np.testing.assert_allclose(cg, eps_from_score(S, X, t, score),
                               rtol=1e-10, atol=1e-12)


def test_guided_eps_model_at_w_zero_samples_the_class():
    e_c = MIX.conditional(1).eps_model(S)
    model = guidance.guided_eps_model(e_c, MIX.eps_model(S), 0.0)
    x = samplers.sample_ddpm(S, model, (4000, 2), 3)
    m = MIX.means[1]
    se = np.sqrt(0.1 / 4000)
    assert np.all(np.abs(x.mean(0) - m) < 5 * se)


def test_sharpened_density_at_w_zero_is_the_class_density():
    xs = np.linspace(-4, 4, 241)
    mo = guidance.grid_moments(
        lambda p: guidance.sharpened_log_density(MIX, p, 2, 0.0), xs, xs)
    np.testing.assert_allclose(mo["mean"], MIX.means[2], atol=1e-6)
    np.testing.assert_allclose(mo["cov"], 0.3 * np.eye(2), atol=1e-5)
    assert abs(mo["log_norm"]) < 1e-6      # p(x | c) integrates to 1


def test_sharpening_moves_the_class_away_from_the_others():
    xs = np.linspace(-4, 4, 241)
    means = [guidance.grid_moments(
        lambda p, w=w: guidance.sharpened_log_density(MIX, p, 0, w),
        xs, xs)["mean"][1] for w in [0.0, 2.0, 8.0]]
    assert means[0] < means[1] < means[2]     # class 0 sits at the top


def test_knn_precision_recall_of_identical_sets_is_one_and_detects_gaps():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((500, 2))
    assert guidance.knn_precision_recall(a, a, 3) == (1.0, 1.0)
    half = a[a[:, 0] > 0]                     # covers half of a
    p, r = guidance.knn_precision_recall(a, half, 3)
    assert p == 1.0 and 0.4 < r < 0.65
    far = a + 10
    assert guidance.knn_precision_recall(a, far, 3) == (0.0, 0.0)


def test_trained_noisy_classifier_approaches_the_exact_one():
    mix = GaussianMixture2D(None, MIX.means, np.full(3, 0.2), [0, 1, 2])
    clf = guidance.train_noisy_classifier(mix, S, steps=150, n=2000)
    assert clf.losses[0] == pytest.approx(np.log(3))   # zero weights
    assert clf.losses[-10:].mean() < clf.losses[0] - 0.3
    x0, c = mix.sample(3000, 4, return_labels=True)
    for t in [20, 100]:
        xt = np.sqrt(S.alpha_bar[t]) * x0 + np.sqrt(
            1 - S.alpha_bar[t]) * np.random.default_rng(5).standard_normal(
            x0.shape)
        exact = guidance.class_posterior(mix, xt, S, t)
        fitted = np.exp(clf.log_prob(xt, t))
        assert np.mean(np.abs(exact - fitted)) < 0.05
    # its gradient is the gradient of its log-probability
    h, t = 1e-6, 30
    g = clf.grad_log_prob(X, t, 2)
    e = np.array([h, 0.0])
    fd = (clf.log_prob(X + e, t)[:, 2] - clf.log_prob(X - e, t)[:, 2]) / (
        2 * h)
    np.testing.assert_allclose(g[:, 0], fd, atol=1e-6)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="label must be one of"):
        guidance.classifier_grad(MIX, X, S, 10, 5)
    with pytest.raises(TypeError, match="labelled mixture"):
        guidance.class_posterior(object(), X, S, 10)
    with pytest.raises(ValueError, match="same shape"):
        guidance.cfg_eps(np.zeros((3, 2)), np.zeros((4, 2)), 1.0)
    with pytest.raises(ValueError, match="same shape"):
        guidance.classifier_guided_eps(S, X, 3, X, X[:3], 1.0)
    with pytest.raises(TypeError):
        guidance.guided_eps_model(None, MIX.eps_model(S), 1.0)


def test_guided_eps_model_combines_the_branches_with_the_right_weights():
    # an independent (1 + w) eps_c - w eps_u; swapped branches would
    # give (1 + w) eps_u - w eps_c and fail
    t, w = 40, 2.5
    e_c, e_u = MIX.conditional(0).eps_model(S), MIX.eps_model(S)
    model = guidance.guided_eps_model(e_c, e_u, w)
    expected = (1 + w) * MIX.conditional(0).eps(X, S, t) - w * MIX.eps(
        X, S, t)
    np.testing.assert_allclose(model(X, t), expected, rtol=1e-12,
                               atol=1e-14)


def test_sharpened_log_density_is_both_forms_of_the_sharpened_density():
    # log p(x|c) + w log p(c|x) = (1 + w) log p(x|c) - w log p(x)
    # + w log pi_c, with p(c|x) computed here from the mixture's pdfs
    for label, w in [(0, 0.5), (2, 3.0)]:
        log_c = MIX.conditional(label).log_pdf(X)
        pi_c = MIX.weights[MIX.labels == label].sum()
        post = pi_c * np.exp(log_c) / MIX.pdf(X)
        np.testing.assert_allclose(
            guidance.sharpened_log_density(MIX, X, label, w),
            log_c + w * np.log(post), rtol=1e-10)
        np.testing.assert_allclose(
            guidance.sharpened_log_density(MIX, X, label, w),
            (1 + w) * log_c - w * MIX.log_pdf(X) + w * np.log(pi_c),
            rtol=1e-10)


def test_clean_class_posterior_and_mean_distance_on_the_grid():
    post = np.exp(guidance.log_class_posterior(MIX, X))
    for j in range(3):
        expected = (MIX.weights[j] * MIX.conditional(j).pdf(X)
                    / MIX.pdf(X))
        np.testing.assert_allclose(post[:, j], expected, rtol=1e-10)
    # E|x - m| of N(m, v I) in 2-D is sqrt(v pi / 2)
    xs = np.linspace(-4, 4, 401)
    mo = guidance.grid_moments(
        lambda p: MIX.conditional(1).log_pdf(p), xs, xs,
        centre=MIX.means[1])
    assert mo["mean_dist"] == pytest.approx(np.sqrt(0.1 * np.pi / 2),
                                            rel=1e-6)
