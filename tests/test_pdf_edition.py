"""The PDF edition and the zip of notebooks (tools/build_pdf.py).

The unit tests of the LaTeX post-processing always run. The tests of the
built PDF need it in ``_build/html`` (``python tools/build_pdf.py`` after
the book build); they are skipped when it is absent, unless
``DIFFUSION_EDU_REQUIRE_PDF=1`` (set by ``.ci/run``) makes its absence a
failure. They read the PDF with poppler's pdftotext, pdfinfo, pdfimages
and pdftoppm, and leave a rendered page in ``test-artifacts/pdf/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts" / "pdf"
sys.path.insert(0, str(ROOT / "tools"))
import build_pdf  # noqa: E402

PDF = SITE / build_pdf.PDF_NAME
ZIP = SITE / build_pdf.NOTEBOOKS_ZIP


def _load_extension():
    spec = importlib.util.spec_from_file_location(
        "pdf_edition", ROOT / "book" / "_ext" / "pdf_edition.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pdf_edition = _load_extension()


def _chapter(doc, title, body=""):
    return (f"\\chapter{{{title}}}\n\\label{{\\detokenize{{{doc}:x}}}}"
            f"\\label{{\\detokenize{{{doc}::doc}}}}\n{body}\n")


TEX = ("\\begin{document}\n\\sphinxtableofcontents\n"
       + _chapter("book/intro2", "How to use")
       + _chapter("chapters/01_a", "Markov chains",
                  "\\phantomsection \\label{exercise:ex-01-two}\n\n"
                  "\\begin{sphinxadmonition}{note}{Exercise 1.2 (★ Two)}")
       + _chapter("chapters/02_b", "Forward",
                  "see \\hyperref[\\detokenize{chapters/01_a:ex-01-two}]"
                  "{Exercise \\ref{\\detokenize{chapters/01_a:ex-01-two}}}"
                  " and \\hyperref[\\detokenize{chapters/01_a:ex-01-two}]"
                  "{\\sphinxcrossref{\\DUrole{std,std-ref}"
                  "{ex\\sphinxhyphen{}01\\sphinxhyphen{}two}}}")
       + _chapter("solutions/01_a_solutions", "Solutions: Markov chains")
       + _chapter("book/toolbox", "The Gaussian toolbox")
       + _chapter("book/bibliography", "Bibliography")
       + "\\end{document}\n")
PARTS = [("Getting started", ["book/intro2"]),
         ("Chapters", ["chapters/01_a", "chapters/02_b"]),
         ("Solutions", ["solutions/01_a_solutions"]),
         ("Appendices", ["book/toolbox", "book/bibliography"])]


def test_parts_are_numbered_as_on_the_website():
    tex = pdf_edition.number_parts(TEX, PARTS)
    # front matter unnumbered from the start of the document
    assert tex.index("\\setcounter{secnumdepth}{-1}") \
        < tex.index("\\chapter{How to use}")
    chapters = tex.index("\\part{Chapters}")
    assert chapters < tex.index("\\chapter{Markov chains}")
    assert "\\setcounter{secnumdepth}{2}\n\\setcounter{chapter}{0}" \
        in tex[chapters:tex.index("\\chapter{Markov chains}")]
    solutions = tex.index("\\part{Solutions}")
    assert "S\\arabic{chapter}" in tex[solutions:
                                      tex.index("\\chapter{Solutions:")]
    appendices = tex.index("\\part{Appendices}")
    assert tex.index("\\appendix") > appendices
    assert tex.index("\\appendix") < tex.index("\\chapter{The Gaussian")
    # the bibliography has no letter
    bib = tex.index("\\chapter{Bibliography}")
    assert tex.rfind("\\setcounter{secnumdepth}{-1}", 0, bib) \
        > tex.index("\\appendix")
    assert tex.count("\\part{") == 3


def test_exercise_references_get_their_printed_number():
    tex, count = pdf_edition.fix_exercise_refs(TEX)
    assert count == 2
    assert "{Exercise 1.2}" in tex
    assert "\\sphinxcrossref{Exercise 1.2}" in tex
    assert "\\ref{\\detokenize{chapters/01_a:ex-01-two}}" not in tex
    # the hyperlink target now exists next to sphinx-exercise's label
    assert ("\\label{exercise:ex-01-two}"
            "\\label{\\detokenize{chapters/01_a:ex-01-two}}") in tex


def test_explorable_has_a_static_frame_for_the_pdf():
    import numpy as np

    from diffusion_edu import interactive

    def plot(ax, beta, t):
        x = np.linspace(-3, 3, 50)
        ax.plot(x, np.exp(-beta * x ** 2) * t)

    fig = interactive.explorable(plot, {"beta": [0.1, 0.5], "t": [1, 2]},
                                 alt="a curve", mode="static")
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # the frame plus a line of text below it: taller than the frame
    import io

    import matplotlib.image as mpimg
    frame = mpimg.imread(io.BytesIO(fig.frames[0]), format="png")
    still = mpimg.imread(io.BytesIO(png), format="png")
    assert still.shape[1] == frame.shape[1]
    assert still.shape[0] > frame.shape[0]


def test_notebooks_zip_has_everything_to_run_the_chapters(tmp_path):
    out = tmp_path / "nb.zip"
    n = build_pdf.write_notebooks_zip(out)
    chapters = sorted(p.name for p in (ROOT / "chapters").glob("*.ipynb"))
    assert n == len(chapters) + len(list(
        (ROOT / "solutions").glob("*.ipynb")))
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    folder = build_pdf.FOLDER
    for name in chapters:
        assert f"{folder}/chapters/{name}" in names
    for name in ("requirements.txt", "pyproject.toml", "README.txt",
                 "diffusion_edu/__init__.py", "diffusion_edu/checks/_core.py"):
        assert f"{folder}/{name}" in names
    assert not any("__pycache__" in name for name in names)


# --- the built PDF ---------------------------------------------------------

def _require(path: Path) -> None:
    if path.is_file():
        return
    if os.environ.get("DIFFUSION_EDU_REQUIRE_PDF") == "1":
        pytest.fail(f"{path} is missing: run python tools/build_pdf.py")
    pytest.skip(f"{path} not built")


def _poppler(*args) -> str:
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} not found (Debian package poppler-utils)")
    return subprocess.run(args, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def pdf_text():
    _require(PDF)
    return _poppler("pdftotext", "-layout", str(PDF), "-")


def _titles(folder: str) -> list[str]:
    """The first heading of every notebook of a folder."""
    titles = []
    for path in sorted((ROOT / folder).glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            m = re.search(r"^# (.+)$", "".join(cell["source"]), re.M)
            if m:
                titles.append(m.group(1).strip())
                break
    return titles


def test_pdf_has_the_whole_book(pdf_text):
    pages = int(re.search(r"Pages:\s+(\d+)",
                          _poppler("pdfinfo", str(PDF))).group(1))
    assert pages >= 150, f"only {pages} pages"
    def squash(text):  # letters and digits only, lower case
        return re.sub(r"[^0-9a-z]", "", text.lower())

    text = squash(pdf_text)
    for title in _titles("chapters") + _titles("solutions"):
        plain = squash(re.sub(r"\$[^$]*\$", " ", title))[:24]
        assert plain in text, f"chapter '{title}' not in the PDF"
    text = re.sub(r"\s+", " ", pdf_text).lower()
    for title in ("Contents", "The Gaussian toolbox", "Bibliography"):
        assert title.lower() in text


def test_pdf_has_no_unresolved_reference(pdf_text):
    assert "??" not in pdf_text
    # (TeX commands are not searched for: the code listings contain TeX
    # in strings; tests/test_markdown_math.py guards the prose instead)
    for raw in ("{eq}`", "{numref}`", "{ref}`", "{doc}`", "{cite",
                "{prf:ref}`"):
        assert raw not in pdf_text, f"raw '{raw}' in the PDF"


def test_pdf_latex_log_is_clean():
    log = ROOT / "_build" / "latex" / "book.log"
    _require(PDF)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Missing character" not in text
    assert not re.search(r"Reference `[^']+' on page \d+ undefined", text)


def test_pdf_has_the_figures_and_a_page_looks_right():
    _require(PDF)
    listing = _poppler("pdfimages", "-list", str(PDF)).splitlines()[2:]
    pages = sorted({int(line.split()[0]) for line in listing})
    assert len(listing) >= 40, f"only {len(listing)} images in the PDF"
    # keep a rendered page with a figure for a person to look at
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = pages[len(pages) // 4]
    _poppler("pdftoppm", "-r", "110", "-png", "-f", str(page), "-l",
             str(page), str(PDF), str(ARTIFACTS / "page"))
    _poppler("pdftoppm", "-r", "110", "-png", "-f", "3", "-l", "3",
             str(PDF), str(ARTIFACTS / "contents"))
    assert list(ARTIFACTS.glob("page-*.png"))


def test_notebooks_zip_is_published():
    _require(ZIP)
    with zipfile.ZipFile(ZIP) as zf:
        names = zf.namelist()
    assert sum(n.endswith(".ipynb") for n in names) >= 14
