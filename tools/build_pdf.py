"""Build the PDF edition of the book and the zip of all its notebooks.

Usage (after the website build, whose executed notebooks it reuses)::

    python tools/build_pdf.py

1. runs ``jupyter-book build --builder pdflatex`` with warnings as
   errors: Sphinx's LaTeX writer, then XeLaTeX (a Unicode engine: the
   text has ᾱ, ε and β̃ outside mathematics) through latexmk. The
   extension ``book/_ext/pdf_edition.py`` numbers the parts as the website
   does and resolves exercise numbers. Explorable figures appear as one
   frame with a line pointing to the web edition.
2. copies the PDF to ``_build/html/diffusion-models-book.pdf``;
3. writes ``_build/html/diffusion-models-book-notebooks.zip``: every
   chapter and solutions notebook, with the ``diffusion_edu`` package and
   ``requirements.txt``, so that ``pip install -r requirements.txt`` in
   the unzipped folder gives everything the notebooks need.

The website links both files (the landing page and the download menu of
every page). Needs TeX Live with XeLaTeX and latexmk, and the GNU
FreeFont and DejaVu fonts; on Debian::

    apt-get install texlive-xetex texlive-latex-extra \\
        texlive-fonts-recommended texlive-plain-generic latexmk \\
        fonts-freefont-otf fonts-dejavu-core poppler-utils

(``.ci/run`` installs them when they are missing.)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
PDF_NAME = "diffusion-models-book.pdf"
NOTEBOOKS_ZIP = "diffusion-models-book-notebooks.zip"
FOLDER = "diffusion-models-book-notebooks"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)
TOOLS = ("xelatex", "latexmk")
README = """\
Diffusion Models from First Principles: all chapter and solutions
notebooks.

  chapters/         one notebook per chapter, exercises as stubs
  solutions/        worked solutions of every exercise
  diffusion_edu/    the book's Python package (the notebooks import it)
  requirements.txt  every dependency, pinned

Install and open (Python 3.11):

  python3.11 -m venv .venv && source .venv/bin/activate
  pip install -r requirements.txt
  python -m diffusion_edu          # checks the installation
  jupyter lab chapters/01_markov_chains.ipynb

On Linux, install the CPU build of PyTorch first to save about 2 GB of
downloads:

  pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
"""


def _missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def build_pdf(root: Path = ROOT) -> Path:
    """Run the LaTeX build; return the path of the PDF."""
    missing = _missing_tools()
    if missing:
        raise SystemExit(
            f"tools/build_pdf.py: {', '.join(missing)} not found. Install "
            "TeX Live (see this script's docstring for the Debian "
            "packages).")
    subprocess.run(
        ["jupyter-book", "build", "--builder", "pdflatex", "-W", "-n",
         "--keep-going", str(root)], check=True)
    pdf = root / "_build" / "latex" / "book.pdf"
    if not pdf.is_file():
        raise SystemExit(f"tools/build_pdf.py: no PDF at {pdf}")
    return pdf


def _notebook_files(root: Path) -> list[tuple[Path, str]]:
    """(file, name in the zip) of everything the notebooks need."""
    files = []
    for folder in ("chapters", "solutions"):
        notebooks = sorted((root / folder).glob("*.ipynb"))
        if not notebooks:
            raise SystemExit(f"tools/build_pdf.py: no notebooks in "
                             f"{root / folder}")
        files += [(nb, f"{folder}/{nb.name}") for nb in notebooks]
    for path in sorted((root / "diffusion_edu").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts \
                and path.suffix != ".pyc":
            files.append((path, path.relative_to(root).as_posix()))
    for name in ("requirements.txt", "pyproject.toml", "LICENSE",
                 "LICENSE-TEXT"):
        files.append((root / name, name))
    return files


def write_notebooks_zip(output: Path, root: Path = ROOT) -> int:
    """Write the zip of notebooks; return the number of notebooks."""
    files = _notebook_files(root)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{FOLDER}/README.txt", FIXED_TIME)
        zf.writestr(info, README, zipfile.ZIP_DEFLATED)
        for path, name in files:
            info = zipfile.ZipInfo(f"{FOLDER}/{name}", FIXED_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return sum(name.endswith(".ipynb") for _, name in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=BUILD / "html",
                        help="the built website (default _build/html)")
    parser.add_argument("--skip-pdf", action="store_true",
                        help="only write the zip of notebooks")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        raise SystemExit(f"tools/build_pdf.py: build the website first "
                         f"(no {args.site / 'index.html'})")
    if not args.skip_pdf:
        pdf = build_pdf()
        shutil.copyfile(pdf, args.site / PDF_NAME)
        print(f"{args.site / PDF_NAME}: "
              f"{(args.site / PDF_NAME).stat().st_size / 1e6:.1f} MB")
    n = write_notebooks_zip(args.site / NOTEBOOKS_ZIP)
    print(f"{args.site / NOTEBOOKS_ZIP}: {n} notebooks, "
          f"{(args.site / NOTEBOOKS_ZIP).stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
