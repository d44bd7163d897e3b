"""What the website adds around the pages of the book.

* **Figures drawn inline.** The kernels that execute the notebooks get
  the inline matplotlib backend whatever the environment says: with
  ``MPLBACKEND=Agg`` inherited from a shell or a CI job, ``plt.show()``
  draws nothing and the site would silently lose every figure.
  (page_quality.py also fails the build when a plotting cell has no
  figure.)
* **Stylesheet and script** of the book (``book/_static/book.css`` and
  ``book.js``): wide equations, tables and outputs that scroll with a
  visible cue, dark mode for the explorable figures and check outputs,
  solution dropdowns, search results with typeset math.
* **Hover previews** of equations, figures, theorems and citations
  (sphinx-tippy). The previews are written into each page at build time
  and its two scripts are served from the site (``_static/vendor``), so
  they work offline and make no request to another host.
* **Metadata**: a description of every page (``<meta name=description>``
  and OpenGraph tags) taken from its first paragraph.
* **Header buttons**: launch buttons (Binder, Colab) only on pages whose
  source is a notebook in the repository (a MyST page cannot be opened
  in Colab); a link to the offline copy of the whole book (a zip that
  ``tools/offline_zip.py`` writes and CI publishes at the top of the
  site), to the PDF edition and to the zip of all notebooks (both
  written by ``tools/build_pdf.py``) in the download menu; no
  full-screen button (of no use on a phone).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from docutils import nodes

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "_static"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
OFFLINE_ZIP = "diffusion-models-book-offline.zip"
PDF = "diffusion-models-book.pdf"                   # tools/build_pdf.py
NOTEBOOKS_ZIP = "diffusion-models-book-notebooks.zip"  # tools/build_pdf.py
VENDOR_JS = ("vendor/popper-2.11.8.min.js", "vendor/tippy-6.3.7.min.js")
DESCRIPTION_LENGTH = 200


def _inline_figures() -> None:
    """The kernels started by the build inherit this process's
    environment: give them the inline backend."""
    os.environ["MPLBACKEND"] = INLINE_BACKEND


def _configure(app, config) -> None:
    _inline_figures()
    static = [str(STATIC)]
    config.html_static_path = list(config.html_static_path or []) + [
        s for s in static if s not in (config.html_static_path or [])]
    config.html_css_files = list(config.html_css_files or []) + [
        "book.css"]
    config.html_js_files = list(config.html_js_files or []) + [
        ("book.js", {"defer": "defer"})]
    # sphinx-tippy: previews of the book's own targets only, nothing
    # fetched from the internet at build time or in the browser.
    config.tippy_js = VENDOR_JS
    config.tippy_enable_wikitips = False
    config.tippy_enable_doitips = False
    config.tippy_enable_mathjax = True
    config.tippy_props = {"placement": "auto-start", "maxWidth": 500,
                          "interactive": False, "delay": [250, 0]}
    # Links in the navigation, the headings' own anchors, and links to
    # whole pages get no preview.
    config.tippy_skip_anchor_classes = ("headerlink", "sd-stretched-link",
                                        "nav-link", "toc-h2", "toc-h3")
    config.tippy_anchor_parent_selector = "article.bd-article"
    # What a preview shows: the target's element (an entry of the
    # Bibliography is a div.citation; an equation a div.math).
    config.tippy_tip_selector = (
        "figure, table, img, p, aside, div.admonition, "
        "div.literal-block-wrapper, div.citation, div.math")
    # No empty general index, no index of raw proof labels.
    config.html_use_index = False
    config.html_domain_indices = False


# -- page descriptions ------------------------------------------------------

def _description(doctree) -> str:
    """The first paragraph of the page, in plain text, shortened."""
    if doctree is None:
        return ""
    for para in doctree.findall(nodes.paragraph):
        if para.next_node(nodes.literal_block) is not None:
            continue
        parent = para.parent
        skip = False
        while parent is not None:
            classes = parent.get("classes", []) if isinstance(
                parent, nodes.Element) else []
            if ("cell" in classes or "admonition" in classes
                    or isinstance(parent, (nodes.Admonition, nodes.table,
                                           nodes.list_item))):
                skip = True
                break
            parent = parent.parent
        if skip:
            continue
        text = _plain(para)
        if len(text) < 40:
            continue
        if len(text) > DESCRIPTION_LENGTH:
            cut = text[:DESCRIPTION_LENGTH].rsplit(" ", 1)[0]
            text = cut.rstrip(",;:") + "…"
        return text
    return ""


def _plain(node) -> str:
    """Text of a node, its inline math written in Unicode."""
    from page_quality import tex_to_text

    parts = []
    for child in node.findall(lambda n: isinstance(n, (nodes.Text,
                                                       nodes.math))):
        if isinstance(child, nodes.math):
            parts.append(tex_to_text(child.astext()))
        elif not isinstance(child.parent, nodes.math):
            parts.append(str(child))
    return " ".join("".join(parts).split())


def _metadata(app, pagename, templatename, context, doctree) -> None:
    site = app.config.html_title or app.config.project
    description = _description(doctree) or site
    from page_quality import INLINE_MATH, tex_to_text

    title = re.sub(r"<[^>]+>", "", context.get("title") or site)
    title = html.unescape(INLINE_MATH.sub(
        lambda m: tex_to_text(m.group(1)), title))
    tags = [
        f'<meta name="description" content="{html.escape(description)}">',
        '<meta property="og:type" content="website">',
        f'<meta property="og:title" content="{html.escape(title)}">',
        f'<meta property="og:description" '
        f'content="{html.escape(description)}">',
        f'<meta property="og:site_name" '
        f'content="{html.escape(site)}">',
    ]
    context["metatags"] = context.get("metatags", "") + "\n".join(tags)


# -- header buttons ---------------------------------------------------------

def _header_buttons(app, pagename, templatename, context, doctree) -> None:
    buttons = context.get("header_buttons")
    if buttons is None:
        return
    source = Path(app.env.doc2path(pagename))
    keep = []
    for button in buttons:
        label = button.get("label", "")
        if label == "launch-buttons" and source.suffix != ".ipynb":
            continue  # a MyST page: Colab and Binder cannot run it
        if label == "fullscreen-button":
            continue
        if label == "download-buttons":
            button["buttons"] = list(button.get("buttons", [])) + [{
                "type": "link",
                "url": context["pathto"](OFFLINE_ZIP, 1),
                "text": "whole book (.zip)",
                "tooltip": "Download the whole book to read offline",
                "icon": "fas fa-file-archive",
                "label": "download-offline-zip-button",
            }, {
                "type": "link",
                "url": context["pathto"](PDF, 1),
                "text": "whole book (.pdf)",
                "tooltip": "Download the whole book as a PDF",
                "icon": "fas fa-file-pdf",
                "label": "download-book-pdf-button",
            }, {
                "type": "link",
                "url": context["pathto"](NOTEBOOKS_ZIP, 1),
                "text": "all notebooks (.zip)",
                "tooltip": "Download every chapter and solutions notebook "
                           "with the book's package",
                "icon": "fas fa-file-archive",
                "label": "download-notebooks-zip-button",
            }]
        keep.append(button)
    context["header_buttons"] = keep


VIEWPORT = re.compile(r'[ \t]*<meta name="viewport"[^>]*>\n?')


def _one_viewport(app, exception) -> None:
    """The theme stack writes the viewport tag three times; keep one."""
    if exception is not None or app.builder.name != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        tags = VIEWPORT.findall(text)
        if len(tags) < 2:
            continue
        first = text.index(tags[0]) + len(tags[0])
        text = text[:first] + VIEWPORT.sub("", text[first:])
        page.write_text(text, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _one_viewport)
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _metadata)
    # After sphinx-book-theme has made its buttons (priority 501).
    app.connect("html-page-context", _header_buttons, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
