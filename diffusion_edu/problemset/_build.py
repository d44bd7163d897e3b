"""Build a problem set: student notebook, answer key, nbgrader source.

The spec (YAML) names a title, a due date text and a list of exercise
labels, with optional point overrides. The builder reads the statements,
stubs and checks from the chapters, the worked solutions from solutions/,
and the metadata from the catalogue, and writes into the output folder:

``student/<slug>.ipynb``
    statements, stubs, the checks in report mode, points, instructions;
    no solution text anywhere (cells, metadata or outputs).
``answer_key/<slug>_answer_key.ipynb``
    the same statements with the worked solutions, the strict checks and
    a grading rubric for every exercise graded by hand.
``nbgrader/source/<slug>/<slug>.ipynb``
    the assignment as nbgrader expects it in a course folder: solution
    regions, autograded test cells with hidden strict checks, manually
    graded answer cells for the derivations, points.

Everything is checked before anything is written, and the folder is
written next to its final place and renamed into it at the end, so a
failed build never leaves a half-written output folder behind.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from ._catalogue import (
    Catalogue,
    Entry,
    compare_with_book,
    load_catalogue,
    numbered_parts,
)
from ._code import Resolver, splice_solution, strict_calls
from ._notebooks import Block, Book, ChapterExercise, Solution, load_book
from ._notebooks import solution_preamble as _preamble
from ._render import EquationRegistry, Renderer, build_renderer

__all__ = [
    "BuildError",
    "BuildResult",
    "MANIFEST",
    "Spec",
    "SpecError",
    "build_problem_set",
    "default_root",
    "load_spec",
    "validate_spec",
]

MANIFEST = "problemset.json"
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SPEC_KEYS = ("title", "due", "slug", "instructions", "exercises")
_KIND_WORD = {"derivation": "derivation (pen and paper)",
              "coding": "coding (autograded)",
              "experiment": "experiment"}
_STARS = "\N{BLACK STAR}"


class SpecError(ValueError):
    """A problem-set spec is invalid; the message names every problem."""


class BuildError(RuntimeError):
    """The problem set cannot be built (the message says why)."""


@dataclass(frozen=True)
class SpecItem:
    label: str
    points: float | None = None
    number: int = 0          # position in the spec, for messages


@dataclass
class Spec:
    """A validated problem-set spec."""

    title: str
    due: str
    slug: str
    items: list[SpecItem]
    instructions: str = ""
    path: Path | None = None


def default_root() -> Path:
    """The repository that holds this package (chapters/, solutions/)."""
    here = Path(__file__).resolve().parents[2]
    if (here / "chapters").is_dir():
        return here
    return Path.cwd()


def _fail(where: str, problems: list[str]) -> SpecError:
    return SpecError(f"{where} is not a valid problem-set spec:\n  - "
                     + "\n  - ".join(problems))


def load_spec(path: Path, catalogue: Catalogue | None = None,
              book: Book | None = None) -> Spec:
    """Read a spec file and check it; with a catalogue and the book, the
    labels too (every problem is reported at once)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from None
    return parse_spec(data, str(path), default_slug=path.stem, path=path,
                      catalogue=catalogue, book=book)


def _text(value) -> str | None:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def parse_spec(data, where: str = "spec", default_slug: str = "problemset",
               path: Path | None = None, catalogue: Catalogue | None = None,
               book: Book | None = None) -> Spec:
    """Check a spec given as a mapping (its labels too, when the
    catalogue and the book are given)."""
    if not isinstance(data, dict):
        raise _fail(where, ["the spec must be a mapping with keys title, "
                            "due and exercises"])
    problems: list[str] = []
    unknown = sorted(set(data) - set(_SPEC_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(map(str, unknown))}; "
                        f"allowed: {', '.join(_SPEC_KEYS)}")
    title = _text(data.get("title"))
    if title is None:
        problems.append("missing title: add a line `title: Problem set 1`")
    due = _text(data.get("due"))
    if due is None:
        problems.append("missing due date: add a line such as "
                        "`due: Friday 14 March, 17:00`")
    slug = data.get("slug", re.sub(r"[^A-Za-z0-9_-]+", "-", default_slug))
    if not isinstance(slug, str) or not _SLUG.match(slug):
        problems.append(f"slug {slug!r} must be letters, digits, - and _ "
                        "(it names the files and the nbgrader assignment)")
    instructions = data.get("instructions") or ""
    if not isinstance(instructions, str):
        problems.append("instructions must be text")
        instructions = ""
    raw_items = data.get("exercises")
    items: list[SpecItem] = []
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("exercises must be a non-empty list of exercise "
                        "labels (ex-NN-slug), each optionally with points")
        raw_items = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(raw_items, 1):
        if isinstance(raw, str):
            label, points = raw.strip(), None
        elif isinstance(raw, dict) and "label" in raw:
            label, points = str(raw["label"]).strip(), raw.get("points")
            extra = sorted(set(raw) - {"label", "points"})
            if extra:
                problems.append(f"exercise {n} ({label}): unknown key(s) "
                                f"{', '.join(map(str, extra))}; allowed: "
                                "label, points")
            if "points" in raw and (
                    not isinstance(points, (int, float))
                    or isinstance(points, bool) or not math.isfinite(points)
                    or points <= 0):
                problems.append(f"exercise {n} ({label}): points must be a "
                                f"number > 0; got {points!r}")
                points = None
        else:
            problems.append(f"exercise {n}: expected a label or a mapping "
                            f"{{label: ..., points: ...}}; got {raw!r}")
            continue
        if label in seen:
            problems.append(f"duplicate exercise {label}: listed as "
                            f"exercise {seen[label]} and again as "
                            f"exercise {n}")
            continue
        seen[label] = n
        items.append(SpecItem(label, points, n))
    if catalogue is not None and book is not None:
        problems += _label_problems(items, catalogue, book)
    if problems:
        raise _fail(where, problems)
    return Spec(title, due, slug, items, instructions.strip(), path)


def _label_problems(items: list[SpecItem], catalogue: Catalogue,
                    book: Book) -> list[str]:
    problems = []
    known = list(catalogue.entries)
    for item in items:
        n, label = item.number, item.label
        if label not in catalogue:
            close = difflib.get_close_matches(label, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"exercise {n}: unknown exercise label "
                            f"{label}{hint}")
            continue
        if label not in book.exercises:
            problems.append(
                f"exercise {n}: {label} is in the catalogue but no chapter "
                f"notebook has it (is Chapter {catalogue[label].chapter} "
                "written yet?)")
            continue
        if label not in book.solutions:
            problems.append(f"exercise {n}: {label} has no worked solution "
                            "in solutions/, so there is no answer key")
    return problems


def validate_spec(spec: Spec, catalogue: Catalogue, book: Book) -> None:
    """Check the labels of a spec against the catalogue and notebooks."""
    problems = _label_problems(spec.items, catalogue, book)
    if problems:
        raise _fail(str(spec.path or "spec"), problems)


# ---------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------

@dataclass
class Planned:
    number: int
    exercise: ChapterExercise
    solution: Solution
    entry: Entry
    points: float

    @property
    def label(self) -> str:
        return self.exercise.label

    @property
    def written(self) -> bool:
        return self.entry.kind in ("derivation", "experiment")

    def split_points(self) -> tuple[list[float], float]:
        """Points of each check cell and of the written answer."""
        checks = len(self.exercise.checks)
        if not checks:
            return [], self.points
        auto = self.points if not self.written else self.points / 2
        share = [auto / checks] * checks
        return share, self.points - auto if self.written else 0.0


def _num(value: float) -> str:
    return f"{value:g}"


def _pts(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _cell_id(counter: list[int], label: str, role: str) -> str:
    counter[0] += 1
    text = f"{label}-{role}" if label else role
    return f"c{counter[0]:03d}-{re.sub(r'[^A-Za-z0-9_-]', '-', text)}"[:64]


def _nb(cells, extra_metadata) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"},
        **extra_metadata,
    }
    nb.cells = cells
    return nb


class _Cells:
    """Accumulates cells with stable ids (the output is reproducible)."""

    def __init__(self):
        self.cells = []
        self._counter = [0]

    def md(self, source: str, label: str = "", role: str = "text",
           metadata: dict | None = None):
        cell = nbformat.v4.new_markdown_cell(source.strip("\n"))
        cell.id = _cell_id(self._counter, label, role)
        cell.metadata = metadata or {}
        self.cells.append(cell)
        return cell

    def code(self, source: str, label: str = "", role: str = "code",
             metadata: dict | None = None):
        cell = nbformat.v4.new_code_cell(source.strip("\n"))
        cell.id = _cell_id(self._counter, label, role)
        cell.metadata = metadata or {}
        self.cells.append(cell)
        return cell


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False,
              points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": 3, "solution": solution, "task": False}
    if grade:
        meta["points"] = (int(points) if float(points).is_integer()
                          else points)
    return {"nbgrader": meta}


class _Context:
    """What the three notebooks share: renderer, equation tags, plan."""

    def __init__(self, spec: Spec, book: Book, renderer: Renderer,
                 plan: list[Planned]):
        self.spec = spec
        self.book = book
        self.renderer = renderer
        self.plan = plan
        renderer.exercise_numbers = {p.label: p.number for p in plan}
        self.total = sum(p.points for p in plan)
        self.minutes = sum(p.entry.minutes for p in plan)

    def statement(self, p: Planned, registry: EquationRegistry,
                  note: str = "") -> tuple[str, list[tuple[str, str]]]:
        """The heading cell text and the remaining body blocks."""
        ex, entry = p.exercise, p.entry
        used: list[str] = []
        rendered = []
        for block in ex.body:
            if block.kind == "markdown":
                rendered.append(("markdown", self.renderer.render(
                    block.source, registry, used)))
            else:
                rendered.append(("code", block.source))
        chapter = self.book.chapter_title(ex.chapter)
        head = [f"## Exercise {p.number}: {ex.title}", "",
                f"*{_STARS * entry.difficulty} · "
                f"{_KIND_WORD[entry.kind]} · **{_pts(p.points)}** · "
                f"about {entry.minutes} min · from Chapter {ex.chapter}, "
                f"{chapter} (`{ex.label}`)*", ""]
        if rendered and rendered[0][0] == "markdown":
            head.append(rendered.pop(0)[1])
        equations = self.renderer.equation_list(used, registry)
        if equations:
            head += ["", equations]
        if note:
            head += ["", note]
        return "\n".join(head), rendered

    def header_table(self) -> str:
        rows = ["| # | Exercise | Chapter | Kind | Difficulty | Points |",
                "|---|---|---|---|---|---|"]
        for p in self.plan:
            title = p.exercise.title.replace("|", "\\|")
            rows.append(f"| {p.number} | {title} | {p.exercise.chapter} | "
                        f"{p.entry.kind} | {_STARS * p.entry.difficulty} | "
                        f"{_num(p.points)} |")
        rows.append(f"| | **Total** | | | | **{_num(self.total)}** |")
        return "\n".join(rows)

    def hours(self) -> str:
        hours = self.minutes / 60
        if hours < 1:
            return f"about {self.minutes} minutes"
        return f"about {round(hours * 2) / 2:g} hours"


_WRITE_NOTE = ("*Write your answer in the markdown cell below (double-click "
               "it to edit). Show every step; write mathematics between "
               "dollar signs, e.g. `$\\bar\\alpha_t$`.*")
_ANSWER_STUB = "YOUR ANSWER HERE"


def _instructions(ctx: _Context) -> str:
    spec = ctx.spec
    lines = [f"# {spec.title}", "",
             f"**Due:** {spec.due}  ",
             f"**Points:** {_num(ctx.total)} in total, {len(ctx.plan)} "
             f"exercises; estimated time {ctx.hours()}.", ""]
    if spec.instructions:
        lines += [spec.instructions, ""]
    lines += [
        "## Instructions", "",
        "- Each exercise comes from a chapter of the book *Diffusion Models "
        "from First Principles*; read that chapter first. Its points are "
        "given in its heading.",
        "- **Coding exercises:** replace `raise NotImplementedError` in the "
        "stub with your code and run the cell, then run the check cell "
        "below it. The check tells you which test cases pass and "
        "recognises common mistakes; it never stops the notebook. Do not "
        "rename the functions or change their arguments: grading calls "
        "them by name, with more test cases.",
        "- **Derivations:** write your answer in the markdown cell that "
        "says *YOUR ANSWER HERE*, with every step justified.",
        "- Use NumPy in your answers, not the functions of `diffusion_edu` "
        "that solve the exercise (the checks compare with those).",
        "- Before you hand in, restart the kernel and run all cells "
        "(*Kernel → Restart Kernel and Run All Cells…*): the notebook must "
        "run from top to bottom without an error.", "",
        ctx.header_table()]
    return "\n".join(lines)


def _setup_source(imports: list[str]) -> str:
    head = ["# Run this cell first: it imports what the exercises use."]
    plain = sorted(i for i in imports if i.startswith("import "))
    froms = sorted(i for i in imports if i.startswith("from "))
    return "\n".join(head + plain + froms)


def _student_resolver(ctx: _Context) -> Resolver:
    resolver = Resolver(allow_cells=False)
    resolver.add_import("import numpy as np")
    for p in ctx.plan:
        pool = ctx.book.chapters[p.exercise.chapter].code
        blocks = [b for b in p.exercise.body if b.kind == "code"]
        resolver.support(blocks + p.exercise.checks, pool,
                         f"chapter-{p.exercise.chapter}")
    return resolver


def build_student(ctx: _Context) -> tuple[nbformat.NotebookNode,
                                          list[str]]:
    """Statements, stubs, checks (report mode) and answer cells only."""
    cells = _Cells()
    registry = EquationRegistry()
    cells.md(_instructions(ctx), role="header")
    resolver = _student_resolver(ctx)
    cells.code(_setup_source(resolver.imports), role="setup")
    for p in ctx.plan:
        note = _WRITE_NOTE if p.written else ""
        head, rest = ctx.statement(p, registry, note)
        cells.md(head, p.label, "statement")
        for j, (kind, source) in enumerate(rest):
            if kind == "markdown":
                cells.md(source, p.label, f"statement{j}")
            else:
                cells.code(source, p.label, f"stub{j}")
        if p.entry.kind == "experiment" and not any(
                kind == "code" for kind, _ in rest):
            cells.code("# Your experiment here.", p.label, "experiment")
        for j, check in enumerate(p.exercise.checks):
            cells.code(check.source, p.label, f"check{j}")
        if p.written:
            cells.md(_ANSWER_STUB, p.label, "answer")
    cells.md("## Before you hand in\n\nRestart the kernel and run all "
             "cells, then save the notebook and submit this file.",
             role="footer")
    warnings = []
    if resolver.missing:
        warnings.append("student notebook: no import of the chapters "
                        "provides " + ", ".join(sorted(resolver.missing)))
    return _nb(cells.cells, {"diffusion_edu": {
        "problem_set": ctx.spec.slug, "version": "student"}}), warnings


# ---------------------------------------------------------------------------
# rubrics and the answer key
# ---------------------------------------------------------------------------

def _split(points: float, n: int) -> list[float]:
    units = points * 2
    if not float(units).is_integer() or n == 0:
        return [points / max(n, 1)] * max(n, 1)
    q, r = divmod(int(units), n)
    return [(q + (1 if i >= n - r else 0)) / 2 for i in range(n)]


def rubric_markdown(p: Planned, renderer: Renderer,
                    registry: EquationRegistry) -> str:
    """The grading rubric of one exercise, as markdown."""
    entry = p.entry
    checks, written = p.split_points()
    names = [c.split("(")[0] for check in p.exercise.checks
             for c in strict_calls(check.source)]
    lines = [f"### Grading ({_pts(p.points)})", ""]
    if checks:
        calls = ", ".join(f"`{n}`" for n in names) or "the check"
        lines += [f"- **Autograded, {_pts(sum(checks))}:** "
                  f"{calls} in strict mode (the hidden test) passes on "
                  "every test case; no partial credit. In nbgrader this "
                  "is the test cell after the stub.", ""]
    if not p.written:
        return "\n".join(lines).rstrip()
    scale = written / p.points if p.points else 1.0
    if entry.rubric:
        lines += [f"**By hand, {_pts(written)}:**", ""]
        for item in entry.rubric:
            lines.append(f"- **{_pts(item.points * scale)}:** "
                         + renderer.render(item.criterion, registry))
    else:
        statement = "\n".join(b.source for b in p.exercise.body
                              if b.kind == "markdown")
        parts = numbered_parts(statement)
        shares = _split(written, len(parts) or 1)
        lines += [f"**By hand, {_pts(written)}**"
                  + (", part by part:" if parts else ":"), ""]
        if parts:
            for k, (part, share) in enumerate(zip(parts, shares,
                                                  strict=True), 1):
                text = renderer.render(part, registry)
                lines.append(f"- **Part {k}, {_pts(share)}.** {text}")
        else:
            lines.append(f"- **{_pts(written)}:** a complete and "
                         "correct answer to the whole statement.")
    lines += ["", "For each item: full points for the correct result with "
              "every step justified (as in the worked solution above); "
              "half the points for the right method with one slip or one "
              "unjustified step; no points for a bare result or a wrong "
              "method."]
    return "\n".join(lines)


def build_answer_key(ctx: _Context) -> tuple[nbformat.NotebookNode,
                                             list[str]]:
    """Statements, worked solutions, strict checks and rubrics."""
    cells = _Cells()
    registry = EquationRegistry()
    spec = ctx.spec
    head = [f"# {spec.title}: answer key", "",
            "**For instructors and graders only: do not distribute.**", "",
            f"Due: {spec.due}. Total: {_num(ctx.total)} points. Each "
            "exercise shows the statement as the students see it, the "
            "worked solution from the book, the strict check and the "
            "grading rubric.", "", ctx.header_table()]
    cells.md("\n".join(head), role="header")
    resolver = Resolver(allow_cells=True)
    resolver.add_import("import numpy as np")
    setup = cells.code("", role="setup")
    for p in ctx.plan:
        chapter = p.exercise.chapter
        sol_nb = ctx.book.solution_notebooks[chapter]
        pool = [*_preamble(sol_nb), *sol_nb.code]
        head, rest = ctx.statement(p, registry)
        cells.md(head, p.label, "statement")
        for j, (kind, source) in enumerate(rest):
            if kind == "markdown":
                cells.md(source, p.label, f"statement{j}")
            else:
                cells.md(f"*Stub given to the students:*\n\n```python\n"
                         f"{source}\n```", p.label, f"stub{j}")
        blocks = list(p.solution.blocks)
        support = resolver.support(blocks, pool, f"solutions-{chapter}")
        first = True
        strict_seen = False
        for block in blocks:
            if block.kind == "code" and support:
                cells.code("# Set-up from the solutions notebook of "
                           f"Chapter {chapter}, needed below.\n"
                           + "\n\n".join(b.source for b in support),
                           p.label, "support")
                support = []
            if block.kind == "markdown":
                text = ctx.renderer.render(block.source, registry)
                if first:
                    text = "### Solution\n\n" + text
                cells.md(text, p.label, "solution")
            else:
                if first:
                    cells.md("### Solution", p.label, "solution")
                strict_seen |= "strict=True" in block.source
                cells.code(block.source, p.label, "solution")
            first = False
        if p.exercise.checks and not strict_seen:
            calls = [c for check in p.exercise.checks
                     for c in strict_calls(check.source)]
            imports = [line for check in p.exercise.checks
                       for line in check.source.split("\n")
                       if line.startswith(("from ", "import "))]
            cells.code("\n".join(imports + calls), p.label, "strict-check")
        cells.md(rubric_markdown(p, ctx.renderer, registry), p.label,
                 "rubric")
    setup.source = _setup_source(resolver.imports)
    warnings = []
    if resolver.missing:
        warnings.append("answer key: no cell of the solutions defines "
                        + ", ".join(sorted(resolver.missing)))
    return _nb(cells.cells, {"diffusion_edu": {
        "problem_set": ctx.spec.slug, "version": "answer key"}}), warnings


# ---------------------------------------------------------------------------
# nbgrader
# ---------------------------------------------------------------------------

def _solution_code(p: Planned) -> list[str]:
    return [b.source for b in p.solution.blocks if b.kind == "code"]


def build_nbgrader(ctx: _Context) -> tuple[nbformat.NotebookNode,
                                          list[str]]:
    """The nbgrader source notebook, and warnings about it."""
    cells = _Cells()
    registry = EquationRegistry()
    warnings: list[str] = []
    cells.md(_instructions(ctx), role="header",
             metadata=_nbgrader("header", locked=True))
    resolver = _student_resolver(ctx)
    for p in ctx.plan:
        pool = _preamble(ctx.book.solution_notebooks[p.exercise.chapter])
        for block in p.exercise.body:
            if block.kind != "code" or "NotImplementedError" not in \
                    block.source:
                continue
            spliced = splice_solution(block.source, _solution_code(p))
            if spliced is None:
                warnings.append(f"{p.label}: could not match the stub's "
                                "function in the solution; the whole "
                                "solution code is the answer region")
                continue
            resolver.support([Block("code", spliced, 10**6)], pool,
                             f"solutions-{p.exercise.chapter}")
    if resolver.missing:
        warnings.append("names used by the reference answers that no "
                        "import provides: "
                        + ", ".join(sorted(resolver.missing)))
    cells.code(_setup_source(resolver.imports), role="setup",
               metadata=_nbgrader("setup", locked=True))
    for p in ctx.plan:
        checks_points, written_points = p.split_points()
        note = _WRITE_NOTE if p.written else ""
        head, rest = ctx.statement(p, registry, note)
        cells.md(head, p.label, "statement",
                 _nbgrader(f"{p.label}-statement", locked=True))
        n_answer = 0
        for j, (kind, source) in enumerate(rest):
            if kind == "markdown":
                cells.md(source, p.label, f"statement{j}",
                         _nbgrader(f"{p.label}-statement{j}", locked=True))
                continue
            gid = f"{p.label}-answer" + (f"{n_answer}" if n_answer else "")
            n_answer += 1
            if "NotImplementedError" not in source:
                if p.entry.kind == "experiment":   # free to edit, ungraded
                    cells.code(source, p.label, "experiment")
                else:
                    cells.code(source, p.label, "given",
                               _nbgrader(f"{gid}-given", locked=True))
                continue
            spliced = splice_solution(source, _solution_code(p))
            if spliced is None:
                code = "\n\n".join(_solution_code(p))
                commented = "\n".join("# " + line if line else "#"
                                      for line in source.split("\n"))
                spliced = (f"# The stub in the book:\n{commented}\n"
                           f"### BEGIN SOLUTION\n{code}\n### END SOLUTION")
            cells.code(spliced, p.label, "answer",
                       _nbgrader(gid, solution=True))
        if p.entry.kind == "experiment" and not n_answer:
            cells.code("# Your experiment here.", p.label, "experiment")
        for j, (check, pts) in enumerate(zip(p.exercise.checks,
                                             checks_points, strict=True)):
            hidden = strict_calls(check.source)
            source = check.source.rstrip()
            if hidden:
                source += ("\n### BEGIN HIDDEN TESTS\n" + "\n".join(hidden)
                           + "\n### END HIDDEN TESTS")
            gid = f"{p.label}-test" + (f"{j}" if j else "")
            cells.code(source, p.label, f"test{j}",
                       _nbgrader(gid, grade=True, locked=True, points=pts))
        if p.written:
            model = "\n\n".join(
                ctx.renderer.render(b.source, registry)
                for b in p.solution.blocks if b.kind == "markdown")
            rubric = rubric_markdown(p, ctx.renderer, registry)
            cells.md("**Model answer and rubric** (the whole cell is "
                     f"replaced by *{_ANSWER_STUB}* in the student "
                     f"version).\n\n{model}\n\n{rubric}", p.label, "answer",
                     _nbgrader(f"{p.label}-written", solution=True,
                               grade=True, points=written_points))
    return _nb(cells.cells, {"diffusion_edu": {
        "problem_set": ctx.spec.slug, "version": "nbgrader source"}}), \
        warnings


# ---------------------------------------------------------------------------
# the whole build
# ---------------------------------------------------------------------------

@dataclass
class BuildResult:
    out: Path
    student: Path
    answer_key: Path
    nbgrader_source: Path
    total_points: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"built {self.out}/ ({_num(self.total_points)} points)",
                 f"  student notebook: {self.student.relative_to(self.out)}",
                 f"  answer key:       "
                 f"{self.answer_key.relative_to(self.out)}",
                 f"  nbgrader source:  "
                 f"{self.nbgrader_source.relative_to(self.out)}"]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


_README = """\
# {title}

Built by `python -m diffusion_edu.problemset build` from `{spec}`.
Due: {due}. {n} exercises, {points} points.

- `student/{slug}.ipynb`: hand this out (no solutions in it).
- `answer_key/{slug}_answer_key.ipynb`: worked solutions, strict checks
  and grading rubrics. Keep it private.
- `nbgrader/`: a ready nbgrader course folder. From inside it:

      nbgrader generate_assignment {slug}   # -> release/{slug}/
      # collect submissions into submitted/<student>/{slug}/{slug}.ipynb
      nbgrader autograde {slug}
      # grade the derivations: JupyterLab, menu Nbgrader > Formgrader
      nbgrader generate_feedback {slug}
      nbgrader export                       # grades.csv

Rebuild this folder from the spec instead of editing it.
"""

_NBGRADER_CONFIG = """\
# nbgrader configuration of this course folder (see the nbgrader docs).
c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
# The checks of the book run in well under a second per cell.
c.Execute.timeout = 120
"""


def _plan(spec: Spec, catalogue: Catalogue, book: Book) -> list[Planned]:
    plan = []
    for n, item in enumerate(spec.items, 1):
        entry = catalogue[item.label]
        plan.append(Planned(n, book.exercises[item.label],
                            book.solutions[item.label], entry,
                            item.points if item.points is not None
                            else entry.points))
    return plan


def _write_tree(tmp: Path, spec: Spec, student, key, source,
                summary: dict) -> None:
    slug = spec.slug
    (tmp / "student").mkdir()
    (tmp / "answer_key").mkdir()
    (tmp / "nbgrader" / "source" / slug).mkdir(parents=True)
    nbformat.write(student, tmp / "student" / f"{slug}.ipynb")
    nbformat.write(key, tmp / "answer_key" / f"{slug}_answer_key.ipynb")
    nbformat.write(source, tmp / "nbgrader" / "source" / slug
                   / f"{slug}.ipynb")
    (tmp / "nbgrader" / "nbgrader_config.py").write_text(_NBGRADER_CONFIG)
    (tmp / "README.md").write_text(_README.format(
        title=spec.title, spec=spec.path.name if spec.path else "a spec",
        due=spec.due, n=len(spec.items), points=_num(summary["points"]),
        slug=slug))
    (tmp / MANIFEST).write_text(json.dumps(summary, indent=2) + "\n")


def _replace_dir(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def build_problem_set(spec_path: Path, out: Path, root: Path | None = None,
                      catalogue_path: Path | None = None) -> BuildResult:
    """Build the three notebooks of a spec into the folder ``out``."""
    root = Path(root) if root is not None else default_root()
    catalogue = load_catalogue(catalogue_path
                               or root / "book" / "exercises.yml")
    book = load_book(root)
    spec = load_spec(spec_path, catalogue, book)
    problems = [p for p in compare_with_book(catalogue, book)
                if any(item.label in p for item in spec.items)]
    if problems:
        raise BuildError("the catalogue and the notebooks disagree about "
                         "exercises of this spec:\n  - "
                         + "\n  - ".join(problems))
    out = Path(out)
    if out.exists() and (not out.is_dir() or (
            any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise BuildError(f"refusing to write into {out}: it exists and was "
                         "not made by the problem-set builder")
    ctx = _Context(spec, book, build_renderer(book),
                   _plan(spec, catalogue, book))
    student, student_warnings = build_student(ctx)
    key, key_warnings = build_answer_key(ctx)
    source, warnings = build_nbgrader(ctx)
    warnings = student_warnings + key_warnings + warnings
    summary = {"title": spec.title, "due": spec.due, "slug": spec.slug,
               "points": ctx.total, "minutes": ctx.minutes,
               "exercises": [{"number": p.number, "label": p.label,
                              "kind": p.entry.kind, "points": p.points}
                             for p in ctx.plan]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_tree(tmp, spec, student, key, source, summary)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    slug = spec.slug
    return BuildResult(out, out / "student" / f"{slug}.ipynb",
                       out / "answer_key" / f"{slug}_answer_key.ipynb",
                       out / "nbgrader" / "source" / slug / f"{slug}.ipynb",
                       ctx.total, warnings)
