"""Browser suite: the built website in a real, headless Chromium.

Run it after building the book; it is not part of the default ``pytest``
run (pyproject.toml keeps it out), because it needs the built site::

    jupyter-book build --all -W -n --keep-going .
    pytest tests/browser

Options: ``--site`` (the built website; default ``_build/html``, or the
environment variable ``BOOK_SITE``), ``--chromium`` (default
``/usr/bin/chromium``, or ``CHROMIUM``) and ``--artifacts`` (screenshots
and the size report; default ``test-artifacts``, not committed).

Every page is read twice: served over HTTP from 127.0.0.1, and unzipped
from the offline copy made by ``python tools/offline_zip.py`` and opened
from disk (``file://``). Without a built site or without Chromium the
tests are skipped, and say why. Playwright drives the system Chromium
(Debian's package); Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sitecheck import (
    CHROMIUM_ARGS,
    PAGE_BUDGET,
    PAGE_WEIGHTS,
    ROOT,
    Browse,
    SiteServer,
    missing_site_reason,
    site_pages,
)

MODES = ("http", "file")


def pytest_addoption(parser):
    group = parser.getgroup("book website (tests/browser)")
    group.addoption(
        "--site", default=os.environ.get("BOOK_SITE", "_build/html"),
        help="the built website to test (default: _build/html)")
    group.addoption(
        "--chromium",
        default=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        help="the Chromium executable (default: /usr/bin/chromium)")
    group.addoption(
        "--artifacts",
        default=os.environ.get("BOOK_ARTIFACTS", "test-artifacts"),
        help="folder for screenshots and the size report "
             "(default: test-artifacts)")
    group.addoption(
        "--screenshots", action="store_true",
        default=os.environ.get("BOOK_SCREENSHOTS", "") not in ("", "0"),
        help="also save full-page screenshots of every page at 1280 and "
             "390 px, light and dark, in --artifacts/pages (slow)")
    group.addoption(
        "--require-site", action="store_true",
        default=os.environ.get("BOOK_REQUIRE_SITE", "") not in ("", "0"),
        help="fail, instead of skipping, when the built site or Chromium "
             "is missing (CI sets this)")


def _path_option(config, name: str) -> Path:
    path = Path(config.getoption(name))
    return path if path.is_absolute() else ROOT / path


def pytest_configure(config):
    if not config.getoption("--require-site", default=False):
        return
    reason = missing_site_reason(_path_option(config, "--site"))
    if reason is None and not shutil.which(config.getoption("--chromium")):
        reason = f"no Chromium at {config.getoption('--chromium')}"
    if reason:
        raise pytest.UsageError(f"--require-site: {reason}")


def pytest_generate_tests(metafunc):
    """Parametrize ``page_path`` with every page of the built site."""
    if "page_path" not in metafunc.fixturenames:
        return
    site = _path_option(metafunc.config, "--site")
    reason = missing_site_reason(site)
    if reason:
        params = [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    else:
        params = site_pages(site)
    metafunc.parametrize("page_path", params)


def pytest_sessionfinish(session):
    """With pytest-xdist (``-n 2`` in CI), a worker hands the weights of
    the pages it opened to the controller, which writes the report."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["page_weights"] = json.dumps(PAGE_WEIGHTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    weights = getattr(node, "workeroutput", {}).get("page_weights")
    if weights:
        PAGE_WEIGHTS.update(json.loads(weights))


def pytest_terminal_summary(terminalreporter, config):
    """Report the budgets: site size and the heaviest page."""
    if not PAGE_WEIGHTS:
        return
    site = _path_option(config, "--site")
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    heaviest = max(PAGE_WEIGHTS, key=PAGE_WEIGHTS.get)
    report = {
        "site": str(site), "site_bytes": total,
        "pages": len(PAGE_WEIGHTS), "heaviest_page": heaviest,
        "heaviest_page_bytes": PAGE_WEIGHTS[heaviest],
        "page_budget_bytes": PAGE_BUDGET,
        "page_bytes": dict(sorted(PAGE_WEIGHTS.items())),
    }
    artifacts = _path_option(config, "--artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "site-report.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write = terminalreporter.write_line
    terminalreporter.section("book website budgets")
    write(f"site size: {total / 1e6:.1f} MB ({site})")
    write(f"pages: {len(PAGE_WEIGHTS)}; heaviest: {heaviest}, "
          f"{PAGE_WEIGHTS[heaviest] / 1e6:.2f} MB with everything it "
          f"loads (budget {PAGE_BUDGET / 1e6:.0f} MB)")
    write(f"per page: {artifacts / 'site-report.json'}")


@pytest.fixture(scope="session")
def site(pytestconfig) -> Path:
    """The built website; skips the tests that need it when missing."""
    path = _path_option(pytestconfig, "--site")
    reason = missing_site_reason(path)
    if reason:
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def server(site):
    """The site served on 127.0.0.1; its base URL."""
    srv = SiteServer(site)
    yield srv.url
    srv.stop()


@pytest.fixture(scope="session")
def offline_site(site, tmp_path_factory) -> Path:
    """The site as a reader gets it offline: zipped by the documented
    command (python tools/offline_zip.py), then unzipped."""
    work = tmp_path_factory.mktemp("offline")
    archive = work / "book.zip"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "offline_zip.py"),
         "--site", str(site), "--output", str(archive)],
        capture_output=True, text=True)
    assert done.returncode == 0, f"offline_zip.py failed:\n{done.stderr}"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(work)
        folders = {name.split("/")[0] for name in zf.namelist()}
    assert len(folders) == 1, f"the zip should hold one folder: {folders}"
    return work / folders.pop()


@pytest.fixture(scope="session")
def chromium_path(pytestconfig) -> str:
    path = pytestconfig.getoption("--chromium")
    found = shutil.which(path)
    if not found:
        pytest.skip(
            f"no Chromium at {path}: install Debian's `chromium` package "
            "(.ci/run does) or pass --chromium")
    return found


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path,
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts(pytestconfig) -> Path:
    path = _path_option(pytestconfig, "--artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(params=MODES)
def browse(request, browser):
    """Opens pages served over HTTP from 127.0.0.1 and, unzipped from the
    offline copy, from disk (file://)."""
    if request.param == "http":
        root = request.getfixturevalue("site")
        base = request.getfixturevalue("server")
    else:
        root = request.getfixturevalue("offline_site")
        base = root.as_uri() + "/"
    b = Browse(browser, root, base, request.param)
    yield b
    b.close()


@pytest.fixture
def browse_http(browser, site, server):
    """Opens pages served over HTTP from 127.0.0.1."""
    b = Browse(browser, site, server, "http")
    yield b
    b.close()
