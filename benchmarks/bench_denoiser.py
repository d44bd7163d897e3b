"""Quality and speed of the tiny denoiser of chapter 6, against its targets.

Usage:  flock /tmp/heavy.lock python benchmarks/bench_denoiser.py
            [--runs 3] [--seeds 3] [--draws 10] [--n-elbo 2000]
        flock /tmp/heavy.lock python benchmarks/bench_denoiser.py --levers

For each configuration the network is trained with ``--seeds`` seeds (0,
1, 2, ...) and the defaults of :func:`diffusion_edu.denoiser.
train_denoiser` (one torch thread); 4 000 samples are drawn with DDPM
(T steps); their distance to the data (energy distance in 2-D,
Wasserstein-1 in 1-D) is averaged over ``--draws`` fresh reference draws
of 4 000 points and set next to the data-vs-data baseline (two
independent draws of 4 000, averaged the same way) and to the distance
of the ideal denoiser's samples (``toy_data``'s exact ε, same sampler,
same noise).

The sharper yardstick, in nats per example (chapter 6, eq.
(eq-excess-nll)): the excess of −ELBO over the ideal denoiser,
Σ_t w_t E||ε* − ε̂_θ||², on ``--n-elbo`` data points with every t drawn,
the same draws (x_0, t, ε) for every network (``elbo.paired_draws``),
for σ_t² = β̃_t and β_t; and the upper bound E[−ELBO] − H(p_data) on
KL(p_data || p_θ), with the data's exact log-density.

Every number is the median over the seeds (the ± is the standard error
of that seed's excess); the table shows the median over ``--runs`` runs
(the distances are deterministic -- later runs check that they
reproduce the samples bit for bit -- the timings vary).

Targets (one CPU thread): Swiss roll excess <= 0.03 nats (σ_t² = β̃_t)
and energy ratio <= 2 with training <= 10 s; 1-D mixture ratio <= 2 with
training <= 10 s; sampling 4 000 points with 1000 DDPM steps <= 5 s.
The row "old defaults" is the training before the excess was measured
(t ~ U{1..T}, batch 512, 2000 steps, no preconditioning). The last row
is the small configuration many tutorials use (T = 50, linear β from
1e-4 to 0.02, batch 32, t ~ U{1..T}): ᾱ_T ≈ 0.60, so x_T ~ N(0, I) is
not what the forward process produces, and even the ideal denoiser's
samples are far from the data (its KL bound is large too).

``--levers`` prints instead one row per training lever (Swiss roll and
1-D mixture, excess in nats, median of the seeds): the path from the old
defaults to the new ones, then each rejected lever on top of the new
defaults.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from diffusion_edu import (
    denoiser,
    elbo,
    metrics,
    samplers,
    schedules,
    toy_data,
)

N_SAMPLES = 4000
OLD_DEFAULTS = dict(steps=2000, batch_size=512, t_sampling="uniform",
                    plain=True)


@dataclass(frozen=True)
class Config:
    """One row of the table."""

    name: str
    data: object
    metric: object
    schedule: schedules.Schedule
    train_kwargs: dict
    max_train_s: float | None
    max_sample_s: float | None
    max_excess: float | None = None
    draws: dict = field(default_factory=dict, compare=False)


def configs() -> list[Config]:
    swiss, mixture = toy_data.SwissRoll2D(), toy_data.GaussianMixture1D()
    s = schedules.linear(1000)
    return [
        Config("Swiss roll 2-D", swiss, metrics.energy_distance, s, {},
               10.0, 5.0, 0.03),
        Config("Swiss roll, old defaults", swiss, metrics.energy_distance,
               s, OLD_DEFAULTS, None, None),
        Config("mixture 1-D", mixture, metrics.wasserstein_1d, s, {},
               10.0, 5.0),
        Config("mixture, old defaults", mixture, metrics.wasserstein_1d,
               s, OLD_DEFAULTS, None, None),
        Config("Swiss roll, T=50 b=32", swiss, metrics.energy_distance,
               schedules.linear(50),
               {"batch_size": 32, "t_sampling": "uniform", "plain": True},
               None, None),
    ]


def train(cfg: Config, seed: int, **extra):
    """Train with cfg.train_kwargs (+ extra); (model, seconds)."""
    kwargs = {**cfg.train_kwargs, **extra}
    plain = kwargs.pop("plain", False)      # no preconditioning
    arch = kwargs.pop("arch", {})
    double = kwargs.pop("float64", False)
    if plain or arch or double:
        sd = (None if plain else
              float(np.sqrt(np.mean(cfg.data.sample(4096, 99) ** 2))))
        model = denoiser.MLPDenoiser(cfg.data.dim, seed=seed, data_std=sd,
                                     **arch)
        kwargs["model"] = model.double() if double else model
    start = time.perf_counter()
    model, _ = denoiser.train_denoiser(cfg.data, cfg.schedule, seed=seed,
                                       progress=False, **kwargs)
    return model, time.perf_counter() - start


def paired(cfg: Config, n: int) -> dict:
    """The draws of the excess and KL bound, once per configuration."""
    if not cfg.draws:
        x0 = cfg.data.sample(n, 20_000)
        small = elbo.paired_draws(cfg.schedule,
                                  cfg.data.eps_model(cfg.schedule), x0,
                                  20_001, "fixed_small",
                                  log_pdf=cfg.data.log_pdf)
        cfg.draws.update(small=small,
                         large=small.reweighted("fixed_large"))
    return cfg.draws


def nats(cfg: Config, eps_model, n: int) -> dict:
    """Excess over the ideal denoiser and KL bound, both variances."""
    draws = paired(cfg, n)
    pred = draws["small"].predict(eps_model)   # same x_t for both
    out = {}
    for key, d in draws.items():
        r = d.excess(pred)
        out[f"excess_{key}"], out[f"excess_{key}_se"] = r.mean, r.se
        out[f"kl_{key}"] = d.kl_bound(pred).mean
    return out


def distance(cfg: Config, samples: np.ndarray, seed: int, draws: int):
    """Mean distance to `draws` reference draws, and the baseline."""
    result = metrics.compare_with_baseline(
        cfg.metric, samples, cfg.data.sample, 10_000 + seed, draws)
    return result.value, result.baseline


def ideal_distance(cfg: Config, seed: int, draws: int) -> float:
    """Distance of the ideal denoiser's samples (same sampler noise)."""
    x = samplers.sample_ddpm(cfg.schedule, cfg.data.eps_model(cfg.schedule),
                             (N_SAMPLES, cfg.data.dim), 100 + seed)
    return distance(cfg, x, seed, draws)[0]


def measure(cfg: Config, seed: int, draws: int, cache: dict,
            n_elbo: int) -> dict:
    """Train with one seed, sample, and measure; one dict of numbers.

    The distances of a (config, seed) are computed once: later runs must
    reproduce the same samples bit for bit (same seed, same machine),
    which this checks, and only their timings are new.
    """
    model, train_s = train(cfg, seed)
    eps_model = denoiser.as_eps_model(model)
    start = time.perf_counter()
    x = samplers.sample_ddpm(cfg.schedule, eps_model,
                             (N_SAMPLES, cfg.data.dim), 100 + seed)
    sample_s = time.perf_counter() - start
    key = (cfg.name, seed)
    if key not in cache:
        cache[key] = (x, dict(distance=distance(cfg, x, seed, draws),
                              **nats(cfg, eps_model, n_elbo)))
    elif not np.array_equal(cache[key][0], x):
        raise AssertionError(f"{cfg.name}, seed {seed}: the samples "
                             f"differ between runs (not reproducible)")
    found = dict(cache[key][1])
    value, baseline = found.pop("distance")
    return dict(params=denoiser.count_parameters(model), train_s=train_s,
                sample_s=sample_s, value=value, baseline=baseline,
                **found)


def ideal_nats(cfg: Config, n: int) -> dict:
    """KL bounds of the ideal denoiser (its excess is 0 by definition)."""
    ideal = cfg.data.eps_model(cfg.schedule)
    return {f"ideal_kl_{k}": d.kl_bound(ideal).mean
            for k, d in paired(cfg, n).items()}


def row(cfg: Config, seeds: int, draws: int, ideal: float,
        cache: dict, n_elbo: int) -> dict:
    """Median over the seeds of `measure`, plus the ratios."""
    runs = [measure(cfg, seed, draws, cache, n_elbo)
            for seed in range(seeds)]
    out = {key: float(np.median([r[key] for r in runs]))
           for key in runs[0]}
    out["ideal"] = ideal
    out["ratio"] = out["value"] / out["baseline"]
    out["ideal_ratio"] = ideal / out["baseline"]
    return out


def print_table(rows: dict[str, dict], schedules_by_name: dict,
                ideal_kl: dict) -> None:
    head = (f"{'configuration':<25} {'params':>6} {'aT':>6} "
            f"{'train s':>7} {'sample s':>8} {'network':>9} {'ideal':>9} "
            f"{'data-data':>9} {'net/base':>8} {'ideal/base':>10} "
            f"{'excess bt':>16} {'excess b':>8} {'KL<= bt':>8} "
            f"{'KL<= b':>7} {'ideal KL<= bt, b':>16}")
    print(head)
    print("-" * len(head))
    for name, r in rows.items():
        alpha_bar_T = schedules_by_name[name].alpha_bar[-1]
        k = ideal_kl[name]
        print(f"{name:<25} {int(r['params']):>6} {alpha_bar_T:>6.2g} "
              f"{r['train_s']:>7.1f} {r['sample_s']:>8.1f} "
              f"{r['value']:>9.3g} {r['ideal']:>9.3g} "
              f"{r['baseline']:>9.3g} {r['ratio']:>8.2f} "
              f"{r['ideal_ratio']:>10.2f} "
              f"{r['excess_small']:>7.4f} ± {r['excess_small_se']:.4f} "
              f"{r['excess_large']:>8.4f} {r['kl_small']:>8.3f} "
              f"{r['kl_large']:>7.3f} "
              f"{k['ideal_kl_small']:>7.3f}, {k['ideal_kl_large']:.3f}")


def levers(seeds: int, n_elbo: int) -> None:
    """One row per training lever: train seconds and excess (nats)."""
    swiss, mixture = toy_data.SwissRoll2D(), toy_data.GaussianMixture1D()
    s = schedules.linear(1000)
    rows = [
        ("old defaults", OLD_DEFAULTS),
        ("+ t ~ w_t (ELBO by importance)",
         dict(OLD_DEFAULTS, t_sampling="elbo")),
        ("+ preconditioning", dict(steps=2000, batch_size=512)),
        ("+ batch 1024, 3000 steps (= defaults)", {}),
        ("defaults, t ~ U{1..T}", dict(t_sampling="uniform")),
        ("defaults, no preconditioning", dict(plain=True)),
        ("defaults, batch 512, 6000 steps",
         dict(batch_size=512, steps=6000)),
        ("defaults, EMA 0.999", dict(ema=0.999)),
        ("defaults, EMA 0.99", dict(ema=0.99)),
        ("defaults, width 128", dict(arch=dict(hidden=128))),
        ("defaults, depth 4", dict(arch=dict(depth=4))),
        ("defaults, lr 5e-3", dict(lr=5e-3)),
        ("defaults, lr 2e-2", dict(lr=2e-2)),
        ("defaults, float64", dict(float64=True)),
    ]
    print(f"Training levers: excess of -ELBO over the ideal denoiser "
          f"(nats per example, sigma_t^2 = beta_tilde_t, {n_elbo} "
          f"points, every t), median of {seeds} seeds; one torch "
          f"thread.")
    head = (f"{'lever':<40} {'roll s':>7} {'roll excess':>16} "
            f"{'mix s':>6} {'mix excess':>16}")
    print(head)
    print("-" * len(head))
    for label, kwargs in rows:
        cells = []
        for data, metric in [(swiss, metrics.energy_distance),
                             (mixture, metrics.wasserstein_1d)]:
            cfg = Config(label, data, metric, s, kwargs, None, None)
            name = type(data).__name__
            if name not in CACHE:
                CACHE[name] = paired(cfg, n_elbo)
            cfg.draws.update(CACHE[name])
            found = []
            for seed in range(seeds):
                model, secs = train(cfg, seed)
                r = cfg.draws["small"].excess(denoiser.as_eps_model(model))
                found.append((r.mean, r.se, secs))
            found.sort()
            mean, se, _ = found[len(found) // 2]
            secs = statistics.median(f[2] for f in found)
            cells.append(f"{secs:>6.1f} {mean:>8.4f} ± {se:.4f}")
        print(f"{label:<40} " + " ".join(cells), flush=True)


CACHE: dict = {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--n-elbo", type=int, default=2000)
    parser.add_argument("--levers", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.levers:
        levers(args.seeds, args.n_elbo)
        return 0
    cfgs = configs()
    # The ideal denoiser's samples do not depend on the run: once.
    by_setting: dict = {}      # configs that share data and schedule
    for c in cfgs:
        key = (type(c.data).__name__, c.schedule.T)
        if key not in by_setting:
            by_setting[key] = float(np.median(
                [ideal_distance(c, seed, args.draws)
                 for seed in range(args.seeds)]))
    ideals = {c.name: by_setting[(type(c.data).__name__, c.schedule.T)]
              for c in cfgs}
    per_run, cache = [], {}
    for run in range(args.runs):
        rows = {c.name: row(c, args.seeds, args.draws, ideals[c.name],
                            cache, args.n_elbo) for c in cfgs}
        per_run.append(rows)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr,
              flush=True)
    median = {c.name: {key: statistics.median(r[c.name][key]
                                              for r in per_run)
                       for key in per_run[0][c.name]}
              for c in cfgs}
    ideal_kl = {c.name: ideal_nats(c, args.n_elbo) for c in cfgs}
    print(f"Tiny denoiser: median of {args.seeds} training seeds, "
          f"{N_SAMPLES} DDPM samples, distances averaged over "
          f"{args.draws} reference draws; median of {args.runs} runs; one "
          f"torch thread.")
    print("network/ideal: distance of the network's / the ideal "
          "denoiser's samples to the data (2-D: energy distance, 1-D: "
          "Wasserstein-1); aT = alpha_bar_T.")
    print(f"excess: -ELBO of the network minus that of the ideal "
          f"denoiser, nats per example ({args.n_elbo} points, every t, "
          f"paired draws; bt: sigma_t^2 = beta_tilde_t, b: beta_t); "
          f"KL<=: E[-ELBO] - H(data), an upper bound on "
          f"KL(data || model), nats.")
    print_table(median, {c.name: c.schedule for c in cfgs}, ideal_kl)
    ok = True
    print()
    for c in cfgs:
        r = median[c.name]
        if c.max_train_s is None:
            continue
        checks = [("ratio <= 2", r["ratio"] <= 2.0),
                  *([] if c.max_excess is None else [
                      (f"excess <= {c.max_excess:g} nats",
                       r["excess_small"] <= c.max_excess)]),
                  (f"train <= {c.max_train_s:g} s",
                   r["train_s"] <= c.max_train_s),
                  (f"sample <= {c.max_sample_s:g} s",
                   r["sample_s"] <= c.max_sample_s)]
        ok &= all(passed for _, passed in checks)
        print(f"{c.name:<22} " + ", ".join(
            f"{label}: {'ok' if passed else 'FAIL'}"
            for label, passed in checks))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
