"""Give every chapter and solutions notebook its Colab set-up cell.

Usage (from the top folder of the repository)::

    python tools/colab_cell.py           # write or update the cells
    python tools/colab_cell.py --check   # exit 1 if one is missing/stale

A notebook opened in Google Colab from the book's "open in Colab" button
has nothing of the repository but itself, so its first code cell would
fail on ``import diffusion_edu``. The first cell of every notebook in
``chapters/`` and ``solutions/`` therefore installs the package from the
book's repository, and only when the notebook runs in Colab (the module
``google.colab`` exists only there): everywhere else -- JupyterLab, the
book build, the tests -- it does nothing. The cell is tagged
``remove-cell``, so the website does not show it.

The repository URL and branch are read from ``_config.yml``
(``repository.url``, ``repository.branch``), the one place where they
are set; tests/test_colab_cell.py fails when a notebook's cell does not
match them, so run this tool after changing the URL.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("chapters", "solutions")
MARKER = "# Set-up for Google Colab"
TAG = "remove-cell"
CELL_ID = "colab-setup"
TEMPLATE = """\
# Set-up for Google Colab (does nothing anywhere else): Colab opens this
# notebook without the rest of the book, so install its package,
# diffusion_edu, from the book's repository.
import subprocess
import sys

_repository = "{url}"
_branch = "{branch}"
try:
    import google.colab  # noqa: F401
except ImportError:
    pass
else:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"git+{{_repository}}@{{_branch}}"], check=True)"""


def repository(root: Path = ROOT) -> tuple[str, str]:
    """(url, branch) of the repository from _config.yml."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text("utf-8"))
    repo = config.get("repository") or {}
    url = str(repo.get("url", "")).strip().rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(
            f"repository.url in _config.yml must be an https URL; got "
            f"{url!r}")
    return url, str(repo.get("branch") or "main")


def cell_source(root: Path = ROOT) -> str:
    url, branch = repository(root)
    return TEMPLATE.format(url=url, branch=branch)


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(p for folder in FOLDERS
                  for p in (root / folder).glob("*.ipynb"))


def _is_setup_cell(cell: dict) -> bool:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    return cell.get("cell_type") == "code" and source.startswith(MARKER)


def _new_cell(source: str) -> dict:
    lines = source.splitlines(keepends=True)
    return {"cell_type": "code", "execution_count": None, "id": CELL_ID,
            "metadata": {"tags": [TAG]}, "outputs": [], "source": lines}


def update(path: Path, source: str, *, write: bool) -> bool:
    """Make the first cell of ``path`` the set-up cell; True if changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    cells = nb["cells"]
    wanted = _new_cell(source)
    if cells and _is_setup_cell(cells[0]):
        if (cells[0]["source"] == wanted["source"]
                and TAG in cells[0].get("metadata", {}).get("tags", [])):
            return False
        cells[0] = {**cells[0], "source": wanted["source"],
                    "metadata": {**cells[0].get("metadata", {}),
                                 "tags": [TAG]}}
    else:
        cells[:] = [c for c in cells if not _is_setup_cell(c)]
        cells.insert(0, wanted)
    if write:
        out = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        path.write_text(out, encoding="utf-8")
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report notebooks whose cell is missing "
                             "or stale (exit status 1)")
    args = parser.parse_args(argv)
    source = cell_source()
    stale = [p for p in notebooks()
             if update(p, source, write=not args.check)]
    for path in stale:
        verb = "stale or missing in" if args.check else "updated"
        print(f"{verb} {path.relative_to(ROOT)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
