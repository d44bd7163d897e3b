"""Small guarantees for every page of the rendered book.

* **Alternative text.** Every image produced by a code cell must carry
  alternative text (cell metadata ``mystnb: {image: {alt: ...}}``). A
  figure without it is a build warning, so ``jupyter-book build -W``
  fails and names the notebook and the cell.
* **Math in navigation.** A chapter title may contain mathematics; it is
  shown in the sidebar and the previous/next links of *every* page, so
  MathJax (served from the site, see vendored_mathjax.py) is loaded on
  every page, not only on pages whose body has equations.
* **Plain-text page titles.** The browser's tab, bookmarks and search
  engines show the HTML ``<title>``, which cannot typeset TeX; inline
  math in a page title is written there in Unicode (``\\bar\\alpha_t``
  becomes ``ᾱₜ``) instead of raw TeX.
* **Dropdowns need a title.** sphinx-togglebutton makes an admonition
  with the class ``dropdown`` collapsible through a button in its title;
  an admonition without a title (e.g. ``{prf:proof}`` with
  ``:class: dropdown``) made its script fail and left every later
  dropdown of the page unable to open. Such an admonition gets a title
  naming it ("Proof").
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)


# -- alternative text -------------------------------------------------------

def _check_alt_text(app, doctree, docname) -> None:
    """Warn about images in code-cell outputs without alternative text."""
    for output in doctree.findall(nodes.container):
        if "cell_output" not in output.get("classes", []):
            continue
        for image in output.findall(nodes.image):
            if str(image.get("alt", "")).strip():
                continue
            cell = output.parent
            while cell is not None and "cell_index" not in cell:
                cell = cell.parent
            index = "?" if cell is None else cell["cell_index"]
            logger.warning(
                "figure in the output of cell %s (0-based) has no "
                "alternative text; give the cell the metadata "
                '{"mystnb": {"image": {"alt": "<what the figure shows>"}}}',
                index, location=image, type="page_quality", subtype="alt")


# -- dropdowns without a title ----------------------------------------------

GENERIC_CLASSES = {"admonition", "dropdown", "toggle", "toggle-shown"}


def _title_dropdowns(app, doctree, docname) -> None:
    for node in list(doctree.findall(nodes.Admonition)):
        classes = node.get("classes", [])
        if "dropdown" not in classes:
            continue
        if node.children and isinstance(node.children[0], nodes.title):
            continue
        kind = next((c for c in classes if c not in GENERIC_CLASSES),
                    "details")
        label = kind.replace("-", " ").replace("_", " ").capitalize()
        node.insert(0, nodes.title("", label))
        # sphinx-proof starts the body with "Proof. ": now in the title.
        first = node.children[1] if len(node.children) > 1 else None
        prefix = f"{label}. "
        if isinstance(first, nodes.paragraph) and first.children:
            text = first.children[0]
            if isinstance(text, nodes.Text) and str(text).startswith(
                    prefix):
                first.replace(text, nodes.Text(str(text)[len(prefix):]))


# -- page titles in plain text ----------------------------------------------

GREEK = {
    name: chr(code) for name, code in [
        ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3),
        ("delta", 0x3B4), ("epsilon", 0x3B5), ("varepsilon", 0x3B5),
        ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8),
        ("iota", 0x3B9), ("kappa", 0x3BA), ("lambda", 0x3BB),
        ("mu", 0x3BC), ("nu", 0x3BD), ("xi", 0x3BE), ("pi", 0x3C0),
        ("rho", 0x3C1), ("sigma", 0x3C3), ("tau", 0x3C4),
        ("upsilon", 0x3C5), ("phi", 0x3C6), ("varphi", 0x3C6),
        ("chi", 0x3C7), ("psi", 0x3C8), ("omega", 0x3C9),
        ("Gamma", 0x393), ("Delta", 0x394), ("Theta", 0x398),
        ("Lambda", 0x39B), ("Xi", 0x39E), ("Pi", 0x3A0),
        ("Sigma", 0x3A3), ("Phi", 0x3A6), ("Psi", 0x3A8),
        ("Omega", 0x3A9)]}
SYMBOLS = {"mid": "|", "to": "→", "leftarrow": "←", "rightarrow": "→",
           "approx": "≈", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥",
           "neq": "≠", "sim": "∼", "infty": "∞", "nabla": "∇",
           "partial": "∂", "cdot": "·", "times": "×", "sum": "∑",
           "prod": "∏", "int": "∫", "log": "log", "exp": "exp",
           "ldots": "…", "dots": "…", "top": "ᵀ"}
ACCENTS = {"bar": "\u0304", "overline": "\u0304", "hat": "\u0302",
           "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303",
           "dot": "\u0307", "vec": "\u20d7"}
SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx",
               "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))
SUP = dict(zip("0123456789+-=()inT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᵀ", strict=True))
INLINE_MATH = re.compile(r"\\\((.+?)\\\)")
COMMAND = re.compile(r"\\([A-Za-z]+)")
GROUP = r"(\{[^{}]*\}|\\[A-Za-z]+|[^\s{}\\])"


def _ungroup(text: str) -> str:
    return text[1:-1] if text.startswith("{") else text


def _scripts(text: str, marker: str, table: dict) -> str:
    def replace(match):
        body = _ungroup(match.group(1))
        if all(c in table for c in body):
            return "".join(table[c] for c in body)
        return marker + body
    return re.sub(re.escape(marker) + GROUP, replace, text)


def tex_to_text(tex: str) -> str:
    """A plain-text (Unicode) rendering of simple inline TeX."""
    text = tex.strip()
    # accents first (\bar\alpha, \bar{x}), on the symbol they decorate
    accent = re.compile(r"\\(" + "|".join(ACCENTS) + r")\s*" + GROUP)
    text = accent.sub(
        lambda m: _ungroup(m.group(2)) + ACCENTS[m.group(1)], text)
    text = COMMAND.sub(
        lambda m: GREEK.get(m.group(1), SYMBOLS.get(m.group(1), "")),
        text)
    text = _scripts(text, "_", SUB)
    text = _scripts(text, "^", SUP)
    return re.sub(r"[{}]", "", text).replace("\\", "")


def _plain_title(app, pagename, templatename, context, doctree) -> None:
    title = context.get("title")
    if title and "\\(" in title:
        context["title"] = INLINE_MATH.sub(
            lambda m: tex_to_text(m.group(1)), title)


def setup(app):
    # MathJax on every page: the navigation shows chapter titles' math.
    app.set_html_assets_policy("always")
    app.connect("doctree-resolved", _check_alt_text)
    app.connect("doctree-resolved", _title_dropdowns)
    app.connect("html-page-context", _plain_title)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
