"""What a reader does on the website: drag a slider, open a solution,
search, and what they see first (screenshots, kept as test artifacts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sitecheck import ROOT, pages_containing, redirect_target, site_pages

EXPLORABLE = "diffusion-edu-explorable"
SOLUTION_DROPDOWN = re.compile(
    r'class="[^"]*\bsolution\b[^"]*\bdropdown\b[^"]*"')
DROPDOWN = re.compile(
    r'class="(?=[^"]*\badmonition\b)[^"]*\bdropdown\b[^"]*"')


def _drag_to_other_end(page, slider) -> None:
    """Drag the thumb of a range input with the mouse to the far end."""
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    assert box and box["width"] > 10, "the slider is not visible"
    value = int(slider.input_value())
    low = int(slider.get_attribute("min") or 0)
    y = box["y"] + box["height"] / 2
    left, right = box["x"] + 3, box["x"] + box["width"] - 3
    start, end = (left, right) if value == low else (right, left)
    page.mouse.move(start, y)
    page.mouse.down()
    page.mouse.move(end, y, steps=12)
    page.mouse.up()


def _move(page, control) -> None:
    """Drag a slider to its other end, or choose another menu entry."""
    if control.evaluate("el => el.tagName") == "SELECT":
        count = control.locator("option").count()
        value = int(control.input_value())
        control.select_option(index=(value + 1) % count)
    else:
        _drag_to_other_end(page, control)


def test_every_explorable_control_changes_the_figure(site, browse_http):
    """Every slider and menu of every explorable figure changes the frame
    (and its alternative text); labels are typeset, there is a caption,
    and frames are sharp on high-density screens."""
    pages = pages_containing(site, EXPLORABLE)
    assert pages, (
        "no explorable figure (class diffusion-edu-explorable) on any page "
        "of the site; every chapter should have one")
    problems, n_controls = [], 0
    for page_path in pages:
        page, visit = browse_http.open(page_path)
        figures = page.locator(f".{EXPLORABLE}")
        for i in range(figures.count()):
            figure = figures.nth(i)
            controls = figure.locator("[data-axis]")
            if controls.count() == 0:
                problems.append(f"{page_path}: explorable figure {i} has "
                                "no control")
            img = figure.locator("img").first
            sharp = img.evaluate(
                "el => el.naturalWidth >= 1.9 * el.clientWidth")
            if not sharp:
                problems.append(f"{page_path}: figure {i}: frame has fewer "
                                "than 2 pixels per CSS px (blurry)")
            caption = figure.locator("figcaption")
            if caption.count() == 0 or not caption.inner_text().strip():
                problems.append(f"{page_path}: figure {i} has no caption")
            raw = figure.locator(".explorable-label").evaluate_all(
                "els => els.filter(e => /\\\\[A-Za-z]/.test("
                "e.innerText)).map(e => e.innerText)")
            if raw:
                problems.append(f"{page_path}: figure {i}: labels not "
                                f"typeset: {raw}")
            for j in range(controls.count()):
                n_controls += 1
                control = controls.nth(j)
                where = f"{page_path}: figure {i}, control {j}"
                label = control.locator("xpath=..")
                before = (img.get_attribute("src"), control.input_value(),
                          label.inner_text())
                _move(page, control)
                after = (img.get_attribute("src"), control.input_value(),
                         label.inner_text())
                if after[1] == before[1]:
                    problems.append(f"{where}: moving it did not change it")
                elif after[0] == before[0]:
                    problems.append(f"{where}: the image did not change")
                if after[2] == before[2] and control.evaluate(
                        "el => el.tagName") != "SELECT":
                    problems.append(f"{where}: the value shown did not "
                                    "change")
                if not (img.get_attribute("alt") or "").strip():
                    problems.append(f"{where}: the new frame has no alt")
                loaded = img.evaluate("el => el.complete && "
                                      "el.naturalWidth > 0")
                if not loaded:
                    problems.append(f"{where}: the new frame did not load")
        problems += [f"{page_path}: {p}" for p in visit.problems()]
    assert n_controls > 0, "explorable figures found but no control in them"
    assert not problems, "\n".join(problems)


def test_dropdowns_open_and_close(site, browse_http):
    """Every collapsible box (solutions, proofs, ...) opens on a click on
    its title and closes on its button; and there are solutions."""
    assert pages_containing(site, SOLUTION_DROPDOWN), (
        "no solution dropdown (sphinx-exercise, :class: dropdown) on any "
        "page")
    problems = []
    for page_path in pages_containing(site, DROPDOWN):
        page, visit = browse_http.open(page_path)
        dropdowns = page.locator(".admonition.dropdown")
        for i in range(dropdowns.count()):
            dropdown = dropdowns.nth(i)
            kind = (dropdown.get_attribute("class") or "").split()[0]
            where = f"{page_path}: {kind} dropdown {i}"
            title = dropdown.locator(":scope > .admonition-title")
            body = dropdown.locator(":scope > :not(.admonition-title)").first
            if title.count() == 0:
                problems.append(f"{where} has no title to click")
                continue
            if body.is_visible():
                problems.append(f"{where} is open before a click")
                continue
            # Where a reader clicks: the middle of the title, which must
            # open the dropdown (not follow a link).
            before = page.url
            title.click()
            if page.url != before:
                problems.append(f"{where}: a click on its title left the "
                                f"page for {page.url}")
                page.goto(before)
                continue
            try:
                body.wait_for(state="visible", timeout=3000)
            except Exception:  # noqa: BLE001 - reported below
                problems.append(f"{where} did not open on a click")
                continue
            button = dropdown.locator(".toggle-button").first
            if button.get_attribute("aria-expanded") != "true":
                problems.append(f"{where}: its button does not say open")
            button.click()  # the chevron closes it again
            try:
                body.wait_for(state="hidden", timeout=3000)
            except Exception:  # noqa: BLE001
                problems.append(f"{where} did not close on a click")
        problems += [f"{page_path}: {p}" for p in visit.problems()]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("word", ["posterior", "closed"])
def test_search_finds(word, browse):
    page, visit = browse.open("search.html", query=f"?q={word}")
    results = page.locator("#search-results ul.search > li")
    try:
        results.first.wait_for(state="attached", timeout=15000)
    except Exception:  # noqa: BLE001
        status = page.locator("#search-results").inner_text()
        pytest.fail(f"{browse.mode}: searching {word!r} found nothing: "
                    f"{status!r}")
    page.wait_for_load_state("networkidle")
    assert results.count() > 0
    links = results.locator("a").evaluate_all(
        "els => els.map(a => a.getAttribute('href'))")
    assert any(not link.startswith(("http:", "https:")) for link in links)
    # Titles and summaries with math are typeset, not raw TeX.
    page.wait_for_timeout(1500)
    shown = page.evaluate("""() => {
        const clone = document.getElementById('search-results')
            .cloneNode(true);
        clone.querySelectorAll('mjx-container').forEach(e => e.remove());
        return clone.textContent;
    }""")
    raw = re.findall(r".{0,30}\\(?:[A-Za-z]{2,}|[()\[\]]).{0,30}", shown)
    assert not raw, f"{browse.mode}: raw TeX in search results: {raw[:5]}"
    assert not visit.problems(), "\n".join(visit.problems())


def _not_blank(path: Path) -> tuple[bool, str]:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=float)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    differs = np.abs(pixels - background).sum(axis=2) > 40
    share = differs.mean()
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    ok = share > 0.01 and colours > 16
    return ok, f"{share:.1%} of pixels differ from the background, " \
               f"{colours} colours"


def _first_chapter(site: Path) -> str:
    chapters = [p for p in site_pages(site) if p.startswith("chapters/")]
    assert chapters, "no chapter page in the site"
    return chapters[0]


@pytest.mark.parametrize("which", ["landing", "chapter"])
def test_screenshot_is_not_blank(which, site, browse_http, artifacts):
    page_path = "index.html" if which == "landing" else _first_chapter(site)
    page, visit = browse_http.open(page_path)
    if which == "landing":
        assert redirect_target(site / "index.html"), (
            "index.html should redirect to the first page")
    # Above the fold, as a reader sees it, and the whole page.
    shot = artifacts / f"{which}.png"
    page.screenshot(path=str(shot))
    page.screenshot(path=str(artifacts / f"{which}-full.png"),
                    full_page=True)
    ok, detail = _not_blank(shot)
    assert ok, f"the screenshot of {page_path} looks blank: {detail}"
    assert not visit.problems(), "\n".join(visit.problems())


def test_landing_page_has_a_title(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    match = re.search(r"<title>(.*?)</title>", text, flags=re.S)
    assert match and match.group(1).strip(), "index.html has no <title>"


def _repository() -> tuple[str, str]:
    """(owner/name, branch) of the repository set in _config.yml."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text("utf-8"))
    repo = config.get("repository") or {}
    url = str(repo.get("url", "")).rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(\.git)?", url)
    assert match, f"repository.url in _config.yml is not on GitHub: {url!r}"
    return match.group(1), str(repo.get("branch", "main"))


def test_notebook_pages_offer_download_colab_and_binder(site, browse_http):
    notebooks = [p for p in site_pages(site) if (
        site / "_sources" / p).with_suffix(".ipynb").is_file()]
    assert notebooks, "no page of the site is built from a notebook"
    slug, branch = _repository()
    problems = []
    for page_path in notebooks:
        page, visit = browse_http.open(page_path)
        source = page_path.removesuffix(".html") + ".ipynb"
        hrefs = page.locator("a[href]").evaluate_all(
            "els => els.map(a => a.href)")
        expected = {"download": browse_http.url(f"_sources/{source}")}
        if (ROOT / source).is_file():  # a text notebook (.md) has no
            expected.update({           # .ipynb in the repository
                "Colab": "https://colab.research.google.com/github/"
                         f"{slug}/blob/{branch}/{source}",
                "Binder": f"https://mybinder.org/v2/gh/{slug}/{branch}"
                          f"?urlpath=lab/tree/{source}",
            })
        for name, url in expected.items():
            if url not in hrefs:
                problems.append(f"{page_path}: no {name} link {url}")
        response = page.request.get(expected["download"])
        if not response.ok or '"cells"' not in response.text():
            problems.append(f"{page_path}: the .ipynb download does not "
                            f"serve a notebook (HTTP {response.status})")
        problems += [f"{page_path}: {p}" for p in visit.problems()]
    assert not problems, "\n".join(problems)


def test_pages_that_are_not_notebooks_have_no_launch_buttons(site,
                                                             browse_http):
    """Colab and Binder cannot run a MyST page: no launch buttons there."""
    pages = [p for p in site_pages(site)
             if (ROOT / p).with_suffix(".md").is_file()]
    assert pages, "no page of the site is built from a .md file"
    problems = []
    for page_path in pages:
        page, visit = browse_http.open(page_path)
        hrefs = page.locator("a[href]").evaluate_all(
            "els => els.map(a => a.href)")
        launch = [h for h in hrefs if "colab.research.google.com" in h
                  or "mybinder.org" in h]
        if launch:
            problems.append(f"{page_path}: launch links {launch}")
    assert not problems, "\n".join(problems)


def _assert_download_link(page, path, name, magic, site, browse_http,
                          pytestconfig):
    """The page links ``name`` at the top of the site; where the file is
    published beside the site (CI, the Pages workflow) the link works
    and the file starts with ``magic``."""
    link = page.locator(f"a[href$='{name}']")
    assert link.count() >= 1, f"{path}: no link to {name}"
    href = link.first.evaluate("a => a.href")
    assert href == browse_http.url(name), href
    published = (site / name).is_file()
    if pytestconfig.getoption("--require-site"):
        assert published, f"{name} is not published in {site}"
    if published:
        response = page.request.get(href)
        assert response.ok, f"{href}: HTTP {response.status}"
        assert response.body()[:len(magic)] == magic, name


def test_every_page_links_the_offline_copy(site, browse_http, pytestconfig):
    """The download menu offers the whole book as a zip."""
    path = "chapters/01_markov_chains.html"
    page, visit = browse_http.open(path)
    _assert_download_link(page, path, "diffusion-models-book-offline.zip",
                          b"PK", site, browse_http, pytestconfig)


def test_pdf_and_notebooks_zip_are_linked(site, browse_http, pytestconfig):
    """The download menu of every page and the landing page link the PDF
    edition and the zip of notebooks (tools/build_pdf.py)."""
    files = {"diffusion-models-book.pdf": b"%PDF",
             "diffusion-models-book-notebooks.zip": b"PK"}
    for path in ("chapters/01_markov_chains.html", "book/intro.html"):
        page, visit = browse_http.open(path)
        for name, magic in files.items():
            _assert_download_link(page, path, name, magic, site,
                                  browse_http, pytestconfig)
