"""Rewrite references so that they work in the book AND in JupyterLab.

Learners run the notebooks in JupyterLab, where jupyterlab-myst renders
each notebook on its own: it cannot follow ``{doc}`` links, resolve a
``{ref}``/``{eq}``/``{numref}`` to a label defined in another file, or
format ``{cite:t}`` citations. This script rewrites those into ordinary
markdown links with their own text, which both JupyterLab and the book
(myst-parser, with ``book/_ext/notebook_links.py``) follow:

=====================================  =====================================
before                                 after
=====================================  =====================================
``{doc}`Chapter 2 <02_forward>```      ``[Chapter 2](02_forward.ipynb)``
``{eq}`eq-x``` (label in ch. 2)        ``[(2.4)](02_forward.ipynb#eq-x)``
``{ref}`sec-y``` (label elsewhere)     ``[“Title” in Chapter 4](...#sec-y)``
``{numref}`fig-z```                    ``[Figure 2.1](#fig-z)``
``{cite:t}`ho2020```                   ``[Ho et al. (2020)](...#cite-ho2020)``
``{cite:p}`ho2020```                   ``([Ho et al., 2020](...))``
``# eq. (eq-x)`` in a code comment     ``# eq. (2.4)``
=====================================  =====================================

Numbers are the ones the book prints: (chapter.k) in the numbered
chapters (the chapter's position in _toc.yml), (k) in solutions and
appendices, where k counts the labelled equations (or the figures) of the
file in order. The script also updates the numbers in the text of
existing equation and figure links when they change, and the book build
checks every printed number against its own numbering.

Usage (idempotent; each file is read, rewritten and saved in one go)::

    python tools/convert_links.py            # rewrite in place
    python tools/convert_links.py --check    # list what would change
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("chapters", "solutions")
PAGES = "book"
BIBLIOGRAPHY = ROOT / "book" / "bibliography.md"

ROLE = re.compile(r"\{(doc|ref|eq|numref|cite:t|cite:p|cite)\}`([^`]+)`")
EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)
TARGET = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$", re.M)
EQ_LABEL = re.compile(r"\$\$\s*\(([A-Za-z0-9_.:-]+)\)\s*$", re.M)
DIRECTIVE = re.compile(
    r"^(?::{3,}|`{3,})\{([a-z:-]+)\}[ \t]*(.*)$((?:\n:[a-z-]+:.*)*)", re.M)
LINK = re.compile(r"(?<![!\\])\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.M)
COMMENT_EQ = re.compile(
    r"(?:\beq(?:uation)?s?\.?\s*)?\(?\b(eq-[A-Za-z0-9_-]*[A-Za-z0-9])\)?")


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def book_files() -> list[Path]:
    files = []
    for folder in NOTEBOOKS:
        files += sorted((ROOT / folder).glob("*.ipynb"))
    files += sorted(p for p in (ROOT / PAGES).glob("*.md"))
    return files


def _markdown_and_code(path: Path):
    """[(kind, text)] of the file's cells ('markdown' / 'code')."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [(c["cell_type"], _source(c), c.get("metadata", {}))
                for c in nb["cells"]]
    return [("markdown", path.read_text(encoding="utf-8"), {})]


def _toc_numbers() -> dict[Path, int]:
    """Chapter numbers as the book prints them: the position of each file
    in the numbered parts of _toc.yml (not the number in its name)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    numbers: dict[Path, int] = {}
    for part in toc.get("parts", []):
        if not part.get("numbered"):
            continue
        for entry in part.get("chapters", []):
            stem = ROOT / entry["file"]
            for suffix in (".ipynb", ".md"):
                if stem.with_name(stem.name + suffix).exists():
                    numbers[stem.with_name(stem.name + suffix)] = \
                        len(numbers) + 1
    return numbers


TOC_NUMBERS = _toc_numbers()


def _chapter_number(path: Path) -> int | None:
    return TOC_NUMBERS.get(path.resolve())


def _plain(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip()


class Index:
    """Labels of every file of the book: what they are and their text."""

    def __init__(self) -> None:
        self.labels: dict[str, tuple[Path, str, str]] = {}
        self.titles: dict[Path, str] = {}
        for path in book_files():
            self._read(path)
        self.citations = _citation_labels()

    def _number(self, path: Path, k: int) -> str:
        chapter = _chapter_number(path)
        return f"{chapter}.{k}" if chapter else str(k)

    def _read(self, path: Path) -> None:
        equations = figures = 0
        for kind, text, meta in _markdown_and_code(path):
            if kind == "code":
                fig = (meta.get("mystnb") or {}).get("figure") or {}
                if fig.get("name"):
                    figures += 1
                    self.labels[fig["name"]] = (
                        path, "figure", self._number(path, figures))
                continue
            if kind != "markdown":
                continue
            if path not in self.titles:
                first = HEADING.search(text)
                if first and len(first.group(1)) == 1:
                    self.titles[path] = _plain(first.group(2))
            events = []
            for m in EQ_LABEL.finditer(text):
                events.append((m.start(), "eq", m.group(1), None))
            for m in TARGET.finditer(text):
                heading = HEADING.match(text, m.end() + 1)
                title = _plain(heading.group(2)) if heading else m.group(1)
                events.append((m.start(), "section", m.group(1), title))
            for m in DIRECTIVE.finditer(text):
                options = m.group(3) or ""
                label = re.search(r"^:label:\s*(\S+)", options, re.M)
                if label:
                    events.append((m.start(), m.group(1), label.group(1),
                                   _plain(m.group(2))))
            for _, what, label, title in sorted(events):
                if what == "eq":
                    equations += 1
                    self.labels[label] = (
                        path, "eq", self._number(path, equations))
                else:
                    self.labels[label] = (path, what, title)

    def where(self, path: Path) -> str:
        """How a link text names a file: 'Chapter 4', 'the solutions to
        Chapter 4', 'the Gaussian toolbox'."""
        chapter = _chapter_number(path)
        if chapter:
            return f"Chapter {chapter}"
        if path.parent.name == "solutions":
            chapter = ROOT / "chapters" / path.name.replace(
                "_solutions", "")
            n = _chapter_number(chapter)
            if n:
                return f"the solutions to Chapter {n}"
        title = self.titles.get(path, path.stem.replace("_", " "))
        if title.startswith("The "):
            return "the " + title[4:]
        return f"“{title}”"


def _citation_labels() -> dict[str, str]:
    """bibtex key -> 'Ho et al., 2020', as the book's Bibliography shows."""
    import codecs

    import latexcodec  # noqa: F401  (registers the "ulatex" codec)
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from bibliography_style import AuthorYearLabels
    from pybtex.database import parse_file
    from pybtex.style.formatting.plain import Style

    data = parse_file(str(ROOT / "book" / "references.bib"))
    entries = Style().sort(data.entries.values())
    labels = AuthorYearLabels().format_labels(entries)
    return {e.key: codecs.decode(label, "ulatex")  # Hyv\"arinen: Hyvärinen
            for e, label in zip(entries, list(labels), strict=True)}


def _rel(target: Path, start: Path) -> str:
    return os.path.relpath(target, start.parent).replace(os.sep, "/")


def _resolve_doc(name: str, start: Path) -> Path | None:
    base = (start.parent / name) if not name.startswith("/") else (
        ROOT / name.lstrip("/"))
    for suffix in (".ipynb", ".md"):
        candidate = base.with_name(base.name + suffix).resolve()
        if candidate.exists():
            return candidate
    return None


def _cite(keys: str, kind: str, index: Index, path: Path) -> str:
    bib = _rel(BIBLIOGRAPHY, path)
    links = []
    for key in [k.strip() for k in keys.split(",") if k.strip()]:
        label = index.citations.get(key)
        if label is None:
            raise SystemExit(f"{path}: unknown citation key {key!r}")
        who, year = label.rsplit(", ", 1)
        anchor = "cite-" + re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
        text = f"{who} ({year})" if kind == "cite:t" else label
        links.append(f"[{text}]({bib}#{anchor})")
    if kind == "cite:t":
        return links[0] if len(links) == 1 else (
            ", ".join(links[:-1]) + " and " + links[-1])
    return "(" + "; ".join(links) + ")"


def convert_markdown(text: str, path: Path, index: Index,
                     local: set[str]) -> str:
    def replace(m: re.Match) -> str:
        role, content = m.group(1), m.group(2)
        explicit = EXPLICIT.match(content)
        text, target = (explicit.group(1), explicit.group(2)) if explicit \
            else (None, content.strip())
        if role.startswith("cite"):
            return _cite(content, role, index, path)
        if role == "doc":
            found = _resolve_doc(target, path)
            if found is None:
                raise SystemExit(f"{path}: no document {target!r}")
            if text is None:
                text = index.titles.get(found, found.stem)
            return f"[{text}]({_rel(found, path)})"
        if target in local and role in ("ref", "eq"):
            return m.group(0)  # resolves within the notebook: keep
        if target not in index.labels:
            raise SystemExit(f"{path}: unknown label {target!r} in "
                             f"{m.group(0)!r}")
        where, kind, info = index.labels[target]
        href = f"#{target}" if where == path else \
            f"{_rel(where, path)}#{target}"
        elsewhere = "" if where == path else f" in {index.where(where)}"
        if role == "eq":
            if elsewhere and not _chapter_number(where):
                return f"[({info}) of {index.where(where)}]({href})"
            return f"[({info})]({href})"
        if role == "numref":
            number = info if kind in ("figure", "eq") else ""
            if text:
                label = text.replace("%s", number).replace("{number}",
                                                           number)
            else:
                label = f"Figure {number}" if kind == "figure" else number
            return f"[{label}]({href})"
        if text is None:
            if kind == "section":
                text = f"“{info}”{elsewhere}"
            elif kind in ("exercise", "exercise-start"):
                title = re.sub(r"^[^\w$(]*", "", info or "").strip()
                text = f"exercise “{title}”{elsewhere}"
            else:
                text = f"{info or target}{elsewhere}"
        return f"[{text}]({href})"

    def renumber(m: re.Match) -> str:
        # [(2.4)](file#eq-x), [Figure 2.1](#fig-y): the number the book
        # prints now (it changes when a chapter or equation is inserted).
        words, href = m.group(1), m.group(2)
        label = href.partition("#")[2]
        where, kind, info = index.labels.get(label, (None,) * 3)
        if kind == "eq":
            pattern = r"\((\d+(?:\.\d+)*)\)"
            new = re.sub(pattern, f"({info})", words, count=1)
        elif kind == "figure":
            pattern = r"(Figure\s+)(\d+(?:\.\d+)*)"
            new = re.sub(pattern, rf"\g<1>{info}", words, count=1)
        else:
            return m.group(0)
        return f"[{new}]({href})"

    def convert(part: str) -> str:
        return LINK.sub(renumber, ROLE.sub(replace, part))

    out, pos = [], 0
    # Leave fenced code blocks alone (they may show the syntax itself).
    for block in re.finditer(r"^(`{3,}|~{3,})(?!\{).*?^\1\s*$", text,
                             re.M | re.S):
        out.append(convert(text[pos:block.start()]))
        out.append(block.group(0))
        pos = block.end()
    out.append(convert(text[pos:]))
    return "".join(out)


def convert_code(text: str, index: Index) -> str:
    def comment(line: str) -> str:
        hash_at = _comment_start(line)
        if hash_at is None:
            return line

        def number(m: re.Match) -> str:
            label = m.group(1)
            if label not in index.labels or \
                    index.labels[label][1] != "eq":
                return m.group(0)
            return f"eq. ({index.labels[label][2]})"
        return line[:hash_at] + COMMENT_EQ.sub(number, line[hash_at:])
    return "\n".join(comment(line) for line in text.split("\n"))


def _comment_start(line: str) -> int | None:
    """Index of the '#' starting a comment, ignoring '#' inside strings."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return i
    return None


def _local_labels(path: Path, index: Index) -> set[str]:
    return {label for label, (where, _, _) in index.labels.items()
            if where == path}


def convert_file(path: Path, index: Index, write: bool) -> int:
    """Rewrite one file in a single read-modify-write; number of changed
    cells (1 for a page)."""
    local = _local_labels(path, index)
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        new = convert_markdown(raw, path, index, local)
        if new != raw and write:
            path.write_text(new, encoding="utf-8")
        return int(new != raw)
    nb = json.loads(raw)
    changed = 0
    for cell in nb["cells"]:
        old = _source(cell)
        if cell["cell_type"] == "markdown":
            new = convert_markdown(old, path, index, local)
        elif cell["cell_type"] == "code":
            new = convert_code(old, index)
        else:
            continue
        if new != old:
            _set_source(cell, new)
            changed += 1
    if changed and write:
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        tmp = path.with_suffix(".ipynb.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only report the files that would change")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    index = Index()
    files = [p.resolve() for p in args.files] or book_files()
    total = 0
    for path in files:
        n = convert_file(path, index, write=not args.check)
        if n:
            print(f"{path.relative_to(ROOT)}: {n} cell(s)")
            total += n
    print(f"{total} cell(s) {'to change' if args.check else 'changed'}")
    return 1 if (args.check and total) else 0


if __name__ == "__main__":
    sys.exit(main())
