"""What every chapter's check tests assert about a check (imported by
tests/test_checks_chNN.py; the contract over all checks is in
tests/test_checks_contract.py)."""

from diffusion_edu.checks import listed_mistakes


def assert_accepts(check, answers, min_passed: int) -> None:
    """The check passes every correct answer (the package's function and
    answers written as a learner would), each on at least ``min_passed``
    cases."""
    for answer in answers:
        result = check(answer, strict=True)
        assert result.status == "passed", result.report
        assert len(result.passed) >= min_passed


def assert_lists_mistakes(checks, least: int = 3) -> None:
    """Each check recognises at least ``least`` classic mistakes."""
    for check, _ in checks:
        assert len(listed_mistakes(check)) >= least, check.__name__
