"""Command line: ``python -m diffusion_edu.problemset COMMAND ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _build, _catalogue, _editions
from ._notebooks import load_book


def _catalogue_path(root: Path) -> Path:
    return root / "book" / "exercises.yml"


def cmd_build(args) -> int:
    result = _build.build_problem_set(args.spec, args.out, args.root)
    print(result.summary())
    return 0


def cmd_check(args) -> int:
    catalogue = _catalogue.load_catalogue(_catalogue_path(args.root))
    book = load_book(args.root)
    failed = 0
    for spec_path in args.specs:
        try:
            spec = _build.load_spec(spec_path, catalogue, book)
        except _build.SpecError as exc:
            print(exc, file=sys.stderr)
            failed += 1
        else:
            points = sum(
                i.points if i.points is not None
                else catalogue[i.label].points for i in spec.items)
            print(f"{spec_path}: ok ({len(spec.items)} exercises, "
                  f"{points:g} points)")
    return 1 if failed else 0


def cmd_list(args) -> int:
    catalogue = _catalogue.load_catalogue(_catalogue_path(args.root))
    book = load_book(args.root)
    for chapter, entries in catalogue.by_chapter().items():
        if args.chapter is not None and chapter != args.chapter:
            continue
        print(f"Chapter {chapter}: {book.chapter_title(chapter)}")
        for e in entries:
            ex = book.exercises.get(e.label)
            title = ex.title if ex else "(not in the notebooks)"
            print(f"  {e.label:34} {e.kind:10} {'*' * e.difficulty:3} "
                  f"{e.points:>4g} pt {e.minutes:>3} min  {title}")
    return 0


def cmd_catalogue(args) -> int:
    path = _catalogue_path(args.root)
    book = load_book(args.root)
    if args.sync:
        added, removed = _catalogue.sync_catalogue(path, book)
        print(f"{path}: added {len(added)}, removed {len(removed)}")
        for label in added:
            print(f"  + {label} (defaults: review kind, points, minutes)")
        for label in removed:
            print(f"  - {label}")
    problems = _catalogue.compare_with_book(
        _catalogue.load_catalogue(path), book)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    if not problems:
        print(f"{path}: {len(book.exercises)} exercises, in agreement "
              "with the notebooks")
    return 1 if problems else 0


def cmd_student_edition(args) -> int:
    return _editions.build_student_edition(
        args.root, Path(args.out) if args.out else None,
        dry_run=args.dry_run)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diffusion_edu.problemset",
        description="Problem sets, exercise catalogue and student edition "
                    "of the book.")
    parser.add_argument("--root", type=Path, default=_build.default_root(),
                        help="the book's folder (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build a problem set from a spec")
    p.add_argument("spec", type=Path, help="the spec (YAML)")
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (replaced if built before)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("check", help="validate specs against the catalogue")
    p.add_argument("specs", type=Path, nargs="+")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("list", help="list the exercises of the catalogue")
    p.add_argument("--chapter", type=int)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("catalogue", help="compare the catalogue with the "
                       "notebooks (--sync: add new exercises)")
    p.add_argument("--sync", action="store_true")
    p.set_defaults(func=cmd_catalogue)

    p = sub.add_parser("student-edition", help="build the book without "
                       "its solutions into _build/student")
    p.add_argument("--out", help="output folder (default _build/student)")
    p.add_argument("--dry-run", action="store_true",
                   help="write the TOC and config, print the command")
    p.set_defaults(func=cmd_student_edition)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (_build.SpecError, _build.BuildError,
            _catalogue.CatalogueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
