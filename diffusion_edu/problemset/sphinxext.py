"""Sphinx extension: the exercise index, time estimates, two editions.

Directives
    ``exercise-index``: every exercise of the catalogue by chapter, with
    its metadata and links to the exercise (and, in the full edition, to
    its solutions).
    ``exercise-time-table``: per chapter, estimated reading time and
    exercise time, for the instructors' page.

Config value ``diffusion_edu_edition`` ("full" or "student"). In the
student edition the solutions pages are not built; references from the
chapters to them become plain text instead of warnings.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from ._catalogue import CatalogueError, load_catalogue
from ._notebooks import load_book

SOLUTIONS_PREFIX = "solutions/"

logger = logging.getLogger(__name__)
_INLINE = re.compile(r"(\$[^$]+\$|`[^`]+`)")
_STAR = "\N{BLACK STAR}"
# Reading speed assumed for the time estimates: mathematical prose.
WORDS_PER_MINUTE = 100


def _rich(text: str) -> list[nodes.Node]:
    """Text with $math$ and `code` turned into the matching nodes."""
    out: list[nodes.Node] = []
    for piece in _INLINE.split(text):
        if not piece:
            continue
        if piece.startswith("$") and piece.endswith("$") and len(piece) > 1:
            out.append(nodes.math(piece[1:-1], piece[1:-1]))
        elif piece.startswith("`") and piece.endswith("`"):
            out.append(nodes.literal(piece[1:-1], piece[1:-1]))
        else:
            out.append(nodes.Text(piece))
    return out


def _xref(kind: str, target: str, content: nodes.Node | None,
          refdoc: str) -> pending_xref:
    node = pending_xref("", refdomain="std", reftype=kind,
                        reftarget=target, refexplicit=content is not None,
                        refwarn=True, refdoc=refdoc)
    node += content if content is not None else nodes.inline(target,
                                                              target)
    return node


def _table(header: list[str], rows: list[list[list[nodes.Node]]],
           widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["exercise-index"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for title in header:
        entry = nodes.entry()
        entry += nodes.paragraph(title, title)
        row += entry
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for content in cells:
            entry = nodes.entry()
            # a tuple of lists: one paragraph each
            for part in content if isinstance(content, tuple) else (content,):
                para = nodes.paragraph()
                para.extend(part)
                entry += para
            row += entry
        body += row
    return table


def _hours(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"


class _CatalogueDirective(SphinxDirective):
    has_content = False

    def _load(self):
        root = Path(self.env.srcdir)
        path = root / "book" / "exercises.yml"
        self.env.note_dependency(str(path))
        book = load_book(root)
        for parsed in [*book.chapters.values(),
                       *book.solution_notebooks.values()]:
            self.env.note_dependency(str(parsed.path))
        try:
            catalogue = load_catalogue(path)
        except CatalogueError as exc:
            logger.warning(str(exc), location=self.get_location())
            return None, book
        return catalogue, book

    def _chapter_doc(self, book, chapter: int) -> str:
        parsed = book.chapters[chapter]
        return "/" + parsed.path.relative_to(book.root).with_suffix(
            "").as_posix()

    def _chapter_link(self, book, chapter: int) -> list[nodes.Node]:
        """Chapter N (linked when its page is built), then its title."""
        doc = self._chapter_doc(book, chapter)
        name = nodes.strong(f"Chapter {chapter}", f"Chapter {chapter}")
        return [self._doc_link(doc, name), nodes.Text(": "),
                *_rich(book.chapter_title(chapter))]

    def _built(self, doc: str) -> bool:
        """Whether a page is part of this build (it is in the TOC)."""
        return doc.lstrip("/") in self.env.found_docs

    def _doc_link(self, doc: str, content=None) -> nodes.Node:
        if self._built(doc):
            return _xref("doc", doc, content, self.env.docname)
        return content if content is not None else nodes.Text(doc)


class ExerciseIndex(_CatalogueDirective):
    """Every exercise by chapter, with its metadata and links."""

    def run(self):
        catalogue, book = self._load()
        if catalogue is None:
            return []
        student = self.config.diffusion_edu_edition == "student"
        out: list[nodes.Node] = []
        entries = {label: e for label, e in catalogue.entries.items()
                   if e.chapter in book.chapters}
        total_min = sum(e.minutes for e in entries.values())
        kinds = {}
        for e in entries.values():
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(
            kinds.items()))
        out.append(nodes.paragraph(
            "", f"{len(entries)} exercises ({summary}), "
                f"{sum(e.points for e in entries.values()):g} points, "
                f"about {_hours(total_min)} of work in total."))
        unlisted = [label for label in book.exercises
                    if label not in entries]
        for chapter, chapter_entries in catalogue.by_chapter().items():
            if chapter not in book.chapters:
                continue
            doc = self._chapter_doc(book, chapter)
            linked = self._built(doc)
            para = nodes.paragraph(classes=["exercise-index-chapter"])
            para += self._chapter_link(book, chapter)
            minutes = sum(e.minutes for e in chapter_entries)
            points = sum(e.points for e in chapter_entries)
            para += nodes.Text(f" ({len(chapter_entries)} exercises, "
                               f"{points:g} points, about "
                               f"{_hours(minutes)})")
            out.append(para)
            rows = []
            for e in chapter_entries:
                ex = book.exercises.get(e.label)
                title = ex.title if ex else "(missing from the chapter)"
                link = (_xref("ref", e.label,
                              nodes.literal(e.label, e.label),
                              self.env.docname)
                        if ex and linked else nodes.literal(e.label, e.label))
                cells = [(_rich(title), [link]), [nodes.Text(e.kind)],
                         [nodes.Text(_STAR * e.difficulty)],
                         [nodes.Text(f"{e.points:g}")],
                         [nodes.Text(f"{e.minutes}")]]
                if not student:
                    sol = book.solutions.get(e.label)
                    doc = "/" + sol.notebook.relative_to(
                        book.root).with_suffix("").as_posix() if sol else ""
                    if sol is not None and self._built(doc):
                        cells.append([_xref("doc", doc,
                                            nodes.inline("solution",
                                                         "solution"),
                                            self.env.docname)])
                    else:
                        cells.append([nodes.Text("–")])
                rows.append(cells)
            header = ["Exercise and label", "Kind", "Difficulty",
                      "Points", "Minutes"]
            widths = [50, 12, 10, 8, 8]
            if not student:
                header.append("Solution")
                widths.append(8)
            out.append(_table(header, rows, widths))
        if unlisted:
            out.append(nodes.paragraph(
                "", "Not yet in the catalogue: " + ", ".join(unlisted)
                + "."))
        return out


def _reading_minutes(parsed) -> int:
    words = 0
    for item in parsed.items:
        blocks = item.body if hasattr(item, "body") else [item]
        for block in blocks:
            if block.kind == "markdown":
                words += len(re.findall(r"[A-Za-z]{2,}", block.source))
    return max(5, int(round(words / WORDS_PER_MINUTE / 5.0)) * 5)


class ExerciseTimeTable(_CatalogueDirective):
    """Per chapter: reading time, exercises and exercise time."""

    def run(self):
        catalogue, book = self._load()
        if catalogue is None:
            return []
        by_chapter = catalogue.by_chapter()
        rows = []
        totals = [0, 0, 0, 0.0]
        for chapter, parsed in sorted(book.chapters.items()):
            entries = by_chapter.get(chapter, [])
            reading = _reading_minutes(parsed)
            minutes = sum(e.minutes for e in entries)
            points = sum(e.points for e in entries)
            counts = {k: sum(e.kind == k for e in entries)
                      for k in ("derivation", "coding", "experiment")}
            what = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            rows.append([self._chapter_link(book, chapter),
                         [nodes.Text(_hours(reading))],
                         [nodes.Text(f"{len(entries)} ({what})")],
                         [nodes.Text(_hours(minutes))],
                         [nodes.Text(f"{points:g}")]])
            totals[0] += reading
            totals[1] += len(entries)
            totals[2] += minutes
            totals[3] += points
        rows.append([[nodes.strong("", "Total")],
                     [nodes.Text(_hours(totals[0]))],
                     [nodes.Text(str(totals[1]))],
                     [nodes.Text(_hours(totals[2]))],
                     [nodes.Text(f"{totals[3]:g}")]])
        return [_table(["Chapter", "Reading", "Exercises",
                        "Exercise time", "Points"], rows,
                       [40, 10, 26, 12, 8])]


_SOLUTION_LABEL = re.compile(
    r"^[ \t]*:label:[ \t]*(\S+)|^\(([\w:.-]+)\)=|\$\$[ \t]*\(([\w:.-]+)\)",
    re.M)


def _solution_labels(app) -> set[str]:
    cached = getattr(app, "_diffusion_edu_solution_labels", None)
    if cached is not None:
        return cached
    labels: set[str] = set()
    for path in sorted(Path(app.srcdir).glob("solutions/*.ipynb")):
        text = path.read_text(encoding="utf-8").replace("\\n", "\n")
        for match in _SOLUTION_LABEL.finditer(text):
            labels.add(next(g for g in match.groups() if g))
    app._diffusion_edu_solution_labels = labels
    return labels


def _missing_reference(app, env, node, contnode):
    """In the student edition, links to solutions become plain text."""
    if app.config.diffusion_edu_edition != "student":
        return None
    target = node.get("reftarget", "")
    if node.get("reftype") == "doc":
        base = posixpath.dirname(node.get("refdoc", ""))
        doc = (target.lstrip("/") if target.startswith("/")
               else posixpath.normpath(posixpath.join(base, target)))
        if doc.startswith("solutions/"):
            text = ("the worked solutions (not included in this edition)"
                    if not node.get("refexplicit") else contnode.astext())
            return nodes.inline(text, text)
        return None
    if target in _solution_labels(app):
        return nodes.inline(contnode.astext(), contnode.astext())
    return None


class StudentSolutionLinks(SphinxPostTransform):
    """In the student edition, markdown links to a solutions notebook
    (``[text](../solutions/x_solutions.ipynb)``, which myst-parser turns
    into references to a document that this edition does not build)
    become plain text, before myst-parser's resolver would warn."""

    default_priority = 7  # myst-parser resolves these at 9

    def run(self, **kwargs) -> None:
        if self.config.diffusion_edu_edition != "student":
            return
        for node in list(self.document.findall(pending_xref)):
            if node.get("reftype") != "myst" or \
                    node.get("refdomain") != "doc":
                continue
            if not str(node.get("reftarget", "")).startswith(
                    SOLUTIONS_PREFIX):
                continue
            text = f"{node.astext()} (not included in this edition)"
            node.replace_self(nodes.inline(text, text))


def setup(app):
    app.add_config_value("diffusion_edu_edition", "full", "env",
                         types=[str])
    app.add_post_transform(StudentSolutionLinks)
    app.add_directive("exercise-index", ExerciseIndex)
    app.add_directive("exercise-time-table", ExerciseTimeTable)
    app.connect("missing-reference", _missing_reference)
    return {"version": "1.0", "parallel_read_safe": True,
            "parallel_write_safe": True}
