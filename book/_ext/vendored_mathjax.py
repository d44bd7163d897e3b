"""Serve MathJax from the book itself instead of a CDN.

MathJax 3 comes from the ``django-static-mathjax`` package on PyPI (a
pinned copy of the official ``es5`` distribution; see requirements.txt).
At the end of the build its files are copied into ``_static/mathjax`` and
Sphinx's ``mathjax_path`` points there, so pages typeset their equations
without contacting any third-party host -- on a network that blocks CDNs
and in an offline copy alike.
"""

from __future__ import annotations

import shutil
from importlib.util import find_spec
from pathlib import Path

MATHJAX_ENTRY = "mathjax/tex-chtml.js"
# The combined TeX + CommonHTML component and what it loads on demand.
PARTS = ["tex-chtml.js", "input", "output", "ui", "a11y", "adaptors"]


def _mathjax_source() -> Path:
    spec = find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the MathJax distribution is missing: install the pinned "
            "requirements with `pip install -r requirements.txt` "
            "(package django-static-mathjax)")
    source = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (source / "tex-chtml.js").exists():
        raise RuntimeError(f"no MathJax es5 distribution found in {source}")
    return source


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    source = _mathjax_source()
    for part in PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def _use_local_mathjax(app, config) -> None:
    _mathjax_source()  # fail early, with a clear message
    config.mathjax_path = MATHJAX_ENTRY


def setup(app):
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
