"""The contract every exercise check keeps (DESIGN.md section 6).

For every ``check_*`` of every chapter: the stub is reported as not yet
implemented (and raises in strict mode), and every classic mistake the
check lists is rejected and named, with its hint. Each chapter's own test
file adds that the check accepts the reference and learner-style answers.
"""

import pytest

from diffusion_edu import checks
from diffusion_edu.checks import CheckFailed, listed_mistakes

CHECKS = sorted(
    (name, getattr(checks, name)) for name in checks.__all__
    if name.startswith("check_"))
MISTAKES = [(name, check, mistake) for name, check in CHECKS
            for mistake in listed_mistakes(check)]


def _stub(*args, **kwargs):
    raise NotImplementedError


def test_every_chapter_with_exercises_has_checks():
    assert len(CHECKS) >= 20


@pytest.mark.parametrize("name, check", CHECKS, ids=[n for n, _ in CHECKS])
def test_check_reports_stub_as_not_implemented(name, check):
    result = check(_stub)
    assert result.status == "not implemented"
    assert not result
    with pytest.raises(CheckFailed, match="not yet implemented"):
        check(_stub, strict=True)


@pytest.mark.parametrize("name, check", CHECKS, ids=[n for n, _ in CHECKS])
def test_check_lists_at_least_two_classic_mistakes(name, check):
    assert len(listed_mistakes(check)) >= 2


@pytest.mark.parametrize(
    "name, check, mistake", MISTAKES,
    ids=[f"{n}-{m.name}" for n, _, m in MISTAKES])
def test_check_rejects_and_names_each_classic_mistake(name, check, mistake):
    result = check(mistake.wrong)
    assert result.status == "failed"
    assert result.mistake == mistake.name
    assert mistake.hint in result.report
    with pytest.raises(CheckFailed):
        check(mistake.wrong, strict=True)


@pytest.mark.parametrize("name, check", CHECKS, ids=[n for n, _ in CHECKS])
def test_hints_cite_printed_equation_numbers_not_labels(name, check):
    """A learner cannot see a label such as eq-reparam: hints give the
    printed number, "eq. (3.7)"."""
    for mistake in listed_mistakes(check):
        assert "eq-" not in mistake.hint, mistake.name

    def broken(*args, **kwargs):
        raise RuntimeError("broken")

    result = check(broken)
    assert result.status == "failed" and "eq-" not in result.report
