"""The small network of chapter 12: predict masked tokens.

* :class:`TokenDenoiser` -- p_theta(x_0^l | x_t), an MLP that reads a
  partially masked sequence (tokens 0..K-1, [MASK] = K) and returns, for
  every position, logits over the K tokens;
* :func:`masked_loss` -- the continuous-time masked-diffusion bound of
  a batch, with the time integrated out exactly: draw the number m of
  masked positions uniformly from 1..L, mask m random positions and
  weight the summed cross-entropy by L/m (same expectation as the
  weighted cross-entropy of eq. (eq-12-masked-elbo), bounded variance);
* :func:`train_masked` -- Adam on that loss, on one thread;
* :func:`as_cond_fn` -- the NumPy adapter ``cond_fn(xt) -> (M, L, K)``
  used by :mod:`diffusion_edu.discrete` (unmasked positions get a point
  mass on their own token: the "carry-over" of Sahoo et al. 2024).

The absorbing process needs no time input: the exact p(x_0^l | x_t)
depends on x_t only through its unmasked tokens (chapter 12). The
network computes in float32; what crosses to NumPy is float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._validate import as_int, as_positive_float, as_rng
from .discrete import SequenceData

__all__ = ["TokenDenoiser", "masked_loss", "train_masked", "as_cond_fn"]


class TokenDenoiser(nn.Module):
    """An MLP p_theta(x_0^l | x_t) for sequences of length L over K tokens.

    h = phi(W_in [E[x_t^1] + P_1, ..., E[x_t^L] + P_L] + b), then
    ``depth - 1`` hidden layers, then logits W_out h + b_out reshaped to
    (L, K); E is a learned embedding of the K + 1 states (K = [MASK]),
    P_l a learned position embedding, phi = SiLU.

    Args:
        K: vocabulary size (tokens 0..K-1; K is [MASK]).
        L: sequence length.
        hidden: width of the hidden layers.
        depth: number of hidden layers, >= 1.
        embed: size of the token and position embeddings.
        seed: seed of the initial weights.

    Input: int tensor (N, L) with entries in 0..K. Output: logits of
    shape (N, L, K).

    Book: chapter 12, section "Training a small network"
    """

    def __init__(self, K: int, L: int, hidden: int = 128, depth: int = 2,
                 embed: int = 16, seed: int = 0):
        super().__init__()
        self.K = as_int(K, "K", minimum=1)
        self.L = as_int(L, "L", minimum=1)
        hidden = as_int(hidden, "hidden", minimum=1)
        depth = as_int(depth, "depth", minimum=1)
        embed = as_int(embed, "embed", minimum=1)
        seed = as_int(seed, "seed", minimum=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.tokens = nn.Embedding(self.K + 1, embed)
            self.positions = nn.Parameter(0.1 * torch.randn(self.L, embed))
            layers = [nn.Linear(self.L * embed, hidden), nn.SiLU()]
            for _ in range(depth - 1):
                layers += [nn.Linear(hidden, hidden), nn.SiLU()]
            layers.append(nn.Linear(hidden, self.L * self.K))
            self.mlp = nn.Sequential(*layers)

    def forward(self, xt: torch.Tensor) -> torch.Tensor:
        """Logits (N, L, K) from masked sequences xt (N, L)."""
        if xt.ndim != 2 or xt.shape[1] != self.L:
            raise ValueError(f"xt must have shape (N, L = {self.L}); got "
                             f"{tuple(xt.shape)}")
        h = self.tokens(xt) + self.positions                 # (N, L, E)
        return self.mlp(h.flatten(1)).view(-1, self.L, self.K)


def _mask_batch(x0: torch.Tensor, K: int, gen: torch.Generator):
    """Mask m ~ U{1..L} random positions per row; return xt, mask, m."""
    N, L = x0.shape
    m = torch.randint(1, L + 1, (N,), generator=gen)
    ranks = torch.rand(N, L, generator=gen).argsort(1).argsort(1)
    mask = ranks < m[:, None]                            # m True per row
    return torch.where(mask, torch.full_like(x0, K), x0), mask, m


def masked_loss(net: TokenDenoiser, x0: torch.Tensor,
                gen: torch.Generator) -> torch.Tensor:
    """Mean over the batch of an unbiased estimate of the masked -ELBO.

    -ELBO(x_0) = L E_{m ~ U{1..L}} E_{|M| = m} [(1/m) sum_{l in M}
    -log p_theta(x_0^l | x_0 with M masked)]: the weighted
    cross-entropy of eq. (eq-12-masked-elbo) with t integrated out.
    Only masked positions count.

    Args:
        net: the network.
        x0: clean sequences, int tensor (N, L), tokens 0..K-1.
        gen: torch generator for the masks.

    Returns:
        Scalar tensor (nats per sequence).

    Raises:
        TypeError: ``x0`` is not an integer tensor.
        ValueError: ``x0`` has the wrong shape or holds a token outside
            0..K-1 (for example [MASK] = K).

    Book: chapter 12, eq. (eq-12-masked-elbo)
    """
    if not isinstance(x0, torch.Tensor):
        raise TypeError(f"x0 must be a torch integer tensor of shape "
                        f"(N, L = {net.L}); got {type(x0).__name__}")
    if x0.dtype.is_floating_point or x0.dtype.is_complex or (
            x0.dtype == torch.bool):
        raise TypeError(f"x0 must hold integer tokens (torch.long); got "
                        f"dtype {x0.dtype}")
    if x0.ndim != 2 or x0.shape[1] != net.L:
        raise ValueError(f"x0 must have shape (N, L = {net.L}); got "
                         f"{tuple(x0.shape)}")
    if x0.numel() and (int(x0.min()) < 0 or int(x0.max()) >= net.K):
        raise ValueError(f"tokens in x0 must be clean data tokens "
                         f"0..{net.K - 1} ([MASK] = {net.K} is not data); "
                         f"found {int(x0.min())}..{int(x0.max())}")
    x0 = x0.long()
    xt, mask, m = _mask_batch(x0, net.K, gen)
    logp = torch.log_softmax(net(xt), dim=-1)
    nll = -logp.gather(-1, x0[..., None])[..., 0]        # (N, L)
    per_row = (nll * mask).sum(1) * (net.L / m)
    return per_row.mean()


def train_masked(net: TokenDenoiser, data: SequenceData, steps: int = 1500,
                 batch_size: int = 256, lr: float = 3e-3, rng=0,
                 num_threads: int = 1) -> np.ndarray:
    """Train ``net`` on samples of ``data`` with :func:`masked_loss`.

    Adam with a cosine decay of the learning rate to 0; fresh data
    every step; one CPU thread by default (tiny networks are much
    slower with more on a 2-core machine).

    Args:
        net: a :class:`TokenDenoiser` with the data's K and L.
        data: the data law.
        steps: number of Adam steps.
        batch_size: sequences per step.
        lr: peak learning rate.
        rng: generator or int seed (data and masks).
        num_threads: torch threads during training.

    Returns:
        The loss of every step, shape (steps,).

    Book: chapter 12, section "Training a small network"
    """
    if not isinstance(net, TokenDenoiser):
        raise TypeError("net must be a TokenDenoiser; got "
                        f"{type(net).__name__}")
    if not isinstance(data, SequenceData):
        raise TypeError(f"data must be a SequenceData; got "
                        f"{type(data).__name__}")
    if (data.K, data.L) != (net.K, net.L):
        raise ValueError(f"the network is for K = {net.K}, L = {net.L}; "
                         f"the data have K = {data.K}, L = {data.L}")
    steps = as_int(steps, "steps", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    lr = as_positive_float(lr, "lr")
    rng = as_rng(rng)
    gen = torch.Generator().manual_seed(int(rng.integers(2 ** 31)))
    x_all = torch.from_numpy(data.sample(steps * batch_size, rng))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    losses = np.empty(steps)
    old = torch.get_num_threads()
    torch.set_num_threads(as_int(num_threads, "num_threads", minimum=1))
    try:
        net.train()
        for k in range(steps):
            x0 = x_all[k * batch_size:(k + 1) * batch_size]
            loss = masked_loss(net, x0, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses[k] = loss.item()
        net.eval()
    finally:
        torch.set_num_threads(old)
    return losses


def as_cond_fn(net: TokenDenoiser):
    """The network as ``cond_fn(xt) -> (M, L, K)`` float64 probabilities.

    Masked positions (token K) get softmax(logits); an unmasked position
    gets a point mass on its own token (carry-over).

    Book: chapter 12, eq. (eq-12-reverse-x0)
    """
    if not isinstance(net, TokenDenoiser):
        raise TypeError("net must be a TokenDenoiser; got "
                        f"{type(net).__name__}")

    def cond_fn(xt):
        xt = np.asarray(xt)
        if not np.issubdtype(xt.dtype, np.integer):
            raise TypeError(f"xt must hold integer tokens; got dtype "
                            f"{xt.dtype}")
        if xt.size and (xt.min() < 0 or xt.max() > net.K):
            raise ValueError(f"tokens of xt must lie in 0..{net.K} "
                             f"({net.K} = [MASK])")
        with torch.no_grad():
            logits = net(torch.from_numpy(xt.astype(np.int64)))
            probs = torch.softmax(logits.double(), dim=-1).numpy()
        keep = xt < net.K
        onehot = (np.minimum(xt, net.K - 1)[..., None]
                  == np.arange(net.K)).astype(float)
        return np.where(keep[..., None], onehot, probs)

    return cond_fn
