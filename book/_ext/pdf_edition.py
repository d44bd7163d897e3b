"""The PDF edition of the book: what the LaTeX builder needs beyond HTML.

``jupyter-book build --builder pdflatex .`` (see ``tools/build_pdf.py``)
writes ``_build/latex/book.tex`` and runs XeLaTeX on it. This extension
edits that file between the two steps:

* **Numbering as in the web edition.** The front matter is unnumbered,
  the chapters are 1, 2, ..., their solutions S1, S2, ..., the
  appendices A, B, ...; each part of the table of contents starts with a
  ``\\part`` page. (Sphinx numbers every ``\\chapter`` in one sequence.)
* **Exercise numbers.** sphinx-exercise labels an exercise for LaTeX
  under another name than the one its references use, so every
  "Exercise \\ref{...}" would print "Exercise ??". The references get the
  number that sphinx-exercise printed in the exercise's title.
* **Figures do not float**: each stays below the code that draws it (a
  float inside the box of an exercise or solution is a LaTeX error).
* **Contents** is the title of the table of contents (Sphinx would use the
  caption of the first part), and the indices of internal labels are left
  out.
* **Symbols outside the text font** (the pen and alembic signs that mark
  kinds of exercises, emoji variation selectors) come from DejaVu Sans.

Nothing changes for the HTML builders.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

PREAMBLE = r"""
% Added by book/_ext/pdf_edition.py
\usepackage{newunicodechar}
\newfontfamily\pdfeditionsymbols{DejaVu Sans}
\newunicodechar{^^^^270f}{{\pdfeditionsymbols ^^^^270f}}
\newunicodechar{^^^^2697}{{\pdfeditionsymbols ^^^^2697}}
\newunicodechar{^^^^2605}{{\pdfeditionsymbols ^^^^2605}}
\newunicodechar{^^^^fe0f}{}
"""

LABEL = r"\label{{\detokenize{{{doc}::doc}}}}"


def _parts(app: Sphinx) -> list[tuple[str, list[str]]]:
    """(caption, docnames) of each part of the table of contents."""
    site_map = getattr(app.env, "external_site_map", None)
    if site_map is None:
        return []
    parts = []
    for subtree in site_map[site_map.root.docname].subtrees:
        docs = [item for item in subtree.items if isinstance(item, str)]
        parts.append((subtree.caption or "", docs))
    return parts


def _chapter_start(tex: str, doc: str) -> int | None:
    """Where the ``\\chapter`` of a document starts in the .tex file."""
    at = tex.find(LABEL.format(doc=doc))
    if at < 0:
        return None
    start = tex.rfind("\\chapter{", 0, at)
    return start if start >= 0 else None


def number_parts(tex: str, parts: list[tuple[str, list[str]]]) -> str:
    """Front matter unnumbered; chapters 1..; solutions S1..; appendices
    A..; a ``\\part`` page before each part after the first."""
    inserts: list[tuple[int, str]] = []
    front = True
    for caption, docs in parts:
        if not docs:
            continue
        first = _chapter_start(tex, docs[0])
        if first is None:
            continue
        name = caption.lower()
        if front:  # unnumbered: see the start of the document
            front = False
            continue
        if name.startswith("solution"):
            code = (f"\\part{{{caption}}}\n\\setcounter{{chapter}}{{0}}\n"
                    "\\renewcommand{\\thechapter}{S\\arabic{chapter}}\n")
        elif name.startswith("appendi"):
            code = f"\\part{{{caption}}}\n\\appendix\n"
        else:
            code = (f"\\part{{{caption}}}\n\\setcounter{{secnumdepth}}{{2}}"
                    "\n\\setcounter{chapter}{0}\n")
        inserts.append((first, code))
        if name.startswith("appendi"):
            # the bibliography closes the book without a letter
            for doc in docs:
                if doc.endswith("bibliography"):
                    at = _chapter_start(tex, doc)
                    if at is not None:
                        inserts.append(
                            (at, "\\setcounter{secnumdepth}{-1}\n"))
    begin = tex.find("\\begin{document}")
    if begin >= 0:  # the introduction and the first part: unnumbered
        inserts.append((begin + len("\\begin{document}"),
                        "\n\\setcounter{secnumdepth}{-1}"))
    for at, code in sorted(inserts, reverse=True):
        tex = tex[:at] + code + tex[at:]
    return tex


EXERCISE = re.compile(
    r"\\label\{exercise:(?P<label>[^}]+)\}\s*"
    r"\\begin\{sphinxadmonition\}\{note\}\{Exercise (?P<num>[0-9A-Z.]+)")
DOC_LABEL = re.compile(r"\\label\{\\detokenize\{(?P<doc>[^}:]+)::doc\}\}")


def _tex_label(label: str) -> str:
    return label.replace("-", "\\sphinxhyphen{}")


def fix_exercise_refs(tex: str) -> tuple[str, int]:
    """Give references to exercises their printed number."""
    docs = [(m.start(), m.group("doc")) for m in DOC_LABEL.finditer(tex)]
    numbers: dict[str, str] = {}
    anchors: list[tuple[int, str]] = []
    for m in EXERCISE.finditer(tex):
        label, num = m.group("label"), m.group("num").rstrip(".")
        doc = next((d for at, d in reversed(docs) if at < m.start()),
                   None)
        if doc is None:
            continue
        numbers[f"{doc}:{label}"] = num
        end = m.start() + len(f"\\label{{exercise:{label}}}")
        anchors.append((end, f"\\label{{\\detokenize{{{doc}:{label}}}}}"))
    for at, code in sorted(anchors, reverse=True):
        tex = tex[:at] + code + tex[at:]
    count = 0
    for key, num in numbers.items():
        ref = f"\\ref{{\\detokenize{{{key}}}}}"
        count += tex.count(ref)
        tex = tex.replace(ref, num)
        label = key.split(":", 1)[1]
        raw = ("\\hyperref[\\detokenize{" + key + "}]{\\sphinxcrossref"
               "{\\DUrole{std,std-ref}{" + _tex_label(label) + "}}}")
        count += tex.count(raw)
        tex = tex.replace(
            raw, "\\hyperref[\\detokenize{" + key + "}]{\\sphinxcrossref"
            "{Exercise " + num + "}}")
    return tex, count


def _config_inited(app: Sphinx, config) -> None:
    elements = dict(config.latex_elements or {})
    elements["preamble"] = elements.get("preamble", "") + PREAMBLE
    # Sphinx names the table of contents after the first part's caption
    elements["tableofcontents"] = ("\\renewcommand{\\contentsname}"
                                   "{Contents}\n\\sphinxtableofcontents")
    # the indices would list internal labels, not words a reader looks up
    elements["printindex"] = ""
    # figures stay where the code that draws them is; a float would also
    # be illegal inside the boxes of exercises and solutions
    elements["figure_align"] = "H"
    config.latex_elements = elements
    config.latex_domain_indices = False


def _build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.name != "latex":
        return
    for path in Path(app.outdir).glob("*.tex"):
        tex = path.read_text(encoding="utf-8")
        if "\\begin{document}" not in tex:
            continue
        tex = number_parts(tex, _parts(app))
        tex, count = fix_exercise_refs(tex)
        path.write_text(tex, encoding="utf-8")
        logger.info(f"pdf_edition: {path.name}: parts numbered, "
                    f"{count} exercise references resolved")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
