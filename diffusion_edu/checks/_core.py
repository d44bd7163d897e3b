"""The check mechanism behind every coding exercise.

A check calls the learner's function on several inputs (random ones and
edge cases), compares each result with a reference implementation, and
reports what passed, what failed and -- when the wrong results match a
known classic mistake -- a hint that names that mistake. When no listed
mistake matches, the report says *what* differs: which returned value,
which cases, and how (a flipped sign, a constant factor, squares instead
of values, a shape, NaN only at some inputs, a loss of precision). It
never prints the expected answer.

Fairness: a correct answer passes whatever container it comes in. NumPy
arrays, numbers, torch tensors (CPU, with or without gradients) and lists
or tuples of numbers are all converted to arrays, and the tolerance
follows the precision of what was returned: a float32 result is compared
with float32 tolerances (relative and absolute, the absolute one relative
to the size of the expected values). Several returned values may come as
a tuple or a list.

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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = [
    "Case",
    "CheckFailed",
    "CheckResult",
    "CheckSpec",
    "Mistake",
    "as_array",
    "listed_mistakes",
    "run_check",
    "spec_of",
]

Status = Literal["passed", "failed", "not implemented"]

# Tolerances for results of lower precision than float64: the relative
# tolerance is _ROUNDING_FACTOR times the machine epsilon of the returned
# dtype (float32: 1.2e-7 -> 1.2e-4, about 4 significant digits), and the
# absolute one is the same times max(1, largest |expected value|). A
# correct float32 computation loses a few digits to rounding, and more
# where it subtracts nearly equal numbers; the factor leaves room for
# that while every classic mistake stays far outside (the tests check
# each listed mistake cast to float32).
_ROUNDING_FACTOR = 1000.0
_EPS64 = float(np.finfo(np.float64).eps)
# Largest relative error (to the largest |expected value|) described as
# a loss of precision rather than as wrong values: for float64 results,
# and for results of lower precision (float32, ...).
_PRECISION_BAND = 1e-5
_PRECISION_BAND_LOW = 1e-3


class CheckFailed(AssertionError):
    """Raised by a strict check whose answer is wrong or missing."""


@dataclass(frozen=True)
class Case:
    """One input on which the answer is compared with the reference.

    ``label`` says in words what the input is ("3-state chain, n = 0",
    "linear(1000), t = 1"), so that a failure tells the learner which
    situation went wrong.
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


@dataclass(frozen=True)
class CheckSpec:
    """Everything a check hands to :func:`run_check` (see
    :func:`spec_of`): used by the tests that prove every check fair."""

    title: str
    reference: Callable
    cases: tuple
    mistakes: tuple
    rtol: float
    atol: float
    outputs: tuple
    hint: str
    precision_note: str


@dataclass
class CheckResult:
    """Outcome of one check, shown as a short report.

    ``diagnosis`` says what differs when no listed mistake explains the
    failures; ``hint`` is the listed mistake's hint, or the check's
    generic hint.
    """

    title: str
    status: Status
    passed: list[str]
    failed: list[str]
    hint: str = ""
    mistake: str = ""
    diagnosis: str = ""

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
            if self.diagnosis:
                lines.append(f"  What differs: {self.diagnosis}")
            if self.hint:
                lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report

    def _repr_html_(self) -> str:
        colour = {"passed": "#1b7f3b", "failed": "#b3261e",
                  "not implemented": "#7a5b00"}[self.status]
        body = html.escape(self.report).replace("\n", "<br>")
        # `code` in the message is shown as code, not with backticks
        body = re.sub(r"`([^`<]+)`", r"<code>\1</code>", body)
        status = self.status.replace(" ", "-")
        return (f'<div class="diffusion-edu-check diffusion-edu-check-'
                f'{status}" style="border-left: '
                f'4px solid {colour}; padding: 0.3em 0.8em; '
                f'font-family: monospace; white-space: pre-wrap;">'
                f"{body}</div>")


# ---------------------------------------------------------------------------
# Converting what the learner returned
# ---------------------------------------------------------------------------

def _is_torch_tensor(value) -> bool:
    return (type(value).__module__.split(".")[0] == "torch"
            and hasattr(value, "detach"))


def _torch_to_numpy(value) -> np.ndarray:
    tensor = value.detach()
    if getattr(tensor, "is_complex", lambda: False)():
        raise TypeError("expected real numbers, got a complex tensor")
    if str(tensor.dtype) == "torch.bfloat16":
        # NumPy has no bfloat16; float32 holds every bfloat16 value, and
        # the precision (8 significant bits) is kept as float16's, the
        # closest NumPy type.
        return tensor.cpu().float().numpy().astype(np.float16)
    return tensor.cpu().numpy()


def as_array(value) -> np.ndarray:
    """Convert a returned value to a NumPy array, keeping its precision.

    Accepts NumPy arrays and scalars, Python numbers, torch tensors (on
    any device, with or without gradients) and (nested) lists or tuples
    of those. Floating-point arrays keep their dtype (float32 stays
    float32), so that the check can choose tolerances that match it; a
    list of Python floats that are all float32 numbers (``.tolist()`` of
    a float32 tensor) counts as float32.

    Chapter modules that post-process an answer before the comparison
    (broadcasting a variance, replacing NaN) use it too, so that the
    precision of the answer still decides the tolerance.

    Raises:
        TypeError: ``value`` is not made of real numbers.
        ValueError: a list or tuple whose items have different shapes.
    """
    if _is_torch_tensor(value):
        return _torch_to_numpy(value)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"expected numbers, got {_kind(value)}")
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            return np.zeros(0)
        items = [as_array(item) for item in value]
        shapes = {item.shape for item in items}
        if len(shapes) > 1:
            raise ValueError(
                f"a {type(value).__name__} of items of different shapes "
                f"({', '.join(str(s) for s in sorted(shapes))})")
        dtype = np.result_type(*items)
        return _float32_if_listed(
            np.stack([item.astype(dtype) for item in items]))
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"expected numbers, got {_kind(value)}") from exc
    if arr.dtype == object:
        raise TypeError(f"expected numbers, got {_kind(value)}")
    if np.iscomplexobj(arr):
        raise TypeError("expected real numbers, got complex numbers")
    if not (np.issubdtype(arr.dtype, np.number)
            or arr.dtype == np.bool_):
        raise TypeError(f"expected numbers, got {_kind(value)}")
    return arr


def _float32_if_listed(arr: np.ndarray) -> np.ndarray:
    """A list's float64 values that are float32 numbers, as float32.

    Python lists carry no dtype: ``tensor.tolist()`` of a float32 tensor
    gives Python floats that hold float32 values exactly. When every
    value is a float32 number and at least one needs more than float16's
    11 significant bits (so that short binary fractions such as 0.5 or
    0.25, which every precision represents, do not decide it), the list
    is taken to be float32 and gets float32 tolerances. A float64
    computation almost never produces such values.
    """
    if arr.dtype != np.float64 or arr.size == 0:
        return arr
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return arr
    with np.errstate(over="ignore"):
        as32 = finite.astype(np.float32)
        as16 = finite.astype(np.float16)
    if np.all(as32 == finite) and np.any(as16 != finite):
        return arr.astype(np.float32)
    return arr


def _precision(arr: np.ndarray) -> float:
    """Machine epsilon of the returned values (float64's for integers)."""
    if np.issubdtype(arr.dtype, np.floating):
        return max(float(np.finfo(arr.dtype).eps), _EPS64)
    return _EPS64


def _dtype_name(arr: np.ndarray) -> str:
    return str(arr.dtype)


def _kind(value) -> str:
    """A short description of a returned value, for messages."""
    if _is_torch_tensor(value):
        return f"a torch tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None (is a `return` missing?)"
    if isinstance(value, (int, float, np.number)):
        return "a single number"
    return type(value).__name__


def _tolerances(eps: float, expected: np.ndarray, rtol: float,
                atol: float) -> tuple[float, float]:
    """(rtol, atol) for values of machine epsilon ``eps``."""
    if eps <= _EPS64:
        return rtol, atol
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return (max(rtol, _ROUNDING_FACTOR * eps),
            max(atol, _ROUNDING_FACTOR * eps * scale))


# ---------------------------------------------------------------------------
# Comparing one case
# ---------------------------------------------------------------------------

@dataclass
class _Part:
    """Comparison of one returned value with its expected value."""

    index: int
    problem: str | None = None
    kind: str = "ok"      # ok, type, shape, nonfinite, values
    got: np.ndarray | None = None
    expected: np.ndarray | None = None
    eps: float = _EPS64
    dtype: str = "float64"


@dataclass
class _Outcome:
    """Comparison of one case: a count problem or one _Part per value."""

    count_problem: str | None = None
    parts: list[_Part] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        if self.count_problem is not None:
            return self.count_problem
        for part in self.parts:
            if part.problem is not None:
                return part.problem
        return None


def _output_name(i: int, n: int, outputs: Sequence[str]) -> str:
    if i < len(outputs):
        return outputs[i]
    return f"value {i + 1}" if n > 1 else "the returned value"


def _expected_values_text(n: int, outputs: Sequence[str]) -> str:
    if n == 1:
        name = outputs[0] if outputs else "one array or number"
        return f"expected 1 returned value ({name})"
    names = [_output_name(i, n, outputs) for i in range(n)]
    return (f"expected {n} returned values, {', '.join(names)}, as a "
            f"tuple (`return {', '.join(_identifier(x) for x in names)}`)")


def _identifier(name: str) -> str:
    word = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return word or "value"


def _split(got, n: int, outputs: Sequence[str],
           shape: tuple = ()) -> tuple | str:
    """The returned values as a tuple of length n, or what is wrong.

    With n = 1, a tuple is read as one array (of the expected ``shape``)
    if it is a tuple of numbers of the right length, else as several
    returned values.
    """
    if n == 1:
        as_one_array = (isinstance(got, tuple) and len(shape) >= 1
                        and len(got) == shape[0]
                        and (len(shape) > 1 or all(map(_is_scalar, got))))
        if isinstance(got, tuple) and not as_one_array:
            extra = (" (the trailing comma in `return x,` makes a "
                     "tuple)" if len(got) == 1 else "")
            return (f"{_expected_values_text(1, outputs)}; got a tuple "
                    f"of {len(got)} values{extra}")
        return (got,)
    if isinstance(got, (tuple, list)):
        if len(got) == n:
            return tuple(got)
        return (f"{_expected_values_text(n, outputs)}; got a "
                f"{type(got).__name__} of {len(got)} value(s)")
    return (f"{_expected_values_text(n, outputs)}; got 1 value "
            f"({_kind(got)})")


def _is_scalar(item) -> bool:
    if _is_torch_tensor(item):
        return item.dim() == 0
    if isinstance(item, (list, tuple)):
        return False
    return np.ndim(item) == 0


def _compare(got, expected, rtol: float, atol: float,
             outputs: Sequence[str] = (),
             precision_matters: bool = False) -> _Outcome:
    """Compare ``got`` with ``expected`` (one case)."""
    exp_t = expected if isinstance(expected, tuple) else (expected,)
    n = len(exp_t)
    split = _split(got, n, outputs, np.shape(as_array(exp_t[0])))
    if isinstance(split, str):
        return _Outcome(count_problem=split)
    outcome = _Outcome()
    for i, (g, e) in enumerate(zip(split, exp_t, strict=True)):
        part = _Part(i)
        outcome.parts.append(part)
        prefix = (f"returned value {i + 1} "
                  f"({_output_name(i, n, outputs)}): " if n > 1 else "")
        e_arr = np.asarray(as_array(e), dtype=float)
        try:
            g_raw = as_array(g)
        except (TypeError, ValueError) as exc:
            part.kind, part.problem = "type", f"{prefix}{exc}"
            continue
        part.eps = _precision(g_raw)
        part.dtype = _dtype_name(g_raw)
        g_arr = g_raw.astype(float)
        if e_arr.shape == () and g_arr.size == 1:
            g_arr = g_arr.reshape(())      # [[0.3]] for a number is fine
        part.got, part.expected = g_arr, e_arr
        if g_arr.shape != e_arr.shape:
            part.kind = "shape"
            part.problem = (f"{prefix}shape {g_arr.shape} but the "
                            f"expected shape is {e_arr.shape}")
            continue
        g_bad, e_bad = ~np.isfinite(g_arr), ~np.isfinite(e_arr)
        if np.any(g_bad) and not (
                np.array_equal(g_bad, e_bad)
                and np.array_equal(g_arr[g_bad], e_arr[e_bad],
                                   equal_nan=True)):
            # (NaN or infinity where the expected value -- a listed
            # mistake's -- has the same ones is an agreement)
            part.kind = "nonfinite"
            part.problem = f"{prefix}contains NaN or infinity"
            continue
        if np.any(g_bad):
            g_arr, e_arr = g_arr[~g_bad], e_arr[~e_bad]
        r, a = _tolerances(part.eps, e_arr, rtol, atol)
        if np.allclose(g_arr, e_arr, rtol=r, atol=a):
            continue
        part.kind = "values"
        err = float(np.max(np.abs(g_arr - e_arr)))
        rel = _relative_error(g_arr, e_arr)
        if _is_precision_loss(rel, part.eps):
            digits = _digits(rel)
            if part.eps > _EPS64:
                part.problem = (
                    f"{prefix}your {part.dtype} values agree with the "
                    f"reference to only about {digits} significant "
                    f"digit(s) (largest error {err:.3g})"
                    + ("; precision matters here (see below)"
                       if precision_matters else ""))
            else:
                part.problem = (
                    f"{prefix}close, but not equal: the values agree to "
                    f"about {digits} significant digits (largest error "
                    f"{err:.3g})")
        elif precision_matters and part.eps > _EPS64:
            part.problem = (
                f"{prefix}your {part.dtype} values differ from the "
                f"reference by up to {err:.3g}, and precision matters "
                f"here (see below)")
        else:
            part.problem = f"{prefix}wrong values (largest error {err:.3g})"
    return outcome


def _relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    scale = float(np.max(np.abs(expected), initial=0.0))
    if scale == 0.0:
        return float("inf")
    return float(np.max(np.abs(got - expected))) / scale


def _digits(rel: float) -> int:
    return max(1, int(np.floor(-np.log10(max(rel, 1e-300)))))


def _is_precision_loss(rel: float, eps: float) -> bool:
    band = _PRECISION_BAND_LOW if eps > _EPS64 else _PRECISION_BAND
    return rel <= band


def _agrees(got, expected, rtol, atol, outputs=()) -> bool:
    return _compare(got, expected, rtol, atol, outputs).problem is None


def _call(fn: Callable, case: Case):
    args = copy.deepcopy(case.args)
    kwargs = copy.deepcopy(case.kwargs)
    return fn(*args, **kwargs)


# ---------------------------------------------------------------------------
# Running a check
# ---------------------------------------------------------------------------

def run_check(title: str, answer: Callable, reference: Callable,
              cases: Sequence[Case], *, mistakes: Sequence[Mistake] = (),
              strict: bool = False, rtol: float = 1e-6,
              atol: float = 1e-9, hint: str = "",
              outputs: Sequence[str] = (),
              precision_note: str = "") -> CheckResult:
    """Compare ``answer`` with ``reference`` on every case.

    Args:
        title: name of the exercise, shown in the report.
        answer: the learner's function.
        reference: the correct function (same signature). If it returns
            a tuple, the answer must return as many values (a tuple or
            a list).
        cases: inputs; each label says what the input is.
        mistakes: classic wrong answers, each with a targeted hint.
        strict: raise :class:`CheckFailed` instead of reporting.
        rtol, atol: tolerances of ``np.allclose`` for float64 results;
            results of lower precision (float32, ...) get tolerances
            that follow their machine epsilon.
        hint: generic hint shown when no classic mistake matches.
        outputs: names of the returned values, in order ("mean",
            "variance"), used in the messages.
        precision_note: where precision genuinely matters for this
            exercise, a plain sentence saying where and why (shown when
            an answer fails only by a loss of precision).

    Returns:
        A :class:`CheckResult` (it displays itself in Jupyter).
    """
    outputs = tuple(outputs)
    for record in _recorders:
        record.append(CheckSpec(title, reference, tuple(cases),
                                tuple(mistakes), rtol, atol, outputs, hint,
                                precision_note))
    if not callable(answer):
        result = CheckResult(title, "failed", [], [
            f"expected a function, got {type(answer).__name__}"])
        return _finish(result, strict)
    passed, failed, wrong = [], [], []
    for case in cases:
        try:
            # NaN and infinity are reported by the comparison (with the
            # cases where they appear), not as warnings
            with np.errstate(divide="ignore", invalid="ignore",
                             over="ignore"):
                got = _call(answer, case)
        except NotImplementedError:
            return _finish(CheckResult(title, "not implemented", [], []),
                           strict)
        except Exception as exc:  # report any error raised by the answer
            failed.append(f"{case.label}: raised {type(exc).__name__}: "
                          f"{exc}")
            wrong.append((case, None, None))
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = _call(reference, case)
        outcome = _compare(got, expected, rtol, atol, outputs,
                           bool(precision_note))
        if outcome.problem is None:
            passed.append(case.label)
        else:
            failed.append(f"{case.label}: {outcome.problem}")
            wrong.append((case, got, outcome))
    if not failed:
        return _finish(CheckResult(title, "passed", passed, []), strict)
    found = _match_mistake(wrong, mistakes, rtol, atol, outputs)
    if found is not None:
        result = CheckResult(title, "failed", passed, failed,
                             f"{found.hint} ({found.name})", found.name)
    else:
        with np.errstate(all="ignore"):
            diagnosis, decisive = _describe_difference(
                wrong, passed, outputs, precision_note)
        # A decisive diagnosis (a sign, a constant factor, a loss of
        # precision, ...) says what to fix; the generic hint, which
        # restates the formula, is shown only when the diagnosis is not
        # decisive.
        result = CheckResult(title, "failed", passed, failed,
                             "" if decisive else hint,
                             diagnosis=diagnosis)
    return _finish(result, strict)


def _match_mistake(wrong, mistakes, rtol, atol, outputs) -> Mistake | None:
    """Return the first mistake that explains every failure, if any."""
    for mistake in mistakes:
        explained = True
        for case, got, _ in wrong:
            if got is None:
                explained = False
                break
            try:
                with np.errstate(all="ignore"):
                    expected_wrong = _call(mistake.wrong, case)
            except Exception:
                explained = False
                break
            if not _agrees(got, expected_wrong, rtol, atol, outputs):
                explained = False
                break
        if explained:
            return mistake
    return None


# ---------------------------------------------------------------------------
# Saying what differs
# ---------------------------------------------------------------------------

def _describe_difference(wrong, passed, outputs,
                         precision_note) -> tuple[str, bool]:
    """Plain sentences on what differs, from the failing cases, and
    whether they are decisive (say what to fix)."""
    sentences = []
    decisive = False
    failing = [case.label for case, _, _ in wrong]
    raised = [case.label for case, got, _ in wrong if got is None]
    outcomes = [(case, o) for case, _, o in wrong if o is not None]
    counts = [o.count_problem for _, o in outcomes if o.count_problem]
    if counts:
        sentences.append(
            "your function returns the wrong number of values (see the "
            "FAILED lines); the values themselves can be compared once "
            "it returns what the exercise asks for.")
        decisive = True
    if passed and raised and len(raised) == len(failing):
        sentences.append(
            f"your function raises an error only in: {_join(raised)}; "
            f"the other {len(passed)} case(s) pass, so look at what is "
            f"special about these inputs.")
    elif passed and len(passed) < len(failing):
        sentences.append(
            f"it passes only in: {_join(passed)}, and fails in the other "
            f"{len(failing)} cases: whatever is wrong has no effect for "
            f"those inputs (a quantity that equals 0 or 1 there hides "
            f"a wrong factor or power of it).")
    elif passed:
        sentences.append(
            f"it fails only in: {_join(failing)}. The other "
            f"{len(passed)} case(s) pass, so look at what is special "
            f"about these (the first or last step t, large t, "
            f"one t per example, a size of 1, ...).")
    parts_by_output: dict[int, list] = {}
    n_outputs = 0
    for case, o in outcomes:
        n_outputs = max(n_outputs, len(o.parts))
        for part in o.parts:
            parts_by_output.setdefault(part.index, []).append((case, part))
    if n_outputs > 1 and not counts:
        bad = [i for i, items in sorted(parts_by_output.items())
               if any(p.problem for _, p in items)]
        good = [i for i in range(n_outputs) if i not in bad]
        if bad and good:
            sentences.append(
                f"only {_names(bad, n_outputs, outputs)} "
                f"{'is' if len(bad) == 1 else 'are'} wrong; "
                f"{_names(good, n_outputs, outputs)} "
                f"{'is' if len(good) == 1 else 'are'} right.")
    for i, items in sorted(parts_by_output.items()):
        failing_items = [(c, p) for c, p in items if p.problem]
        if not failing_items:
            continue
        prefix = (f"{_output_name(i, n_outputs, outputs)}: "
                  if n_outputs > 1 else "")
        found, sure = _describe_output(failing_items, precision_note)
        decisive = decisive or sure
        sentences += [prefix + sentence for sentence in found]
    text = " ".join(s[0].upper() + s[1:] for s in sentences)
    return text, decisive


def _names(indices, n, outputs) -> str:
    return " and ".join(_output_name(i, n, outputs) for i in indices)


def _join(labels: Sequence[str]) -> str:
    return "; ".join(f"'{label}'" for label in labels)


def _describe_output(items, precision_note) -> tuple[list[str], bool]:
    """Sentences about one returned value over its failing cases."""
    sentences = []
    decisive = False
    kinds = {p.kind for _, p in items}
    shape_items = [(c, p) for c, p in items if p.kind == "shape"]
    if shape_items:
        sentences += _describe_shapes(shape_items)
    nonfinite = [c.label for c, p in items if p.kind == "nonfinite"]
    if nonfinite:
        sentences.append(
            f"NaN or infinity appears in: {_join(nonfinite)}. That is "
            f"usually a division by zero or the log or square root of "
            f"a number <= 0 that happens only for these inputs (for "
            f"example 1 - alpha_bar_0 = 0 at t = 1).")
    value_items = [(c, p) for c, p in items if p.kind == "values"]
    if value_items:
        found, decisive = _describe_values(value_items, precision_note)
        sentences += found
    if kinds == {"type"}:
        sentences.append("return numbers: a NumPy array, a number or a "
                         "torch tensor.")
    return sentences, decisive


def _describe_shapes(items) -> list[str]:
    got, exp = items[0][1].got.shape, items[0][1].expected.shape
    same = all(p.got.shape == got and p.expected.shape == exp
               for _, p in items[1:])
    where = ("in every failing case" if same
             else f"for example in '{items[0][0].label}'")
    text = f"the shape is {got} where {exp} is expected ({where})"
    explanation = _shape_explanation(got, exp)
    return [text + (f": {explanation}" if explanation else ".")]


def _shape_explanation(got: tuple, exp: tuple) -> str:
    if len(got) == 2 and got == exp[::-1] and got != exp:
        return "the result is transposed (rows and columns swapped)."
    if got == ():
        return ("a single number where one value per entry is expected: "
                "a sum or mean over an axis that should stay (use "
                "axis=...).")
    if exp == ():
        return ("one number is expected: reduce (sum or mean) over every "
                "axis, as the statement says.")
    if (int(np.prod(got)) == int(np.prod(exp))
            and tuple(d for d in got if d != 1)
            == tuple(d for d in exp if d != 1)):
        return ("the same numbers with an axis of length 1 added or "
                "missing (e.g. (N, 1) instead of (N,)): reshape.")
    if len(got) == len(exp) + 1 and got[:-1] == exp:
        return ("one value per coordinate instead of one per row: "
                "the last axis still has to be summed or averaged.")
    if len(got) + 1 == len(exp) and exp[:-1] == got:
        return ("the last axis is missing: a sum or mean over it is one "
                "too many.")
    if int(np.prod(got)) == int(np.prod(exp)):
        return "the same number of entries, arranged differently."
    if len(got) == len(exp):
        diffs = [k for k in range(len(exp)) if got[k] != exp[k]]
        if len(diffs) == 1:
            k = diffs[0]
            delta = got[k] - exp[k]
            if abs(delta) == 1:
                more = "one entry too many" if delta > 0 else \
                    "one entry too few"
                return (f"{more} along axis {k}: an off-by-one, e.g. a "
                        f"missing or extra first entry (index 0, t = 0) "
                        f"or last entry.")
            return f"axis {k} has length {got[k]} instead of {exp[k]}."
    return ""


def _describe_values(items, precision_note) -> tuple[list[str], bool]:
    """Patterns shared by the failing cases of one returned value, and
    whether they say what to fix."""
    sentences = []
    low = [p for _, p in items if p.eps > _EPS64]
    if low and precision_note:
        sentences.append(
            f"you returned {low[0].dtype} numbers, and precision matters "
            f"in this exercise. {precision_note} Recompute in float64 "
            f"(NumPy's default; dtype=torch.float64 in torch) before "
            f"looking for a mistake in the formula.")
        return sentences, True
    precision = [(c, p) for c, p in items if _is_precision_loss(
        _relative_error(p.got, p.expected), p.eps)]
    if precision and len(precision) == len(items):
        if low:
            sentences.append(
                f"this looks like a loss of precision, not a wrong "
                f"formula: you returned {low[0].dtype} numbers, which "
                f"carry about {round(-np.log10(low[0].eps))} significant "
                f"digits, and in {_join([c.label for c, _ in precision])}"
                f" fewer survive. Subtracting nearly equal numbers (for "
                f"example 1 - alpha_bar_t when alpha_bar_t is close to "
                f"1) or dividing by a tiny one loses digits, and "
                f"{low[0].dtype} has few to lose. Compute in float64 "
                f"(NumPy's default; dtype=torch.float64 in torch); if "
                f"the difference remains in float64, the formula is "
                f"off.")
        else:
            sentences.append(
                "the values are very close to the expected ones but not "
                "equal to float64 precision: was part of the computation "
                "done in float32 (torch's default dtype), or is an "
                "approximation or a rounded constant used (3.14 for pi, "
                "exp(-x) for 1 - x, ...)?")
        return sentences, True
    fits = [_fits(p.got, p.expected) for _, p in items]

    def every(kind):
        return all(kind in f for f in fits)

    def constant(kind):
        values = [f[kind] for f in fits]
        return max(values) - min(values) <= 1e-6 * max(map(abs, values))

    if every("sign"):
        sentences.append("your values have the wrong sign: they are -1 "
                         "times the expected ones.")
    elif every("square"):
        sentences.append("your values are the squares of the expected "
                         "ones (a variance where a standard deviation is "
                         "expected, or squared twice?).")
    elif every("root"):
        sentences.append("your values are the square roots of the "
                         "expected ones (a standard deviation where a "
                         "variance is expected?).")
    elif every("factor") and constant("factor"):
        sentences.append(
            f"your values are {_number(fits[0]['factor'])} times the "
            f"expected ones in every failing case: a constant factor is "
            f"wrong or missing.")
    elif every("offset") and constant("offset"):
        sentences.append(
            f"your values are shifted by the same constant "
            f"({_number(fits[0]['offset'])}) in every failing case: a "
            f"term that does not depend on the inputs is wrong or "
            f"missing.")
    elif every("offset") and any(p.expected.size > 1 for _, p in items):
        sentences.append(
            f"within each case your values are shifted by a constant "
            f"({_number(fits[0]['offset'])} in '{items[0][0].label}'): "
            f"a term that does not depend on the data is wrong or "
            f"missing.")
    elif every("factor"):
        factors = [f["factor"] for f in fits]
        single = all(p.expected.size == 1 for _, p in items)
        what = ("your number is" if single
                else "your values are a multiple of the expected ones, "
                     "but the factor changes from case to case:")
        sentences.append(
            f"{what} between {_number(min(factors))} and "
            f"{_number(max(factors))} times the expected "
            f"{'one' if single else 'ones'}"
            f"{', depending on the case' if single else ''}: a factor "
            f"that depends on the inputs (on t, the schedule, the "
            f"number of points N or of dimensions D, ...) is wrong or "
            f"missing.")
        return sentences, False
    elif len(items) == 1 and "entries" in fits[0]:
        case, part = items[0]
        sentences.append(_entries_sentence(part, case.label))
        return sentences, False
    else:
        return sentences, False
    return sentences, True


def _fits(got: np.ndarray, exp: np.ndarray) -> dict:
    """The simple relations that ``got`` has with ``exp``: sign, factor,
    offset, square, root, entries (only a few entries differ)."""
    def close(a, b):
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9 * max(
            1.0, float(np.max(np.abs(b), initial=0.0)))))

    fits = {}
    if np.any(exp != 0) and close(got, -exp):
        fits["sign"] = -1.0
    denom = float(np.sum(exp * exp))
    if denom > 0:
        c = float(np.sum(got * exp)) / denom
        if c != 0 and close(got, c * exp):
            fits["factor"] = c
    shift = float(np.mean(got - exp))
    if shift != 0 and close(got, exp + shift):
        fits["offset"] = shift
    if np.all(exp > 0) and np.all(got >= 0):
        if close(got, exp ** 2):
            fits["square"] = 2.0
        if close(got, np.sqrt(exp)):
            fits["root"] = 0.5
    bad = ~np.isclose(got, exp, rtol=1e-6, atol=1e-9)
    if exp.ndim >= 1 and 0 < np.count_nonzero(bad) < bad.size / 2:
        fits["entries"] = float(np.count_nonzero(bad))
    return fits


def _entries_sentence(part: _Part, label: str) -> str:
    bad = ~np.isclose(part.got, part.expected, rtol=1e-6, atol=1e-9)
    if part.got.ndim == 1:
        idx = [int(i) for i in np.flatnonzero(bad)]
        where = ", ".join(str(i) for i in idx[:8])
        more = ", ..." if len(idx) > 8 else ""
        return (f"only some entries are wrong (in '{label}': index "
                f"{where}{more} of {bad.size}); the others are right, so "
                f"look at what is special about these positions (the "
                f"first or last one?).")
    rows = sorted({int(i) for i in np.argwhere(bad)[:, 0]})
    where = ", ".join(str(i) for i in rows[:8])
    more = ", ..." if len(rows) > 8 else ""
    return (f"only some rows are wrong (in '{label}': row(s) {where}"
            f"{more} of {bad.shape[0]}); the others are right, so look at "
            f"what is special about these rows (their t?).")


def _number(x: float) -> str:
    """A factor in words: 2, 1/2, -1, sqrt(2), or 3 significant digits."""
    for value, text in [(2.0, "2"), (0.5, "1/2"), (-1.0, "-1"),
                        (np.sqrt(2.0), "sqrt(2)"),
                        (1 / np.sqrt(2.0), "1/sqrt(2)"), (-2.0, "-2"),
                        (-0.5, "-1/2"), (4.0, "4"), (0.25, "1/4")]:
        if abs(x - value) <= 1e-6 * abs(value):
            return text
    text = f"{x:.3g}"
    if float(text) == round(x) and x != round(x):
        text = f"{x:.8g}"      # 1.00001, not 1
    return text


# ---------------------------------------------------------------------------
# What a check hands to run_check
# ---------------------------------------------------------------------------

_recorders: list[list] = []


def _recorded_calls(check: Callable) -> list[CheckSpec]:
    """Call ``check`` once on a stub and record its calls of run_check."""

    def stub(*args, **kwargs):
        raise NotImplementedError

    record: list = []
    _recorders.append(record)
    try:
        check(stub)
    finally:
        _recorders.pop()
    return record


def spec_of(check: Callable) -> CheckSpec:
    """What ``check`` hands to :func:`run_check`: its reference, cases,
    listed mistakes, tolerances, output names and precision note.

    Calls ``check`` once on a stub and records the call; used by the
    tests that prove every check accepts correct answers in every form
    and rejects and names each mistake it lists.

    Raises:
        ValueError: ``check`` does not call run_check exactly once.
    """
    record = _recorded_calls(check)
    if len(record) != 1:
        raise ValueError(
            f"{getattr(check, '__name__', check)} must call run_check "
            f"exactly once; it called it {len(record)} times")
    return record[0]


def listed_mistakes(check: Callable) -> list[Mistake]:
    """The classic mistakes that ``check`` recognises, in order."""
    return [m for spec in _recorded_calls(check) for m in spec.mistakes]


def _finish(result: CheckResult, strict: bool) -> CheckResult:
    if strict and result.status != "passed":
        raise CheckFailed(result.report)
    return result
