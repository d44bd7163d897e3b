"""Checks for the coding exercises of every chapter.

Each ``check_<slug>(answer, strict=False)`` compares the learner's
function with a reference on several inputs. In the chapters it reports
(and never raises); in the solutions it is called with ``strict=True`` and
raises :class:`CheckFailed` on a wrong answer. The mechanism is in
``_core``; each chapter's checks live in their own module ``chNN`` and are
re-exported here, so ``from diffusion_edu.checks import check_...`` works
for every chapter.

Answers may return NumPy arrays, numbers, torch tensors or lists/tuples
of numbers, in float64 or float32: the tolerance follows the precision
of what is returned (see ``_core``).
"""

import importlib
import pkgutil

from ._core import (
    Case,
    CheckFailed,
    CheckResult,
    CheckSpec,
    Mistake,
    as_array,
    listed_mistakes,
    run_check,
    spec_of,
)

__all__ = ["Case", "CheckFailed", "CheckResult", "CheckSpec", "Mistake",
           "as_array", "listed_mistakes", "run_check", "spec_of"]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("ch") and _info.name[2:].isdigit():
        _module = importlib.import_module(f".{_info.name}", __name__)
        for _name in _module.__all__:
            globals()[_name] = getattr(_module, _name)
            __all__.append(_name)
