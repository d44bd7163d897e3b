"""Instructor tooling: the exercise catalogue and the problem-set builder.

Build a problem set from exercises of the book::

    python -m diffusion_edu.problemset build spec.yml --out ps2/

where ``spec.yml`` names a title, a due date text and exercise labels::

    title: "Problem set 2: the forward process"
    due: "Friday 14 March, 17:00"
    exercises:
      - ex-02-forward-chain
      - {label: ex-03-q-sample, points: 8}

The output folder holds a student notebook (no solutions), an answer key
(worked solutions, strict checks, rubrics) and an nbgrader course folder.
``python -m diffusion_edu.problemset --help`` lists the other commands
(checking a spec, the catalogue, the student edition of the book).
Book: the page "For instructors" (book/for_instructors.md).
"""

from ._build import (
    BuildError,
    BuildResult,
    Spec,
    SpecError,
    build_problem_set,
    default_root,
    load_spec,
    parse_spec,
    validate_spec,
)
from ._catalogue import (
    Catalogue,
    CatalogueError,
    Entry,
    compare_with_book,
    load_catalogue,
    sync_catalogue,
)
from ._notebooks import Book, load_book

__all__ = [
    "Book",
    "BuildError",
    "BuildResult",
    "Catalogue",
    "CatalogueError",
    "Entry",
    "Spec",
    "SpecError",
    "build_problem_set",
    "compare_with_book",
    "default_root",
    "load_book",
    "load_catalogue",
    "load_spec",
    "parse_spec",
    "sync_catalogue",
    "validate_spec",
]
