"""Every exercise check is fair to learners.

For every ``check_*`` of every chapter (found through :func:`spec_of`,
so checks added later are covered without editing this file):

* the reference computed in float32 (inputs and result) passes, and so
  does the float64 reference returned as float32, as torch tensors
  (float32, float64, with gradients), as Python lists, and -- for several
  returned values -- as a list instead of a tuple; a check whose
  exercise genuinely needs float64 says so in plain words instead;
* every classic mistake the check lists is still rejected and named when
  it is returned in float32 (the float32 tolerance hides no mistake);
* a wrong number of returned values gets a message naming what is
  expected;
* an unlisted wrong answer gets a "what differs" diagnosis: a flipped
  sign, a constant factor, a failure in only one case.

Then the wrong answers found by trying the exercises as a learner (none
of them a listed mistake) are rejected, in float64 and in float32.
"""

import copy
import dataclasses
import types

import numpy as np
import pytest
import torch

from diffusion_edu import checks
from diffusion_edu.checks import ch03, ch04, ch07, spec_of

torch.set_num_threads(1)

CHECKS = sorted(
    (name, getattr(checks, name)) for name in checks.__all__
    if name.startswith("check_"))
IDS = [name for name, _ in CHECKS]


# ---------------------------------------------------------------------------
# Turning the reference into answers a learner could write
# ---------------------------------------------------------------------------

def _to_float32(obj, schedules=True):
    """float64 arrays and numbers -> float32, recursively; a schedule
    (a dataclass of arrays) becomes a namespace of float32 arrays."""
    if isinstance(obj, np.ndarray) and obj.dtype == np.float64:
        return obj.astype(np.float32)
    if isinstance(obj, (float, np.float64)):
        return np.float32(obj)
    if isinstance(obj, tuple):
        return tuple(_to_float32(o, schedules) for o in obj)
    if isinstance(obj, list):
        return [_to_float32(o, schedules) for o in obj]
    if isinstance(obj, dict):
        return {k: _to_float32(v, schedules) for k, v in obj.items()}
    if (schedules and dataclasses.is_dataclass(obj)
            and not isinstance(obj, type)):
        fields = {}
        for name in dir(obj):
            value = getattr(obj, name)
            if not name.startswith("_") and not callable(value):
                fields[name] = _to_float32(value, schedules)
        return types.SimpleNamespace(**fields)
    return obj


def _map_outputs(out, convert):
    if isinstance(out, tuple):
        return tuple(convert(o) for o in out)
    return convert(out)


def _float32(value):
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    return arr


def _float32_computed(reference):
    """The reference computed from float32 inputs, returned in float32
    (the package's functions may refuse float32 schedules or
    probabilities that no longer sum to 1 exactly: then only the plain
    arrays and numbers are converted, then only the result)."""
    def answer(*args, **kwargs):
        for schedules in (True, False):
            try:
                out = reference(*_to_float32(args, schedules),
                                **_to_float32(kwargs, schedules))
                break
            except (TypeError, ValueError, AttributeError):
                continue
        else:
            out = reference(*args, **kwargs)
        return _map_outputs(out, _float32)
    return answer


def _returned_as(reference, convert):
    def answer(*args, **kwargs):
        return _map_outputs(reference(*args, **kwargs), convert)
    return answer


def _torch32(value):
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.floating):
        return torch.tensor(arr, dtype=torch.float32)
    return torch.tensor(arr)


def _torch64_grad(value):
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.floating):
        return torch.tensor(arr, dtype=torch.float64, requires_grad=True)
    return torch.tensor(arr)


def _python_lists(value):
    return np.asarray(value).tolist()


def _check_passes(check, answer):
    result = check(answer)
    assert result.status == "passed", result.report
    assert check(answer, strict=True)


# ---------------------------------------------------------------------------
# Correct answers in every form pass
# ---------------------------------------------------------------------------

def test_every_check_is_found():
    assert len(CHECKS) >= 20


@pytest.mark.parametrize("name, check", CHECKS, ids=IDS)
def test_float32_computation_passes_or_precision_is_explained(name, check):
    spec = spec_of(check)
    result = check(_float32_computed(spec.reference))
    if spec.precision_note:
        # The exercise declares that precision matters: a float32
        # answer may fail, but then the report says why in plain words.
        if result.status != "passed":
            assert "precision matters" in result.report, result.report
            assert spec.precision_note in result.report
            assert "wrong values" not in result.report
            assert "float64" in result.diagnosis
    else:
        assert result.status == "passed", result.report


@pytest.mark.parametrize("name, check", CHECKS, ids=IDS)
@pytest.mark.parametrize("form", [_float32, _torch32, _torch64_grad,
                                  _python_lists],
                         ids=["float32", "torch32", "torch64-grad",
                              "lists"])
def test_reference_result_in_any_container_passes(name, check, form):
    _check_passes(check, _returned_as(spec_of(check).reference, form))


@pytest.mark.parametrize("name, check", CHECKS, ids=IDS)
def test_float32_computation_returned_as_torch_tensors_passes(name, check):
    spec = spec_of(check)
    if spec.precision_note:
        pytest.skip("float32 is not enough for this exercise (declared)")
    float32 = _float32_computed(spec.reference)
    _check_passes(check, _returned_as(float32, _torch32))


MULTI = [(n, c) for n, c in CHECKS if len(spec_of(c).outputs) > 1]


@pytest.mark.parametrize("name, check", MULTI, ids=[n for n, _ in MULTI])
def test_several_values_may_be_returned_as_a_list(name, check):
    spec = spec_of(check)
    _check_passes(check, lambda *a, **k: list(spec.reference(*a, **k)))


def test_declared_precision_notes_are_needed():
    # A precision note is only declared where float32 genuinely fails.
    noted = [(n, c) for n, c in CHECKS if spec_of(c).precision_note]
    assert noted
    for name, check in noted:
        result = check(_float32_computed(spec_of(check).reference))
        assert result.status == "failed", name


# ---------------------------------------------------------------------------
# Wrong answers are still rejected, and described
# ---------------------------------------------------------------------------

MISTAKES = [(name, check, m) for name, check in CHECKS
            for m in spec_of(check).mistakes]


@pytest.mark.parametrize(
    "name, check, mistake", MISTAKES,
    ids=[f"{n}-{m.name}" for n, _, m in MISTAKES])
def test_listed_mistake_in_float32_is_rejected_and_named(name, check,
                                                        mistake):
    result = check(_returned_as(mistake.wrong, _float32))
    assert result.status == "failed", result.report
    assert result.mistake == mistake.name, result.report


@pytest.mark.parametrize("name, check", CHECKS, ids=IDS)
def test_wrong_number_of_returned_values_names_what_is_expected(name,
                                                                check):
    spec = spec_of(check)

    def too_few_or_many(*args, **kwargs):
        out = spec.reference(*args, **kwargs)
        if isinstance(out, tuple):
            return out[0]
        return out, out

    result = check(too_few_or_many)
    assert result.status == "failed"
    n = len(spec.reference(*copy.deepcopy(spec.cases[0].args),
                           **copy.deepcopy(spec.cases[0].kwargs))
            ) if len(spec.outputs) > 1 else 1
    assert f"expected {n} returned value" in result.report, result.report
    for output in spec.outputs:
        assert output in result.report
    assert "wrong number of values" in result.diagnosis


def _scaled(reference, factor):
    def answer(*args, **kwargs):
        out = reference(*args, **kwargs)
        if isinstance(out, tuple):     # change the first value only
            return (factor * np.asarray(out[0], dtype=float),) + out[1:]
        return factor * np.asarray(out, dtype=float)
    return answer


def _first_value(spec, case):
    out = spec.reference(*copy.deepcopy(case.args),
                         **copy.deepcopy(case.kwargs))
    return np.asarray(out[0] if isinstance(out, tuple) else out)


def _float_valued(check) -> bool:
    spec = spec_of(check)
    first = _first_value(spec, spec.cases[0])
    return np.issubdtype(first.dtype, np.floating)


FLOAT_CHECKS = [(n, c) for n, c in CHECKS if _float_valued(c)]


@pytest.mark.parametrize("factor, words", [(-1.0, "wrong sign"),
                                           (2.0, "2 times"),
                                           (0.5, "1/2 times")])
@pytest.mark.parametrize("name, check", FLOAT_CHECKS,
                         ids=[n for n, _ in FLOAT_CHECKS])
def test_unlisted_sign_or_factor_is_described(name, check, factor, words):
    spec = spec_of(check)
    result = check(_scaled(spec.reference, factor))
    assert result.status == "failed"
    if result.mistake:
        return        # a listed mistake explains it, with its own hint
    assert words in result.diagnosis, result.report
    assert result.hint == ""      # the formula is not restated
    if len(spec.outputs) > 1:
        assert (f"only {spec.outputs[0]} is wrong; {spec.outputs[1]} is "
                f"right") in result.diagnosis.lower()


@pytest.mark.parametrize("name, check", FLOAT_CHECKS,
                         ids=[n for n, _ in FLOAT_CHECKS])
def test_failure_in_one_case_only_is_located(name, check):
    spec = spec_of(check)
    # the last case whose expected (first) value is not zero
    target = max(i for i, case in enumerate(spec.cases)
                 if np.any(_first_value(spec, case) != 0))
    calls = []

    def wrong_in_one_case(*args, **kwargs):
        calls.append(1)
        out = spec.reference(*args, **kwargs)
        if len(calls) == target + 1:
            return _scaled(lambda: out, 1.5)()
        return out

    result = check(wrong_in_one_case)
    assert result.status == "failed"
    assert result.mistake == ""
    label = spec.cases[target].label
    assert f"fails only in: '{label}'" in result.diagnosis, result.report
    assert "1.5 times" in result.diagnosis


def test_wrong_only_at_t_equal_1_is_located_and_described():
    def score(s, xt, t, eps):
        out = -eps / np.sqrt(1 - s.alpha_bar[t])
        return 2 * out if t == 1 else out

    result = ch07.check_score_from_eps(score)
    assert result.failed and len(result.failed) == 1
    assert "fails only in: 'linear(1000), t = 1'" in result.diagnosis
    assert "2 times the expected ones" in result.diagnosis


def test_nan_only_at_t_equal_1_is_located():
    # A factor (1 - alpha_bar_(t-1)) / (1 - alpha_bar_(t-1)) that should
    # cancel is 0 / 0 at t = 1.
    def score(s, xt, t, eps):
        ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
        with np.errstate(all="ignore"):
            return (-eps / np.sqrt(1 - ab) * (1 - ab_prev)
                    / (1 - ab_prev))

    result = ch07.check_score_from_eps(score)
    assert result.status == "failed"
    assert "fails only in: 'linear(1000), t = 1'" in result.diagnosis
    assert "NaN or infinity appears in: 'linear(1000), t = 1'" in (
        result.diagnosis)


def test_list_instead_of_tuple_for_mean_and_variance_passes():
    def posterior(s, x0, xt, t):
        a, ab, ab_prev = s.alpha[t], s.alpha_bar[t], s.alpha_bar[t - 1]
        mean = (np.sqrt(ab_prev) * s.beta[t] / (1 - ab) * x0
                + np.sqrt(a) * (1 - ab_prev) / (1 - ab) * xt)
        return [mean, s.beta_tilde[t]]

    assert ch04.check_posterior_mean_var(posterior).status == "passed"


def test_torch_learner_with_float32_alpha_bar_passes_at_t_equal_1():
    # 1 - alpha_bar_1 in float32 loses digits; within float32 tolerance.
    def score(s, xt, t, eps):
        ab = torch.tensor(s.alpha_bar[t]).float()
        return -torch.as_tensor(eps).float() / torch.sqrt(1 - ab)

    result = ch07.check_score_from_eps(score)
    assert result.status == "passed", result.report


def test_torch_learner_answers_pass():
    def q_sample(alpha_bar, x0, t, noise):
        a = torch.as_tensor(alpha_bar, dtype=torch.float32)[
            torch.as_tensor(t)].reshape(-1, 1)
        x0, noise = torch.as_tensor(x0).float(), torch.as_tensor(noise)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise.float()

    def posterior(s, x0, xt, t):
        ab = torch.tensor(s.alpha_bar, dtype=torch.float32)
        beta = torch.tensor(s.beta, dtype=torch.float32)
        c0 = ab[t - 1].sqrt() * beta[t] / (1 - ab[t])
        ct = (1 - beta[t]).sqrt() * (1 - ab[t - 1]) / (1 - ab[t])
        mean = c0 * torch.tensor(x0).float() + ct * torch.tensor(xt).float()
        return mean, beta[t] * (1 - ab[t - 1]) / (1 - ab[t])

    def dsm(score_fn, x0, sigma, noise):
        x0, noise = torch.tensor(x0), torch.tensor(noise)
        x_noisy = x0 + sigma * noise
        score = torch.as_tensor(score_fn(x_noisy.numpy()))
        return 0.5 * ((score + noise / sigma) ** 2).sum(dim=1).mean()

    for check, answer in [(ch03.check_q_sample, q_sample),
                          (ch04.check_posterior_mean_var, posterior),
                          (ch07.check_dsm_loss, dsm)]:
        _check_passes(check, answer)


def test_float32_tolerance_is_not_float64_tolerance():
    # The same small error passes in float32 and fails in float64,
    # where the report says the values are close (not "wrong values").
    def noisy(dtype):
        def q_sample(alpha_bar, x0, t, noise):
            a = np.reshape(alpha_bar[t], (-1, 1))
            out = np.sqrt(a) * x0 + np.sqrt(1 - a) * noise
            return (out * (1 + 3e-6)).astype(dtype)
        return q_sample

    assert ch03.check_q_sample(noisy(np.float32)).status == "passed"
    result = ch03.check_q_sample(noisy(np.float64))
    assert result.status == "failed"
    assert "close, but not equal" in result.report
    assert "float32" in result.diagnosis


# ---------------------------------------------------------------------------
# Wrong answers written while trying the exercises as a learner (none of
# them is a listed mistake)
# ---------------------------------------------------------------------------

def _ab_col(alpha_bar, t):
    return np.reshape(alpha_bar[t], (-1, 1))


def alpha_bar_drops_first(beta):
    return np.cumprod(1 - beta[1:])


def alpha_bar_one_minus_cumsum(beta):
    return 1 - np.cumsum(beta)


def alpha_bar_one_minus_cumprod_beta(beta):
    return 1 - np.cumprod(beta)


def q_sample_no_reshape(alpha_bar, x0, t, noise):
    a = alpha_bar[t]
    return np.sqrt(a) * x0 + np.sqrt(1 - a) * noise


def q_sample_one_minus_sqrt(alpha_bar, x0, t, noise):
    a = _ab_col(alpha_bar, t)
    return np.sqrt(a) * x0 + (1 - np.sqrt(a)) * noise


def q_sample_squared(alpha_bar, x0, t, noise):
    a = _ab_col(alpha_bar, t)
    return a * x0 + np.sqrt(1 - a ** 2) * noise


def _normal(x, m, v, norm=None):
    x = np.asarray(x, dtype=float)[:, None]
    norm = np.sqrt(2 * np.pi * v) if norm is None else norm
    return np.exp(-(x - m) ** 2 / (2 * v)) / norm


def mixture_weights_ignored(x, weights, means, variances, ab):
    dens = _normal(x, np.sqrt(ab) * means, ab * variances + 1 - ab)
    return dens.mean(axis=1)


def mixture_normaliser_without_v(x, weights, means, variances, ab):
    v = ab * variances + 1 - ab
    return _normal(x, np.sqrt(ab) * means, v, np.sqrt(2 * np.pi)) @ weights


def mixture_sqrt_ab_on_variance(x, weights, means, variances, ab):
    v = np.sqrt(ab) * variances + 1 - ab
    return _normal(x, np.sqrt(ab) * means, v) @ weights


def prior_kl_no_minus_one(x0, ab):
    v = 1 - ab
    return 0.5 * np.sum(v + ab * x0 ** 2 - np.log(v), axis=1)


def prior_kl_plus_log(x0, ab):
    v = 1 - ab
    return 0.5 * np.sum(v + ab * x0 ** 2 - 1 + np.log(v), axis=1)


def prior_kl_summed_over_all(x0, ab):
    v = 1 - ab
    return 0.5 * np.sum(v + ab * x0 ** 2 - 1 - np.log(v))


def _posterior(s, x0, xt, t, ab, ab_prev, x0_root=True):
    c0 = (np.sqrt(ab_prev) if x0_root else ab_prev) * s.beta[t] / (1 - ab)
    ct = np.sqrt(s.alpha[t]) * (1 - ab_prev) / (1 - ab)
    return c0 * x0 + ct * xt


def posterior_beta_tilde_swapped(s, x0, xt, t):
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    mean = _posterior(s, x0, xt, t, ab, ab_prev)
    with np.errstate(all="ignore"):
        return mean, s.beta[t] * (1 - ab) / (1 - ab_prev)


def posterior_x0_coefficient_no_root(s, x0, xt, t):
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    return (_posterior(s, x0, xt, t, ab, ab_prev, x0_root=False),
            s.beta_tilde[t])


def posterior_zero_based(s, x0, xt, t):
    u = t - 1
    ab, ab_prev = s.alpha_bar[u], s.alpha_bar[u - 1]
    with np.errstate(all="ignore"):
        c0 = np.sqrt(ab_prev) * s.beta[u] / (1 - ab)
        ct = np.sqrt(s.alpha[u]) * (1 - ab_prev) / (1 - ab)
    return c0 * x0 + ct * xt, s.beta_tilde[u]


def x0_precedence(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return xt - np.sqrt(1 - ab) * eps / np.sqrt(ab)


def x0_previous_alpha_bar(s, xt, t, eps):
    ab = s.alpha_bar[t - 1]
    return (xt - np.sqrt(1 - ab) * eps) / np.sqrt(ab)


def x0_roles_swapped(s, xt, t, eps):
    ab = s.alpha_bar[t]
    return (xt - np.sqrt(ab) * eps) / np.sqrt(1 - ab)


def mean_eps_precedence(s, xt, t, eps):
    return xt - s.beta[t] / np.sqrt(1 - s.alpha_bar[t]) * eps / np.sqrt(
        s.alpha[t])


def mean_eps_noise_coefficient(s, xt, t, eps):
    return (xt - np.sqrt(1 - s.alpha_bar[t]) * eps) / np.sqrt(s.alpha[t])


def mean_eps_beta_tilde(s, xt, t, eps):
    return ((xt - s.beta_tilde[t] / np.sqrt(1 - s.alpha_bar[t]) * eps)
            / np.sqrt(s.alpha[t]))


def _moment_coefficients(s, t):
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    c0 = np.sqrt(ab_prev) * s.beta[t] / (1 - ab)
    ct = np.sqrt(s.alpha[t]) * (1 - ab_prev) / (1 - ab)
    return c0, ct


def moments_product_squared(s, xt, t, x0_mean, x0_var):
    c0, ct = _moment_coefficients(s, t)
    return c0 * x0_mean + ct * xt, s.beta_tilde[t] + (c0 * x0_var) ** 2


def moments_sqrt_alpha_bar_in_mean(s, xt, t, x0_mean, x0_var):
    c0, _ = _moment_coefficients(s, t)
    ab, ab_prev = s.alpha_bar[t], s.alpha_bar[t - 1]
    ct = np.sqrt(ab) * (1 - ab_prev) / (1 - ab)
    return c0 * x0_mean + ct * xt, s.beta_tilde[t] + c0 ** 2 * x0_var


def langevin_other_generator(score_fn, x, step_size, rng):
    z = np.random.RandomState(0).standard_normal(x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def langevin_sqrt2_times_step(score_fn, x, step_size, rng):
    z = rng.standard_normal(x.shape)
    return x + step_size * score_fn(x) + np.sqrt(2) * step_size * z


def langevin_one_scalar_noise(score_fn, x, step_size, rng):
    z = rng.standard_normal()
    return x + step_size * score_fn(x) + np.sqrt(2 * step_size) * z


def dsm_score_at_clean_x0(score_fn, x0, sigma, noise):
    residual = score_fn(x0) + noise / sigma
    return 0.5 * np.mean(np.sum(residual ** 2, axis=1))


def dsm_norm_not_squared(score_fn, x0, sigma, noise):
    residual = score_fn(x0 + sigma * noise) + noise / sigma
    return 0.5 * np.mean(np.linalg.norm(residual, axis=1))


def dsm_sum_not_mean(score_fn, x0, sigma, noise):
    residual = score_fn(x0 + sigma * noise) + noise / sigma
    return 0.5 * np.sum(residual ** 2)


def score_previous_alpha_bar(s, xt, t, eps):
    with np.errstate(divide="ignore"):
        return -eps / np.sqrt(1 - s.alpha_bar[t - 1])


def score_sqrt_beta(s, xt, t, eps):
    return -eps / np.sqrt(s.beta[t])


def score_one_minus_sqrt(s, xt, t, eps):
    return -eps / (1 - np.sqrt(s.alpha_bar[t]))


LEARNER_WRONG = [
    ("check_alpha_bar", alpha_bar_drops_first),
    ("check_alpha_bar", alpha_bar_one_minus_cumsum),
    ("check_alpha_bar", alpha_bar_one_minus_cumprod_beta),
    ("check_q_sample", q_sample_no_reshape),
    ("check_q_sample", q_sample_one_minus_sqrt),
    ("check_q_sample", q_sample_squared),
    ("check_noised_mixture_pdf", mixture_weights_ignored),
    ("check_noised_mixture_pdf", mixture_normaliser_without_v),
    ("check_noised_mixture_pdf", mixture_sqrt_ab_on_variance),
    ("check_prior_kl", prior_kl_no_minus_one),
    ("check_prior_kl", prior_kl_plus_log),
    ("check_prior_kl", prior_kl_summed_over_all),
    ("check_posterior_mean_var", posterior_beta_tilde_swapped),
    ("check_posterior_mean_var", posterior_x0_coefficient_no_root),
    ("check_posterior_mean_var", posterior_zero_based),
    ("check_x0_from_eps", x0_precedence),
    ("check_x0_from_eps", x0_previous_alpha_bar),
    ("check_x0_from_eps", x0_roles_swapped),
    ("check_posterior_mean_eps", mean_eps_precedence),
    ("check_posterior_mean_eps", mean_eps_noise_coefficient),
    ("check_posterior_mean_eps", mean_eps_beta_tilde),
    ("check_reverse_step_moments", moments_product_squared),
    ("check_reverse_step_moments", moments_sqrt_alpha_bar_in_mean),
    ("check_langevin_step", langevin_other_generator),
    ("check_langevin_step", langevin_sqrt2_times_step),
    ("check_langevin_step", langevin_one_scalar_noise),
    ("check_dsm_loss", dsm_score_at_clean_x0),
    ("check_dsm_loss", dsm_norm_not_squared),
    ("check_dsm_loss", dsm_sum_not_mean),
    ("check_score_from_eps", score_previous_alpha_bar),
    ("check_score_from_eps", score_sqrt_beta),
    ("check_score_from_eps", score_one_minus_sqrt),
]


def test_the_learner_wrong_answers_cover_the_trial():
    assert len(LEARNER_WRONG) == 32
    assert len({name for name, _ in LEARNER_WRONG}) == 11


@pytest.mark.parametrize("in_float32", [False, True],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name, wrong", LEARNER_WRONG,
                         ids=[w.__name__ for _, w in LEARNER_WRONG])
def test_learner_wrong_answer_is_rejected_with_a_diagnosis(name, wrong,
                                                           in_float32):
    check = getattr(checks, name)
    answer = _returned_as(wrong, _float32) if in_float32 else wrong
    result = check(answer)
    assert result.status == "failed", result.report
    with pytest.raises(checks.CheckFailed):
        check(answer, strict=True)
    if not result.mistake:
        assert result.diagnosis or result.hint, result.report
