"""Tests of the chapter 10 exercise checks (diffusion_edu.checks.ch10).

Each check must accept the reference (the package's functions and an
answer written the way a learner would), report "not implemented" for
the stub, and reject every classic mistake it lists while naming it.
"""

import numpy as np
import pytest
from check_helpers import assert_accepts

from diffusion_edu import checks, flows
from diffusion_edu.checks import ch10, listed_mistakes


def stub(*args, **kwargs):
    raise NotImplementedError


def cv_by_hand(x0, eps, t, path):
    if path == "linear":
        return eps - x0
    w = np.pi / 2
    return -w * np.sin(w * t) * x0 + w * np.cos(w * t) * eps


def vx_by_hand(xt, x0_hat, t):
    eps_hat = (xt - (1 - t) * x0_hat) / t
    return eps_hat - x0_hat


def vx_via_package(xt, x0_hat, t):
    return flows.velocity_from_x0(xt, x0_hat, t)


def euler_by_hand(velocity, x1, num_steps):
    x, h = x1.copy(), 1.0 / num_steps
    for k in range(num_steps):
        x = x - h * velocity(x, 1.0 - k * h)
    return x


CHECKS = [
    (ch10.check_conditional_velocity,
     [cv_by_hand, flows.conditional_velocity]),
    (ch10.check_velocity_from_x0, [vx_by_hand, vx_via_package]),
    (ch10.check_euler_sampler, [euler_by_hand]),
]
IDS = [c.__name__ for c, _ in CHECKS]


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_accepts_package_and_learner_style_answers(check, answers):
    assert_accepts(check, answers, 3)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_reports_stub_without_raising(check, answers):
    result = check(stub)
    assert result.status != "passed"
    with pytest.raises(checks.CheckFailed):
        check(stub, strict=True)


@pytest.mark.parametrize("check, answers", CHECKS, ids=IDS)
def test_check_rejects_and_names_every_listed_mistake(check, answers):
    mistakes = listed_mistakes(check)
    assert len(mistakes) >= 4
    for mistake in mistakes:
        result = check(mistake.wrong)
        assert result.status == "failed", mistake.name
        assert mistake.hint in result.report, mistake.name


def test_classic_convention_slips_are_distinguished():
    """Time reversed, sign, a/b swapped: each gives a different field."""
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((2, 4, 1))
    outs = [f(x0, eps, 0.3, "vp") for f in (
        ch10._cv_reference, ch10._cv_sign, ch10._cv_time_reversed,
        ch10._cv_swapped)]
    for i in range(4):
        for j in range(i):
            assert not np.allclose(outs[i], outs[j])


def test_euler_reference_converges_to_the_exact_flow():
    """Gaussian data N(m, v): the flow maps N(0, 1) to N(m, v)."""
    x1 = np.linspace(-2, 2, 5)[:, None]
    out = ch10._euler_reference(ch10._gauss_velocity, x1, 2000)
    assert np.allclose(out, 0.5 + np.sqrt(0.2) * x1, atol=2e-3)


def test_checks_are_exported_from_package():
    for name in ch10.__all__:
        assert getattr(checks, name) is getattr(ch10, name)


def test_learner_style_slips_are_named():
    """Slips written the way a learner writes them get their own hint."""
    w = np.pi / 2

    def cv_cos_sign(x0, eps, t, path):
        if path == "linear":
            return eps - x0
        return w * np.sin(w * t) * x0 + w * np.cos(w * t) * eps

    def vx_without_a(xt, x0_hat, t):
        eps_hat = (xt - x0_hat) / t
        return eps_hat - x0_hat

    def euler_no_step_size(velocity, x1, num_steps):
        x = np.array(x1, dtype=float)
        for k in range(num_steps):
            x = x - velocity(x, 1 - k / num_steps)
        return x

    for check, answer, name in [
            (ch10.check_conditional_velocity, cv_cos_sign,
             "sign of the derivative of the cosine"),
            (ch10.check_velocity_from_x0, vx_without_a,
             "factor (1 - t) dropped in eps_hat"),
            (ch10.check_euler_sampler, euler_no_step_size,
             "step size forgotten")]:
        result = check(answer)
        assert result.status == "failed", name
        assert f"({name})" in result.report, result.report
