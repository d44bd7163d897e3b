"""The check mechanism behind every coding exercise.

A check calls the learner's function on several inputs (random ones and
edge cases), compares each result with a reference implementation, and
reports what passed, what failed and -- when the wrong results match a
known classic mistake -- a hint that names that mistake. It never prints
the expected answer.

Two modes:

* **report** (default, used in the chapters): the check returns a
  :class:`CheckResult` that displays itself and never raises, so a
  chapter runs top to bottom before the learner has written anything.
* **strict** (``strict=True``, used in the solutions): the check raises
  :class:`CheckFailed` on any failure, so a wrong solution fails nbval.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = [
    "Case",
    "CheckFailed",
    "CheckResult",
    "Mistake",
    "listed_mistakes",
    "run_check",
]

Status = Literal["passed", "failed", "not implemented"]


class CheckFailed(AssertionError):
    """Raised by a strict check whose answer is wrong or missing."""


@dataclass(frozen=True)
class Case:
    """One input on which the answer is compared with the reference.

    ``label`` says in words what the input is ("3-state chain, n = 0"),
    so that a failure tells the learner which situation went wrong.
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A classic wrong answer: an implementation of it and a hint.

    If the learner's results agree with ``wrong`` on every case where they
    disagree with the reference, the report shows ``hint``.
    """

    name: str
    wrong: Callable
    hint: str


@dataclass
class CheckResult:
    """Outcome of one check, shown as a short report."""

    title: str
    status: Status
    passed: list[str]
    failed: list[str]
    hint: str = ""
    mistake: str = ""

    def __bool__(self) -> bool:
        return self.status == "passed"

    @property
    def report(self) -> str:
        head = {
            "passed": f"[passed] {self.title}: all {len(self.passed)} "
                      f"test cases agree with the reference.",
            "failed": f"[failed] {self.title}: {len(self.failed)} of "
                      f"{len(self.passed) + len(self.failed)} test cases "
                      f"failed.",
            "not implemented": f"[not yet implemented] {self.title}: "
                               "replace `raise NotImplementedError` with "
                               "your code and run this cell again.",
        }[self.status]
        lines = [head]
        if self.status == "failed":
            lines += [f"  ok:     {label}" for label in self.passed]
            lines += [f"  FAILED: {msg}" for msg in self.failed]
            if self.hint:
                lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report

    def _repr_html_(self) -> str:
        colour = {"passed": "#1b7f3b", "failed": "#b3261e",
                  "not implemented": "#7a5b00"}[self.status]
        body = html.escape(self.report).replace("\n", "<br>")
        return (f'<div class="diffusion-edu-check" style="border-left: '
                f'4px solid {colour}; padding: 0.3em 0.8em; '
                f'font-family: monospace; white-space: pre-wrap;">'
                f"{body}</div>")


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _compare(got, expected, rtol: float, atol: float) -> str | None:
    """Return None if ``got`` matches ``expected``, else what differs."""
    got_t, exp_t = _as_tuple(got), _as_tuple(expected)
    if len(got_t) != len(exp_t):
        return (f"expected {len(exp_t)} returned value(s), "
                f"got {len(got_t)}")
    for i, (g, e) in enumerate(zip(got_t, exp_t, strict=True)):
        part = f"returned value {i + 1}: " if len(exp_t) > 1 else ""
        e_arr = np.asarray(e, dtype=float)
        try:
            g_arr = np.asarray(g, dtype=float)
        except (TypeError, ValueError):
            return f"{part}expected numbers, got {type(g).__name__}"
        if g_arr.shape != e_arr.shape:
            return (f"{part}shape {g_arr.shape} but the expected shape "
                    f"is {e_arr.shape}")
        if not np.all(np.isfinite(g_arr)):
            return f"{part}contains NaN or infinity"
        if not np.allclose(g_arr, e_arr, rtol=rtol, atol=atol):
            err = float(np.max(np.abs(g_arr - e_arr)))
            return f"{part}wrong values (largest error {err:.3g})"
    return None


def _call(fn: Callable, case: Case):
    args = copy.deepcopy(case.args)
    kwargs = copy.deepcopy(case.kwargs)
    return fn(*args, **kwargs)


def run_check(title: str, answer: Callable, reference: Callable,
              cases: Sequence[Case], *, mistakes: Sequence[Mistake] = (),
              strict: bool = False, rtol: float = 1e-6,
              atol: float = 1e-9, hint: str = "") -> CheckResult:
    """Compare ``answer`` with ``reference`` on every case.

    Args:
        title: name of the exercise, shown in the report.
        answer: the learner's function.
        reference: the correct function (same signature).
        cases: inputs; each label says what the input is.
        mistakes: classic wrong answers, each with a targeted hint.
        strict: raise :class:`CheckFailed` instead of reporting.
        rtol, atol: tolerances of ``np.allclose``.
        hint: generic hint shown when no classic mistake matches.

    Returns:
        A :class:`CheckResult` (it displays itself in Jupyter).
    """
    for record in _recorders:
        record.append(list(mistakes))
    if not callable(answer):
        result = CheckResult(title, "failed", [], [
            f"expected a function, got {type(answer).__name__}"])
        return _finish(result, strict)
    passed, failed, wrong_cases = [], [], []
    for case in cases:
        try:
            got = _call(answer, case)
        except NotImplementedError:
            return _finish(CheckResult(title, "not implemented", [], []),
                           strict)
        except Exception as exc:  # report any error raised by the answer
            failed.append(f"{case.label}: raised {type(exc).__name__}: "
                          f"{exc}")
            wrong_cases.append((case, None))
            continue
        problem = _compare(got, _call(reference, case), rtol, atol)
        if problem is None:
            passed.append(case.label)
        else:
            failed.append(f"{case.label}: {problem}")
            wrong_cases.append((case, got))
    if not failed:
        return _finish(CheckResult(title, "passed", passed, []), strict)
    found = _diagnose(wrong_cases, mistakes, rtol, atol)
    if found is None:
        result = CheckResult(title, "failed", passed, failed, hint)
    else:
        result = CheckResult(title, "failed", passed, failed,
                             f"{found.hint} ({found.name})", found.name)
    return _finish(result, strict)


def _diagnose(wrong_cases, mistakes, rtol, atol) -> Mistake | None:
    """Return the first mistake that explains every failure, if any."""
    for mistake in mistakes:
        explained = True
        for case, got in wrong_cases:
            if got is None:
                explained = False
                break
            try:
                expected_wrong = _call(mistake.wrong, case)
            except Exception:
                explained = False
                break
            if _compare(got, expected_wrong, rtol, atol) is not None:
                explained = False
                break
        if explained:
            return mistake
    return None


_recorders: list[list] = []


def listed_mistakes(check: Callable) -> list[Mistake]:
    """The classic mistakes that ``check`` recognises, in order.

    Calls ``check`` once on a stub and records the ``mistakes`` it hands
    to :func:`run_check`; used by the tests that prove every check
    rejects and names each mistake it lists.
    """

    def stub(*args, **kwargs):
        raise NotImplementedError

    record: list = []
    _recorders.append(record)
    try:
        check(stub)
    finally:
        _recorders.pop()
    return [m for mistakes in record for m in mistakes]


def _finish(result: CheckResult, strict: bool) -> CheckResult:
    if strict and result.status != "passed":
        raise CheckFailed(result.report)
    return result
