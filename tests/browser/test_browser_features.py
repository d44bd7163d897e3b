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


def test_every_explorable_slider_changes_the_figure(site, browse_http):
    pages = pages_containing(site, EXPLORABLE)
    assert pages, (
        "no explorable figure (class diffusion-edu-explorable) on any page "
        "of the site; every chapter should have one")
    problems, n_sliders = [], 0
    for page_path in pages:
        page, visit = browse_http.open(page_path)
        figures = page.locator(f".{EXPLORABLE}")
        for i in range(figures.count()):
            figure = figures.nth(i)
            sliders = figure.locator("input[type=range]")
            if sliders.count() == 0:
                problems.append(f"{page_path}: explorable figure {i} has "
                                "no slider")
            img = figure.locator("img").first
            for j in range(sliders.count()):
                n_sliders += 1
                slider = sliders.nth(j)
                where = f"{page_path}: figure {i}, slider {j}"
                before = (img.get_attribute("src"), slider.input_value(),
                          figure.locator("output").nth(j).text_content())
                _drag_to_other_end(page, slider)
                after = (img.get_attribute("src"), slider.input_value(),
                         figure.locator("output").nth(j).text_content())
                if after[1] == before[1]:
                    problems.append(f"{where}: dragging did not move it")
                elif after[0] == before[0]:
                    problems.append(f"{where}: the image did not change")
                if after[2] == before[2]:
                    problems.append(f"{where}: the value shown did not "
                                    "change")
                if not (img.get_attribute("alt") or "").strip():
                    problems.append(f"{where}: the new frame has no alt")
                loaded = img.evaluate("el => el.complete && "
                                      "el.naturalWidth > 0")
                if not loaded:
                    problems.append(f"{where}: the new frame did not load")
        problems += [f"{page_path}: {p}" for p in visit.problems()]
    assert n_sliders > 0, "explorable figures found but no slider in them"
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
            # Where a reader clicks: the start of the title (the rest of a
            # solution's title links to its exercise).
            title.click(position={"x": 4, "y": 8})
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


@pytest.mark.parametrize("word", ["posterior"])
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
