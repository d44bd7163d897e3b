"""The tiny denoiser of chapter 6: a torch MLP that predicts the noise.

* :class:`MLPDenoiser` — ε̂_θ(x_t, t), a small MLP with a sinusoidal
  embedding of t and Fourier features of x_t;
* :func:`train_denoiser` — minimises Ho et al.'s simplified loss
  E ||ε − ε̂_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)||² with t ~ U{1..T};
* :func:`as_eps_model` — the one adapter that turns the network into a
  NumPy ``eps_model(x, t) -> ndarray`` for :mod:`diffusion_edu.samplers`
  and :mod:`diffusion_edu.elbo`;
* :func:`save` / :func:`load` — a small file holding the weights, the
  architecture and the schedule, so that loading never guesses;
* :func:`loss_per_timestep` — the network's ε-MSE at each t next to the
  irreducible ε-MSE of the ideal denoiser.

This is the only module of the package that imports torch. The network
computes in float32; everything that crosses the boundary to NumPy is
float64. Training runs on one thread by default: on a 2-core machine the
default threading makes a network this small 10–40× slower.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from ._validate import as_data, as_int, as_positive_float, as_rng
from .gaussian import q_sample
from .schedules import Schedule, as_schedule, as_timesteps

__all__ = [
    "MLPDenoiser",
    "sinusoidal_embedding",
    "count_parameters",
    "TrainingResult",
    "TrainingDivergedError",
    "train_denoiser",
    "as_eps_model",
    "save",
    "load",
    "TimestepLoss",
    "loss_per_timestep",
]

_FORMAT = "diffusion_edu.denoiser/1"
_DEFAULT_LR = 1e-2


# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------

def sinusoidal_embedding(t: torch.Tensor, freqs: torch.Tensor
                         ) -> torch.Tensor:
    """Sinusoidal embedding of the time step (Vaswani et al. 2017).

    e(t) = [sin(ω_1 t), ..., sin(ω_k t), cos(ω_1 t), ..., cos(ω_k t)],
    ω_i = 10000^{−(i−1)/k}.

    Args:
        t: tensor of shape (N,) (time steps, any numeric dtype).
        freqs: tensor of shape (k,), the ω_i.

    Returns:
        float32 tensor of shape (N, 2k).

    Book: chapter 6 (the network)
    """
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class MLPDenoiser(nn.Module):
    """A small MLP ε̂_θ(x_t, t) that predicts the noise added to x_0.

    h_1 = φ(W_x [x_t, γ(x_t)] + W_t e(t) + b_1),
    h_{l+1} = φ(W_l h_l + U_l e(t) + b_l),   l = 1..depth − 1,
    ε̂_θ(x_t, t) = W_out h_depth + b_out,

    with φ = SiLU, e(t) the sinusoidal embedding of t and
    γ(x) = [sin(2π B x), cos(2π B x)] random Fourier features of the
    input (Tancik et al. 2020; B has N(0, σ²) entries, fixed at
    construction), which help an MLP draw the thin arms of low-
    dimensional data such as the Swiss roll.

    Args:
        dim: D, the dimension of the data.
        hidden: width of the hidden layers.
        depth: number of hidden layers (>= 1).
        time_embedding: size 2k of the sinusoidal embedding e(t) (even).
        fourier_features: number m of random frequencies (γ has 2m
            entries); 0 feeds x_t alone.
        fourier_scale: σ, the standard deviation of the frequencies, in
            cycles per unit of x (data of roughly unit scale assumed).
        seed: seed of the initial weights and of B.

    Input: x of shape (N, D) and t of shape (N,) or (1,) (one step for
    the whole batch). Output: ε̂ of shape (N, D). Attribute ``schedule``
    is the schedule the network was trained with (None before training).

    Book: chapter 6, eq. (eq-simple-loss)
    """

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3,
                 time_embedding: int = 32, fourier_features: int = 16,
                 fourier_scale: float = 0.5, seed: int = 0):
        super().__init__()
        dim = as_int(dim, "dim", minimum=1)
        hidden = as_int(hidden, "hidden", minimum=1)
        depth = as_int(depth, "depth", minimum=1)
        time_embedding = as_int(time_embedding, "time_embedding",
                                minimum=2)
        if time_embedding % 2:
            raise ValueError(f"time_embedding must be even (sines and "
                             f"cosines); got {time_embedding}")
        fourier_features = as_int(fourier_features, "fourier_features",
                                  minimum=0)
        fourier_scale = as_positive_float(fourier_scale, "fourier_scale")
        seed = as_int(seed, "seed", minimum=0)
        self.config = dict(dim=dim, hidden=hidden, depth=depth,
                           time_embedding=time_embedding,
                           fourier_features=fourier_features,
                           fourier_scale=fourier_scale, seed=seed)
        self.dim = dim
        self.schedule: Schedule | None = None
        k = time_embedding // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(k) / k)
        self.register_buffer("freqs", freqs.to(torch.float32),
                             persistent=False)
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer(
            "fourier_b",
            fourier_scale * torch.randn(dim, fourier_features,
                                        generator=gen))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            n_in = dim + 2 * fourier_features
            self.inp = nn.Linear(n_in, hidden)
            self.time = nn.ModuleList(
                [nn.Linear(time_embedding, hidden, bias=False)
                 for _ in range(depth)])
            self.layers = nn.ModuleList(
                [nn.Linear(hidden, hidden) for _ in range(depth - 1)])
            self.out = nn.Linear(hidden, dim)
        self.act = nn.SiLU()

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, parameters={count_parameters(self)}, "
                f"schedule={self.schedule!r}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[x, sin(2π B x), cos(2π B x)], shape (N, D + 2m)."""
        if self.fourier_b.shape[1] == 0:
            return x
        proj = (2.0 * math.pi) * (x @ self.fourier_b)
        return torch.cat([x, torch.sin(proj), torch.cos(proj)], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """ε̂_θ(x_t, t): x (N, D), t (N,) or (1,) -> (N, D) float32."""
        x = x.to(torch.float32)
        emb = sinusoidal_embedding(t, self.freqs)
        h = self.act(self.inp(self.features(x)) + self.time[0](emb))
        for layer, proj in zip(self.layers, self.time[1:], strict=True):
            h = self.act(layer(h) + proj(emb))
        return self.out(h)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the number the book prints).

    Book: chapter 6 (the network)
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

class TrainingDivergedError(RuntimeError):
    """Raised when the training loss becomes NaN/inf or explodes."""


class TrainingResult(NamedTuple):
    """What :func:`train_denoiser` returns: ``model, losses = ...``.

    Attributes:
        model: the trained :class:`MLPDenoiser` (``model.schedule`` set).
        losses: float64 array (steps,), the minibatch loss at each step.
    """

    model: MLPDenoiser
    losses: np.ndarray


def _data_source(data_or_sampler) -> tuple[Callable, int | None]:
    """Return draw(n, rng) -> (n, D) float64 and D (None if unknown)."""
    if hasattr(data_or_sampler, "sample") and callable(
            data_or_sampler.sample):
        return data_or_sampler.sample, None
    if callable(data_or_sampler):
        return data_or_sampler, None
    if isinstance(data_or_sampler, str | bytes | numbers.Number):
        raise TypeError(
            "data_or_sampler must be an array of shape (N, D), an object "
            "with .sample(n, rng) (e.g. toy_data.SwissRoll2D()) or a "
            f"function f(n, rng); got {type(data_or_sampler).__name__}")
    data = as_data(data_or_sampler, "data")
    if data.shape[0] < 2:
        raise ValueError(f"data must hold at least 2 examples; got shape "
                         f"{data.shape}")

    def draw(n, rng):
        return data[rng.integers(0, data.shape[0], size=n)]

    return draw, data.shape[1]


def _progress_enabled(progress) -> bool:
    if progress == "auto":
        # A Jupyter server sets JPY_SESSION_NAME in its kernels; the book
        # build (nbclient) and nbval do not, so they stay silent.
        return "JPY_SESSION_NAME" in os.environ
    if isinstance(progress, bool):
        return progress
    raise ValueError(f"progress must be True, False or 'auto'; got "
                     f"{progress!r}")


def _lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    u = (step - warmup) / max(steps - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * u))


def _diverged(step: int, value: float, start: float, lr: float,
              data_std: float) -> TrainingDivergedError:
    """The error raised when the loss at ``step`` is NaN, inf or huge."""
    what = ("became NaN" if math.isnan(value) else
            "became infinite" if math.isinf(value) else
            f"exploded to {value:.3g}")
    when = (f"it started near {start:.3g}" if math.isfinite(start)
            else "it was not finite from the first step")
    smaller = min(lr / 10, _DEFAULT_LR)
    hints = [f"use a smaller learning rate (e.g. lr={smaller:g})"]
    if data_std > 10 or not math.isfinite(start):
        hints.insert(0, f"standardise the data (their standard deviation "
                        f"is {data_std:.3g}; the network expects data of "
                        f"roughly unit scale)")
    return TrainingDivergedError(
        f"training diverged at step {step}: the loss {what} ({when}). "
        f"No model is returned: its weights are no longer usable. Try "
        f"to {' or '.join(hints)}.")


def train_denoiser(data_or_sampler, s: Schedule, steps: int = 2000,
                   batch_size: int = 512, lr: float = _DEFAULT_LR,
                   seed: int = 0,
                   progress: bool | Literal["auto"] = "auto", *,
                   model: MLPDenoiser | None = None, warmup: int = 100,
                   weight_decay: float = 0.0,
                   num_threads: int | None = 1) -> TrainingResult:
    """Train ε̂_θ with the simplified loss of Ho et al. (2020).

    L_simple(θ) = E_{t ~ U{1..T}, x_0, ε ~ N(0, I)}
                  || ε − ε̂_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t) ||²,

    one minibatch per step (the mean over the batch and the D
    coordinates), x_t drawn with :func:`diffusion_edu.gaussian.q_sample`.
    AdamW with a linear warm-up, then a cosine decay of the learning
    rate to 0 (which also averages out the minibatch noise at the end).

    Args:
        data_or_sampler: data of shape (N, D) (minibatches are drawn
            with replacement), or an object with ``.sample(n, rng)``
            such as ``toy_data.SwissRoll2D()``, or a function
            ``f(n, rng) -> (n, D)`` (fresh data at every step).
        s: the schedule (its T and ᾱ_t).
        steps: number of optimisation steps (>= 1).
        batch_size: examples per step (>= 1).
        lr: peak learning rate (> 0).
        seed: seeds the initial weights, the data, t and ε. Same seed,
            same loss history and same network on the same machine.
        progress: a tqdm bar if True; "auto" shows it only in a Jupyter
            kernel started by a Jupyter server (not in tests, nbval or
            the book build).
        model: an :class:`MLPDenoiser` to train (default: a new
            ``MLPDenoiser(D, seed=seed)``); it is trained in place.
        warmup: number of warm-up steps of the learning rate.
        weight_decay: AdamW's decoupled weight decay (>= 0).
        num_threads: sets ``torch.set_num_threads`` (and leaves it set,
            so that sampling is fast too); None keeps torch's setting.

    Returns:
        TrainingResult ``(model, losses)``: the network with
        ``model.schedule = s``, and the loss at each step, shape (steps,).

    Raises:
        TrainingDivergedError: the loss became NaN/inf or exploded; the
            message says at which step and what to try.

    Book: chapter 6, eq. (eq-simple-loss)
    """
    s = as_schedule(s)
    draw, dim = _data_source(data_or_sampler)
    steps = as_int(steps, "steps", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    lr = as_positive_float(lr, "lr")
    seed = as_int(seed, "seed", minimum=0)
    show = _progress_enabled(progress)
    warmup = as_int(warmup, "warmup", minimum=0)
    weight_decay = as_positive_float(weight_decay, "weight_decay",
                                     allow_zero=True)
    if num_threads is not None:
        torch.set_num_threads(as_int(num_threads, "num_threads",
                                     minimum=1))
    rng = np.random.default_rng(seed)

    def fresh(n):
        x0 = as_data(draw(n, rng), "data_or_sampler(n, rng)")
        if x0.shape[0] != n:
            raise ValueError(f"the sampler returned {x0.shape[0]} rows "
                             f"when asked for {n}")
        return x0

    if dim is None:
        dim = fresh(1).shape[1]
    if model is None:
        model = MLPDenoiser(dim, seed=seed)
    elif not isinstance(model, MLPDenoiser):
        raise TypeError(f"model must be an MLPDenoiser; got "
                        f"{type(model).__name__}")
    if model.dim != dim:
        raise ValueError(f"the data have D = {dim} but the model was "
                         f"built for dim = {model.dim}")

    params = [p for p in model.parameters() if p.requires_grad]
    try:        # the fused kernel saves about a third of each step
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay,
                                fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warmup = min(warmup, steps)
    losses = torch.empty(steps, dtype=torch.float64)
    chunk = max(1, min(steps, 65536 // batch_size))
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="training", unit="step")
    start, data_std = math.nan, math.nan
    model.train()
    try:
        for first in range(0, steps, chunk):
            k = min(chunk, steps - first)
            n = k * batch_size
            # Draw k minibatches at once: x_0, t ~ U{1..T}, ε ~ N(0, I).
            x0 = fresh(n)
            if first == 0:
                data_std = float(np.std(x0))
                if not 0.1 <= data_std <= 10:
                    warnings.warn(
                        f"the data have standard deviation {data_std:.3g}"
                        f"; the schedule and the network assume data of "
                        f"roughly unit scale: standardise them first",
                        UserWarning, stacklevel=2)
            t = rng.integers(1, s.T + 1, size=n)
            noise = rng.standard_normal((n, dim))
            xt = q_sample(s, x0, t, noise)
            xt_b = torch.from_numpy(xt).float().view(k, batch_size, dim)
            eps_b = torch.from_numpy(noise).float().view(k, batch_size,
                                                         dim)
            t_b = torch.from_numpy(t).view(k, batch_size)
            for j in range(k):
                step = first + j
                for group in opt.param_groups:
                    group["lr"] = lr * _lr_factor(step, steps, warmup)
                pred = model(xt_b[j], t_b[j])
                loss = torch.mean((pred - eps_b[j]) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses[step] = loss.detach()
            done = losses[first:first + k].numpy()
            if first == 0:
                start = float(done[0])
            # Exploded: far above where a fresh network starts (~1).
            limit = 1e3 * max(start, 1.0) if math.isfinite(start) else 0
            bad = np.flatnonzero(~np.isfinite(done) | (done > limit))
            if bad.size:
                i = int(bad[0])
                raise _diverged(first + i + 1, float(done[i]), start, lr,
                                data_std)
            if bar is not None:
                bar.update(k)
                bar.set_postfix(loss=f"{float(done[-k:].mean()):.4f}")
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    model.schedule = s
    return TrainingResult(model, losses.numpy().copy())


# --------------------------------------------------------------------------
# The adapter to NumPy
# --------------------------------------------------------------------------

def _check_model(model, name: str = "model") -> MLPDenoiser:
    if not isinstance(model, MLPDenoiser):
        raise TypeError(f"{name} must be an MLPDenoiser (e.g. from "
                        f"train_denoiser or load); got "
                        f"{type(model).__name__}")
    return model


def as_eps_model(model: MLPDenoiser, s: Schedule | None = None, *,
                 num_threads: int | None = 1
                 ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Wrap the network as a NumPy ``eps_model(x, t) -> ndarray``.

    eps_model(x_t, t) = ε̂_θ(x_t, t), computed in float32 without
    gradients and returned as float64, so that the samplers of
    :mod:`diffusion_edu.samplers` (and the bound of :mod:`elbo`) use the
    network exactly as they use the ideal denoiser of :mod:`toy_data`.

    Args:
        model: an :class:`MLPDenoiser` (the wrapper keeps a reference:
            it follows later changes of the weights).
        s: the schedule whose steps t the model is called with; only
            needed when ``model.schedule`` is None (an untrained model).
        num_threads: sets ``torch.set_num_threads`` once, now; None
            keeps torch's setting.

    Returns:
        eps_model(x, t): x of shape (N, D), t an int or an int array of
        shape (N,) in 1..T -> ε̂ of shape (N, D), float64. Its
        attributes ``model`` and ``schedule`` are the network and the
        schedule.

    Book: chapter 6, eq. (eq-ddpm-step)
    """
    model = _check_model(model)
    if model.schedule is not None:
        if s is not None and as_schedule(s).T != model.schedule.T:
            raise ValueError(
                f"s has T = {s.T} but the model was trained with T = "
                f"{model.schedule.T}; leave s out (the model knows its "
                f"schedule)")
        s = model.schedule
    elif s is None:
        raise ValueError("model.schedule is None (an untrained model): "
                         "pass the schedule, as_eps_model(model, s)")
    s = as_schedule(s)
    if num_threads is not None:
        torch.set_num_threads(as_int(num_threads, "num_threads",
                                     minimum=1))
    model.eval()

    def eps_model(x, t) -> np.ndarray:
        x = as_data(x, "x")
        if x.shape[1] != model.dim:
            raise ValueError(f"x must have shape (N, D) with D = "
                             f"{model.dim}; got shape {x.shape}")
        t = as_timesteps(t, s.T, x.shape[0])
        # One step for the whole batch (as in the samplers): embed it once.
        tt = t[:1] if np.all(t == t[0]) else t
        with torch.inference_mode():
            out = model(torch.from_numpy(x.astype(np.float32)),
                        torch.from_numpy(np.array(tt, dtype=np.int64)))
        return out.numpy().astype(np.float64)

    eps_model.model = model
    eps_model.schedule = s
    return eps_model


# --------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------

def save(model: MLPDenoiser, path) -> None:
    """Save a trained network with its architecture and its schedule.

    The file (a few tens of kB) holds the weights, the arguments of
    :class:`MLPDenoiser` and the β_t of the schedule, so :func:`load`
    rebuilds the same network with nothing to guess.

    Args:
        model: a trained :class:`MLPDenoiser` (``model.schedule`` set).
        path: file name (conventionally ``*.pt``).

    Book: chapter 6 (training the network)
    """
    model = _check_model(model)
    if model.schedule is None:
        raise ValueError("model.schedule is None: save a trained model "
                         "(train_denoiser sets it), or set "
                         "model.schedule = s to the schedule it was "
                         "trained with")
    s = model.schedule
    payload = {
        "format": _FORMAT,
        "config": dict(model.config),
        "state_dict": {k: v.detach().clone()
                       for k, v in model.state_dict().items()},
        "schedule": {
            "beta": torch.from_numpy(np.array(s.beta)),
            "name": s.name,
            "timesteps": torch.from_numpy(np.array(s.timesteps)),
        },
    }
    torch.save(payload, os.fspath(path))


def load(path) -> MLPDenoiser:
    """Load a network saved by :func:`save`, schedule included.

    Returns:
        the :class:`MLPDenoiser`, in eval mode, with ``model.schedule``
        the schedule it was trained with.

    Book: chapter 6 (training the network)
    """
    try:
        payload = torch.load(os.fspath(path), map_location="cpu",
                             weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a file written by "
                         f"diffusion_edu.denoiser.save: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a file written by "
                         f"diffusion_edu.denoiser.save (format "
                         f"{_FORMAT!r})")
    model = MLPDenoiser(**payload["config"])
    model.load_state_dict(payload["state_dict"])
    sched = payload["schedule"]
    model.schedule = Schedule(sched["beta"].numpy(), name=sched["name"],
                              timesteps=sched["timesteps"].numpy())
    model.eval()
    return model


# --------------------------------------------------------------------------
# Loss per time step, next to the irreducible loss
# --------------------------------------------------------------------------

class TimestepLoss(NamedTuple):
    """ε-MSE per time step (mean over examples and coordinates).

    Attributes:
        t: int array (K,), the time steps.
        network: float64 (K,), E||ε − ε̂_θ(x_t, t)||² / D.
        ideal: float64 (K,), E||ε − E[ε | x_t]||² / D, the irreducible
            part (NaN where no ideal denoiser was given).
        network_se, ideal_se: their Monte Carlo standard errors.
    """

    t: np.ndarray
    network: np.ndarray
    ideal: np.ndarray
    network_se: np.ndarray
    ideal_se: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """L_t(θ) − L_t*: the part of the loss that training could remove.
        """
        return self.network - self.ideal


def loss_per_timestep(model, data_or_sampler, s: Schedule | None = None,
                      *, ideal="auto", t=None, n: int = 2000,
                      seed: int = 0) -> TimestepLoss:
    """The network's ε-MSE at each t next to the ideal denoiser's.

    L_t(θ) = E ||ε − ε̂_θ(x_t, t)||² / D   with x_t = √ᾱ_t x_0 +
    √(1 − ᾱ_t) ε, and the irreducible loss L_t* = E ||ε − ε*(x_t, t)||²
    / D of the ideal denoiser ε*(x_t, t) = E[ε | x_t]: no network can do
    better, so L_t(θ) − L_t* is what training could still gain. Both use
    the same x_0 and ε (a paired comparison). The mean of L_t over
    t = 1..T is the simplified loss.

    Args:
        model: an :class:`MLPDenoiser` or any ``eps_model(x, t)``.
        data_or_sampler: as in :func:`train_denoiser`.
        s: schedule (default: ``model.schedule``).
        ideal: the ideal ``eps_model(x, t)``; "auto" takes
            ``data_or_sampler.eps_model(s)`` when the data set has one
            (the toy data sets of :mod:`toy_data` do); None skips it.
        t: int array of time steps (default: about 50 steps from 1 to
            T, evenly spaced in log t, where the gap is at small t).
        n: number of (x_0, ε) pairs per time step.
        seed: seed of x_0 and ε.

    Returns:
        TimestepLoss (t, network, ideal, network_se, ideal_se).

    Book: chapter 6, eq. (eq-simple-loss)
    """
    if isinstance(model, MLPDenoiser):
        if s is None:
            s = model.schedule
        if s is None:
            raise ValueError("model.schedule is None: pass the schedule "
                             "s the model was trained with")
        net = as_eps_model(model, s, num_threads=None)
    elif callable(model):
        net = model
    else:
        raise TypeError(f"model must be an MLPDenoiser or a function "
                        f"eps_model(x, t); got {type(model).__name__}")
    if s is None:
        raise ValueError("pass the schedule s")
    s = as_schedule(s)
    draw, _ = _data_source(data_or_sampler)
    n = as_int(n, "n", minimum=2)
    rng = as_rng(seed, "seed")
    if isinstance(ideal, str) and ideal == "auto":
        maker = getattr(data_or_sampler, "eps_model", None)
        ideal = maker(s) if callable(maker) else None
    if ideal is not None and not callable(ideal):
        raise TypeError(f"ideal must be a function eps_model(x, t), "
                        f"'auto' or None; got {type(ideal).__name__}")
    if t is None:
        t = np.unique(np.round(np.geomspace(1, s.T, min(s.T, 50)))
                      ).astype(np.int64)
    t = np.atleast_1d(np.asarray(t))
    t = as_timesteps(t, s.T, t.shape[0])
    out = np.full((4, t.shape[0]), np.nan)
    for i, step in enumerate(t):
        x0 = as_data(draw(n, rng), "data_or_sampler(n, rng)")
        noise = rng.standard_normal(x0.shape)
        xt = q_sample(s, x0, int(step), noise)
        steps = np.full(n, step, dtype=np.int64)
        err = np.mean((noise - net(xt, steps)) ** 2, axis=1)
        out[0, i] = err.mean()
        out[1, i] = err.std(ddof=1) / math.sqrt(n)
        if ideal is not None:
            err = np.mean((noise - ideal(xt, steps)) ** 2, axis=1)
            out[2, i] = err.mean()
            out[3, i] = err.std(ddof=1) / math.sqrt(n)
    return TimestepLoss(t, out[0], out[2], out[1], out[3])
