"""Input validation shared by every module of ``diffusion_edu``.

Each helper either returns a clean value or raises a ``ValueError`` /
``TypeError`` whose message says what was wrong and what is expected, so
that a learner sees "x0 must have shape (N, D); got shape (3, 4, 5)"
instead of a NaN or a broadcasting error deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "as_data",
    "as_int",
    "as_positive_float",
    "as_probability",
    "as_rng",
]


def _describe(value) -> str:
    return type(value).__name__


def as_float_array(value, name: str, *, ndim: int | None = None,
                   finite: bool = True) -> np.ndarray:
    """Convert ``value`` to a float64 array, checking rank and finiteness."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(
            f"{name} must be a number or an array of numbers; "
            f"got {_describe(value)}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a number or an array of numbers; "
            f"got {_describe(value)}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-dimensional; "
            f"got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} must be finite; found {arr[tuple(bad)]} "
            f"at index {where}")
    return arr


def as_data(value, name: str = "x") -> np.ndarray:
    """Return data as a float64 array of shape (N, D), batch first.

    A 1-D array of length N is read as N scalar examples, shape (N, 1);
    anything of rank other than 1 or 2 is rejected.
    """
    arr = as_float_array(value, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, D) (batch first) or (N,); "
            f"got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    return arr


def as_int(value, name: str, *, minimum: int | None = None,
           maximum: int | None = None) -> int:
    """Return ``value`` as a Python int within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(
            value, (numbers.Integral, np.integer)):
        raise TypeError(
            f"{name} must be an integer; got {value!r} "
            f"({_describe(value)})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def as_positive_float(value, name: str, *, allow_zero: bool = False
                      ) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(
            value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(
            f"{name} must be a real number; got {value!r} "
            f"({_describe(value)})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value}")
    return value


def as_probability(value, name: str, *, open_interval: bool = True
                   ) -> float:
    """Return ``value`` as a float in (0, 1) (or [0, 1])."""
    value = as_positive_float(value, name, allow_zero=not open_interval)
    if value > 1 or (open_interval and value == 1):
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}; got {value}")
    return value


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """Accept a ``np.random.Generator`` or an int seed; nothing else.

    Randomness is explicit in this package: ``None`` is rejected so that
    every result can be reproduced from its seed.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (numbers.Integral, np.integer)) and not isinstance(
            rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator or an int seed, "
        f"e.g. np.random.default_rng(0); got {_describe(rng)}")
