"""A chapter as learners use it: in JupyterLab, from the book's environment.

Starts ``jupyter lab`` (the one installed with requirements.txt, with
jupyterlab-myst and ipywidgets) on a free port over a temporary copy of
the notebooks, opens Chapter 2 in headless Chromium, runs all cells and
checks that

* no cell shows an error (or anything on stderr),
* jupyterlab-myst resolves every reference: no orange "not found"
  marker, no raw ``{eq}``-style role text, no console complaint,
* a link to another chapter opens that chapter in a new tab,
* moving the explorable's slider redraws its figure.

It needs no built website, only Chromium (``--chromium``)::

    pytest tests/browser/test_jupyterlab.py
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "chapters/02_forward_process.ipynb"
RUN_ALL_TIMEOUT = 150  # seconds; about 35 s on a 2-core machine
UNRESOLVED = ('[title="Cross Reference Not Found"], '
              '[title="Citation Not Found"]')
RAW_ROLE = re.compile(r"\{(?:eq|ref|numref|doc|cite(?::\w+)?)\}`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab serving a copy of the notebooks; (base URL, token)."""
    work = tmp_path_factory.mktemp("jupyterlab")
    root = work / "book"
    for folder, pattern in (("chapters", "*.ipynb"),
                            ("solutions", "*.ipynb"), ("book", "*.md")):
        (root / folder).mkdir(parents=True)
        for path in (ROOT / folder).glob(pattern):
            shutil.copy2(path, root / folder / path.name)
    # Every cell in the DOM (no virtual scrolling), so all can be read.
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}', encoding="utf-8")
    # No "get notified about Jupyter news?" pop-up over the notebook.
    apputils = work / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false"}', encoding="utf-8")
    port, token = _free_port(), "jupyterlab-test-token"
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # with Agg, plt.show() draws nothing
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_RUNTIME_DIR"] = str(work / "runtime")
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={work / 'settings'}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers run as root
    log = (work / "jupyterlab.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}",
                                       timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (
                        work / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _outputs(page, mime: str) -> list[str]:
    return page.eval_on_selector_all(
        f'.jp-NotebookPanel:not(.lm-mod-hidden) '
        f'.jp-OutputArea-output[data-mime-type="{mime}"]',
        "els => els.map(e => e.innerText.slice(0, 800))")


def test_chapter_in_jupyterlab(jupyterlab, browser, artifacts):
    base, token = jupyterlab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.set_default_timeout(60_000)
    try:
        _check_chapter(page, base, token, console)
    finally:
        page.screenshot(path=str(artifacts / "jupyterlab-chapter.png"))
        context.close()


def _check_chapter(page, base, token, console):
    page.goto(f"{base}/lab/tree/{CHAPTER}?reset&token={token}")
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    page.wait_for_selector(f"{panel} .jp-MarkdownCell .myst")
    page.wait_for_selector(
        f'{panel} .jp-Notebook-ExecutionIndicator[data-status="idle"]',
        timeout=90_000)

    # Run all cells, and wait until every code cell has its number.
    started = time.monotonic()
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    waiting = (
        "sel => { const p = [...document.querySelectorAll(sel)];"
        " return p.length > 0 && p.every("
        "e => /\\[\\d+\\]/.test(e.innerText)); }")
    prompts = f"{panel} .jp-CodeCell .jp-InputArea-prompt"
    try:
        page.wait_for_function(waiting, arg=prompts,
                               timeout=RUN_ALL_TIMEOUT * 1000)
    except Exception:
        pytest.fail("Run All did not finish; errors shown:\n"
                    + "\n".join(_outputs(page, "application/vnd.jupyter"
                                                ".error")))
    run_all = time.monotonic() - started
    print(f"Run All Cells: {run_all:.1f} s")

    errors = _outputs(page, "application/vnd.jupyter.error")
    assert not errors, "cells show errors:\n" + "\n".join(errors)
    stderr = _outputs(page, "application/vnd.jupyter.stderr")
    assert not stderr, "cells wrote to stderr:\n" + "\n".join(stderr)

    # Every reference resolved by jupyterlab-myst.
    markdown = page.eval_on_selector_all(
        f"{panel} .jp-MarkdownCell .myst", "els => els.map(e => e.innerText)")
    assert len(markdown) > 10, "the markdown cells did not render"
    unresolved = page.eval_on_selector_all(
        f"{panel} .jp-MarkdownCell :is({UNRESOLVED})",
        "els => els.map(e => e.innerText)")
    assert not unresolved, f"unresolved references: {unresolved}"
    raw = [t[:120] for t in markdown if RAW_ROLE.search(t)]
    assert not raw, f"raw roles shown as text: {raw}"
    complaints = [m for m in console if "not found" in m.lower()]
    assert not complaints, "\n".join(complaints)

    # The explorable: move the slider, the figure changes.
    explorable = page.locator(
        f"{panel} .jp-OutputArea-output:has(.widget-slider):has(img)").first
    explorable.scroll_into_view_if_needed()
    before = explorable.locator("img").first.get_attribute("src")
    handle = explorable.locator(".widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    # The figure is redrawn into a new <img>: compare the current one.
    page.wait_for_function(
        "([el, old]) => { const img = el.querySelector('img');"
        " return img && img.getAttribute('src') !== old; }",
        arg=[explorable.element_handle(), before], timeout=30_000)

    # A link to another chapter opens that chapter.
    link = page.locator(
        f'{panel} .jp-MarkdownCell .myst a[href*="03_closed_form.ipynb"]'
    ).first
    assert link.count(), "no link to Chapter 3 in Chapter 2"
    link.scroll_into_view_if_needed()
    link.click()
    page.wait_for_selector(
        '.lm-TabBar-tab.lm-mod-current '
        '.lm-TabBar-tabLabel:text-is("03_closed_form.ipynb")')
    page.wait_for_function(
        "() => { const p = document.querySelector("
        "'.jp-NotebookPanel:not(.lm-mod-hidden)');"
        " return p && p.querySelector('.jp-MarkdownCell .myst h1, "
        ".jp-MarkdownCell .myst .myst-fm-block-title'); }")
    title = page.locator(f"{panel} .jp-MarkdownCell .myst").first.inner_text()
    assert "Chapter 3" in title or "closed form" in title.lower(), title


def test_jupyterlab_extensions_declare_compatibility():
    """requirements.txt pins a JupyterLab that every installed extension
    (jupyterlab-myst above all) declares itself compatible with."""
    done = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        capture_output=True, text=True, timeout=120)
    report = done.stdout + done.stderr
    assert "jupyterlab-myst" in report, report
    assert "not compatible" not in report, report
    enabled = [line for line in report.splitlines() if " enabled " in line
               or "\x1b[32menabled" in line]
    assert enabled and all(" X" not in line for line in enabled), report
