"""The Colab set-up cell of every chapter and solutions notebook
(tools/colab_cell.py): present, built from the repository URL of
_config.yml, hidden on the website, and a no-op outside Colab."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_cell  # noqa: E402

NOTEBOOKS = colab_cell.notebooks()


def _first_cell(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["cells"][0]


def test_there_are_notebooks():
    folders = {p.parent.name for p in NOTEBOOKS}
    assert folders == {"chapters", "solutions"}, folders


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_the_colab_setup(path):
    cell = _first_cell(path)
    assert cell["cell_type"] == "code"
    assert "".join(cell["source"]) == colab_cell.cell_source(), (
        f"{path.name}: the Colab cell is missing or does not match "
        "_config.yml; run `python tools/colab_cell.py`")
    assert "remove-cell" in cell["metadata"].get("tags", [])
    assert cell.get("outputs") == [] and cell.get("execution_count") is None


def test_the_cell_installs_from_the_configured_repository():
    url, branch = colab_cell.repository()
    source = colab_cell.cell_source()
    assert f'_repository = "{url}"' in source
    assert f'_branch = "{branch}"' in source


def _run(source: str, monkeypatch, *, in_colab: bool) -> list:
    calls = []

    def fake_run(args, **kwargs):
        calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if in_colab:
        google = types.ModuleType("google")
        google.__path__ = []
        colab = types.ModuleType("google.colab")
        google.colab = colab
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls


def test_the_cell_does_nothing_outside_colab(monkeypatch):
    with pytest.raises(ImportError):  # as everywhere but in Colab
        import google.colab  # noqa: F401
    calls = _run(colab_cell.cell_source(), monkeypatch, in_colab=False)
    assert calls == []


def test_the_cell_pip_installs_in_colab(monkeypatch):
    calls = _run(colab_cell.cell_source(), monkeypatch, in_colab=True)
    assert len(calls) == 1
    args, kwargs = calls[0]
    url, branch = colab_cell.repository()
    assert args[:4] == [sys.executable, "-m", "pip", "install"]
    assert args[-1] == f"git+{url}@{branch}"
    assert kwargs.get("check") is True


def test_the_tool_inserts_and_updates_the_cell(tmp_path):
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/someone/fork\n"
        "  branch: dev\n", encoding="utf-8")
    folder = tmp_path / "chapters"
    folder.mkdir()
    nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {},
                     "source": ["# Title"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "x.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    source = colab_cell.cell_source(tmp_path)
    assert '"https://github.com/someone/fork"' in source
    assert '_branch = "dev"' in source
    assert colab_cell.update(path, source, write=True)
    assert not colab_cell.update(path, source, write=True)  # idempotent
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert len(cells) == 2 and cells[1]["source"] == ["# Title"]
    other = source.replace('"dev"', '"main"')
    assert colab_cell.update(path, other, write=True)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert len(cells) == 2 and "".join(cells[0]["source"]) == other
    (tmp_path / "_config.yml").write_text("repository:\n  url: ''\n",
                                          encoding="utf-8")
    with pytest.raises(ValueError, match="https URL"):
        colab_cell.cell_source(tmp_path)
