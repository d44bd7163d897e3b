"""Pack the built website into a zip that works when opened from disk.

Usage (after building the book)::

    python tools/offline_zip.py

writes ``_build/diffusion-models-book-offline.zip``. Unzip it anywhere and
open ``diffusion-models-book/index.html`` in a browser: every page, its
mathematics, figures, explorable figures and the search work without a
network and without a web server (``file://``). Options: ``--site``
(default ``_build/html``), ``--output`` and ``--folder`` (the name of the
folder inside the zip).

The site is copied unchanged except for one setting: a page of search
results normally fetches each result page to show a summary, which a
browser refuses for ``file://`` pages, so the offline copy lists results
without summaries. The copy leaves out what a reader does not need
(``.buildinfo``, ``objects.inv``) and stores files in a fixed order with
fixed timestamps, so the same site gives the same zip. The published
offline copy at the top of the site (``*-offline.zip``, linked from every
page's download menu) is left out; the PDF edition and the zip of
notebooks beside it are kept, so their links work offline too.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SITE = ROOT / "_build" / "html"
DEFAULT_OUTPUT = ROOT / "_build" / "diffusion-models-book-offline.zip"
DEFAULT_FOLDER = "diffusion-models-book"
SKIP = {".buildinfo", "objects.inv"}
FIXED_TIME = (2026, 1, 1, 0, 0, 0)
SEARCH_OPTIONS = "_static/documentation_options.js"
README = """\
{title}: offline copy of the website.

Open index.html (in this folder) in a web browser. Everything works
without an internet connection: the pages, the mathematics, the figures,
the explorable figures and the search. The "open in Colab" and "launch
Binder" buttons and the links to other sites need the internet.
"""


def _offline_version(relpath: str, data: bytes) -> bytes:
    """Adapt one file of the site to file:// pages (search summaries)."""
    if relpath != SEARCH_OPTIONS:
        return data
    text = data.decode("utf-8")
    if "SHOW_SEARCH_SUMMARY: true" not in text:
        raise ValueError(
            f"{relpath} has no 'SHOW_SEARCH_SUMMARY: true'; the search "
            "page of the offline copy would try to fetch other pages")
    text = text.replace("SHOW_SEARCH_SUMMARY: true",
                        "SHOW_SEARCH_SUMMARY: false")
    return text.encode("utf-8")


def _published_zip(site: Path, path: Path) -> bool:
    """The offline copy itself, published at the top of the site: the
    zip does not contain itself."""
    return path.parent == site and path.name.endswith("-offline.zip")


def _title(site: Path) -> str:

    match = re.search(r"<title>(.*?)</title>",
                      (site / "index.html").read_text(encoding="utf-8"),
                      flags=re.S)
    return match.group(1).strip() if match else "The book"


def make_offline_zip(site: Path = DEFAULT_SITE,
                     output: Path = DEFAULT_OUTPUT,
                     folder: str = DEFAULT_FOLDER) -> Path:
    """Write the zip of ``site`` to ``output``; return ``output``."""
    site, output = Path(site), Path(output)
    if not (site / "index.html").is_file():
        raise FileNotFoundError(
            f"no built website in {site} (index.html is missing); build "
            "the book first: jupyter-book build --all -W -n --keep-going .")
    if output.resolve().is_relative_to(site.resolve()):
        raise ValueError(f"the zip must be written outside {site}")
    output.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in site.rglob("*")
                   if p.is_file() and p.name not in SKIP
                   and not _published_zip(site, p))
    tmp = output.with_name(output.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=9) as zf:
        readme = zipfile.ZipInfo(f"{folder}/README.txt", FIXED_TIME)
        readme.external_attr = 0o644 << 16
        zf.writestr(readme, README.format(title=_title(site)))
        for path in files:
            relpath = path.relative_to(site).as_posix()
            info = zipfile.ZipInfo(f"{folder}/{relpath}", FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, _offline_version(relpath, path.read_bytes()))
    tmp.replace(output)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Zip the built book so that it works from disk.")
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE,
                        help="the built website (default: _build/html)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the zip to write (default: "
                        "_build/diffusion-models-book-offline.zip)")
    parser.add_argument("--folder", default=DEFAULT_FOLDER,
                        help="the folder inside the zip")
    args = parser.parse_args(argv)
    try:
        out = make_offline_zip(args.site, args.output, args.folder)
    except (FileNotFoundError, ValueError) as err:
        print(f"offline_zip: {err}", file=sys.stderr)
        return 1
    size = out.stat().st_size / 1e6
    print(f"wrote {out} ({size:.1f} MB): unzip it and open "
          f"{args.folder}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
