"""Noise schedules: the numbers β_t, α_t, ᾱ_t, β̃_t and SNR_t.

Every per-step array has length T + 1 and is indexed by the book's time
step t, so that ``s.alpha_bar[t]`` *is* ᾱ_t. Index 0 is the data:
β_0 = 0, α_0 = 1, ᾱ_0 = 1, β̃_0 = 0 and SNR_0 = ∞.

A :class:`Schedule` is immutable (a frozen dataclass whose arrays are
read-only), so a schedule passed to a sampler cannot be changed under it.
Build one with :func:`linear`, :func:`cosine`, :func:`quadratic`,
:func:`constant`, :func:`from_betas` or :func:`from_alpha_bar`, and make
a shorter one with the same ᾱ at chosen steps with :func:`respace`.

:func:`coef` is the one helper that turns a per-step array and a time
step t (an int or one t per example) into a column that broadcasts
against data of shape (N, D).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_float_array, as_int, as_probability

__all__ = [
    "Schedule",
    "linear",
    "cosine",
    "quadratic",
    "constant",
    "from_betas",
    "from_alpha_bar",
    "respace",
    "coef",
    "as_timesteps",
    "as_schedule",
]


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=np.float64)
    arr.flags.writeable = False
    return arr


def _check_beta(beta: np.ndarray) -> None:
    """Raise unless beta is [0, β_1, ..., β_T] with every β_t in (0, 1)."""
    if beta.ndim != 1:
        raise ValueError(
            f"beta must be 1-dimensional (length T + 1, indexed by t); "
            f"got shape {beta.shape}")
    if beta.shape[0] < 2:
        raise ValueError(
            f"a schedule needs T >= 1 steps, i.e. beta of length T + 1 "
            f">= 2; got length {beta.shape[0]}")
    if beta[0] != 0:
        raise ValueError(
            f"beta[0] must be 0 (index 0 is the data, so that "
            f"alpha_bar[0] = 1); got beta[0] = {beta[0]}")
    inner = beta[1:]
    bad = np.flatnonzero((inner <= 0) | (inner >= 1))
    if bad.size:
        t = int(bad[0]) + 1
        raise ValueError(
            f"betas must lie in (0, 1); got beta[{t}] = {float(beta[t])}"
            f" (min {inner.min():.6g}, max {inner.max():.6g} over t = 1..T)")


@dataclass(frozen=True, eq=False, repr=False)
class Schedule:
    """A variance schedule β_1..β_T and every quantity derived from it.

    α_t = 1 − β_t,  ᾱ_t = ∏_{s=1}^{t} α_s,
    β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t),  SNR_t = ᾱ_t / (1 − ᾱ_t).

    Construct it from the t-indexed array ``beta = [0, β_1, ..., β_T]``;
    the other fields are computed. All arrays are float64, read-only and
    have length T + 1 (index t). Conventions at t = 0: β_0 = 0, α_0 = 1,
    ᾱ_0 = 1, β̃_0 = 0 (unused) and SNR_0 = inf.

    Attributes:
        beta, alpha, alpha_bar, beta_tilde, snr: arrays of shape (T + 1,).
        T: the number of diffusion steps.
        name: a short human-readable description.
        timesteps: int array (T + 1,); ``timesteps[t]`` is the step of the
            original schedule that step t stands for (``arange(T + 1)``
            unless the schedule was made by :func:`respace`).

    Book: chapter 3, eq. (eq-alpha-bar)
    """

    beta: np.ndarray
    name: str = "custom"
    timesteps: np.ndarray | None = None
    alpha: np.ndarray = field(init=False)
    alpha_bar: np.ndarray = field(init=False)
    beta_tilde: np.ndarray = field(init=False)
    snr: np.ndarray = field(init=False)
    T: int = field(init=False)

    def __post_init__(self):
        beta = as_float_array(self.beta, "beta")
        _check_beta(beta)
        T = beta.shape[0] - 1
        alpha = 1.0 - beta
        alpha_bar = np.cumprod(alpha)          # ᾱ_t = ∏_{s<=t} α_s
        one_minus = 1.0 - alpha_bar
        beta_tilde = np.zeros(T + 1)
        beta_tilde[1:] = beta[1:] * one_minus[:-1] / one_minus[1:]
        snr = np.full(T + 1, np.inf)
        snr[1:] = alpha_bar[1:] / one_minus[1:]
        if self.timesteps is None:
            timesteps = np.arange(T + 1)
        else:
            timesteps = np.array(self.timesteps)
            if (timesteps.shape != (T + 1,)
                    or timesteps.dtype.kind not in "iu"
                    or timesteps[0] != 0
                    or np.any(np.diff(timesteps) <= 0)):
                raise ValueError(
                    "timesteps must be an increasing int array of length "
                    f"T + 1 = {T + 1} starting at 0; got {self.timesteps!r}")
        timesteps = timesteps.astype(np.int64)
        timesteps.flags.writeable = False
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str; got {self.name!r}")
        for key, value in [("beta", beta), ("alpha", alpha),
                           ("alpha_bar", alpha_bar),
                           ("beta_tilde", beta_tilde), ("snr", snr)]:
            object.__setattr__(self, key, _readonly(value))
        object.__setattr__(self, "timesteps", timesteps)
        object.__setattr__(self, "T", T)

    def __repr__(self) -> str:
        return (f"Schedule(name={self.name!r}, T={self.T}, "
                f"beta_1={self.beta[1]:.4g}, beta_T={self.beta[-1]:.4g}, "
                f"alpha_bar_T={self.alpha_bar[-1]:.4g})")

    def __len__(self) -> int:
        """The number of steps T (not T + 1)."""
        return self.T


def as_schedule(s, name: str = "s") -> Schedule:
    """Return ``s`` if it is a :class:`Schedule`; raise TypeError if not."""
    if not isinstance(s, Schedule):
        raise TypeError(
            f"{name} must be a Schedule, e.g. schedules.linear(1000); "
            f"got {type(s).__name__}")
    return s


def from_betas(betas, name: str = "from_betas") -> Schedule:
    """Build a schedule from the variances β_1, ..., β_T.

    Args:
        betas: array of shape (T,): β_1..β_T, each in (0, 1). (Not the
            t-indexed ``s.beta``, which starts with β_0 = 0; pass
            ``s.beta[1:]`` to copy a schedule.)
        name: description shown in the repr.

    Returns:
        Schedule with ``beta = [0, β_1, ..., β_T]``.

    Book: chapter 2, eq. (eq-forward-step)
    """
    betas = as_float_array(betas, "betas", ndim=1)
    if betas.shape[0] >= 1 and betas[0] == 0:
        raise ValueError(
            "betas must be β_1..β_T (length T, each in (0, 1)); got a "
            "leading 0 -- if this is a t-indexed s.beta, pass s.beta[1:]")
    if betas.shape[0] == 0:
        raise ValueError("betas must hold at least one value (T >= 1); "
                         "got an empty array")
    return Schedule(np.concatenate([[0.0], betas]), name=name)


def linear(T: int, beta_1: float = 1e-4, beta_T: float = 0.02
           ) -> Schedule:
    """Linear schedule of Ho et al. (2020): β_t evenly spaced.

    β_t = β_1 + (t − 1)/(T − 1) · (β_T − β_1),  t = 1..T.

    Args:
        T: number of steps (>= 1).
        beta_1, beta_T: first and last variance, in (0, 1).

    Returns:
        Schedule (T = 1000 with the defaults gives ᾱ_T ≈ 4.04e-5).

    Book: chapter 2, eq. (eq-forward-step)
    """
    T = as_int(T, "T", minimum=1)
    beta_1 = as_probability(beta_1, "beta_1")
    beta_T = as_probability(beta_T, "beta_T")
    betas = np.linspace(beta_1, beta_T, T)
    return from_betas(betas, name=f"linear({beta_1:g}, {beta_T:g})")


def quadratic(T: int, beta_1: float = 1e-4, beta_T: float = 0.02
              ) -> Schedule:
    """Quadratic schedule: √β_t evenly spaced between √β_1 and √β_T.

    β_t = (√β_1 + (t − 1)/(T − 1) · (√β_T − √β_1))²,  t = 1..T.

    Book: chapter 2, eq. (eq-forward-step)
    """
    T = as_int(T, "T", minimum=1)
    beta_1 = as_probability(beta_1, "beta_1")
    beta_T = as_probability(beta_T, "beta_T")
    betas = np.linspace(np.sqrt(beta_1), np.sqrt(beta_T), T) ** 2
    return from_betas(betas, name=f"quadratic({beta_1:g}, {beta_T:g})")


def constant(T: int, beta: float) -> Schedule:
    """Constant schedule: β_t = β for every t, so ᾱ_t = (1 − β)^t.

    Book: chapter 3, eq. (eq-alpha-bar)
    """
    T = as_int(T, "T", minimum=1)
    beta = as_probability(beta, "beta")
    return from_betas(np.full(T, beta), name=f"constant({beta:g})")


def from_alpha_bar(fn_or_array: Callable[[float], float] | np.ndarray,
                   T: int | None = None, *,
                   max_beta: float | None = None,
                   name: str = "from_alpha_bar") -> Schedule:
    """Build a schedule from ᾱ: β_t = 1 − ᾱ_t / ᾱ_{t−1}.

    Two inputs are accepted:

    * a function f on [0, 1] and T: ᾱ_t = f(t/T) / f(0), t = 0..T
      (the recipe of Nichol & Dhariwal 2021);
    * an array of shape (T,) holding ᾱ_1..ᾱ_T, strictly decreasing
      in (0, 1) (ᾱ_0 = 1 is implied; T must then be None or equal).

    If ``max_beta`` is given, β_t = min(1 − ᾱ_t/ᾱ_{t−1}, max_beta): the
    stored ᾱ is then recomputed from the clipped betas (so it can differ
    from the input near t = T). Without it, every β_t must lie in (0, 1).

    Returns:
        Schedule.

    Book: chapter 3, eq. (eq-alpha-bar)
    """
    if callable(fn_or_array):
        if T is None:
            raise TypeError("from_alpha_bar(fn, T): T is required when "
                            "alpha_bar is given as a function")
        T = as_int(T, "T", minimum=1)
        u = np.arange(T + 1) / T
        values = as_float_array([fn_or_array(ui) for ui in u],
                                "alpha_bar function values", ndim=1)
        if values[0] <= 0:
            raise ValueError(f"alpha_bar function must be > 0 at 0; "
                             f"got f(0) = {values[0]}")
        alpha_bar = values / values[0]
    else:
        given = as_float_array(fn_or_array, "alpha_bar", ndim=1)
        if T is not None and as_int(T, "T", minimum=1) != given.shape[0]:
            raise ValueError(
                f"alpha_bar must have length T = {T} (ᾱ_1..ᾱ_T); got "
                f"length {given.shape[0]}")
        if given.shape[0] == 0:
            raise ValueError("alpha_bar must hold ᾱ_1..ᾱ_T (T >= 1); "
                             "got an empty array")
        bad = np.flatnonzero((given <= 0) | (given >= 1))
        if bad.size:
            raise ValueError(
                f"alpha_bar values ᾱ_1..ᾱ_T must lie in (0, 1); got "
                f"{float(given[bad[0]])} at t={int(bad[0]) + 1} (ᾱ_0 = 1 is "
                f"implied: do not pass it)")
        alpha_bar = np.concatenate([[1.0], given])
    betas = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
    if max_beta is not None:
        max_beta = as_probability(max_beta, "max_beta")
        betas = np.minimum(betas, max_beta)
    bad = np.flatnonzero((betas <= 0) | (betas >= 1))
    if bad.size:
        raise ValueError(
            f"alpha_bar must decrease strictly to give betas in (0, 1); "
            f"got beta[{int(bad[0]) + 1}] = {float(betas[bad[0]])}"
            + ("" if max_beta is not None else
               " (pass max_beta=0.999 to clip betas near 1)"))
    return from_betas(betas, name=name)


def cosine(T: int, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """Cosine schedule of Nichol & Dhariwal (2021).

    f(u) = cos²((u + s)/(1 + s) · π/2),  ᾱ_t = f(t/T) / f(0),
    β_t = min(1 − ᾱ_t/ᾱ_{t−1}, max_beta).

    With T = 1000: β_1 ≈ 4.13e-5 and β_T = 0.999 (clipped).

    Args:
        T: number of steps (>= 1).
        s: small offset that keeps β_1 from being vanishingly small.
        max_beta: clipping value for β_t near t = T.

    Book: chapter 3, eq. (eq-alpha-bar)
    """
    T = as_int(T, "T", minimum=1)
    offset = float(s)
    if not np.isfinite(offset) or offset < 0:
        raise ValueError(f"s must be a finite number >= 0; got {s!r}")

    def f(u):
        return np.cos((u + offset) / (1 + offset) * np.pi / 2) ** 2

    return from_alpha_bar(f, T, max_beta=max_beta,
                          name=f"cosine(s={offset:g})")


def respace(s: Schedule, timesteps) -> Schedule:
    """A shorter schedule with the same ᾱ at the kept steps.

    Keep steps τ_1 < τ_2 < ... < τ_K of ``s``; the new schedule has
    K steps with ᾱ'_k = ᾱ_{τ_k} and β'_k = 1 − ᾱ'_k / ᾱ'_{k−1}.
    ``result.timesteps[k]`` is τ_k (in the steps of the original
    schedule, also when ``s`` was itself respaced). A network trained on
    the original steps is used with it as
    ``lambda x, k: eps_model(x, short.timesteps[k])``.

    Args:
        s: the schedule to respace.
        timesteps: increasing ints in 1..s.T (the kept steps).

    Returns:
        Schedule with T = len(timesteps).

    Book: chapter 8, eq. (eq-ddim-step)
    """
    s = as_schedule(s)
    kept = np.asarray(timesteps)
    if kept.ndim != 1 or kept.shape[0] == 0 or kept.dtype.kind not in "iu":
        raise ValueError(
            f"timesteps must be a non-empty 1-D int array of steps in "
            f"1..{s.T}; got {timesteps!r}")
    if kept.min() < 1 or kept.max() > s.T:
        raise ValueError(
            f"timesteps must lie in 1..T = 1..{s.T}; got min {kept.min()},"
            f" max {kept.max()}")
    if np.any(np.diff(kept) <= 0):
        raise ValueError("timesteps must be strictly increasing; got "
                         f"{kept!r}")
    alpha_bar = np.concatenate([[1.0], s.alpha_bar[kept]])
    betas = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
    return Schedule(np.concatenate([[0.0], betas]),
                    name=f"respace({s.name}, {kept.shape[0]} steps)",
                    timesteps=np.concatenate([[0], s.timesteps[kept]]))


def as_timesteps(t, T: int, n: int, *, t_min: int = 1,
                 name: str = "t") -> np.ndarray:
    """Validate a time step and return it as an int array of shape (n,).

    Args:
        t: an int, or an int array of shape (n,) (one step per example).
        T: the number of steps of the schedule.
        n: the batch size N.
        t_min: smallest allowed step (1, or 0 where t = 0 makes sense).

    Returns:
        int64 array of shape (n,) with values in t_min..T.
    """
    if isinstance(t, bool):
        raise TypeError(f"{name} must be an int or an int array of shape "
                        f"(N,); got {t!r}")
    if isinstance(t, numbers.Integral | np.integer):
        value = int(t)
        if value < t_min or value > T:
            raise ValueError(
                f"{name} must lie in {t_min}..T = {t_min}..{T}; "
                f"got {value}")
        return np.full(n, value, dtype=np.int64)
    arr = np.asarray(t)
    if arr.ndim == 0 and arr.dtype.kind in "iu":
        return as_timesteps(int(arr), T, n, t_min=t_min, name=name)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be an int or an int array of shape (N,) = "
            f"({n},); got dtype {arr.dtype} (a float step like 3.0 is not "
            f"accepted: use ints)")
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be an int or an int array of shape (N,) = "
            f"({n},); got shape {arr.shape}")
    lo, hi = arr.min(), arr.max()
    if lo < t_min or hi > T:
        raise ValueError(
            f"{name} must lie in {t_min}..T = {t_min}..{T}; got values "
            f"from {lo} to {hi}")
    return arr.astype(np.int64, copy=False)


def coef(values, t, x, *, t_min: int = 1) -> np.ndarray:
    """Pick a per-step coefficient for each example, ready to broadcast.

    ``coef(s.alpha_bar, t, x)`` is ᾱ_t as a column of shape (N, 1) (one
    row per example), so that ``np.sqrt(coef(...)) * x`` works for x of
    shape (N, D) whether t is one int or one step per example. (For x of
    another rank the result has shape (N, 1, ..., 1).)

    Args:
        values: array of shape (T + 1,), indexed by t.
        t: int, or int array of shape (N,), in t_min..T.
        x: the data the result multiplies, shape (N, D).
        t_min: smallest allowed t (default 1).

    Returns:
        float64 array of shape (N, 1).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be a 1-D array of length T + 1; "
                         f"got shape {values.shape}")
    x_shape = np.shape(x)
    if len(x_shape) < 1:
        raise ValueError("x must have a batch axis, shape (N, D); got a "
                         "scalar")
    n = x_shape[0]
    steps = as_timesteps(t, values.shape[0] - 1, n, t_min=t_min)
    return values[steps].reshape((n,) + (1,) * (len(x_shape) - 1))
