"""References in the notebooks work in JupyterLab as well as in the book.

In JupyterLab, jupyterlab-myst renders each notebook on its own, so a
``{doc}`` link, a citation role, a ``{numref}`` to a figure (defined in
code-cell metadata that it does not read), or a ``{ref}``/``{eq}`` to a
label of another file shows up as a dead link or an orange raw label.
Those are written as markdown links with their own text instead (see
``tools/convert_links.py``; ``book/_ext/notebook_links.py`` resolves and
checks them in the book). Code comments cite equations by the number the
reader sees, not by internal labels.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import convert_links  # noqa: E402

NOTEBOOKS = sorted(
    [*(ROOT / "chapters").glob("*.ipynb"),
     *(ROOT / "solutions").glob("*.ipynb")])
ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")
LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
LABEL_IN_COMMENT = re.compile(r"\beq-[A-Za-z0-9_-]+")
UNRESOLVABLE = {"doc", "numref", "cite", "cite:t", "cite:p", "cite:ps",
                "cite:ts", "footcite", "term", "download"}


@pytest.fixture(scope="module")
def index():
    return convert_links.Index()


def _cells(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        yield i, cell["cell_type"], "".join(cell["source"])


def _without_code(text: str) -> str:
    """Markdown without fenced code blocks and inline code spans."""
    text = re.sub(r"^(`{3,}|~{3,})(?!\{).*?^\1\s*$", "", text,
                  flags=re.M | re.S)
    return re.sub(r"(?<!\})`[^`]*`", "", text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_roles_resolve_inside_the_notebook(path, index):
    local = {label for label, (where, _, _) in index.labels.items()
             if where == path.resolve()}
    problems = []
    for i, kind, text in _cells(path):
        if kind != "markdown":
            continue
        for m in ROLE.finditer(text):
            role, content = m.groups()
            target = re.sub(r"^.*<([^<>]+)>$", r"\1", content,
                            flags=re.S).strip()
            if role in UNRESOLVABLE:
                problems.append(f"cell {i}: {m.group(0)} cannot resolve in "
                                "JupyterLab; write a markdown link")
            elif role in ("ref", "eq") and target not in local:
                problems.append(f"cell {i}: {m.group(0)}: {target!r} is "
                                "not defined in this notebook; link to "
                                "the file that defines it")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_to_files_point_at_existing_targets(path, index):
    """[text](file.ipynb#label) and [text](#label): the file exists, the
    label is defined there, and an equation or figure number in the text
    is the one the book prints."""
    problems = []
    for i, kind, text in _cells(path):
        if kind != "markdown":
            continue
        for m in LINK.finditer(_without_code(text)):
            words, href = m.groups()
            if re.match(r"[a-z]+:", href):
                continue
            file_part, _, fragment = unquote(href).partition("#")
            target = (path.parent / file_part).resolve() if file_part \
                else path.resolve()
            if not target.is_file():
                problems.append(f"cell {i}: [{words}]({href}): no file "
                                f"{file_part}")
                continue
            if not fragment or fragment.startswith("cite-"):
                continue
            where, what, info = index.labels.get(fragment, (None,) * 3)
            if where != target:
                problems.append(f"cell {i}: [{words}]({href}): "
                                f"{fragment!r} is not defined in "
                                f"{file_part}")
            elif what in ("eq", "figure"):
                shown = re.search(r"\((\d+(?:\.\d+)*)\)" if what == "eq"
                                  else r"Figure\s+(\d+(?:\.\d+)*)", words)
                if shown and shown.group(1) != info:
                    problems.append(f"cell {i}: [{words}]({href}): the "
                                    f"book numbers it {info}")
    assert not problems, "\n".join(problems)


def test_citation_links_name_known_entries(index):
    anchors = {"cite-" + re.sub(r"[^a-z0-9]+", "-", k.lower()).strip("-")
               for k in index.citations}
    bad = []
    for path in NOTEBOOKS:
        for i, _kind, text in _cells(path):
            for m in re.finditer(r"bibliography\.md#(cite-[\w-]+)", text):
                if m.group(1) not in anchors:
                    bad.append(f"{path.name} cell {i}: {m.group(1)}")
    assert not bad, "no such Bibliography entry:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_comments_cite_printed_equation_numbers(path):
    problems = []
    for i, kind, text in _cells(path):
        if kind != "code":
            continue
        for line in text.splitlines():
            start = convert_links._comment_start(line)
            if start is None:
                continue
            for m in LABEL_IN_COMMENT.finditer(line[start:]):
                problems.append(f"cell {i}: {line.strip()!r} cites the "
                                f"label {m.group(0)!r}; write the printed "
                                "number, e.g. eq. (2.1)")
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_jupyterlab_cannot_show(index, tmp_path):
    """The rules above reject each kind of reference that is dead or raw
    in JupyterLab (guards against a check that cannot fail)."""
    chapter = ROOT / "chapters" / "02_forward_process.ipynb"
    other = next(label for label, (where, what, _) in index.labels.items()
                 if what == "eq" and where != chapter.resolve())
    cells = [
        "See {doc}`Chapter 3 <03_closed_form>`.",
        "As {cite:t}`ho2020` showed.",
        f"By {{eq}}`{other}`.",
        "[Chapter 3](03_closed_form.ipynb#no-such-label)",
        "[Chapter 9](09_missing.ipynb)",
    ]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {},
                     "source": c} for c in cells]
          + [{"cell_type": "code", "metadata": {}, "outputs": [],
              "execution_count": None,
              "source": "x = 1  # eq. (eq-forward-step)"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    probe = tmp_path / "chapters" / chapter.name
    probe.parent.mkdir()
    probe.write_text(json.dumps(nb), encoding="utf-8")
    for name in ("03_closed_form.ipynb",):
        (probe.parent / name).write_text(
            (ROOT / "chapters" / name).read_text(encoding="utf-8"),
            encoding="utf-8")
    with pytest.raises(AssertionError) as roles:
        test_roles_resolve_inside_the_notebook(probe, index)
    message = str(roles.value)
    for expected in ("cell 0: {doc}", "cell 1: {cite:t}", "cell 2: {eq}"):
        assert expected in message
    with pytest.raises(AssertionError) as links:
        test_links_to_files_point_at_existing_targets(probe, index)
    assert "no-such-label" in str(links.value)
    assert "09_missing" in str(links.value)
    with pytest.raises(AssertionError):
        test_code_comments_cite_printed_equation_numbers(probe)


def test_problem_sets_keep_the_text_of_links_and_copy_equations():
    """An exercise copied into a problem set leaves the book's files
    behind: its links become their text, and a linked equation is tagged
    and copied next to the statement, as an {eq} role is."""
    from diffusion_edu.problemset._render import (
        EquationRegistry,
        Renderer,
        Target,
    )

    renderer = Renderer(
        {"eq-x": Target("equation", "a = b", "chapters/02_forward_process"),
         "sec-y": Target("section", "Title", "chapters/04_posterior")},
        {}, {})
    used: list[str] = []
    out = renderer.render(
        "eq. [(2.4)](02_forward_process.ipynb#eq-x), "
        "[“Title” in Chapter 4](04_posterior.ipynb#sec-y), "
        "[Ho et al. (2020)](../book/bibliography.md#cite-ho2020), "
        "[the site](https://example.org)", EquationRegistry(), used)
    assert out == ("eq. (E1), “Title” in Chapter 4, Ho et al. (2020), "
                   "[the site](https://example.org)")
    assert used == ["eq-x"]
