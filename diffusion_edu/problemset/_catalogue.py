"""The exercise catalogue: metadata of every exercise, in one YAML file.

``book/exercises.yml`` is the one source of truth for what the notebooks
do not say: the kind of each exercise, its difficulty, its points and the
estimated time, plus an optional grading rubric. The statements, stubs,
checks and solutions stay in the notebooks. Every tool (the problem-set
builder, the exercise index of the book, the tests) reads this file
through :func:`load_catalogue`, and :func:`compare_with_book` lists every
disagreement between the file and the notebooks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ._notebooks import Book

__all__ = [
    "KINDS",
    "Catalogue",
    "CatalogueError",
    "Entry",
    "RubricItem",
    "compare_with_book",
    "default_entry",
    "load_catalogue",
    "sync_catalogue",
    "write_catalogue",
]

KINDS = ("derivation", "coding", "experiment")
LABEL = re.compile(r"^ex-(\d{2})-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")
_FIELDS = ("chapter", "kind", "difficulty", "points", "minutes", "rubric")

HEADER = """\
# Exercise catalogue of the book: the one source of truth for exercise
# metadata, read by the problem-set builder (python -m
# diffusion_edu.problemset), by the Exercise index page and by the tests.
#
# One entry per exercise label (ex-NN-slug, as in the notebooks):
#   chapter     the chapter number (the NN of the label)
#   kind        derivation (pen and paper, graded by hand),
#               coding (a stub and an automatic check, autograded) or
#               experiment (run code and report what you see, by hand)
#   difficulty  1, 2 or 3: the number of stars in the exercise title
#   points      default points in a problem set (a spec may override)
#   minutes     estimated time for a student who has read the chapter
#   rubric      optional list of {points, criterion} for hand grading;
#               without it the builder splits the points over the
#               numbered parts of the statement
#
# Statements, stubs, checks and solutions live in the notebooks only.
# `python -m diffusion_edu.problemset catalogue --sync` adds entries for
# new exercises (with defaults to review) and drops removed ones;
# `python -m diffusion_edu.problemset catalogue` lists every disagreement.
"""


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message lists every problem."""


@dataclass(frozen=True)
class RubricItem:
    points: float
    criterion: str


@dataclass(frozen=True)
class Entry:
    """Metadata of one exercise."""

    label: str
    chapter: int
    kind: str
    difficulty: int
    points: float
    minutes: int
    rubric: tuple[RubricItem, ...] = ()


@dataclass
class Catalogue:
    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)

    def __contains__(self, label: str) -> bool:
        return label in self.entries

    def __getitem__(self, label: str) -> Entry:
        return self.entries[label]

    def by_chapter(self) -> dict[int, list[Entry]]:
        out: dict[int, list[Entry]] = {}
        for entry in self.entries.values():
            out.setdefault(entry.chapter, []).append(entry)
        return dict(sorted(out.items()))


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _entry(label: str, raw, problems: list[str]) -> Entry | None:
    where = f"{label}:"
    if not LABEL.match(str(label)):
        problems.append(f"{label!r}: labels look like ex-NN-some-slug")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where} expected a mapping of fields, got "
                        f"{type(raw).__name__}")
        return None
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        problems.append(f"{where} unknown field(s) {', '.join(unknown)} "
                        f"(allowed: {', '.join(_FIELDS)})")
    missing = [k for k in _FIELDS[:5] if k not in raw]
    if missing:
        problems.append(f"{where} missing field(s) {', '.join(missing)}")
        return None
    ok = True
    chapter = raw["chapter"]
    if not isinstance(chapter, int) or chapter != int(label[3:5]):
        problems.append(f"{where} chapter must be {int(label[3:5])} (the "
                        f"number in the label); got {chapter!r}")
        ok = False
    if raw["kind"] not in KINDS:
        problems.append(f"{where} kind must be one of {', '.join(KINDS)}; "
                        f"got {raw['kind']!r}")
        ok = False
    if raw["difficulty"] not in (1, 2, 3) or isinstance(raw["difficulty"],
                                                        bool):
        problems.append(f"{where} difficulty must be 1, 2 or 3; got "
                        f"{raw['difficulty']!r}")
        ok = False
    if not _is_number(raw["points"]) or raw["points"] <= 0:
        problems.append(f"{where} points must be a number > 0; got "
                        f"{raw['points']!r}")
        ok = False
    if (not isinstance(raw["minutes"], int) or isinstance(raw["minutes"],
                                                          bool)
            or raw["minutes"] <= 0):
        problems.append(f"{where} minutes must be a whole number > 0; got "
                        f"{raw['minutes']!r}")
        ok = False
    rubric = []
    for i, item in enumerate(raw.get("rubric") or [], 1):
        if (not isinstance(item, dict) or set(item) != {"points",
                                                        "criterion"}
                or not _is_number(item["points"]) or item["points"] <= 0
                or not str(item["criterion"]).strip()):
            problems.append(f"{where} rubric item {i} must be "
                            "{points: > 0, criterion: text}")
            ok = False
            continue
        rubric.append(RubricItem(item["points"], str(item["criterion"])))
    if ok and rubric and not math.isclose(
            sum(r.points for r in rubric), raw["points"]):
        problems.append(f"{where} the rubric adds up to "
                        f"{sum(r.points for r in rubric):g} points but the "
                        f"exercise has {raw['points']:g}")
        ok = False
    if not ok:
        return None
    return Entry(label, chapter, raw["kind"], raw["difficulty"],
                 raw["points"], raw["minutes"], tuple(rubric))


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate the catalogue; raise CatalogueError if malformed."""
    path = Path(path)
    if not path.exists():
        raise CatalogueError(f"the exercise catalogue {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(
            data.get("exercises"), dict):
        raise CatalogueError(f"{path} must be a mapping with a mapping "
                             "'exercises: {label: {...}}'")
    problems: list[str] = []
    catalogue = Catalogue(path)
    for label, raw in data["exercises"].items():
        entry = _entry(label, raw, problems)
        if entry is not None:
            catalogue.entries[label] = entry
    if problems:
        raise CatalogueError(f"{path} has problems:\n  - "
                             + "\n  - ".join(problems))
    return catalogue


def numbered_parts(statement: str) -> list[str]:
    """The top-level numbered items ``1. ...`` of a statement."""
    parts: list[str] = []
    for line in statement.split("\n"):
        match = re.match(r"^(\d+)\.[ \t]+(.*)$", line)
        if match and int(match.group(1)) == len(parts) + 1:
            parts.append(match.group(2))
        elif parts and line.startswith((" ", "\t")) and line.strip():
            parts[-1] += " " + line.strip()
    return parts


def default_entry(ex) -> Entry:
    """A first guess at the metadata of a new exercise, to be reviewed."""
    difficulty = ex.stars if ex.stars in (1, 2, 3) else 2
    kind = ex.inferred_kind
    points = {1: 4, 2: 6, 3: 10}[difficulty]
    minutes = {"derivation": {1: 20, 2: 30, 3: 45},
               "coding": {1: 15, 2: 25, 3: 40},
               "experiment": {1: 30, 2: 45, 3: 60}}[kind][difficulty]
    text = "\n".join(b.source for b in ex.body if b.kind == "markdown")
    minutes += 5 * max(0, len(numbered_parts(text)) - 2)
    return Entry(ex.label, ex.chapter, kind, difficulty, points, minutes)


def compare_with_book(catalogue: Catalogue, book: Book) -> list[str]:
    """Every disagreement between the catalogue and the notebooks."""
    problems = list(book.problems)
    for label, ex in book.exercises.items():
        if label not in catalogue:
            problems.append(f"{label} ({ex.notebook.name}) is not in the "
                            f"catalogue {catalogue.path.name}")
    for label, entry in catalogue.entries.items():
        ex = book.exercises.get(label)
        if ex is None:
            problems.append(f"{label} is in the catalogue but no chapter "
                            f"notebook has it")
            continue
        if ex.chapter != entry.chapter:
            problems.append(f"{label}: the catalogue says chapter "
                            f"{entry.chapter}, the notebook is "
                            f"{ex.notebook.name}")
        if ex.stars and ex.stars != entry.difficulty:
            problems.append(f"{label}: the title has {ex.stars} star(s) "
                            f"but the catalogue says difficulty "
                            f"{entry.difficulty}")
        if entry.kind == "coding" and not (ex.gated and ex.stubs
                                           and ex.checks):
            problems.append(f"{label}: kind coding needs a gated exercise "
                            "with a stub (raise NotImplementedError) and a "
                            "check cell after exercise-end")
        if entry.kind != "derivation" and ex.inferred_kind == "derivation" \
                and ex.gated:
            problems.append(f"{label}: marked as pen-and-paper in the "
                            f"notebook but {entry.kind} in the catalogue")
        if entry.kind == "derivation" and ex.checks:
            problems.append(f"{label}: has a check cell but the catalogue "
                            "says derivation (use coding or experiment)")
        if label not in book.solutions:
            problems.append(f"{label}: no solution directive in "
                            f"solutions/ refers to it")
    for label, sol in book.solutions.items():
        if label not in book.exercises:
            problems.append(f"{sol.notebook.name}: a solution refers to "
                            f"{label!r}, which no chapter defines")
    return problems


def _number(value: float) -> str:
    return f"{value:g}" if not float(value).is_integer() else str(int(value))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_catalogue(path: Path, entries: list[Entry],
                    titles: dict[int, str]) -> None:
    """Write entries grouped by chapter, one line each (rubrics below)."""
    lines = [HEADER, "version: 1", "exercises:"]
    chapter = None
    for entry in sorted(entries, key=lambda e: e.chapter):
        if entry.chapter != chapter:
            chapter = entry.chapter
            title = titles.get(chapter, "")
            lines.append(f"  # Chapter {chapter}: {title}".rstrip(": "))
        fields = (f"chapter: {entry.chapter}, kind: {entry.kind}, "
                  f"difficulty: {entry.difficulty}, "
                  f"points: {_number(entry.points)}, "
                  f"minutes: {entry.minutes}")
        if not entry.rubric:
            lines.append(f"  {entry.label}: {{{fields}}}")
            continue
        lines.append(f"  {entry.label}:")
        lines += [f"    {part.strip()}" for part in
                  fields.replace(", ", "\n").split("\n")]
        lines.append("    rubric:")
        lines += [f"      - {{points: {_number(r.points)}, criterion: "
                  f"{_quote(r.criterion)}}}" for r in entry.rubric]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def sync_catalogue(path: Path, book: Book) -> tuple[list[str], list[str]]:
    """Add new exercises with default metadata, drop vanished ones.

    Existing entries keep their values. The order follows the notebooks.
    Returns (added labels, removed labels).
    """
    path = Path(path)
    old = load_catalogue(path).entries if path.exists() else {}
    entries, added = [], []
    for label, ex in book.exercises.items():
        if label in old:
            entries.append(old[label])
        else:
            entries.append(default_entry(ex))
            added.append(label)
    removed = [label for label in old if label not in book.exercises]
    titles = {n: book.chapter_title(n) for n in book.chapters}
    write_catalogue(path, entries, titles)
    return added, removed
