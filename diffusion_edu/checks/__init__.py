"""Checks for the coding exercises of every chapter.

Each ``check_<slug>(answer, strict=False)`` compares the learner's
function with a reference on several inputs. In the chapters it reports
(and never raises); in the solutions it is called with ``strict=True`` and
raises :class:`CheckFailed` on a wrong answer. See ``_core`` for the
mechanism; each chapter's checks live in their own module.
"""

from ._core import Case, CheckFailed, CheckResult, Mistake, run_check
from .ch01 import *  # noqa: F403
from .ch01 import __all__ as _ch01

__all__ = ["Case", "CheckFailed", "CheckResult", "Mistake", "run_check",
           *_ch01]
