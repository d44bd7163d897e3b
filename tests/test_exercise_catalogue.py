"""The exercise catalogue agrees with the notebooks, and stays loadable.

book/exercises.yml is the one source of truth for exercise metadata. These
tests fail when a chapter has a label the catalogue lacks, when the
catalogue names a label no chapter has, when the metadata contradict the
notebooks (stars, kind), and when an example spec names an exercise that
does not exist (yet).
"""

import json
from pathlib import Path

import pytest
import yaml

from diffusion_edu.problemset import (
    CatalogueError,
    load_book,
    load_catalogue,
    load_spec,
    sync_catalogue,
    validate_spec,
)
from diffusion_edu.problemset._catalogue import KINDS, write_catalogue

ROOT = Path(__file__).resolve().parents[1]
PATH = ROOT / "book" / "exercises.yml"
EXAMPLES = sorted((ROOT / "examples" / "problemsets").glob("*.yml"))


@pytest.fixture(scope="module")
def book():
    return load_book(ROOT)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(PATH)


def test_notebooks_parse_without_problems(book):
    assert not book.problems, "\n".join(book.problems)


def test_every_chapter_exercise_is_in_the_catalogue(book, catalogue):
    missing = [f"{label} ({ex.notebook.name})"
               for label, ex in book.exercises.items()
               if label not in catalogue]
    assert not missing, (
        "exercises missing from book/exercises.yml (run `python -m "
        "diffusion_edu.problemset catalogue --sync`, then review the "
        f"defaults): {missing}")


def test_every_catalogue_label_is_in_a_chapter(book, catalogue):
    orphans = [label for label in catalogue.entries
               if label not in book.exercises]
    assert not orphans, f"no chapter notebook has {orphans}"


def test_catalogue_chapter_matches_the_notebook(book, catalogue):
    for label, entry in catalogue.entries.items():
        if label in book.exercises:
            assert book.exercises[label].chapter == entry.chapter, label


def test_difficulty_matches_the_stars_of_the_title(book, catalogue):
    wrong = [(label, book.exercises[label].stars, e.difficulty)
             for label, e in catalogue.entries.items()
             if label in book.exercises and book.exercises[label].stars
             and book.exercises[label].stars != e.difficulty]
    assert not wrong, f"(label, stars, difficulty): {wrong}"


def test_kind_matches_the_structure_of_the_exercise(book, catalogue):
    for label, entry in catalogue.entries.items():
        ex = book.exercises.get(label)
        if ex is None:
            continue
        assert entry.kind in KINDS
        if entry.kind == "coding":
            assert ex.gated and ex.stubs and ex.checks, (
                f"{label}: coding needs a stub and a check cell")
        if entry.kind == "derivation":
            assert not ex.checks, f"{label}: a derivation with a check"


def test_every_exercise_has_a_worked_solution(book, catalogue):
    missing = [label for label in catalogue.entries
               if label in book.exercises and label not in book.solutions]
    assert not missing, f"no solution directive refers to {missing}"


def test_every_solution_refers_to_an_exercise(book):
    stray = [label for label in book.solutions
             if label not in book.exercises]
    assert not stray, f"solutions of unknown exercises: {stray}"


def test_metadata_are_sensible(catalogue):
    for entry in catalogue.entries.values():
        assert entry.points > 0 and 0 < entry.minutes <= 180
        assert entry.difficulty in (1, 2, 3)
        if entry.rubric:
            assert sum(r.points for r in entry.rubric) == pytest.approx(
                entry.points)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_spec_is_valid_for_the_current_book(path, book, catalogue):
    """A missing chapter (or solution) shows up here, by name."""
    validate_spec(load_spec(path), catalogue, book)


def test_the_writer_keeps_every_field(catalogue, book, tmp_path):
    """`catalogue --sync` rewrites the file: it must not lose anything."""
    titles = {n: book.chapter_title(n) for n in book.chapters}
    tmp = tmp_path / "exercises.yml"
    write_catalogue(tmp, list(catalogue.entries.values()), titles)
    assert load_catalogue(tmp).entries == catalogue.entries


def test_malformed_entries_are_all_reported(tmp_path):
    path = tmp_path / "exercises.yml"
    path.write_text(yaml.safe_dump({"version": 1, "exercises": {
        "ex-01-a": {"chapter": 2, "kind": "coding", "difficulty": 1,
                    "points": 4, "minutes": 10},
        "ex-01-b": {"chapter": 1, "kind": "essay", "difficulty": 4,
                    "points": -1, "minutes": 10},
        "ex-01-c": {"chapter": 1, "kind": "coding", "difficulty": 1,
                    "points": 4},
        "ex-01-d": {"chapter": 1, "kind": "derivation", "difficulty": 1,
                    "points": 4, "minutes": 10,
                    "rubric": [{"points": 1, "criterion": "half"}]},
    }}))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    msg = str(info.value)
    for part in ("ex-01-a: chapter must be 1", "ex-01-b: kind must be one",
                 "ex-01-b: difficulty must be 1, 2 or 3",
                 "ex-01-b: points must be a number > 0",
                 "ex-01-c: missing field(s) minutes",
                 "ex-01-d: the rubric adds up to 1 points"):
        assert part in msg


def test_sync_adds_new_exercises_and_drops_vanished_ones(tmp_path, book,
                                                         catalogue):
    labels = list(catalogue.entries)
    keep = {label: catalogue[label] for label in labels[1:]}
    raw = {"version": 1, "exercises": {
        label: {"chapter": e.chapter, "kind": e.kind,
                "difficulty": e.difficulty, "points": e.points,
                "minutes": e.minutes + 1} for label, e in keep.items()}}
    raw["exercises"]["ex-01-gone"] = {"chapter": 1, "kind": "coding",
                                      "difficulty": 1, "points": 1,
                                      "minutes": 1}
    path = tmp_path / "exercises.yml"
    path.write_text(json.dumps(raw))
    added, removed = sync_catalogue(path, book)
    assert labels[0] in added and removed == ["ex-01-gone"]
    synced = load_catalogue(path)
    assert set(synced.entries) == set(book.exercises)
    for label, entry in keep.items():     # existing values are kept
        if label in book.exercises:
            assert synced[label].minutes == entry.minutes + 1


def _toc_files(node):
    if isinstance(node, dict):
        if "file" in node:
            yield node["file"]
        for value in node.values():
            yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def test_exercise_index_and_instructors_pages_are_in_the_book():
    toc = set(_toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())))
    assert {"book/exercise_index", "book/for_instructors"} <= toc
    index = (ROOT / "book" / "exercise_index.md").read_text()
    assert ":::{exercise-index}" in index
    instructors = (ROOT / "book" / "for_instructors.md").read_text()
    assert ":::{exercise-time-table}" in instructors
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "diffusion_edu.problemset.sphinxext" in (
        config["sphinx"]["extra_extensions"])
