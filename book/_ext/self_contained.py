"""Keep every page of the book self-contained (no third-party loads).

Jupyter Book switches on a few features that fetch code from public CDNs
when a page is viewed. This book does not use them, so they are removed
here; the browser suite (tests/browser) proves that no page makes a
request to any host but the one serving the site.

* **thebe** (live code on Binder) loads ``thebe`` from unpkg.com. The
  book has no thebe button (``launch_buttons.thebe`` is false): the
  Colab and Binder launch buttons are plain links. Its scripts,
  stylesheet and per-page configuration are dropped.
* **ipywidgets** outputs make myst-nb load require.js and the widget
  manager from cdnjs/jsdelivr. The book's explorable figures need no
  widget library (precomputed frames, diffusion_edu.interactive), so no
  widget JavaScript is loaded and a widget output (e.g. a tqdm progress
  bar) is shown through its plain-text form instead; the widget state
  that nothing would read is not embedded in the page.

Pages are also kept light: the theme loads Font Awesome twice, as a web
font through its stylesheet (which draws every icon of the book) and as a
1.5 MB script that redraws the same icons as SVG. The script is removed
from every page.

The landing page ``index.html`` (a redirect to the book's first page) is
written as a small complete HTML page with a title and a link, so that it
also makes sense to a reader whose browser does not follow the redirect.

The theme's colour mode defaults to light (the theme's own default makes
its script log a console error on a reader's first visit).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
THEBE_LISTENERS = {"init_thebe_core", "update_thebe_context"}
FONTAWESOME_JS = re.compile(
    r'[ \t]*<script (?:defer(?:="defer")? )?src="[^"]*'
    r'_static/scripts/fontawesome\.js[^"]*"></script>\n?')


def _configure(app, config) -> None:
    # The theme's default colour mode is "", which its script rejects with
    # a console error on a reader's first visit; the book is light (its
    # figures have white backgrounds) and the reader can switch.
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context
    config.nb_ipywidgets_js = {}
    overrides = list(config.nb_mime_priority_overrides or ())
    overrides.append(("html", WIDGET_VIEW, None))
    config.nb_mime_priority_overrides = overrides


def _drop_thebe(app) -> None:
    """Disconnect sphinx-thebe's loader and per-page configuration."""
    for event in ("env-before-read-docs", "doctree-resolved"):
        for listener in list(app.events.listeners.get(event, [])):
            handler = listener.handler
            if (getattr(handler, "__module__", "") == "sphinx_thebe"
                    and handler.__name__ in THEBE_LISTENERS):
                app.disconnect(listener.id)


def _unused(asset) -> bool:
    """Thebe's assets, and widget state that no widget manager reads."""
    name = str(getattr(asset, "filename", "") or "")
    attributes = getattr(asset, "attributes", {}) or {}
    body = str(attributes.get("body", "") or "")
    return ("thebe" in name.lower() or "THEBE_JS_URL" in body
            or attributes.get("type") == WIDGET_STATE)


def _filter_assets(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _unused(a)]


REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<meta http-equiv="refresh" content="0; url={url}">
<link rel="canonical" href="{url}">
</head>
<body>
<p><a href="{url}">{title}</a></p>
</body>
</html>
"""


def _finish_site(app, exception) -> None:
    """Write index.html (a titled redirect to the root document) and drop
    the Font Awesome script from every page."""
    if exception is not None or app.builder.name != "html":
        return
    outdir = Path(app.outdir)
    for page in outdir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lean = FONTAWESOME_JS.sub("", text)
        if lean != text:
            page.write_text(lean, encoding="utf-8")
    for name in ("fontawesome.js", "fontawesome.js.map"):
        (outdir / "_static" / "scripts" / name).unlink(missing_ok=True)
    root = app.config.root_doc
    if root == "index":
        return
    url = html.escape(app.builder.get_target_uri(root), quote=True)
    title = html.escape(app.config.html_title or app.config.project or "")
    (outdir / "index.html").write_text(
        REDIRECT.format(title=title, url=url), encoding="utf-8")


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("builder-inited", _drop_thebe)
    # After myst-nb has added the page's own scripts (default priority).
    app.connect("html-page-context", _filter_assets, priority=900)
    # Before sphinx-external-toc, which writes a bare redirect if none
    # exists, and after the pages are written.
    app.connect("build-finished", _finish_site, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
