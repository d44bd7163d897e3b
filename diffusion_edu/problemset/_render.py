"""Turn the book's MyST markdown into text that stands on its own.

An exercise copied into a problem set loses the book around it: a
``{eq}`eq-n-step``` role, a ``{ref}`` to a section or a ``{cite:t}``
would show as raw markup (or as an unresolved link) in Jupyter. The
:class:`Renderer` rewrites every role into plain text ("Chapter 1, section
*When convergence fails*", "Ho et al. (2020)") and copies the referenced
equations next to the statement, numbered (E1), (E2), ... within the
problem set, so that a student needs nothing but the notebook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ._notebooks import Book, Directive

__all__ = ["EquationRegistry", "Renderer", "build_renderer"]

_ROLE = re.compile(r"\{(?P<role>[A-Za-z][\w:.-]*)\}`(?P<content>[^`]+)`")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
_LABELLED_MATH = re.compile(
    r"\$\$(?P<body>(?:(?!\$\$).)+?)\$\$[ \t]*\((?P<label>[A-Za-z][\w:.-]*)\)",
    re.S)
_LINK = re.compile(
    r"(?<![!\\])\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]"
    r"\((?P<href>[^()\s]+)\)")
_TARGET_LINE = re.compile(r"^\([A-Za-z][\w:.-]*\)=[ \t]*\n", re.M)
_SECTION = re.compile(
    r"^\((?P<label>[A-Za-z][\w:.-]*)\)=[ \t]*\n#+[ \t]+(?P<title>.+)$",
    re.M)
_LABELLED_DIRECTIVE = re.compile(
    r"^(?::{3,}|`{3,})\{(?P<name>[A-Za-z][\w:.-]*)\}[ \t]*(?P<arg>[^\n]*)"
    r"\n(?:[ \t]*:[\w-]+:[^\n]*\n)*?[ \t]*:label:[ \t]*(?P<label>\S+)",
    re.M)
_PRF_NAMES = {"prf:theorem": "Theorem", "prf:lemma": "Lemma",
              "prf:definition": "Definition", "prf:proposition":
              "Proposition", "prf:corollary": "Corollary",
              "prf:algorithm": "Algorithm", "prf:remark": "Remark",
              "prf:example": "Example", "prf:property": "Property",
              "prf:conjecture": "Conjecture", "prf:axiom": "Axiom",
              "prf:assumption": "Assumption", "prf:observation":
              "Observation", "prf:criterion": "Criterion"}


@dataclass
class Target:
    """Something a role can point at: an equation, a section, a box."""

    kind: str          # "equation", "section", "exercise", "theorem", ...
    text: str          # LaTeX body for equations, a title otherwise
    doc: str           # docname, e.g. "chapters/01_markov_chains"


@dataclass
class EquationRegistry:
    """Gives each equation of the book one tag within a problem set."""

    tags: dict[str, str] = field(default_factory=dict)
    prefix: str = "E"

    def tag(self, label: str) -> str:
        if label not in self.tags:
            self.tags[label] = f"{self.prefix}{len(self.tags) + 1}"
        return self.tags[label]


def _doc_of(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _parse_bib(text: str) -> dict[str, tuple[str, str]]:
    """Map bibtex keys to (short author list, year)."""
    out = {}
    for entry in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}",
                             text, re.S):
        key, body = entry.group(1), entry.group(2)
        author = re.search(r"author\s*=\s*[{\"](.*?)[}\"]\s*,?\s*\n",
                           body, re.S)
        year = re.search(r"year\s*=\s*[{\"]?(\d{4})", body)
        names = []
        if author:
            for person in re.split(r"\s+and\s+", author.group(1)):
                person = person.replace("{", "").replace("}", "").strip()
                last = (person.split(",")[0] if "," in person
                        else person.split()[-1] if person else "")
                names.append(last.strip())
        if len(names) > 2:
            short = f"{names[0]} et al."
        elif len(names) == 2:
            short = f"{names[0]} and {names[1]}"
        else:
            short = names[0] if names else key
        out[key] = (short, year.group(1) if year else "n.d.")
    return out


class Renderer:
    """Rewrites MyST roles of the book into self-contained markdown."""

    def __init__(self, targets: dict[str, Target], docs: dict[str, str],
                 bib: dict[str, tuple[str, str]]):
        self.targets = targets
        self.docs = docs
        self.bib = bib
        self.exercise_numbers: dict[str, int] = {}

    # -- names of things ---------------------------------------------------
    def doc_name(self, doc: str) -> str:
        title = self.docs.get(doc, doc.rsplit("/", 1)[-1])
        match = re.match(r"^chapters/(\d+)_", doc)
        if match:
            return f"Chapter {int(match.group(1))} (*{title}*)"
        match = re.match(r"^solutions/(\d+)_", doc)
        if match:
            return f"the solutions of Chapter {int(match.group(1))}"
        return f"the page *{title}* of the book"

    def _where(self, doc: str) -> str:
        match = re.match(r"^(chapters|solutions)/(\d+)_", doc)
        if match and match.group(1) == "chapters":
            return f"Chapter {int(match.group(2))}"
        if match:
            return f"the solutions of Chapter {int(match.group(2))}"
        return f"the page *{self.docs.get(doc, doc)}*"

    def _ref(self, label: str, text: str | None) -> str:
        if label in self.exercise_numbers:
            return f"Exercise {self.exercise_numbers[label]}"
        target = self.targets.get(label)
        if target is None:
            return text or label
        if target.kind == "exercise":
            return (f"the exercise *{text or target.text}* of "
                    f"{self._where(target.doc)}")
        if target.kind == "section":
            return f"*{text or target.text}* ({self._where(target.doc)})"
        if target.kind == "equation":
            return text or f"an equation of {self._where(target.doc)}"
        name = f"{target.kind} *{target.text}*" if target.text else \
            target.kind
        return f"{text or name} ({self._where(target.doc)})"

    def _cite(self, role: str, keys: str) -> str:
        parts = []
        for key in [k.strip() for k in keys.split(",") if k.strip()]:
            short, year = self.bib.get(key, (key, ""))
            parts.append((short, year))
        if role == "cite:t":
            return "; ".join(f"{a} ({y})" for a, y in parts)
        return "(" + "; ".join(f"{a} {y}".strip() for a, y in parts) + ")"

    # -- rewriting -----------------------------------------------------------
    def render(self, text: str, registry: EquationRegistry,
               used: list[str] | None = None,
               defined: set[str] | None = None) -> str:
        """Rewrite ``text``; append referenced equation labels to ``used``.

        Equations defined in ``text`` itself (``$$ ... $$ (label)``) are
        tagged in place and recorded in ``defined``.
        """
        used = used if used is not None else []
        defined = defined if defined is not None else set()

        def math(match: re.Match) -> str:
            label = match.group("label")
            defined.add(label)
            body = match.group("body").strip("\n")
            return f"$$\n{body}\n\\tag{{{registry.tag(label)}}}\n$$"

        text = _LABELLED_MATH.sub(math, text)
        text = _TARGET_LINE.sub("", text)

        def role(match: re.Match) -> str:
            name, content = match.group("role"), match.group("content")
            explicit = _EXPLICIT.match(content)
            label_text, target = ((explicit.group("text"),
                                   explicit.group("target"))
                                  if explicit else (None, content))
            target = target.strip()
            if name in ("eq", "math:numref"):
                if target in self.targets or target in defined:
                    if target not in defined and target not in used:
                        used.append(target)
                    return f"({registry.tag(target)})"
                return f"equation {target}"
            if name in ("ref", "numref", "prf:ref", "any"):
                return self._ref(target, label_text)
            if name == "doc":
                doc = _normalise_doc(target)
                return label_text or self.doc_name(doc)
            if name in ("cite:p", "cite:t", "cite", "cite:ps", "cite:ts"):
                return self._cite("cite:t" if name.startswith("cite:t")
                                  else "cite:p", content)
            if name in ("math",):
                return f"${content}$"
            if name in ("code", "literal", "samp", "file", "kbd"):
                return f"`{content}`"
            return label_text or content

        def link(match: re.Match) -> str:
            # The notebooks link to other files of the book with markdown
            # links ([Chapter 2](02_forward_process.ipynb), eq. [(2.4)](
            # 02_forward_process.ipynb#eq-x)); those files are not next to
            # a problem set, so keep the text, and tag equations as above.
            words, href = match.group("text"), match.group("href")
            if re.match(r"[A-Za-z][\w+.-]*:", href):
                return match.group(0)  # an external URL still works
            label = href.partition("#")[2]
            if label in self.targets and \
                    self.targets[label].kind == "equation" or \
                    label in defined:
                if label not in defined and label not in used:
                    used.append(label)
                tag = f"({registry.tag(label)})"
                number = re.compile(r"\(\d+(?:\.\d+)*\)")
                return number.sub(tag, words, count=1) \
                    if number.search(words) else f"{words} {tag}"
            return words

        text = _ROLE.sub(role, text)
        return _LINK.sub(link, text)

    def equation_list(self, labels: list[str],
                      registry: EquationRegistry) -> str:
        """Markdown that shows the equations of the book used above."""
        if not labels:
            return ""
        lines = ["*Equations of the book used above:*", ""]
        for label in labels:
            target = self.targets[label]
            lines += ["$$", target.text.strip("\n"),
                      f"\\tag{{{registry.tag(label)}}}", "$$", ""]
        return "\n".join(lines).rstrip()


def _normalise_doc(target: str) -> str:
    parts: list[str] = []
    for piece in target.strip().lstrip("/").split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    doc = "/".join(parts)
    for suffix in (".ipynb", ".md"):
        doc = doc.removesuffix(suffix)
    return doc


def _markdown_sources(book: Book):
    """(docname, markdown text) of every page the roles may point at."""
    root = book.root
    for parsed in [*book.chapters.values(),
                   *book.solution_notebooks.values()]:
        doc = _doc_of(parsed.path, root)
        for item in parsed.items:
            if isinstance(item, Directive):
                yield doc, item
                for block in item.body:
                    if block.kind == "markdown":
                        yield doc, block.source
            elif item.kind == "markdown":
                yield doc, item.source
    for path in sorted((root / "book").glob("*.md")):
        yield _doc_of(path, root), path.read_text(encoding="utf-8")


def build_renderer(book: Book) -> Renderer:
    """Collect equations, sections, boxes and citations of the book."""
    targets: dict[str, Target] = {}
    docs: dict[str, str] = {}
    for parsed in [*book.chapters.values(),
                   *book.solution_notebooks.values()]:
        docs[_doc_of(parsed.path, book.root)] = parsed.title
    for path in sorted((book.root / "book").glob("*.md")):
        head = re.search(r"^#[ \t]+(.+)$",
                         path.read_text(encoding="utf-8"), re.M)
        docs[_doc_of(path, book.root)] = (head.group(1).strip() if head
                                          else path.stem)
    for doc, source in _markdown_sources(book):
        if isinstance(source, Directive):
            label = source.options.get("label")
            if label and source.name == "exercise":
                targets[label] = Target("exercise", _clean(source.arg), doc)
            elif label:
                targets.setdefault(label, Target("box", source.arg, doc))
            continue
        for match in _LABELLED_MATH.finditer(source):
            targets[match.group("label")] = Target(
                "equation", match.group("body"), doc)
        for match in _SECTION.finditer(source):
            targets[match.group("label")] = Target(
                "section", match.group("title").strip(), doc)
        for match in _LABELLED_DIRECTIVE.finditer(source):
            name = match.group("name")
            kind = _PRF_NAMES.get(name, name.split(":")[-1].capitalize())
            targets.setdefault(match.group("label"),
                               Target(kind, match.group("arg").strip(), doc))
    bib_path = book.root / "book" / "references.bib"
    bib = (_parse_bib(bib_path.read_text(encoding="utf-8"))
           if bib_path.exists() else {})
    return Renderer(targets, docs, bib)


def _clean(title: str) -> str:
    for mark in ("\N{BLACK STAR}", "\N{PENCIL}", "\N{TEST TUBE}",
                 "\N{VARIATION SELECTOR-16}"):
        title = title.replace(mark, "")
    return " ".join(title.split())
