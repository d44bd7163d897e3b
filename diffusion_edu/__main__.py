"""Check an installation: ``python -m diffusion_edu``.

Prints the versions of Python and of the packages the book uses, then
runs three tiny computations whose answers are known in advance:

1. the linear schedule of Ho et al. (2020): ᾱ_1000 = 4.035830e-05 and
   β̃_1000 = 0.0199999835 (float64 closed forms, chapters 2–4);
2. the exact DDPM sampler on a Gaussian, whose samples must have the data's
   mean and variance (NumPy, chapter 6);
3. 100 training steps of the tiny torch denoiser, whose loss must fall
   (torch on the CPU, chapter 6).

Exits with status 0 when everything agrees, 1 otherwise, and says which
computation disagreed. It takes a few seconds, most of them spent
importing torch, and needs no GPU and no network.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time

PACKAGES = ("numpy", "matplotlib", "torch", "ipywidgets", "jupyterlab",
            "jupyter_book")


def _version(name: str) -> str:
    """The installed version of a package, or 'not installed'."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return "not installed"
    return str(getattr(module, "__version__", "unknown"))


def _check_schedule() -> str:
    from . import schedules

    s = schedules.linear(1000)
    got = (float(s.alpha_bar[1000]), float(s.beta_tilde[1000]))
    want = (4.035830e-05, 0.0199999835)
    if abs(got[0] - want[0]) > 5e-12 or abs(got[1] - want[1]) > 1e-10:
        raise AssertionError(
            f"linear schedule: alpha_bar_1000 = {got[0]:.6e}, "
            f"beta_tilde_1000 = {got[1]:.10f}; expected {want[0]:.6e} "
            f"and {want[1]:.10f}")
    return f"alpha_bar_1000 = {got[0]:.6e}, beta_tilde_1000 = {got[1]:.10f}"


def _check_sampler() -> str:
    import numpy as np

    from . import samplers, schedules, toy_data

    s = schedules.linear(1000)
    data = toy_data.GaussianMixture1D(weights=[1.0], means=[1.5],
                                      variances=[0.25])
    x = samplers.sample_ddpm(s, data.eps_model(s), (4000, 1),
                             np.random.default_rng(0))
    mean, var = float(x.mean()), float(x.var())
    # Standard errors for n = 4000: 0.5/sqrt(n) = 0.008 for the mean and
    # 0.25 sqrt(2/n) = 0.0056 for the variance; allow about 5 of them.
    if abs(mean - 1.5) > 0.04 or abs(var - 0.25) > 0.03:
        raise AssertionError(
            f"exact DDPM sampler: mean {mean:.3f}, variance {var:.3f}; "
            "expected 1.5 and 0.25 (data N(1.5, 0.5²))")
    return f"4000 samples of N(1.5, 0.5²): mean {mean:.3f}, var {var:.3f}"


def _check_torch() -> str:
    import numpy as np

    from . import denoiser, schedules, toy_data

    s = schedules.linear(100)
    # The plain network starts near loss 1 (it predicts about 0), so
    # a working install must lower the loss by a clear margin.
    _, losses = denoiser.train_denoiser(toy_data.SwissRoll2D(), s,
                                        steps=100, batch_size=128,
                                        seed=0, progress=False,
                                        model=denoiser.MLPDenoiser(2))
    first, last = float(losses[:10].mean()), float(losses[-10:].mean())
    if not np.all(np.isfinite(losses)) or not last < 0.8 * first:
        raise AssertionError(
            f"tiny denoiser: loss {first:.3f} -> {last:.3f} in 100 "
            "steps; expected a finite loss that falls by 20 % or more")
    return f"100 training steps, loss {first:.3f} -> {last:.3f}"


CHECKS = (("closed forms (NumPy, float64)", _check_schedule),
          ("exact sampler (NumPy)", _check_sampler),
          ("tiny denoiser (torch, CPU)", _check_torch))


def main() -> int:
    """Print versions, run the checks; return the exit status."""
    from . import __version__

    start = time.perf_counter()
    print(f"diffusion_edu {__version__}: installation check")
    print(f"  {'python':12s} {platform.python_version()} "
          f"({sys.executable})")
    for name in PACKAGES:
        print(f"  {name:12s} {_version(name)}")
    try:
        import torch
        build = "CUDA " + torch.version.cuda if torch.version.cuda else "CPU"
        print(f"  {'torch build':12s} {build} (the book needs no GPU)")
    except ImportError:
        pass
    failed = 0
    for title, check in CHECKS:
        try:
            detail = check()
        except Exception as err:  # report every failure, then exit 1
            failed += 1
            print(f"FAIL  {title}: {type(err).__name__}: {err}")
        else:
            print(f"ok    {title}: {detail}")
    elapsed = time.perf_counter() - start
    if failed:
        print(f"{failed} of {len(CHECKS)} checks failed ({elapsed:.1f} s).")
        return 1
    print(f"All {len(CHECKS)} checks passed ({elapsed:.1f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
