"""Tests of the chapter 8 exercise checks (diffusion_edu.checks.ch08).

Each check must accept the reference (the package's functions and an
answer written the way a learner would), report "not implemented" for
the stub, and reject every classic mistake it lists while naming it
(the last two are tested for every check in test_checks_contract.py).
"""

import numpy as np
import pytest
from check_helpers import assert_accepts, assert_lists_mistakes

from diffusion_edu import checks, ode, samplers, schedules
from diffusion_edu.checks import ch08


def sigma_by_hand(s, t, t_prev, eta):
    ab, abp = s.alpha_bar[t], s.alpha_bar[t_prev]
    beta_gap = 1 - ab / abp
    return eta * np.sqrt((1 - abp) / (1 - ab) * beta_gap)


def step_via_package(s, xt, t, t_prev, eps, noise, eta):
    return samplers.ddim_step(s, xt, t, t_prev, eps, noise, eta)


def step_by_hand(s, xt, t, t_prev, eps, noise, eta):
    ab, abp = s.alpha_bar[t], s.alpha_bar[t_prev]
    sigma = sigma_by_hand(s, t, t_prev, eta)
    x0_hat = (xt - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
    return (np.sqrt(abp) * x0_hat + np.sqrt(1 - abp - sigma ** 2) * eps
            + sigma * noise)


def respace_via_package(alpha_bar, timesteps):
    s = schedules.from_alpha_bar(alpha_bar[1:], alpha_bar.shape[0] - 1)
    return schedules.respace(s, timesteps).beta


def respace_by_hand(alpha_bar, timesteps):
    betas = [0.0]
    prev = 1.0
    for tau in timesteps:
        betas.append(1 - alpha_bar[tau] / prev)
        prev = alpha_bar[tau]
    return np.array(betas)


def heun_via_package(s, eps_model, xt, t, t_prev):
    return ode.heun_step(s, eps_model, xt, t, t_prev)


def heun_by_hand(s, eps_model, xt, t, t_prev):
    def sig(k):
        return np.sqrt((1 - s.alpha_bar[k]) / s.alpha_bar[k])

    x_bar = xt / np.sqrt(s.alpha_bar[t])
    e1 = eps_model(xt, np.full(len(xt), t))
    x_bar_pred = x_bar + (sig(t_prev) - sig(t)) * e1
    if t_prev == 0:
        return x_bar_pred
    x_pred = np.sqrt(s.alpha_bar[t_prev]) * x_bar_pred
    e2 = eps_model(x_pred, np.full(len(xt), t_prev))
    x_bar_new = x_bar + (sig(t_prev) - sig(t)) * (e1 + e2) / 2
    return np.sqrt(s.alpha_bar[t_prev]) * x_bar_new


CHECKS = [
    (ch08.check_ddim_sigma, [sigma_by_hand]),
    (ch08.check_ddim_step, [step_via_package, step_by_hand]),
    (ch08.check_respaced_betas, [respace_by_hand]),
    (ch08.check_heun_step, [heun_via_package, heun_by_hand]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_package_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 4)


def test_every_check_lists_at_least_three_mistakes():
    assert_lists_mistakes(CHECKS)


def test_checks_are_exported_from_the_package():
    for check, _ in CHECKS:
        assert getattr(checks, check.__name__) is check


def test_sigma_reference_gives_beta_tilde_for_eta_1_and_one_step():
    s = schedules.linear(1000)
    for t in (2, 10, 500, 1000):
        sigma = ch08._sigma_reference(s, t, t - 1, 1.0)
        assert np.isclose(sigma ** 2, s.beta_tilde[t], rtol=1e-12)


def test_ddim_step_check_rejects_a_step_without_noise():
    def no_noise(s, xt, t, t_prev, eps, noise, eta):
        return samplers.ddim_step(s, xt, t, t_prev, eps, None, 0.0)

    assert ch08.check_ddim_step(no_noise).status == "failed"


def test_heun_check_rejects_calling_the_model_at_t_0():
    def always_correct(s, eps_model, xt, t, t_prev):
        e1 = eps_model(xt, np.full(len(xt), t))
        x_pred = ode.euler_step(s, xt, t, t_prev, e1)
        e2 = eps_model(x_pred, np.full(len(xt), t_prev))
        return ode.euler_step(s, xt, t, t_prev, (e1 + e2) / 2)

    result = ch08.check_heun_step(always_correct)
    assert result.status == "failed"
    assert len(result.passed) == 3
