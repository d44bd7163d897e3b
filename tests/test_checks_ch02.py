"""Tests of the chapter 2 exercise checks (diffusion_edu.checks.ch02).

Each check must accept the reference and other correct implementations,
report "not implemented" for the stub, and reject every classic mistake it
lists while naming it.
"""

import numpy as np
import pytest

from diffusion_edu import checks
from diffusion_edu import schedules as sch
from diffusion_edu.checks import ch02, listed_mistakes


def stub(*args, **kwargs):
    raise NotImplementedError


# Correct answers written the way a learner would (loops, closed forms).

def chain_by_loop(x0, beta, noise):
    T = len(beta) - 1
    path = np.zeros((T + 1, *x0.shape))
    path[0] = x0
    for t in range(1, T + 1):
        path[t] = (np.sqrt(1 - beta[t]) * path[t - 1]
                   + np.sqrt(beta[t]) * noise[t - 1])
    return path


def chain_by_normal_draws(x0, beta, noise):
    # The same chain, written as mean + standard deviation * noise.
    path = [x0]
    for t in range(1, len(beta)):
        mean, var = np.sqrt(1 - beta[t]) * path[-1], beta[t]
        path.append(mean + np.sqrt(var) * noise[t - 1])
    return np.stack(path)


def variance_by_loop(beta, var0):
    v = np.empty(len(beta))
    v[0] = var0
    for t in range(1, len(beta)):
        v[t] = (1 - beta[t]) * v[t - 1] + beta[t]
    return v


def cosine_by_hand(T, s=0.008, max_beta=0.999):
    t = np.arange(T + 1)
    f = np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
    alpha_bar = f / f[0]
    beta = np.zeros(T + 1)
    beta[1:] = np.minimum(1 - alpha_bar[1:] / alpha_bar[:-1], max_beta)
    return beta


def cosine_from_package(T, s=0.008, max_beta=0.999):
    return sch.cosine(T, s=s, max_beta=max_beta).beta


CHECKS = [
    (ch02.check_forward_chain, chain_by_loop, chain_by_normal_draws),
    (ch02.check_forward_variance, variance_by_loop,
     lambda beta, var0: 1 + sch.from_betas(beta[1:]).alpha_bar
     * (var0 - 1)),
    (ch02.check_cosine_schedule, cosine_by_hand, cosine_from_package),
]
IDS = [c.__name__ for c, _, _ in CHECKS]


@pytest.mark.parametrize("check, answer, other", CHECKS, ids=IDS)
def test_check_accepts_reference_and_learner_style_answer(
        check, answer, other):
    for candidate in (answer, other):
        result = check(candidate, strict=True)
        assert result.status == "passed", result.report
        assert len(result.passed) >= 5


def test_every_check_lists_at_least_three_mistakes():
    for check, _, _ in CHECKS:
        assert len(listed_mistakes(check)) >= 3


def test_chain_check_names_beta_as_noise_scale():
    def wrong(x0, beta, noise):
        path = [x0]
        for t in range(1, len(beta)):
            path.append(np.sqrt(1 - beta[t]) * path[-1]
                        + beta[t] * noise[t - 1])
        return np.stack(path)

    result = ch02.check_forward_chain(wrong)
    assert result.mistake == "beta_t as the noise scale"
    assert "standard deviation" in result.report


def test_chain_check_names_numpy_normal_with_variance_as_scale():
    # rng.normal(loc, scale) takes a standard deviation; passing the
    # variance beta_t as the scale is the same mistake as beta_t * eps.
    def wrong(x0, beta, noise):
        path = [x0]
        for t in range(1, len(beta)):
            scale = beta[t]                       # should be sqrt(beta[t])
            path.append(np.sqrt(1 - beta[t]) * path[-1]
                        + scale * noise[t - 1])
        return np.stack(path)

    assert (ch02.check_forward_chain(wrong).mistake
            == "beta_t as the noise scale")


def test_chain_check_names_exploding_variance():
    def wrong(x0, beta, noise):
        return np.concatenate(
            [x0[None], x0[None] + np.cumsum(
                np.sqrt(beta[1:, None, None]) * noise, axis=0)])

    assert ch02.check_forward_chain(wrong).mistake == "x_(t-1) not scaled"


def test_variance_check_names_beta_squared():
    def wrong(beta, var0):
        v = [var0]
        for b in beta[1:]:
            v.append((1 - b) * v[-1] + b ** 2)
        return np.array(v)

    assert ch02.check_forward_variance(wrong).mistake == "beta_t squared"


def test_cosine_check_names_cumulative_confusion():
    def wrong(T, s=0.008, max_beta=0.999):
        u = np.arange(T + 1) / T
        f = np.cos((u + s) / (1 + s) * np.pi / 2) ** 2
        beta = np.minimum(1 - f / f[0], max_beta)   # 1 - alpha_bar_t
        return beta

    result = ch02.check_cosine_schedule(wrong)
    assert result.mistake.startswith("1 - alpha_bar_t instead of")


def test_check_reports_wrong_shape():
    result = ch02.check_cosine_schedule(lambda T, s=0.008, max_beta=0.999:
                                        cosine_by_hand(T, s, max_beta)[1:])
    assert result.status == "failed"
    assert "shape" in result.report


def test_check_reports_unknown_wrong_answer_without_raising():
    result = ch02.check_forward_variance(
        lambda beta, var0: np.zeros(len(beta)))
    assert result.status == "failed" and result.mistake == ""
    assert "FAILED" in result.report


def test_checks_are_exported_from_package():
    for name in ch02.__all__:
        assert getattr(checks, name) is getattr(ch02, name)


def test_check_cases_are_deterministic():
    for a, b in zip(ch02._chain_cases(), ch02._chain_cases(), strict=True):
        for xa, xb in zip(a.args, b.args, strict=True):
            np.testing.assert_array_equal(xa, xb)


def test_chain_cases_have_distinct_betas_so_off_by_one_shows():
    for case in ch02._chain_cases():
        beta = case.args[1]
        assert np.all(np.diff(beta[1:]) != 0) or len(beta) == 2


def test_chain_check_names_one_jump_closed_form():
    # A learner who has read chapter 3 jumps from x_0 with each step's
    # noise: right marginals, wrong path.
    def wrong(x0, beta, noise):
        alpha_bar = np.cumprod(1 - beta)
        a = alpha_bar[1:, None, None]
        return np.concatenate([x0[None],
                               np.sqrt(a) * x0 + np.sqrt(1 - a) * noise])

    result = ch02.check_forward_chain(wrong)
    assert result.mistake == "one jump from x_0 instead of the chain"
    assert "x_(t-1)" in result.report


def test_cosine_check_accepts_alpha_bar_0_equal_to_f0():
    # improved-diffusion style: alpha_bar_t = f(t/T) without dividing by
    # f(0), with alpha_bar_0 = f(0); the ratios are the same, so correct.
    def unnormalised(T, s=0.008, max_beta=0.999):
        f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
        beta = np.minimum(1 - f[1:] / f[:-1], max_beta)
        return np.concatenate([[0.0], beta])

    assert ch02.check_cosine_schedule(unnormalised).status == "passed"


def test_cosine_check_names_mixed_normalisation():
    def mixed(T, s=0.008, max_beta=0.999):
        f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
        f[0] = 1.0                      # alpha_bar_0 = 1, others not / f(0)
        return np.concatenate([[0.0], np.minimum(1 - f[1:] / f[:-1],
                                                 max_beta)])

    result = ch02.check_cosine_schedule(mixed)
    assert result.status == "failed"
    assert result.mistake.startswith("alpha_bar_0 set to 1")
    assert "every other alpha_bar_t" in result.report
