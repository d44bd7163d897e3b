"""The student edition of the book: the same book without its solutions.

``python -m diffusion_edu.problemset student-edition`` writes a table of
contents without the Solutions part and a configuration that differs from
``_config.yml`` in three ways (the edition flag read by
:mod:`diffusion_edu.problemset.sphinxext`, absolute paths for local
extensions, and the execution cache of the full build, so that no
notebook is executed twice), then runs ``jupyter-book build`` with them
into ``_build/student``. Links from the chapters to the solutions become
plain text in that edition instead of broken references.
"""

from __future__ import annotations

import copy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

__all__ = [
    "build_student_edition",
    "student_config",
    "student_toc",
]

SOLUTIONS_DIR = "solutions/"


def _is_solution(entry) -> bool:
    return isinstance(entry, dict) and str(entry.get("file", "")).startswith(
        SOLUTIONS_DIR)


def _strip(node):
    if isinstance(node, list):
        return [_strip(item) for item in node if not _is_solution(item)]
    if isinstance(node, dict):
        return {key: _strip(value) for key, value in node.items()}
    return node


def student_toc(toc: dict) -> dict:
    """The TOC without any solutions page (and without emptied parts)."""
    out = _strip(copy.deepcopy(toc))
    for key in ("parts", "chapters"):
        if isinstance(out.get(key), list):
            out[key] = [part for part in out[key]
                        if not (isinstance(part, dict) and "chapters" in part
                                and not part["chapters"])]
    return out


def student_config(config: dict, root: Path) -> dict:
    """The book's configuration, adapted for the student edition."""
    root = Path(root).resolve()
    out = copy.deepcopy(config)
    sphinx = out.setdefault("sphinx", {})
    sphinx_config = sphinx.setdefault("config", {}) or {}
    sphinx["config"] = sphinx_config
    sphinx_config["diffusion_edu_edition"] = "student"
    extensions = sphinx.setdefault("extra_extensions", []) or []
    sphinx["extra_extensions"] = extensions
    if "diffusion_edu.problemset.sphinxext" not in extensions:
        extensions.append("diffusion_edu.problemset.sphinxext")
    local = sphinx.get("local_extensions") or {}
    sphinx["local_extensions"] = {
        name: str((root / path).resolve()) for name, path in local.items()}
    execute = out.setdefault("execute", {}) or {}
    out["execute"] = execute
    execute["cache"] = str(root / "_build" / ".jupyter_cache")
    out["title"] = f"{out.get('title', 'Book')} (student edition)"
    return out


def build_student_edition(root: Path, out: Path | None = None,
                          dry_run: bool = False) -> int:
    """Write the student TOC and config, then build; return the exit code.

    Build the full edition first: the student edition reuses its
    execution cache (``_build/.jupyter_cache``).
    """
    root = Path(root).resolve()
    out = Path(out).resolve() if out else root / "_build" / "student"
    out.mkdir(parents=True, exist_ok=True)
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    config = yaml.safe_load((root / "_config.yml").read_text(
        encoding="utf-8"))
    toc_path, config_path = out / "_toc.yml", out / "_config.yml"
    toc_path.write_text(yaml.safe_dump(student_toc(toc), sort_keys=False))
    config_path.write_text(yaml.safe_dump(student_config(config, root),
                                          sort_keys=False))
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe) if exe.exists() else (shutil.which("jupyter-book")
                                              or "jupyter-book"),
               "build", "--all", "-W", "-n", "--keep-going",
               "--toc", str(toc_path), "--config", str(config_path),
               "--path-output", str(out), str(root)]
    print("student edition:", shlex.join(command), flush=True)
    if dry_run:
        return 0
    code = subprocess.call(command, cwd=root)
    if code == 0:
        index = out / "_build" / "html" / "index.html"
        print(f"student edition: open {index}")
    return code
