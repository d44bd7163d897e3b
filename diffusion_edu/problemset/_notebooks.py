"""Find the exercises and their solutions by parsing the book's notebooks.

Chapter authors write exercises with sphinx-exercise directives and
nothing else: a pen-and-paper exercise is one ``exercise`` directive, a
coding exercise is a gated ``exercise-start`` ... ``exercise-end`` pair
around a stub code cell, followed by a code cell that calls a check.
Solutions notebooks mirror them with ``solution`` / ``solution-start``
directives whose argument is the exercise label. This module reads those
directives (with either colon or backtick fences, several per cell or
spread over cells) into plain data: no cell metadata is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import nbformat

__all__ = [
    "Block",
    "Book",
    "ChapterExercise",
    "Directive",
    "Solution",
    "load_book",
    "parse_notebook",
]

_OPENING = re.compile(
    r"^(?P<fence>:{3,}|`{3,})\{(?P<name>[A-Za-z][\w:.-]*)\}"
    r"[ \t]*(?P<arg>[^\n]*?)[ \t]*$", re.M)
_CHECK_CALL = re.compile(r"\bcheck_\w+\s*\(")
_STUB = re.compile(r"^[ \t]*raise[ \t]+NotImplementedError\b", re.M)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")
_STAR = "\N{BLACK STAR}"
_PENCIL = "\N{PENCIL}"
_TEST_TUBE = "\N{TEST TUBE}"
_TRACKED = ("exercise", "solution")


@dataclass
class Block:
    """A piece of a notebook: markdown text or the source of a code cell."""

    kind: Literal["markdown", "code"]
    source: str
    cell: int


@dataclass
class Directive:
    """An ``exercise`` or ``solution`` directive and the blocks inside it.

    ``gated`` is true for the ``-start``/``-end`` form, whose body may
    contain code cells.
    """

    name: str
    arg: str
    options: dict[str, str]
    body: list[Block]
    cell: int
    gated: bool


@dataclass
class ChapterExercise:
    """One exercise as written in a chapter notebook."""

    label: str
    chapter: int
    raw_title: str
    body: list[Block]
    gated: bool
    checks: list[Block]
    notebook: Path

    @property
    def title(self) -> str:
        """The title without difficulty stars or the pencil marker."""
        text = self.raw_title
        for mark in (_STAR, _PENCIL, _TEST_TUBE):
            text = text.replace(mark, "")
        text = text.replace("\N{VARIATION SELECTOR-16}", "")
        return " ".join(text.split())

    @property
    def stars(self) -> int:
        return self.raw_title.count(_STAR)

    @property
    def stubs(self) -> list[Block]:
        """The code cells inside the exercise that the learner fills in."""
        return [b for b in self.body
                if b.kind == "code" and _STUB.search(b.source)]

    @property
    def inferred_kind(self) -> str:
        """derivation / coding / experiment, from the structure alone
        (and the title's markers: a pencil for pen and paper, a test
        tube for an experiment)."""
        if _TEST_TUBE in self.raw_title:
            return "experiment"
        if _PENCIL in self.raw_title or not self.gated:
            return "derivation"
        return "coding" if self.checks else "experiment"


@dataclass
class Solution:
    """The worked solution of one exercise, with the cells that follow it
    (numerical confirmations, strict checks) up to the next solution."""

    label: str
    blocks: list[Block]
    notebook: Path


@dataclass
class ParsedNotebook:
    path: Path
    title: str
    items: list  # Block (outside any directive) or Directive
    problems: list[str] = field(default_factory=list)

    @property
    def code(self) -> list[Block]:
        """Every code cell, in order (inside directives or not)."""
        out = []
        for item in self.items:
            if isinstance(item, Directive):
                out += [b for b in item.body if b.kind == "code"]
            elif item.kind == "code":
                out.append(item)
        return sorted(out, key=lambda b: b.cell)


def _closing(text: str, start: int, fence: str) -> re.Match | None:
    pattern = re.compile(
        f"^{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.M)
    return pattern.search(text, start)


def _split_options(inner: str) -> tuple[dict[str, str], str]:
    """Split a directive's content into its options and its body."""
    lines = inner.split("\n")
    options: dict[str, str] = {}
    i = 0
    if lines and lines[0].strip() == "---":          # YAML option block
        end = next((j for j in range(1, len(lines))
                    if lines[j].strip() == "---"), None)
        if end is not None:
            for line in lines[1:end]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            i = end + 1
    while i < len(lines):
        match = re.match(r"^:([\w-]+):[ \t]*(.*)$", lines[i])
        if not match:
            break
        options[match.group(1)] = match.group(2).strip()
        i += 1
    return options, "\n".join(lines[i:]).strip("\n")


def _add(blocks: list, kind: str, text: str, cell: int) -> None:
    if text.strip():
        blocks.append(Block(kind, text.strip("\n"), cell))


def _next_opening(text: str, pos: int, names) -> re.Match | None:
    for match in _OPENING.finditer(text, pos):
        if match.group("name") in names:
            return match
    return None


def parse_notebook(path: Path) -> ParsedNotebook:
    """Split a notebook into directives and the blocks between them."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    items: list = []
    problems: list[str] = []
    title = ""
    gate: Directive | None = None
    starts = {f"{n}-start" for n in _TRACKED} | set(_TRACKED)
    for i, cell in enumerate(nb.cells):
        src = cell.source
        if cell.cell_type != "markdown":
            if gate is not None:
                _add(gate.body, "code", src, i)
            elif cell.cell_type == "code":
                _add(items, "code", src, i)
            continue
        if not title:
            head = re.search(r"^#[ \t]+(.+)$", src, re.M)
            title = head.group(1).strip() if head else ""
        pos = 0
        while True:
            if gate is not None:
                match = _next_opening(src, pos, {f"{gate.name}-end"})
                if match is None:
                    _add(gate.body, "markdown", src[pos:], i)
                    break
                _add(gate.body, "markdown", src[pos:match.start()], i)
                close = _closing(src, match.end(), match.group("fence"))
                pos = close.end() if close else len(src)
                gate = None
                continue
            match = _next_opening(src, pos, starts)
            if match is None:
                _add(items, "markdown", src[pos:], i)
                break
            _add(items, "markdown", src[pos:match.start()], i)
            fence, name = match.group("fence"), match.group("name")
            close = _closing(src, match.end(), fence)
            if close is None:
                problems.append(f"cell {i}: the {name} directive is never "
                                f"closed (missing {fence})")
            inner = src[match.end():close.start() if close else len(src)]
            options, body = _split_options(inner.lstrip("\n"))
            pos = close.end() if close else len(src)
            base = name.removesuffix("-start")
            directive = Directive(base, match.group("arg").strip(), options,
                                  [], i, name.endswith("-start"))
            _add(directive.body, "markdown", body, i)
            items.append(directive)
            if directive.gated:
                gate = directive
    if gate is not None:
        problems.append(f"{gate.name}-start {gate.arg or gate.options} in "
                        f"cell {gate.cell} has no {gate.name}-end")
    return ParsedNotebook(path, title, items, problems)


def _chapter_number(path: Path) -> int | None:
    match = re.match(r"^(\d+)_", path.name)
    return int(match.group(1)) if match else None


def _exercises(parsed: ParsedNotebook) -> list[ChapterExercise]:
    out = []
    chapter = _chapter_number(parsed.path)
    items = parsed.items
    for k, item in enumerate(items):
        if not (isinstance(item, Directive) and item.name == "exercise"):
            continue
        label = item.options.get("label", "")
        if not label:
            parsed.problems.append(
                f"cell {item.cell}: exercise {item.arg!r} has no :label:")
            continue
        checks = []
        for follower in items[k + 1:]:
            if (isinstance(follower, Directive) or follower.kind != "code"
                    or not _CHECK_CALL.search(follower.source)):
                break
            checks.append(follower)
        if not item.gated:
            checks = []
        out.append(ChapterExercise(label, chapter, item.arg, item.body,
                                   item.gated, checks, parsed.path))
    return out


def _strip_trailing_headings(text: str) -> str:
    lines = text.rstrip().split("\n")
    while lines and (not lines[-1].strip() or _HEADING.match(lines[-1])):
        lines.pop()
    return "\n".join(lines)


def _solutions(parsed: ParsedNotebook) -> list[Solution]:
    out: list[Solution] = []
    current: Solution | None = None
    for item in parsed.items:
        if isinstance(item, Directive):
            if item.name != "solution":
                current = None
                continue
            current = Solution(item.arg.split()[0] if item.arg else "",
                               list(item.body), parsed.path)
            out.append(current)
            continue
        if current is None:
            continue
        if item.kind == "markdown":
            heading = _HEADING.match(item.source.lstrip("\n"))
            if heading and len(heading.group(1)) <= 2:
                current = None
                continue
        current.blocks.append(item)
    for sol in out:                       # drop the next solution's heading
        while sol.blocks and sol.blocks[-1].kind == "markdown":
            text = _strip_trailing_headings(sol.blocks[-1].source)
            if text:
                sol.blocks[-1] = Block("markdown", text, sol.blocks[-1].cell)
                break
            sol.blocks.pop()
    return out


def solution_preamble(parsed: ParsedNotebook) -> list[Block]:
    """Code cells of a solutions notebook before its first solution."""
    out = []
    for item in parsed.items:
        if isinstance(item, Directive):
            break
        if item.kind == "code":
            out.append(item)
    return out


@dataclass
class Book:
    """Every chapter exercise and solution found under ``root``."""

    root: Path
    exercises: dict[str, ChapterExercise]
    solutions: dict[str, Solution]
    chapters: dict[int, ParsedNotebook]
    solution_notebooks: dict[int, ParsedNotebook]
    problems: list[str]

    def chapter_title(self, number: int) -> str:
        parsed = self.chapters.get(number)
        return parsed.title if parsed else f"Chapter {number}"


def load_book(root: Path) -> Book:
    """Parse ``chapters/*.ipynb`` and ``solutions/*.ipynb`` under root."""
    root = Path(root)
    exercises: dict[str, ChapterExercise] = {}
    solutions: dict[str, Solution] = {}
    chapters: dict[int, ParsedNotebook] = {}
    sol_nbs: dict[int, ParsedNotebook] = {}
    problems: list[str] = []
    for path in sorted((root / "chapters").glob("*.ipynb")):
        number = _chapter_number(path)
        if number is None:
            continue
        try:
            parsed = parse_notebook(path)
        except Exception as exc:  # a half-written notebook
            problems.append(f"{path.name}: cannot be read ({exc})")
            continue
        chapters[number] = parsed
        for ex in _exercises(parsed):
            if ex.label in exercises:
                problems.append(f"{path.name}: label {ex.label} is used "
                                f"twice")
            exercises[ex.label] = ex
        problems += [f"{path.name}: {p}" for p in parsed.problems]
    for path in sorted((root / "solutions").glob("*.ipynb")):
        number = _chapter_number(path)
        if number is None:
            continue
        try:
            parsed = parse_notebook(path)
        except Exception as exc:
            problems.append(f"{path.name}: cannot be read ({exc})")
            continue
        sol_nbs[number] = parsed
        for sol in _solutions(parsed):
            if sol.label in solutions:
                problems.append(f"{path.name}: two solutions for "
                                f"{sol.label}")
            solutions[sol.label] = sol
        problems += [f"{path.name}: {p}" for p in parsed.problems]
    return Book(root, exercises, solutions, chapters, sol_nbs, problems)
