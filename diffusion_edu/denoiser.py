"""The tiny denoiser of chapter 6: a torch MLP that predicts the noise.

* :class:`MLPDenoiser` — ε̂_θ(x_t, t), a small MLP with a sinusoidal
  embedding of t and Fourier features of x_t;
* :func:`train_denoiser` — minimises the squared error
  E ||ε − ε̂_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)||², with t drawn in
  proportion to the weight w_t of the ELBO (the bound itself, by
  default) or uniformly (Ho et al.'s simplified loss);
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
from .elbo import elbo_weights
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
    "as_v_model",
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
        tensor of shape (N, 2k), of the dtype of ``freqs``.

    Book: chapter 6 (the network)
    """
    angles = t.to(freqs.dtype)[:, None] * freqs[None, :]
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

    Preconditioning (``data_std`` = σ_d given; Karras et al. 2022,
    rewritten for ε): with S_t = ᾱ_t σ_d² + 1 − ᾱ_t, the MLP above, F,
    sees a unit-variance input and adds a unit-variance correction to
    the best linear guess,

    ε̂_θ(x_t, t) = c_skip(t) x_t + c_out(t) F(c_in(t) x_t, t),
    c_in = 1/√S_t,  c_skip = √(1 − ᾱ_t)/S_t,  c_out = σ_d √ᾱ_t/√S_t.

    c_skip x_t is E[ε | x_t] when the data are N(0, σ_d² I), and c_out²
    is the variance of ε around it, so F only learns what the data have
    beyond a Gaussian. The coefficients need the schedule: they are set
    when ``schedule`` is (``train_denoiser`` does it).

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
        data_std: σ_d > 0, the root mean square of the data per
            coordinate, to precondition; None for the plain MLP.
        num_classes: C > 0 makes the network conditional, ε̂_θ(x_t, t,
            c): a learned embedding E[c] of the class label is added to
            the time embedding, e(t) + E[c], with one extra "no label"
            token c = C (written ∅; ``null_label``) for the
            unconditional model (Ho and Salimans 2022). 0 (default): an
            unconditional network, exactly as before.

    Input: x of shape (N, D) and t of shape (N,) or (1,) (one step for
    the whole batch), and for a conditional network optionally c of
    shape (N,) or (1,), ints in 0..C (None: the token ∅ = C). Output:
    ε̂ of shape (N, D). Attribute ``schedule``
    is the schedule the network was trained with (None before training).

    Book: chapter 6, eq. (eq-simple-loss)
    """

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3,
                 time_embedding: int = 32, fourier_features: int = 16,
                 fourier_scale: float = 0.5, seed: int = 0,
                 data_std: float | None = None, num_classes: int = 0):
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
        if data_std is not None:
            data_std = as_positive_float(data_std, "data_std")
        self.config = dict(dim=dim, hidden=hidden, depth=depth,
                           time_embedding=time_embedding,
                           fourier_features=fourier_features,
                           fourier_scale=fourier_scale, seed=seed,
                           data_std=data_std)
        num_classes = as_int(num_classes, "num_classes", minimum=0)
        if num_classes:
            self.config["num_classes"] = num_classes
        self.num_classes = num_classes
        self.dim = dim
        self.data_std = data_std
        self.schedule = None
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
            # Created last, so that the unconditional weights above are
            # the same for the same seed; row C is the token ∅.
            self.label_emb = (nn.Embedding(num_classes + 1, time_embedding)
                              if num_classes else None)
        self.act = nn.SiLU()

    @property
    def schedule(self) -> Schedule | None:
        """The schedule the network is trained with (None before)."""
        return self._schedule

    @schedule.setter
    def schedule(self, s: Schedule | None) -> None:
        self._schedule = None if s is None else as_schedule(s)
        if self._schedule is None or self.data_std is None:
            self._precond = None
            return
        ab = torch.from_numpy(np.array(self._schedule.alpha_bar))
        var = ab * self.data_std ** 2 + 1 - ab                  # S_t
        self._precond = torch.stack(
            [1 / var.sqrt(), (1 - ab).sqrt() / var,
             self.data_std * ab.sqrt() / var.sqrt()])    # (3, T + 1)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, parameters={count_parameters(self)}, "
                f"schedule={self.schedule!r}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[x, sin(2π B x), cos(2π B x)], shape (N, D + 2m)."""
        if self.fourier_b.shape[1] == 0:
            return x
        proj = (2.0 * math.pi) * (x @ self.fourier_b)
        return torch.cat([x, torch.sin(proj), torch.cos(proj)], dim=1)

    @property
    def null_label(self) -> int:
        """The "no label" token ∅ = C of a conditional network."""
        if not self.num_classes:
            raise ValueError("an unconditional network has no label "
                             "tokens (num_classes = 0)")
        return self.num_classes

    def _labels(self, c):
        """Validate c: None -> ∅ for a conditional network."""
        if not self.num_classes:
            if c is not None:
                raise ValueError("this network is unconditional "
                                 "(num_classes = 0): call it without "
                                 "a label")
            return None
        if c is None:
            return torch.full((1,), self.num_classes, dtype=torch.long)
        c = torch.as_tensor(c, dtype=torch.long)
        if c.ndim != 1 or c.numel() == 0 or int(c.min()) < 0 or int(
                c.max()) > self.num_classes:
            raise ValueError(f"c must be a 1-D tensor of labels in 0.."
                             f"{self.num_classes} ({self.num_classes} = "
                             f"no label); got {c.tolist()}")
        return c

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                c: torch.Tensor | None = None) -> torch.Tensor:
        """ε̂_θ(x_t, t[, c]): x (N, D), t and c (N,) or (1,) -> (N, D)."""
        x = x.to(self.out.weight.dtype)     # float32 unless .double()
        c = self._labels(c)
        if self.data_std is None:
            return self._mlp(x, t, c)
        if self._precond is None:
            raise ValueError("a preconditioned MLPDenoiser needs its "
                             "schedule: set model.schedule = s first")
        c_in, c_skip, c_out = self._precond[:, t].to(x.dtype)[..., None]
        return c_skip * x + c_out * self._mlp(c_in * x, t, c)

    def _mlp(self, x: torch.Tensor, t: torch.Tensor,
             c: torch.Tensor | None = None) -> torch.Tensor:
        """F(x, t[, c]), the plain MLP."""
        emb = sinusoidal_embedding(t, self.freqs)
        if c is not None:
            emb = emb + self.label_emb(c)       # e(t) + E[c]
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


def _labelled_source(data_or_sampler) -> tuple[Callable, int | None]:
    """Return draw(n, rng) -> ((n, D) float64, (n,) int64 labels), D."""
    if hasattr(data_or_sampler, "sample") and callable(
            data_or_sampler.sample):
        def draw(n, rng):
            return data_or_sampler.sample(n, rng, return_labels=True)
        return draw, None
    if callable(data_or_sampler):
        return data_or_sampler, None
    if (isinstance(data_or_sampler, tuple) and len(data_or_sampler) == 2):
        data = as_data(data_or_sampler[0], "data")
        labels = np.asarray(data_or_sampler[1])
        if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be {data.shape[0]} ints, one "
                             f"per example; got shape {labels.shape}, "
                             f"dtype {labels.dtype}")

        def draw(n, rng):
            i = rng.integers(0, data.shape[0], size=n)
            return data[i], labels[i]
        return draw, data.shape[1]
    raise TypeError(
        "a conditional network (num_classes > 0) needs labelled data: a "
        "tuple (data (N, D), labels (N,)), an object with .sample(n, rng, "
        "return_labels=True) (e.g. toy_data.GaussianMixture2D) or a "
        f"function f(n, rng) -> (x, labels); got "
        f"{type(data_or_sampler).__name__}")


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


def train_denoiser(data_or_sampler, s: Schedule, steps: int = 3000,
                   batch_size: int = 1024, lr: float = _DEFAULT_LR,
                   seed: int = 0,
                   progress: bool | Literal["auto"] = "auto", *,
                   model: MLPDenoiser | None = None, warmup: int = 100,
                   weight_decay: float = 0.0,
                   num_threads: int | None = 1,
                   t_sampling: Literal["elbo", "uniform"] = "elbo",
                   ema: float | None = None,
                   callback: Callable[[int, MLPDenoiser], None] | None
                   = None, callback_every: int = 100,
                   num_classes: int = 0, label_dropout: float = 0.1,
                   target: Literal["eps", "v"] = "eps",
                   noise_pairs=None) -> TrainingResult:
    """Train ε̂_θ on the squared noise-prediction error.

    Each step minimises the mean over a minibatch (and the D
    coordinates) of ||ε − ε̂_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)||², with
    x_0 from the data, ε ~ N(0, I) and t ~ p(t):

    * ``t_sampling="elbo"`` (default): p(t) ∝ min(w_t, 1) with the
      weights w_t of the bound (:func:`diffusion_edu.elbo.elbo_weights`,
      σ_t² = β̃_t), so that the expected loss is (−ELBO − const) /
      (D Σ_s w_s): the network is trained on the bound itself, sampled
      by importance (Nichol and Dhariwal 2021 do the same for L_vlb).
      The cap only matters for schedules such as the cosine one, whose
      last weight (about 500) would otherwise take almost every draw;
    * ``t_sampling="uniform"``: p(t) = 1/T, the simplified loss
      L_simple of Ho et al. (2020), which underweights small t.

    x_t is drawn with :func:`diffusion_edu.gaussian.q_sample`. AdamW
    with a linear warm-up, then a cosine decay of the learning rate to
    0 (which also averages out the minibatch noise at the end).

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
            preconditioned ``MLPDenoiser(D, seed=seed, data_std=σ_d)``
            with σ_d the root mean square of 4096 data points); it is
            trained in place.
        warmup: number of warm-up steps of the learning rate.
        weight_decay: AdamW's decoupled weight decay (>= 0).
        num_threads: sets ``torch.set_num_threads`` (and leaves it set,
            so that sampling is fast too); None keeps torch's setting.
        t_sampling: "elbo" or "uniform", the law p(t) of the steps.
        ema: None, or a decay γ in (0, 1): the returned weights are then
            the exponential moving average θ̄ ← γ θ̄ + (1 − γ) θ over
            the steps (with the cosine decay to 0 it rarely helps).
        callback: None, or a function ``callback(step, model)`` called
            after every ``callback_every`` optimisation steps and after
            the last one (``step`` counts the steps done; ``model`` holds
            the current weights, not the moving average). To monitor
            training, e.g. the excess of :func:`diffusion_edu.elbo.
            paired_draws` along the way; it must not change the model.
        callback_every: steps between two calls (>= 1).
        num_classes: C > 0 trains a conditional network ε̂_θ(x_t, t, c)
            (default model: ``MLPDenoiser(..., num_classes=C)``; a given
            model's C is used when this is 0). The data must then carry
            labels 0..C−1: a tuple (data, labels), an object with
            ``.sample(n, rng, return_labels=True)`` or a function
            ``f(n, rng) -> (x, labels)``.
        label_dropout: for a conditional network, the probability that
            an example's label is replaced by the token ∅, so that the
            same network also learns the unconditional ε̂_θ(x_t, t, ∅)
            (classifier-free guidance; Ho and Salimans 2022).
        target: "eps" (default): the network predicts ε; "v": it
            predicts v = √ᾱ_t ε − √(1 − ᾱ_t) x_0 (Salimans and Ho 2022),
            the velocity of flow matching in other coordinates (chapter
            10). A v-network has no ε-preconditioning (the default model
            is the plain MLP, data_std = None); it is marked
            ``model.prediction = "v"`` and evaluated with
            :func:`as_v_model`. The returned losses are then v-MSEs.
        noise_pairs: None (default: ε ~ N(0, I) drawn independently of
            x_0), or an array of the shape of the data array: row i is
            the noise coupled with data row i, and each minibatch draws
            rows i with replacement and uses the pair (x_0[i],
            noise_pairs[i]), e.g. the endpoints of a flow for
            rectified flow's reflow (chapter 10).

    Returns:
        TrainingResult ``(model, losses)``: the network with
        ``model.schedule = s``, and at each step the minibatch estimate
        of the simplified loss L_simple (uniform t; with
        ``t_sampling="elbo"`` each example is reweighted by 1/(T p(t)))
        so that the curve can be compared with the irreducible loss
        whatever p(t) is; shape (steps,).

    Raises:
        TrainingDivergedError: the loss became NaN/inf or exploded; the
            message says at which step and what to try.

    Book: chapter 6, eq. (eq-simple-loss)
    """
    s = as_schedule(s)
    num_classes = as_int(num_classes, "num_classes", minimum=0)
    if not num_classes and isinstance(model, MLPDenoiser):
        num_classes = model.num_classes
    if num_classes:
        draw_labelled, dim = _labelled_source(data_or_sampler)

        def draw(n, rng):
            return draw_labelled(n, rng)[0]
    else:
        draw, dim = _data_source(data_or_sampler)
    if target not in ("eps", "v"):
        raise ValueError(f"target must be 'eps' or 'v'; got {target!r}")
    label_dropout = as_positive_float(label_dropout, "label_dropout",
                                      allow_zero=True)
    if label_dropout > 1:
        raise ValueError(f"label_dropout must be a probability in [0, 1]"
                         f"; got {label_dropout}")
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
    if t_sampling == "elbo":
        # Capped at 1: no single step may take over (the cosine
        # schedule's last weight is about 500); no effect for linear.
        w = np.minimum(elbo_weights(s, "fixed_small")[1:], 1.0)
        p_t = w / w.sum()
    elif t_sampling == "uniform":
        p_t = None
    else:
        raise ValueError(f"t_sampling must be 'elbo' or 'uniform'; got "
                         f"{t_sampling!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(step, "
                        f"model) or None; got {type(callback).__name__}")
    callback_every = as_int(callback_every, "callback_every", minimum=1)
    if ema is not None:
        ema = as_positive_float(ema, "ema")
        if not ema < 1:
            raise ValueError(f"ema must be a decay in (0, 1); got {ema}")
    rng = np.random.default_rng(seed)
    if noise_pairs is not None:
        if num_classes or not isinstance(data_or_sampler, np.ndarray):
            raise TypeError("noise_pairs needs the data as an array "
                            "(N, D) and an unconditional network")
        pairs_x0 = as_data(data_or_sampler, "data_or_sampler")
        noise_pairs = as_data(noise_pairs, "noise_pairs")
        if noise_pairs.shape != pairs_x0.shape:
            raise ValueError(f"noise_pairs must have the shape of the "
                             f"data, {pairs_x0.shape}; got "
                             f"{noise_pairs.shape}")

    def fresh(n):
        x0 = as_data(draw(n, rng), "data_or_sampler(n, rng)")
        if x0.shape[0] != n:
            raise ValueError(f"the sampler returned {x0.shape[0]} rows "
                             f"when asked for {n}")
        return x0

    if dim is None:
        dim = fresh(1).shape[1]
    if model is None:
        # σ_d for the preconditioning: the root mean square of the data.
        rms = float(np.sqrt(np.mean(fresh(4096) ** 2)))
        model = MLPDenoiser(dim, seed=seed, num_classes=num_classes,
                            data_std=(max(rms, 1e-3) if target == "eps"
                                      else None))
    elif not isinstance(model, MLPDenoiser):
        raise TypeError(f"model must be an MLPDenoiser; got "
                        f"{type(model).__name__}")
    if model.dim != dim:
        raise ValueError(f"the data have D = {dim} but the model was "
                         f"built for dim = {model.dim}")
    if model.num_classes != num_classes:
        raise ValueError(f"num_classes = {num_classes} but the model was "
                         f"built with num_classes = {model.num_classes}")
    if target == "v" and model.data_std is not None:
        raise ValueError("target='v' needs a model without the "
                         "ε-preconditioning: MLPDenoiser(..., data_std="
                         "None)")
    model.prediction = target

    def fresh_labels(n):
        x0, c = draw_labelled(n, rng)
        x0 = as_data(x0, "data")
        c = np.asarray(c)
        if (c.shape != (x0.shape[0],) or c.dtype.kind not in "iu"
                or c.min() < 0 or c.max() >= num_classes):
            raise ValueError(f"the labels must be ints in 0.."
                             f"{num_classes - 1}, one per example; got "
                             f"shape {c.shape}, values {np.unique(c)}")
        if x0.shape[0] != n:
            raise ValueError(f"the sampler returned {x0.shape[0]} rows "
                             f"when asked for {n}")
        # Label dropout: with probability p the label becomes ∅ = C.
        drop = rng.random(n) < label_dropout
        return x0, np.where(drop, num_classes, c).astype(np.int64)

    model.schedule = s          # (the preconditioning needs ᾱ_t)
    params = [p for p in model.parameters() if p.requires_grad]
    try:        # the fused kernel saves about a third of each step
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay,
                                fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warmup = min(warmup, steps)
    averages = ([q.detach().clone() for q in params] if ema is not None
                else None)
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
            if num_classes:
                x0, c = fresh_labels(n)
                c_b = torch.from_numpy(c).view(k, batch_size)
            elif noise_pairs is not None:
                rows = rng.integers(0, pairs_x0.shape[0], size=n)
                x0 = pairs_x0[rows]
            else:
                x0 = fresh(n)
            if first == 0:
                data_std = float(np.std(x0))
                if not 0.1 <= data_std <= 10:
                    warnings.warn(
                        f"the data have standard deviation {data_std:.3g}"
                        f"; the schedule and the network assume data of "
                        f"roughly unit scale: standardise them first",
                        UserWarning, stacklevel=2)
            if p_t is None:
                t = rng.integers(1, s.T + 1, size=n)
                reweight = np.ones(n)
            else:
                t = 1 + rng.choice(s.T, size=n, p=p_t)
                reweight = 1.0 / (s.T * p_t[t - 1])
            noise = (rng.standard_normal((n, dim)) if noise_pairs is None
                     else noise_pairs[rows])
            xt = q_sample(s, x0, t, noise)
            goal = noise
            if target == "v":           # v = √ᾱ ε − √(1 − ᾱ) x_0
                ab = s.alpha_bar[t][:, None]
                goal = np.sqrt(ab) * noise - np.sqrt(1 - ab) * x0
            xt_b = torch.from_numpy(xt).float().view(k, batch_size, dim)
            eps_b = torch.from_numpy(goal).float().view(k, batch_size,
                                                        dim)
            t_b = torch.from_numpy(t).view(k, batch_size)
            rw_b = torch.from_numpy(reweight).view(k, batch_size)
            for j in range(k):
                step = first + j
                for group in opt.param_groups:
                    group["lr"] = lr * _lr_factor(step, steps, warmup)
                pred = model(xt_b[j], t_b[j],
                             c_b[j] if num_classes else None)
                err = torch.mean((pred - eps_b[j]) ** 2, dim=1)
                loss = torch.mean(err)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if averages is not None:
                    with torch.no_grad():
                        for avg, q in zip(averages, params, strict=True):
                            avg.lerp_(q, 1.0 - ema)
                # L_simple estimate: E_p[ℓ / (T p(t))] = E_uniform[ℓ].
                losses[step] = torch.mean(err.detach().double() * rw_b[j])
                if callback is not None and (
                        (step + 1) % callback_every == 0
                        or step + 1 == steps):
                    model.eval()
                    callback(step + 1, model)
                    model.train()
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
    if averages is not None:
        with torch.no_grad():
            for avg, q in zip(averages, params, strict=True):
                q.copy_(avg)
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
                 num_threads: int | None = 1, label: int | None = None
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
        label: for a conditional network, the class c of ε̂_θ(x, t, c)
            (0..C−1); None gives the unconditional ε̂_θ(x, t, ∅). Must
            be None for an unconditional network.

    Returns:
        eps_model(x, t): x of shape (N, D), t an int or an int array of
        shape (N,) in 1..T -> ε̂ of shape (N, D), float64. Its
        attributes ``model`` and ``schedule`` are the network and the
        schedule.

    Book: chapter 6, eq. (eq-ddpm-step)
    """
    model = _check_model(model)
    if getattr(model, "prediction", "eps") != "eps":
        raise ValueError("this network was trained with target='v': "
                         "wrap it with as_v_model, not as_eps_model")
    return _numpy_model(model, s, num_threads, label)


def as_v_model(model: MLPDenoiser, s: Schedule | None = None, *,
               num_threads: int | None = 1
               ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Wrap a network trained with ``target="v"`` as ``v_model(x, t)``.

    v_model(x_t, t) = v̂_θ(x_t, t) ≈ E[√ᾱ_t ε − √(1 − ᾱ_t) x_0 | x_t],
    float64, like :func:`as_eps_model` (unconditional networks only).

    Book: chapter 10, eq. (eq-10-v)
    """
    model = _check_model(model)
    if getattr(model, "prediction", "eps") != "v":
        raise ValueError("this network predicts ε, not v: train it with "
                         "train_denoiser(..., target='v')")
    return _numpy_model(model, s, num_threads, None)


def _numpy_model(model: MLPDenoiser, s, num_threads, label):
    """The float64 NumPy wrapper shared by as_eps_model and as_v_model."""
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
    if model.schedule is None and model.data_std is not None:
        model.schedule = s      # the preconditioning needs ᾱ_t
    if num_threads is not None:
        torch.set_num_threads(as_int(num_threads, "num_threads",
                                     minimum=1))
    model.eval()
    if label is not None:
        if not model.num_classes:
            raise ValueError("label was given but the network is "
                             "unconditional (num_classes = 0)")
        label = as_int(label, "label", minimum=0,
                       maximum=model.num_classes - 1)
    c = (None if not model.num_classes else torch.full(
        (1,), model.num_classes if label is None else label,
        dtype=torch.long))

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
                        torch.from_numpy(np.array(tt, dtype=np.int64)), c)
        return out.numpy().astype(np.float64)

    eps_model.model = model
    eps_model.schedule = s
    eps_model.label = label
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
    if getattr(model, "prediction", "eps") != "eps":
        payload["prediction"] = model.prediction    # (target="v")
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
    model.prediction = payload.get("prediction", "eps")
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
