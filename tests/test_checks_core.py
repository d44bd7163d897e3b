"""The check mechanism: report mode never raises, strict mode does."""

import numpy as np
import pytest

from diffusion_edu.checks import Case, CheckFailed, Mistake, run_check


def _square(x):
    return x**2


def _stub(x):
    raise NotImplementedError


def _wrong_double(x):
    return 2 * x


CASES = [Case("x = 3", (3.0,)), Case("x = 0", (0.0,)),
         Case("a vector", (np.array([1.0, -2.0]),))]
MISTAKES = [Mistake("doubled instead of squared", _wrong_double,
                    "multiply x by itself, not by 2")]


def _run(answer, strict=False):
    return run_check("square", answer, _square, CASES, mistakes=MISTAKES,
                     strict=strict)


def test_reference_passes_in_both_modes():
    assert _run(_square).status == "passed"
    assert _run(_square, strict=True)


def test_stub_is_reported_not_implemented_and_does_not_raise():
    result = _run(_stub)
    assert result.status == "not implemented"
    assert not result
    assert "not yet implemented" in result.report


def test_stub_raises_in_strict_mode():
    with pytest.raises(CheckFailed, match="not yet implemented"):
        _run(_stub, strict=True)


def test_classic_mistake_is_named_with_its_hint():
    result = _run(_wrong_double)
    assert result.status == "failed"
    assert result.mistake == "doubled instead of squared"
    assert "multiply x by itself" in result.report
    # x = 0 agrees by accident; the other two cases fail
    assert result.passed == ["x = 0"]


def test_unknown_wrong_answer_fails_without_a_misleading_hint():
    result = _run(lambda x: x**3)
    assert result.status == "failed"
    assert result.mistake == ""


def test_report_never_shows_the_expected_value():
    report = _run(lambda x: x + 100.0).report
    assert "9.0" not in report and "wrong values" in report


def test_exception_in_answer_is_reported_not_raised():
    def broken(x):
        raise ZeroDivisionError("oops")

    result = _run(broken)
    assert result.status == "failed"
    assert "ZeroDivisionError: oops" in result.report


def test_wrong_shape_and_nan_are_reported():
    assert "shape" in _run(lambda x: np.zeros(5)).report
    assert "NaN" in _run(lambda x: np.nan * np.ones_like(x)).report


def test_answer_cannot_mutate_the_inputs_of_later_cases():
    def mutating(x):
        result = x**2
        if isinstance(x, np.ndarray):
            x[:] = 0  # a careless answer that overwrites its input
        return result

    assert _run(mutating).status == "passed"
    assert CASES[2].args[0][1] == -2.0


def test_non_callable_answer_is_reported():
    result = _run(42)
    assert result.status == "failed"
    assert "expected a function" in result.report


def test_result_renders_as_html():
    assert "diffusion-edu-check" in _run(_square)._repr_html_()


def test_html_names_the_status_and_shows_code_as_code():
    passed = _run(_square)._repr_html_()
    assert "diffusion-edu-check-passed" in passed
    todo = _run(_stub)._repr_html_()
    assert "diffusion-edu-check-not-implemented" in todo
    assert "<code>raise NotImplementedError</code>" in todo
    assert "`" not in todo


def test_listed_mistakes_returns_what_the_check_hands_to_run_check():
    from diffusion_edu.checks import listed_mistakes

    def check_square(answer, strict=False):
        return _run(answer, strict)

    assert listed_mistakes(check_square) == MISTAKES


# ---------------------------------------------------------------------------
# Fairness: containers, precision, counts, and saying what differs
# ---------------------------------------------------------------------------

def test_as_array_keeps_precision_of_numpy_torch_and_lists():
    import torch

    from diffusion_edu.checks import as_array

    assert as_array(np.float32(1.5)).dtype == np.float32
    grad = torch.ones(3, dtype=torch.float32, requires_grad=True)
    assert as_array(grad).dtype == np.float32
    assert as_array(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float16
    stacked = as_array([torch.tensor(1.0), torch.tensor(2.0)])
    assert stacked.shape == (2,) and stacked.dtype == np.float32
    assert as_array([[1, 2], [3, 4]]).shape == (2, 2)
    with pytest.raises(ValueError, match="different shapes"):
        as_array([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="expected numbers"):
        as_array("0.5")
    with pytest.raises(TypeError, match="return"):
        as_array(None)


def test_list_of_float32_values_counts_as_float32():
    from diffusion_edu.checks import as_array

    values = np.random.default_rng(0).random((3, 4))
    listed32 = values.astype(np.float32).tolist()      # Python floats
    assert as_array(listed32).dtype == np.float32
    assert as_array(listed32[0]).dtype == np.float32
    # float64 values, and short binary fractions, stay float64
    assert as_array(values.tolist()).dtype == np.float64
    assert as_array([0.5, 0.25, 1.0]).dtype == np.float64
    assert as_array([[0.5, 0.25], [1.0, 2.0]]).dtype == np.float64
    assert as_array([1, 2, 3]).dtype.kind == "i"
    # a float32 computation returned with .tolist() passes, and a float64
    # answer with a small error (1e-6) still fails
    def square32(x):
        return (np.asarray(x, dtype=np.float32) ** 2).tolist()

    def square64_off(x):
        return (np.asarray(x) ** 2 * (1 + 1e-6)).tolist()

    assert run_check("square", square32, lambda x: np.asarray(x) ** 2,
                     [Case("x", (np.linspace(0.1, 3.7, 7),))],
                     rtol=1e-9, atol=1e-12).status == "passed"
    assert run_check("square", square64_off, lambda x: np.asarray(x) ** 2,
                     [Case("x", (np.linspace(0.1, 3.7, 7),))],
                     rtol=1e-9, atol=1e-12).status != "passed"


def test_float32_answer_gets_float32_tolerance_float64_does_not():
    def off_by(relative, dtype):
        return lambda x: (np.asarray(x) ** 2 * (1 + relative)).astype(
            dtype)

    assert _run(off_by(3e-6, np.float32)).status == "passed"
    result = _run(off_by(3e-6, np.float64))
    assert result.status == "failed"
    assert "close, but not equal" in result.report
    # float32 rounding does not excuse a real error
    assert _run(off_by(1e-2, np.float32)).status == "failed"


def test_float32_absolute_floor_follows_the_scale_of_the_reference():
    def ref(x):
        return np.array([1e4 * x, 1e-9])

    def answer(x):   # float32 rounding of 1e4 is 1e-3 absolute
        return np.array([1e4 * x + 5e-3, 0.0], dtype=np.float32)

    cases = [Case("x = 1", (1.0,))]
    assert run_check("scaled", answer, ref, cases).status == "passed"
    wrong = run_check("scaled", lambda x: np.array(
        [1e4 * x + 50.0, 0.0], dtype=np.float32), ref, cases)
    assert wrong.status == "failed"


def _two_values(x):
    return x + 1.0, 2.0 * x


def _run2(answer, **kwargs):
    return run_check("two values", answer, _two_values, CASES,
                     outputs=("mean", "variance"), **kwargs)


def test_several_values_as_list_or_torch_pass():
    import torch

    assert _run2(lambda x: list(_two_values(x))).status == "passed"
    assert _run2(lambda x: tuple(torch.as_tensor(v) for v in
                                 _two_values(x))).status == "passed"


def test_wrong_number_of_values_names_the_expected_outputs():
    result = _run2(lambda x: x + 1.0)
    assert result.status == "failed"
    assert ("expected 2 returned values, mean, variance, as a tuple "
            "(`return mean, variance`)") in result.report
    assert "got 1 value" in result.report
    three = _run2(lambda x: (*_two_values(x), x))
    assert "got a tuple of 3 value(s)" in three.report
    single = _run(lambda x: (x ** 2, x))
    assert "expected 1 returned value" in single.report
    assert "got a tuple of 2 values" in single.report


def test_tuple_of_numbers_is_one_array_when_the_shape_fits():
    cases = [Case("vector", (np.array([1.0, -2.0]),))]
    result = run_check("square", lambda x: tuple(float(v) ** 2 for v in x),
                       _square, cases)
    assert result.status == "passed"


def test_only_the_wrong_value_is_named():
    result = _run2(lambda x: (x + 1.0, 4.0 * x))
    assert "Only variance is wrong; mean is right." in result.diagnosis
    assert "2 times the expected ones" in result.diagnosis


@pytest.mark.parametrize("answer, words", [
    (lambda x: -x ** 2, "wrong sign"),
    (lambda x: 2 * x ** 2 + 0 * x, "2 times the expected ones"),
    (lambda x: x ** 2 + 0.25, "shifted by the same constant"),
    (lambda x: x ** 4, "squares of the expected"),
    (lambda x: np.abs(x), "square roots of the expected"),
])
def test_unlisted_pattern_is_described_instead_of_the_formula(answer,
                                                              words):
    cases = [Case("x = 3", (3.0,)), Case("x = 0.5", (0.5,)),
             Case("a vector", (np.array([1.5, -2.0]),))]
    result = run_check("square", answer, _square, cases,
                       hint="return x times x")
    assert result.status == "failed" and result.mistake == ""
    assert words in result.diagnosis
    assert result.hint == ""
    assert "return x times x" not in result.report


def test_undiagnosed_difference_keeps_the_generic_hint():
    result = run_check("square", lambda x: np.sin(x), _square, CASES,
                       hint="return x times x")
    assert result.hint == "return x times x"
    assert "Hint: return x times x" in result.report


@pytest.mark.parametrize("expected, got, words", [
    ((2, 3), (3, 2), "transposed"),
    ((2,), (2, 1), "axis of length 1"),
    ((2,), (), "a single number where one value per entry"),
    ((2,), (3,), "one entry too many along axis 0"),
    ((4, 3), (4,), "the last axis is missing"),
    ((4,), (4, 3), "one value per coordinate instead of one per row"),
])
def test_shape_mismatch_is_explained(expected, got, words):
    result = run_check("shape", lambda x: np.zeros(got),
                       lambda x: np.ones(expected), [Case("x = 1", (1.0,))])
    assert words in result.diagnosis, result.report


def test_failure_in_some_cases_and_nan_are_located():
    def answer(x):
        return np.where(np.asarray(x) == 0, np.nan, np.asarray(x) ** 2)

    result = _run(answer)
    assert "fails only in: 'x = 0'" in result.diagnosis
    assert "NaN or infinity appears in: 'x = 0'" in result.diagnosis


def test_precision_note_replaces_wrong_values_for_float32_answers():
    def answer(x):
        return (np.asarray(x) ** 2 * 1.01).astype(np.float32)

    result = run_check("square", answer, _square, CASES,
                       precision_note="Squaring loses digits here.")
    assert result.status == "failed"
    assert "wrong values" not in result.report
    assert "precision matters" in result.report
    assert "Squaring loses digits here." in result.diagnosis
    assert "float64" in result.diagnosis
    # a float64 answer with the same error is simply wrong
    wrong = run_check("square", lambda x: np.asarray(x) ** 2 * 1.01,
                      _square, CASES, precision_note="Squaring ...")
    assert "wrong values" in wrong.report


def test_spec_of_records_reference_cases_and_outputs():
    from diffusion_edu.checks import spec_of

    def check_two(answer, strict=False):
        return _run2(answer, strict=strict)

    spec = spec_of(check_two)
    assert spec.reference is _two_values
    assert spec.cases == tuple(CASES)
    assert spec.outputs == ("mean", "variance")

    def check_twice(answer, strict=False):
        _run(answer)
        return _run(answer)

    with pytest.raises(ValueError, match="exactly once"):
        spec_of(check_twice)


def test_one_element_array_is_accepted_for_a_number():
    def ref(x):
        return float(x) ** 2

    cases = [Case("x = 3", (3.0,))]
    assert run_check("number", lambda x: np.array([[x ** 2]]), ref,
                     cases).status == "passed"
    assert run_check("number", lambda x: np.array([x ** 2, 0.0]), ref,
                     cases).status == "failed"


def test_nan_where_the_mistake_has_nan_still_names_the_mistake():
    def ref(x):
        return np.array([1.0, x])

    def wrong(x):   # divides by zero at x = 0, as a learner's slip does
        return np.array([1.0, 1.0 / np.float64(x)])

    cases = [Case("x = 2", (2.0,)), Case("x = 0", (0.0,))]
    result = run_check("nan", wrong, ref, cases,
                       mistakes=[Mistake("inverted", wrong, "use x")])
    assert result.mistake == "inverted"
    assert "contains NaN or infinity" in result.report   # vs reference
    other = run_check("nan", lambda x: np.array([2.0, 1 / np.float64(x)]),
                      ref, cases, mistakes=[Mistake("inverted", wrong, "x")])
    assert other.mistake == ""
