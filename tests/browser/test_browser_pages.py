"""Every page of the built website, in Chromium, served and from disk.

For each HTML page of the site (discovered from the build, so chapters
added later are covered) and each way of reading it (over HTTP from
127.0.0.1, and unzipped from the offline copy via file://):

* it has a meaningful title, without raw TeX;
* its mathematics is typeset: MathJax output in every math element, no
  MathJax error, and no raw ``$$``, ``\\(`` or ``\\[`` left in the text;
* no raw TeX anywhere a reader sees it: not in the text (link text of
  references to sections whose title has math included), not in the
  title, not in the header of a printed page;
* a favicon, a description (and OpenGraph tags) and one viewport tag;
* every image has loaded and has real alternative text;
* no console error, no failed request, no request to another host;
* no unresolved cross-reference.
"""

from __future__ import annotations

import re

from sitecheck import PAGE_BUDGET, PAGE_WEIGHTS, ROOT, site_pages

# The text a reader sees (hidden dropdowns included), without code, code
# outputs and MathJax output; and facts about math, images and refs.
INSPECT = r"""() => {
    const root = document.querySelector('main') || document.body;
    const clone = root.cloneNode(true);
    clone.querySelectorAll(
        'script, style, pre, code, textarea, mjx-container, .highlight'
    ).forEach(el => el.remove());
    const maths = Array.from(document.querySelectorAll('.math'));
    const printed = document.querySelector('#jb-print-docs-body h1');
    const meta = name => Array.from(document.querySelectorAll(
        'meta[name="' + name + '"], meta[property="' + name + '"]'))
        .map(m => m.getAttribute('content'));
    return {
        title: document.title,
        printTitle: printed ? printed.textContent : '',
        description: meta('description'),
        ogTitle: meta('og:title'),
        viewports: meta('viewport').length,
        icon: Array.from(document.querySelectorAll('link[rel~="icon"]'))
            .map(l => l.href),
        h1: Array.from(document.querySelectorAll('main h1'))
            .map(h => h.textContent.trim()),
        text: clone.textContent,
        mathElements: maths.length,
        untypeset: maths.filter(el => !el.querySelector('mjx-container'))
            .map(el => el.textContent.trim().slice(0, 80)),
        mjx: document.querySelectorAll('mjx-container').length,
        // TeX errors, and undefined commands (MathJax shows them in red).
        mathErrors: Array.from(document.querySelectorAll('mjx-merror'))
            .map(el => el.getAttribute('data-mjx-error')
                       || el.textContent.slice(0, 80))
            .concat(Array.from(document.querySelectorAll(
                'mjx-assistive-mml mtext[mathcolor="red"]'))
                .map(el => 'undefined command ' + el.textContent)),
        images: Array.from(document.images).map(img => ({
            src: img.currentSrc || img.src,
            alt: img.getAttribute('alt'),
            complete: img.complete,
            width: img.naturalWidth,
        })),
        // A resolved reference is a link; an unresolved one is a bare
        // .xref (or an empty citation, or docutils' .problematic).
        unresolved: Array.from(document.querySelectorAll(
            '.problematic, .xref, .bibtex-citation'))
            .filter(el => el.classList.contains('problematic')
                || (el.classList.contains('xref') && !el.closest('a[href]'))
                || (el.classList.contains('bibtex-citation')
                    && !el.querySelector('a[href]')))
            .map(el => (el.textContent.trim() || el.outerHTML)
                .slice(0, 80)),
    };
}"""

RAW_TEX = [r"$$", r"\(", r"\)", r"\[", r"\]", r"\begin{", r"\end{"]
# A TeX command in text a reader sees (code and typeset math excluded).
TEX_COMMAND = re.compile(r"\\(?:[A-Za-z]{2,}|[_^{}])")
# What Sphinx or MyST leave in the text when a reference fails (prose
# such as "an unknown label" is fine).
UNRESOLVED = re.compile(
    r"undefined label:|\(\?\?\)|"
    r"\{(?:eq|ref|numref|doc|cite:[pt]|prf:ref)\}`", re.IGNORECASE)
GENERIC_TITLES = {"", "<no title>", "untitled"}


def _short(src: str) -> str:
    return src if len(src) < 100 else src[:60] + "..." + src[-20:]


def _alt_problem(alt, src: str) -> str | None:
    if alt is None or not alt.strip():
        return "no alt text"
    name = src.rsplit("/", 1)[-1].split("?")[0]
    if alt.strip() == name or re.search(
            r"\.(png|jpe?g|svg|gif|webp)$", alt.strip(), re.I):
        return f"alt text is a file name ({alt!r})"
    return None


def test_page_works(browse, page_path):
    page, visit = browse.open(page_path)
    facts = page.evaluate(INSPECT)
    problems = visit.problems()

    title = facts["title"].split(" \u2014 ")[0].strip()
    if title.lower() in GENERIC_TITLES:
        problems.append(f"no meaningful title: {facts['title']!r}")
    if any(tex in facts["title"] for tex in RAW_TEX):
        problems.append(f"raw TeX in the title: {facts['title']!r}")

    if TEX_COMMAND.search(facts["printTitle"]):
        problems.append(f"raw TeX in the printed page's header: "
                        f"{facts['printTitle']!r}")
    for match in TEX_COMMAND.finditer(facts["text"]):
        i = match.start()
        context = " ".join(facts["text"][max(0, i - 40):i + 40].split())
        problems.append(f"raw TeX command in the text: ...{context}...")
    if not facts["icon"]:
        problems.append("no favicon (<link rel=icon>)")
    if not [d for d in facts["description"] if d and d.strip()]:
        problems.append("no <meta name=description>")
    elif TEX_COMMAND.search(" ".join(facts["description"])):
        problems.append(f"raw TeX in the description: "
                        f"{facts['description']!r}")
    if not facts["ogTitle"] or "<" in facts["ogTitle"][0]:
        problems.append(f"no plain OpenGraph title: {facts['ogTitle']!r}")
    if facts["viewports"] != 1:
        problems.append(f"{facts['viewports']} viewport meta tags")
    for tex in RAW_TEX:
        if tex in facts["text"]:
            i = facts["text"].index(tex)
            context = " ".join(facts["text"][max(0, i - 40):i + 40].split())
            problems.append(f"raw TeX {tex!r} in the text: ...{context}...")
    if facts["untypeset"]:
        problems.append(f"math not typeset by MathJax: {facts['untypeset']}")
    if facts["mathElements"] and not facts["mjx"]:
        problems.append("math on the page but no MathJax output")
    problems += [f"MathJax error: {e}" for e in facts["mathErrors"]]

    for img in facts["images"]:
        src = _short(img["src"])
        if not img["complete"] or img["width"] == 0:
            problems.append(f"image did not load: {src}")
        alt = _alt_problem(img["alt"], img["src"])
        if alt:
            problems.append(f"image {src}: {alt}")

    problems += [f"unresolved reference: {p!r}" for p in facts["unresolved"]]
    for match in UNRESOLVED.finditer(facts["text"]):
        i = match.start()
        context = " ".join(facts["text"][max(0, i - 40):i + 40].split())
        problems.append(f"unresolved reference text: ...{context}...")

    if browse.mode == "http":
        PAGE_WEIGHTS[page_path] = visit.weight
        if visit.weight > PAGE_BUDGET:
            problems.append(f"the page weighs {visit.weight / 1e6:.1f} MB "
                            f"with what it loads (budget "
                            f"{PAGE_BUDGET / 1e6:.0f} MB)")

    assert not problems, (
        f"{browse.mode}: {visit.url}\n  " + "\n  ".join(problems))


def test_every_document_of_the_toc_is_tested(site):
    """Guards the discovery of pages: every document of _toc.yml is among
    the pages that test_page_works opens."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))

    def files(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    yield node[key]
            for value in node.values():
                yield from files(value)
        elif isinstance(node, list):
            for item in node:
                yield from files(item)

    pages = set(site_pages(site))
    missing = [f for f in files(toc) if f"{f}.html" not in pages]
    assert not missing, f"documents of _toc.yml not in the site: {missing}"
