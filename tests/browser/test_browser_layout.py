"""What each page looks like: its figures, on a phone, in dark mode.

* **Figures**: every page shows at least as many figure images (loaded,
  with a size) in its code-cell outputs as its source has plotting cells
  (code cells that call ``plt.show()``), counted from the notebooks and
  MyST notebooks of _toc.yml, so a new chapter is covered automatically.
* **Phone navigation**: at 390 px the ☰ button opens the book's table of
  contents and the contents button opens the page's sections.
* **Nothing cut off**: at 390 px and 1280 px, with every dropdown open,
  no equation (display or inline), table, code block, output or figure
  reaches past the text column unless it scrolls in its own box with a
  visible cue (its edge fades while there is more to see), and the page
  itself never scrolls sideways. At 1280 px no display equation scrolls
  at all: each fits the column, broken over lines where it must.
* **Dark mode**: the outputs (check results, explorable figures) are not
  light slabs on a dark page; their text stays readable (contrast of at
  least 4.5:1) and figures are not dimmed.
* **Hover previews**: hovering a reference to an equation or a citation
  shows a preview, typeset, without a request to another host.
"""

from __future__ import annotations

import json
import re

import pytest
from sitecheck import ROOT, site_pages

PLOTTING = re.compile(r"\bplt\.show\(")
MYST_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def _toc_documents() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def plotting_cells(document: str) -> int:
    """Code cells of a document's source that call plt.show()."""
    notebook = ROOT / f"{document}.ipynb"
    if notebook.is_file():
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return sum(1 for c in cells if c["cell_type"] == "code"
                   and PLOTTING.search("".join(c["source"])))
    text = ROOT / f"{document}.md"
    if text.is_file():
        return sum(1 for body in MYST_CELL.findall(
            text.read_text(encoding="utf-8")) if PLOTTING.search(body))
    return 0


FIGURES = [(doc, plotting_cells(doc)) for doc in _toc_documents()]


def test_the_book_has_plotting_cells():
    assert sum(n for _, n in FIGURES) > 0, (
        "no plotting cell (plt.show()) found in the sources of _toc.yml")


@pytest.mark.parametrize(
    "document, expected",
    [f for f in FIGURES if f[1] > 0], ids=[d for d, n in FIGURES if n > 0])
def test_every_plotting_cell_shows_its_figure(document, expected, site,
                                              browse_http):
    page, visit = browse_http.open(f"{document}.html")
    images = page.evaluate("""() => Array.from(document.querySelectorAll(
            'div.cell_output img'))
        .filter(img => !img.closest('.diffusion-edu-explorable'))
        .map(img => ({ok: img.complete && img.naturalWidth > 0
                         && img.getBoundingClientRect().width > 50,
                      src: img.src.slice(-40)}))""")
    shown = [i for i in images if i["ok"]]
    assert len(shown) >= expected, (
        f"{document}: {expected} plotting cells but {len(shown)} figures "
        f"shown ({len(images)} images in outputs); were the notebooks "
        "executed with MPLBACKEND=Agg?")
    assert not visit.problems(), "\n".join(visit.problems())


# -- phone navigation -------------------------------------------------------

PHONE_PAGES = ["chapters/01_markov_chains.html", "book/notation.html"]


@pytest.mark.parametrize("phone_page", PHONE_PAGES)
def test_phone_navigation_opens(phone_page, site, browse_http):
    page_path = phone_page
    page, visit = browse_http.open(page_path, phone=True)
    toggle = page.locator("button.primary-toggle:visible").first
    assert toggle.count() == 1, "no visible ☰ button at 390 px"
    toggle.tap()
    nav = page.locator("#pst-primary-sidebar-modal, .bd-sidebar-primary")
    chapter = page.locator(
        "#pst-primary-sidebar-modal nav a.reference[href$='.html'], "
        ".bd-sidebar-primary nav a.reference[href$='.html']").first
    try:
        chapter.wait_for(state="visible", timeout=4000)
    except Exception:  # noqa: BLE001 - reported below
        pytest.fail(f"{page_path}: the ☰ button did not open the book's "
                    f"contents at 390 px ({nav.count()} sidebars)")
    box = chapter.bounding_box()
    assert box and 0 <= box["x"] < 390, "the contents are off screen"
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    contents = page.locator("button.secondary-toggle:visible").first
    if page.locator(".bd-sidebar-secondary nav a").count() > 1:
        assert contents.count() == 1, "no visible contents button"
        contents.tap()
        section = page.locator(
            "#pst-secondary-sidebar-modal nav a, "
            ".bd-sidebar-secondary nav a").first
        try:
            section.wait_for(state="visible", timeout=4000)
        except Exception:  # noqa: BLE001
            pytest.fail(f"{page_path}: the contents button did not open "
                        "the page's sections at 390 px")
    assert not visit.problems(), "\n".join(visit.problems())


# -- nothing cut off ------------------------------------------------------

OPEN_EVERYTHING = """() => {
    document.querySelectorAll('.toggle-hidden').forEach(
        el => el.classList.remove('toggle-hidden'));
    document.querySelectorAll('.admonition.dropdown').forEach(
        el => el.classList.remove('toggle-hidden'));
    document.querySelectorAll('details').forEach(el => { el.open = true; });
    document.querySelectorAll('.tag_hide-input details, details.hide')
        .forEach(el => { el.open = true; });
    window.dispatchEvent(new Event('resize'));
}"""

# Boxes that may not reach past the text column unless they scroll with a
# cue; a list of problems.
CUT_OFF = r"""() => {
    const article = document.querySelector('article.bd-article');
    if (!article) return [];
    const limit = article.getBoundingClientRect().right;
    const problems = [];
    const what = el => {
        const text = (el.textContent || el.getAttribute('alt')
                      || el.tagName).replace(/\s+/g, ' ').trim();
        return el.tagName.toLowerCase() + ' "' + text.slice(0, 50) + '"';
    };
    const cue = el => {
        const style = getComputedStyle(el);
        const mask = style.maskImage || style.webkitMaskImage || 'none';
        return mask !== 'none' || el.scrollLeft > 0;
    };
    const visible = el => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0
            && getComputedStyle(el).visibility !== 'hidden';
    };
    const selector = 'mjx-container, table, pre, img, '
        + 'div.cell_output > div, .diffusion-edu-explorable';
    for (const el of article.querySelectorAll(selector)) {
        if (!visible(el) || el.closest('.tippy-box')) continue;
        if (el.closest('mjx-container') && el.tagName !== 'MJX-CONTAINER')
            continue;
        const r = el.getBoundingClientRect();
        // the element scrolls itself: it needs a cue
        const own = getComputedStyle(el);
        if (['auto', 'scroll'].includes(own.overflowX)
                && el.scrollWidth > el.clientWidth + 2) {
            if (!cue(el)) problems.push('scrolls without a cue: ' + what(el));
        } else if (['hidden', 'clip'].includes(own.overflowX)
                && el.scrollWidth > el.clientWidth + 2
                && el.tagName !== 'IMG') {
            problems.push('cut off inside itself: ' + what(el));
        }
        // the innermost ancestor that it reaches past and that clips or
        // scrolls it
        let clipped = false;
        for (let a = el.parentElement; a && a !== article.parentElement;
             a = a.parentElement) {
            const style = getComputedStyle(a);
            const ar = a.getBoundingClientRect();
            if (!['auto', 'scroll', 'hidden', 'clip']
                    .includes(style.overflowX)) continue;
            if (r.right <= ar.right + 2) continue;
            clipped = true;
            if (['hidden', 'clip'].includes(style.overflowX)) {
                problems.push('cut off: ' + what(el));
            } else if (!cue(a)) {
                problems.push('scrolls without a cue: ' + what(el));
            }
            break;
        }
        if (!clipped && r.right > limit + 2) {
            problems.push('reaches past the text column by '
                + Math.round(r.right - limit) + ' px: ' + what(el));
        }
    }
    const page = document.documentElement;
    if (page.scrollWidth > window.innerWidth + 2) {
        problems.push('the page scrolls sideways: ' + page.scrollWidth
                      + ' px wide for ' + window.innerWidth);
    }
    return Array.from(new Set(problems));
}"""


# Display equations wider than their box (they scroll): on a desktop
# screen every display must fit the text column, broken over lines if
# need be; only a phone may scroll them.
WIDE_DISPLAYS = r"""() => {
    const problems = [];
    for (const el of document.querySelectorAll(
            'article.bd-article mjx-container[display="true"]')) {
        const math = el.querySelector('mjx-math');
        if (!math || el.closest('.tippy-box')) continue;
        const inner = math.getBoundingClientRect().width;
        const box = el.getBoundingClientRect().width;
        if (box > 0 && inner > box + 2) {
            problems.push('display wider than the column (' + Math.round(inner)
                + ' px for ' + Math.round(box) + ' px): "'
                + (el.textContent || '').replace(/\s+/g, ' ').slice(0, 50)
                + '"');
        }
    }
    return problems;
}"""


@pytest.mark.parametrize("phone", [True, False], ids=["390px", "1280px"])
def test_nothing_is_cut_off(page_path, phone, site, browse_http):
    page, visit = browse_http.open(page_path, phone=phone)
    page.evaluate(OPEN_EVERYTHING)
    page.wait_for_timeout(400)  # book.js marks the scrolling boxes
    problems = page.evaluate(CUT_OFF)
    if not phone:
        problems += page.evaluate(WIDE_DISPLAYS)
    width = "390 px" if phone else "1280 px"
    assert not problems, (f"{page_path} at {width}:\n  "
                          + "\n  ".join(problems[:25]))


# -- dark mode --------------------------------------------------------------

CONTRAST = r"""() => {
    const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
    const lum = c => {
        const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92
                         : Math.pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const background = el => {
        for (let a = el; a; a = a.parentElement) {
            const c = rgb(getComputedStyle(a).backgroundColor);
            if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
        }
        return [255, 255, 255];
    };
    const ratio = (a, b) => {
        const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
    };
    const page = background(document.body);
    const problems = [];
    const texts = document.querySelectorAll(
        '.diffusion-edu-check, .explorable-label, .explorable-caption, '
        + '.diffusion-edu-explorable output, div.cell_output pre');
    for (const el of texts) {
        if (!el.getBoundingClientRect().width) continue;
        const fg = rgb(getComputedStyle(el).color);
        const bg = background(el);
        const r = ratio(fg, bg);
        if (r < 4.5) problems.push('contrast ' + r.toFixed(1) + ':1 for "'
            + el.textContent.trim().slice(0, 40) + '"');
        if (lum(bg) > 0.4 && lum(page) < 0.1
                && !el.closest('.diffusion-edu-explorable img')) {
            problems.push('light box on the dark page: "'
                + el.textContent.trim().slice(0, 40) + '"');
        }
    }
    for (const img of document.querySelectorAll(
            '.diffusion-edu-explorable img, div.cell_output img')) {
        const filter = getComputedStyle(img).filter;
        if (filter !== 'none') problems.push('figure dimmed: ' + filter);
    }
    return {dark: document.documentElement.dataset.theme,
            pageLuminance: lum(page), problems: problems};
}"""


def test_dark_mode_keeps_outputs_readable(site, browse_http):
    pages = [p for p in site_pages(site) if p.startswith("chapters/")]
    assert pages, "no chapter pages"
    problems = []
    for page_path in pages:
        page, visit = browse_http.open(page_path, dark=True)
        facts = page.evaluate(CONTRAST)
        if facts["dark"] != "dark" or facts["pageLuminance"] > 0.1:
            problems.append(f"{page_path}: dark mode did not apply "
                            f"({facts['dark']!r})")
        problems += [f"{page_path}: {p}" for p in facts["problems"]]
        problems += [f"{page_path}: {p}" for p in visit.problems()]
    assert not problems, "\n".join(problems[:40])


# -- hover previews -------------------------------------------------------

PREVIEWED = {
    "equation": "article.bd-article a.reference.internal"
                "[href*='#equation-']",
    "citation": "article.bd-article a[href*='bibliography.html#']",
}


@pytest.mark.parametrize("kind", sorted(PREVIEWED))
def test_hover_preview(kind, site, browse_http):
    page_path = "chapters/05_elbo.html"
    page, visit = browse_http.open(page_path)
    page.wait_for_function("() => typeof window.tippy === 'function'")
    links = page.locator(PREVIEWED[kind])
    assert links.count() > 0, f"no {kind} reference on {page_path}"
    link = links.first
    link.scroll_into_view_if_needed()
    link.hover()
    tip = page.locator("[data-tippy-root] .tippy-content")
    try:
        tip.first.wait_for(state="visible", timeout=4000)
    except Exception:  # noqa: BLE001
        pytest.fail(f"hovering a {kind} reference on {page_path} showed "
                    "no preview")
    text = tip.first.inner_text()
    assert text.strip(), "the preview is empty"
    if kind == "equation":
        page.wait_for_function(
            "() => document.querySelector("
            "'[data-tippy-root] mjx-container') !== null", timeout=5000)
    assert not visit.problems(), "\n".join(visit.problems())


# -- equation numbers in unnumbered parts --------------------------------

EQNO = re.compile(r'<span class="eqno">\(([^)<]*)\)')


def test_unnumbered_pages_number_their_equations_from_one(site):
    """Solutions and appendices are not numbered chapters: each page
    counts its equations (1), (2), ... instead of continuing a counter
    shared across pages."""
    problems, checked = [], 0
    for page_path in site_pages(site):
        if page_path.startswith("chapters/"):
            continue
        numbers = EQNO.findall((site / page_path).read_text("utf-8"))
        if not numbers:
            continue
        checked += 1
        expected = [str(i) for i in range(1, len(numbers) + 1)]
        if numbers != expected:
            problems.append(f"{page_path}: equations numbered {numbers}")
    assert checked, "no numbered equation outside the chapters"
    assert not problems, "\n".join(problems)
