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


def test_listed_mistakes_returns_what_the_check_hands_to_run_check():
    from diffusion_edu.checks import listed_mistakes

    def check_square(answer, strict=False):
        return _run(answer, strict)

    assert listed_mistakes(check_square) == MISTAKES
