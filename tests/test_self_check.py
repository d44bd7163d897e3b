"""`python -m diffusion_edu`: the installation check of the Setup page."""

import subprocess
import sys

import numpy as np

from diffusion_edu import __main__ as self_check
from diffusion_edu import schedules


def test_self_check_passes_on_a_working_install(capsys):
    assert self_check.main() == 0
    out = capsys.readouterr().out
    assert "All 3 checks passed" in out
    assert "alpha_bar_1000 = 4.035830e-05" in out
    for name in ("numpy", "torch", "matplotlib"):
        assert name in out


def test_self_check_reports_a_wrong_closed_form(monkeypatch, capsys):
    def broken_linear(T, beta_1=1e-4, beta_T=0.02):
        # the classic slip: a schedule twice as long as asked for
        return schedules.from_betas(np.linspace(beta_1, beta_T, 2 * T)[:T])

    monkeypatch.setattr(schedules, "linear", broken_linear)
    assert self_check.main() == 1
    out = capsys.readouterr().out
    assert "FAIL  closed forms" in out
    assert "expected 4.035830e-05" in out
    assert "of 3 checks failed" in out


def test_self_check_reports_a_broken_sampler(monkeypatch, capsys):
    from diffusion_edu import samplers

    def biased(*args, **kwargs):
        return np.zeros((4000, 1))

    monkeypatch.setattr(samplers, "sample_ddpm", biased)
    assert self_check.main() == 1
    assert "FAIL  exact sampler" in capsys.readouterr().out


def test_python_dash_m_runs_the_check():
    run = subprocess.run([sys.executable, "-m", "diffusion_edu"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All 3 checks passed" in run.stdout
