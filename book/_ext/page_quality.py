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
* **Every plotting cell shows its figure.** A code cell that calls
  ``plt.show()`` must have an image among its outputs; one without is a
  build warning (e.g. a kernel that inherited ``MPLBACKEND=Agg`` draws
  nothing, and the site would silently lose its figures).
* **Math in link text.** A reference to a section whose title contains
  mathematics (``{ref}`sec-label```) gets the title as link text; Sphinx
  writes it as raw TeX (``\\tilde\\beta_t``). The link text is rebuilt
  from the title itself, so MathJax typesets it.
* **Equation numbers per page in unnumbered parts.** Sphinx numbers the
  equations and figures of all unnumbered documents (solutions,
  appendices) with one running counter, so an appendix started at (7).
  Each such page now counts from (1).
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)


# -- alternative text -------------------------------------------------------

def _check_alt_text(app, doctree, docname) -> None:
    """Warn about images in code-cell outputs without alternative text."""
    if app.builder.format != "html":  # an HTML attribute: not in the PDF
        return
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


# -- every plotting cell has a figure -------------------------------------

PLOTTING = re.compile(r"\bplt\.show\(")


def _check_figures(app, doctree, docname) -> None:
    """Warn about a plotting cell whose outputs hold no image."""
    for cell in doctree.findall(nodes.container):
        if "cell" not in cell.get("classes", []):
            continue
        source = "".join(
            block.astext() for part in cell.children
            if "cell_input" in part.get("classes", [])
            for block in part.findall(nodes.literal_block))
        if not PLOTTING.search(source):
            continue
        images = [image for part in cell.children
                  if "cell_output" in part.get("classes", [])
                  for image in part.findall(nodes.image)]
        if not images:
            logger.warning(
                "the plotting cell %s (0-based) has no figure in its "
                "output: was the notebook executed with MPLBACKEND=Agg?",
                cell.get("cell_index", "?"), location=cell,
                type="page_quality", subtype="figure")


# -- math in the link text of references to sections ------------------------

def _env_titles(env) -> dict:
    if not hasattr(env, "book_math_titles"):
        env.book_math_titles = {}
    return env.book_math_titles


def _collect_math_titles(app, doctree) -> None:
    """Remember the section titles that contain math, by their text."""
    titles = _env_titles(app.env)
    docname = app.env.docname
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None or title.next_node(nodes.math) is None:
            continue
        children = [child.deepcopy() for child in title.children]
        titles[title.astext()] = (docname, children)


def _purge_titles(app, env, docname) -> None:
    titles = _env_titles(env)
    for key in [k for k, (doc, _) in titles.items() if doc == docname]:
        del titles[key]


def _merge_titles(app, env, docnames, other) -> None:
    _env_titles(env).update(_env_titles(other))


def _typeset_link_text(app, doctree, docname) -> None:
    titles = _env_titles(app.env)
    if not titles:
        return
    for ref in list(doctree.findall(nodes.reference)):
        if ref.next_node(nodes.math) is not None:
            continue
        found = titles.get(ref.astext())
        if found is None:
            continue
        inner = ref.next_node(nodes.inline) or ref
        inner.children = []
        for child in found[1]:
            inner.append(child.deepcopy())


# -- equation and figure numbers per page in unnumbered documents ------------

def _number_per_page(app, env) -> list[str]:
    changed = []
    for docname, figtypes in env.toc_fignumbers.items():
        if env.toc_secnumbers.get(docname):
            continue  # a numbered chapter: numbers such as (4.2)
        for numbers in figtypes.values():
            order = sorted(numbers, key=lambda k: numbers[k])
            for i, key in enumerate(order, start=1):
                if numbers[key] != (i,):
                    numbers[key] = (i,)
                    changed.append(docname)
    return sorted(set(changed))


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
    # The title printed at the top of a printed page (sphinx-book-theme's
    # "pagetitle" is the raw text of the title, TeX included), with the
    # chapter number.
    node = app.env.titles.get(pagename)
    if node is not None:
        text = "".join(
            tex_to_text(n.astext()) if isinstance(n, nodes.math)
            else n.astext() for n in node.children)
        number = app.env.toc_secnumbers.get(pagename, {}).get("")
        if number:
            text = ".".join(map(str, number)) + ". " + text
        context["pagetitle"] = text


# -- solution dropdowns ------------------------------------------------------

SOLUTION_PREFIX = "Solution to"
STARS = re.compile(r"^\s*(Exercise [\d.]+)\s*\((.*)\)\s*$", re.S)


def _solution_titles(app, doctree, docname) -> None:
    """A solution's dropdown title opens the dropdown: it is plain text
    ("Solution to Exercise 4.1 (★★)", without the exercise's title, which
    the heading above already shows), and the link back to the statement
    of the exercise moves into the body."""
    for node in list(doctree.findall(nodes.Element)):
        classes = node.get("classes", [])
        if "solution" not in classes or not node.children:
            continue
        title = node.children[0]
        if not title.astext().startswith(SOLUTION_PREFIX):
            continue
        ref = title.next_node(nodes.reference)
        if ref is None:
            continue
        label = ref.astext().strip()
        match = STARS.match(label)
        short = label
        if match:
            marks = re.match(r"[^\w]*", match.group(2)).group(0).strip()
            short = match.group(1) + (f" ({marks})" if marks else "")
        title.children = []
        title.append(nodes.Text(f"{SOLUTION_PREFIX} {short}"))
        back = ref.deepcopy()
        back.children = [nodes.Text(
            f"\u21a9 the statement of {match.group(1) if match else label}")]
        para = nodes.paragraph("", "", back,
                               classes=["solution-statement-link"])
        body = node.children[1] if len(node.children) > 1 else None
        if isinstance(body, nodes.section) and body.children:
            body.insert(0, para)
        else:
            node.insert(1, para)


def setup(app):
    # MathJax on every page: the navigation shows chapter titles' math.
    app.set_html_assets_policy("always")
    app.connect("doctree-resolved", _check_alt_text)
    app.connect("doctree-resolved", _check_figures)
    app.connect("doctree-read", _collect_math_titles)
    app.connect("env-purge-doc", _purge_titles)
    app.connect("env-merge-info", _merge_titles)
    app.connect("doctree-resolved", _typeset_link_text)
    # After Sphinx has numbered figures and equations (toctree collector).
    app.connect("env-get-updated", _number_per_page, priority=900)
    app.connect("doctree-resolved", _title_dropdowns)
    # After sphinx-book-theme has set "pagetitle" (default priority).
    app.connect("html-page-context", _plain_title, priority=600)
    app.connect("doctree-resolved", _solution_titles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
