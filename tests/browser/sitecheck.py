"""Helpers of the browser suite: find the pages of the built website,
serve it, and open a page in Chromium while recording what it loads."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic", "--disable-default-apps", "--disable-extensions",
]
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a phone held upright (CSS px)
PAGE_BUDGET = 5_000_000  # bytes: the heaviest page must stay under this

# Page -> bytes it weighs with all it loads; filled by the page tests,
# reported at the end of the run (conftest.pytest_terminal_summary).
PAGE_WEIGHTS: dict[str, int] = {}

REFRESH = re.compile(
    r"""<meta\s+http-equiv=["']refresh["']\s+"""
    r"""content=["']\d+;\s*url=([^"']+)""", re.IGNORECASE)

# Bytes of the page and of every resource it loaded (decoded; a resource
# read from disk, file://, counts 0). Inline data (figures) is in the page.
WEIGHT = """() => performance.getEntriesByType('navigation')
    .concat(performance.getEntriesByType('resource'))
    .reduce((total, e) => total + (e.decodedBodySize || 0), 0)"""

MATHJAX_DONE = """async () => {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
        await mj.startup.promise;
    }
}"""


def missing_site_reason(site: Path) -> str | None:
    if (site / "index.html").is_file():
        return None
    return (f"no built website at {site} (index.html missing): build the "
            "book first with `jupyter-book build --all -W -n --keep-going "
            ".`, or pass --site")


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the site (relative paths), assets excluded."""
    pages = []
    for path in site.rglob("*.html"):
        rel = path.relative_to(site)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]):
            continue
        pages.append(rel.as_posix())
    return sorted(pages)


def pages_containing(site: Path, pattern: str | re.Pattern) -> list[str]:
    """The pages whose HTML contains ``pattern`` (a string or a regex)."""
    found = []
    for page in site_pages(site):
        text = (site / page).read_text(encoding="utf-8")
        if isinstance(pattern, re.Pattern):
            hit = pattern.search(text) is not None
        else:
            hit = pattern in text
        if hit:
            found.append(page)
    return found


def redirect_target(path: Path) -> str | None:
    """The URL a page redirects to with <meta http-equiv=refresh>."""
    match = REFRESH.search(path.read_text(encoding="utf-8"))
    return match.group(1).strip() if match else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


class SiteServer:
    """Serve a folder on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, folder: Path):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def allowed(url: str, mode: str) -> bool:
    """May a page of the site, read in ``mode``, load ``url``?"""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    if mode == "file":
        return parts.scheme == "file"
    return parts.scheme == "http" and parts.hostname == "127.0.0.1"


@dataclass
class Visit:
    """What happened while a page was loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    weight: int = 0  # bytes: the page and everything it loaded

    def problems(self) -> list[str]:
        out = [f"request to another host: {u}" for u in self.foreign]
        out += [f"failed request: {f}" for f in self.failed]
        out += [f"console error: {e}" for e in self.console_errors]
        return out


class Browse:
    """Open pages of one copy of the site: ``mode`` is "http" (served
    from 127.0.0.1) or "file" (read from disk)."""

    def __init__(self, browser, root: Path, base: str, mode: str):
        self.browser, self.root, self.base = browser, root, base
        self.mode = mode
        self._contexts = []

    def url(self, page_path: str) -> str:
        return self.base + page_path

    def open(self, page_path: str, *, query: str = "", phone: bool = False,
             dark: bool = False):
        """Load a page in a fresh browser context, wait for MathJax and
        for the network to settle; return (page, visit). ``phone``: 390
        CSS px wide, touch, two device pixels per CSS px; ``dark``: the
        theme's dark mode, as a reader who switched to it."""
        options = {"viewport": PHONE, "device_scale_factor": 2,
                   "has_touch": True, "is_mobile": True} if phone else {
                       "viewport": VIEWPORT}
        context = self.browser.new_context(service_workers="block",
                                           **options)
        if dark:  # what the theme's colour switch stores
            context.add_init_script(
                "localStorage.setItem('mode', 'dark');"
                "localStorage.setItem('theme', 'dark');")
        self._contexts.append(context)
        page = context.new_page()
        visit = Visit(self.url(page_path) + query)

        def route(r):  # block, and record, anything from another host
            if allowed(r.request.url, self.mode):
                r.continue_()
            else:
                visit.foreign.append(r.request.url)
                r.abort("blockedbyclient")

        context.route("**/*", route)
        page.on("request", lambda req: visit.requests.append(req.url))
        page.on("requestfailed", lambda req: (
            None if req.url in visit.foreign else visit.failed.append(
                f"{req.url} ({req.failure})")))
        page.on("response", lambda res: (
            visit.failed.append(f"{res.url} (HTTP {res.status})")
            if res.status >= 400 else None))
        page.on("console", lambda msg: (
            visit.console_errors.append(f"{msg.text} [{msg.location}]")
            if msg.type == "error" else None))
        page.on("pageerror", lambda err: visit.console_errors.append(
            f"uncaught: {err}"))

        target = redirect_target(self.root / page_path)
        page.goto(visit.url, wait_until="load")
        if target:  # the landing page redirects to the first page
            page.wait_for_url(urljoin(visit.url, target), wait_until="load")
        page.evaluate(MATHJAX_DONE)
        page.wait_for_load_state("networkidle", timeout=60_000)
        visit.weight = page.evaluate(WEIGHT)
        # Also what routing cannot see (e.g. loads of a file:// page).
        visit.foreign = list(dict.fromkeys(
            visit.foreign + [u for u in visit.requests
                             if not allowed(u, self.mode)]))
        return page, visit

    def close(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()
