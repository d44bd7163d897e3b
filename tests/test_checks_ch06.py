"""Tests of the chapter 6 exercise checks (diffusion_edu.checks.ch06).

Each check must accept the reference (the package's functions and an
answer written the way a learner would), report "not implemented" for
the stub, and reject every classic mistake it lists while naming it.
"""

import numpy as np
import pytest
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks, metrics, samplers
from diffusion_edu import schedules as sch
from diffusion_edu.checks import ch06


def stub(*args, **kwargs):
    raise NotImplementedError


def package_step(s, xt, t, eps, noise):
    return samplers.ddpm_step(s, xt, t, eps, noise, "fixed_large")


def step_by_hand(s, xt, t, eps, noise):
    mean = (xt - s.beta[t] / np.sqrt(1 - s.alpha_bar[t]) * eps) / np.sqrt(
        s.alpha[t])
    if t == 1:
        return mean
    return mean + np.sqrt(s.beta[t]) * noise


def loss_by_hand(eps_model, s, x0, t, noise):
    ab = s.alpha_bar[t].reshape(-1, 1)
    xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise
    return np.mean((noise - eps_model(xt, t)) ** 2)


def energy_by_loops(a, b):
    def mean_dist(u, v):
        return np.mean([np.linalg.norm(x - y) for x in u for y in v])
    return 2 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)


CHECKS = [
    (ch06.check_ddpm_step, [package_step, step_by_hand]),
    (ch06.check_simple_loss, [loss_by_hand]),
    (ch06.check_energy_distance, [metrics.energy_distance,
                                  energy_by_loops]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_package_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 3)


def test_every_check_lists_at_least_three_mistakes():
    assert_lists_mistakes(CHECKS)


def test_ddpm_check_catches_noise_at_t1_written_by_hand():
    def noisy_last_step(s, xt, t, eps, noise):
        mean = (xt - s.beta[t] / np.sqrt(1 - s.alpha_bar[t]) * eps
                ) / np.sqrt(s.alpha[t])
        return mean + np.sqrt(s.beta[t]) * noise

    result = ch06.check_ddpm_step(noisy_last_step)
    assert result.status == "failed"
    assert any("t = 1" in f for f in result.failed)
    assert not any("t = 500" in f for f in result.failed)


def test_ddpm_check_catches_zero_based_loop_index_by_hand():
    def zero_based(s, xt, t, eps, noise):
        i = t - 1                       # a 0-based index used as t
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = (xt - s.beta[i] / np.sqrt(1 - s.alpha_bar[i]) * eps
                    ) / np.sqrt(s.alpha[i])
        return mean + np.sqrt(s.beta[i]) * noise

    result = ch06.check_ddpm_step(zero_based)
    assert result.mistake == "off-by-one in t"


def test_ddpm_reference_matches_package_to_1e12():
    for c in ch06._ddpm_cases():
        np.testing.assert_allclose(ch06._ddpm_reference(*c.args),
                                   package_step(*c.args), rtol=0,
                                   atol=1e-12)


def test_ddpm_cases_include_t1_and_T():
    steps = {(c.args[0].T, c.args[2]) for c in ch06._ddpm_cases()}
    assert (1000, 1) in steps and (1000, 1000) in steps and (50, 1) in steps


def test_loss_reference_is_unbiased_for_the_package_training_loss():
    # With the ideal denoiser of a Gaussian, the loss at t is known:
    # E||eps - E[eps | x_t]||^2 / D = alpha_bar / (alpha_bar + 1 - ...).
    s = sch.linear(100)
    rng = np.random.default_rng(0)
    n, t = 200_000, 40
    x0 = rng.standard_normal((n, 1))
    noise = rng.standard_normal((n, 1))
    ab = s.alpha_bar[t]

    def ideal(x, tt):              # data N(0, 1): x_t ~ N(0, 1)
        return np.sqrt(1 - ab) * x

    loss = ch06._loss_reference(ideal, s, x0, np.full(n, t), noise)
    assert abs(loss - ab) < 4 * np.sqrt(2 / n) * ab + 1e-3


def test_energy_reference_matches_package():
    for c in ch06._energy_cases():
        assert np.isclose(ch06._energy_reference(*c.args),
                          metrics.energy_distance(*c.args), rtol=1e-10)


def test_checks_are_exported_from_package():
    for name in ch06.__all__:
        assert getattr(checks, name) is getattr(ch06, name)


def test_common_mistakes_clipping_damage():
    """book/common_mistakes.md, entry 11: clipping x0_hat to [-1, 1] on
    the 1-D mixture keeps every sample inside [-1, 1] (the last step
    returns the clipped x0_hat), piles about 5 % up at +-1, and gives a
    W1 about 13 times the data-versus-data baseline."""
    from diffusion_edu.toy_data import GaussianMixture1D

    mixture, s = GaussianMixture1D(), sch.linear(1000)
    inside = mixture.cdf(np.array([[1.0]])) - mixture.cdf(
        np.array([[-1.0]]))
    assert abs((1 - inside[0]) - 0.363) < 5e-4
    eps_model, n = mixture.eps_model(s), 4000
    gen = np.random.default_rng(0)
    x = gen.standard_normal((n, 1))
    for t in range(s.T, 0, -1):
        ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
        eps = eps_model(x, np.full(n, t))
        x0_hat = np.clip((x - np.sqrt(1 - ab) * eps) / np.sqrt(ab), -1, 1)
        mean = (np.sqrt(ab_prev) * s.beta[t] / (1 - ab) * x0_hat
                + np.sqrt(s.alpha[t]) * (1 - ab_prev) / (1 - ab) * x)
        x = mean + (t > 1) * np.sqrt(s.beta_tilde[t]) * gen.standard_normal(
            x.shape)
    assert np.all(np.abs(x) <= 1 + 1e-9)            # none outside
    assert 0.04 < np.mean(np.abs(x) > 1 - 1e-9) < 0.06
    c = metrics.compare_with_baseline(metrics.wasserstein_1d, x,
                                      mixture.sample, 1)
    assert abs(c.value - 0.30) < 0.01 and 10 < c.ratio < 16
