"""Tests of the chapter 7 exercise checks (diffusion_edu.checks.ch07).

Each check must accept the reference (the package's functions and an
answer written the way a learner would), report "not implemented" for
the stub, and reject every classic mistake it lists while naming it.
"""

import numpy as np
import pytest
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks, gaussian, langevin
from diffusion_edu.checks import ch07


def stub(*args, **kwargs):
    raise NotImplementedError


def step_by_hand(score_fn, x, step_size, rng):
    noise = rng.normal(0.0, 1.0, size=x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * noise


def step_via_package(score_fn, x, step_size, rng):
    return langevin.langevin_sample(score_fn, x, step_size, 1, rng)


def dsm_by_hand(score_fn, x0, sigma, noise):
    x_noisy = x0 + sigma * noise
    r = score_fn(x_noisy) + noise / sigma
    return 0.5 * np.sum(r ** 2) / x0.shape[0]


def score_by_hand(s, xt, t, eps):
    return -eps / np.sqrt(1 - s.alpha_bar[t])


CHECKS = [
    (ch07.check_langevin_step, [step_by_hand, step_via_package]),
    (ch07.check_dsm_loss, [langevin.dsm_loss, dsm_by_hand]),
    (ch07.check_score_from_eps, [gaussian.score_from_eps, score_by_hand]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_package_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 3)


def test_every_check_lists_at_least_three_mistakes():
    assert_lists_mistakes(CHECKS)


def test_langevin_check_rejects_fresh_unseeded_noise():
    def own_rng(score_fn, x, step_size, rng):
        z = np.random.default_rng(999).standard_normal(x.shape)
        return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z

    assert ch07.check_langevin_step(own_rng).status == "failed"


def test_langevin_reference_keeps_a_gaussian_nearly_stationary():
    # Unadjusted Langevin on N(m, v): stationary variance v / (1 - eta/2v)
    rng = np.random.default_rng(0)
    x = np.zeros((20_000, 1))
    eta, v = 0.05, 1.0

    def score(y):
        return -y / v

    for _ in range(300):
        x = ch07._langevin_reference(score, x, eta, rng)
    expected = v / (1 - eta / (2 * v))
    assert abs(x.var() - expected) < 4 * expected * np.sqrt(2 / 20_000)


def test_dsm_reference_is_minimised_by_the_smoothed_score():
    # For x0 ~ N(0, 1) the smoothed score is -x / (1 + sigma^2); scaling
    # it by any c != 1 must increase the Monte Carlo DSM loss.
    rng = np.random.default_rng(1)
    x0, noise = rng.standard_normal((2, 100_000, 1))
    sigma = 0.6
    losses = {c: ch07._dsm_reference(
        lambda y, c=c: -c * y / (1 + sigma ** 2), x0, sigma, noise)
        for c in (0.8, 1.0, 1.2)}
    assert losses[1.0] < min(losses[0.8], losses[1.2])


def test_score_reference_matches_package():
    for c in ch07._score_cases():
        np.testing.assert_allclose(ch07._score_reference(*c.args),
                                   gaussian.score_from_eps(*c.args),
                                   rtol=1e-12)


def test_checks_are_exported_from_package():
    for name in ch07.__all__:
        assert getattr(checks, name) is getattr(ch07, name)
