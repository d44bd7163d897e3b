"""Committed notebooks carry no outputs; every notebook is in the book."""

from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("chapters/*.ipynb"),
                    *ROOT.glob("solutions/*.ipynb")])


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in chapters/ or solutions/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"cell {i} of {path.name} has outputs"
        assert cell.execution_count is None, (
            f"cell {i} of {path.name} has an execution count")


def _toc_files(node):
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for value in node.values():
            yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = set(_toc_files(toc))
    for path in NOTEBOOKS:
        stem = path.relative_to(ROOT).with_suffix("").as_posix()
        assert stem in listed, f"{stem} is missing from _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_code_lines_fit_a_printed_page(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            assert len(line) <= 79, (
                f"cell {i} of {path.name}: line of {len(line)} characters:"
                f" {line!r}")


def test_every_chapter_has_a_solutions_notebook():
    for chapter in ROOT.glob("chapters/*.ipynb"):
        twin = ROOT / "solutions" / f"{chapter.stem}_solutions.ipynb"
        assert twin.exists(), f"{chapter.name} has no solutions notebook"
