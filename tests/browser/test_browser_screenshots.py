"""Full-page screenshots of every page, to look at (opt-in: pass
``--screenshots``): at 1280 px and at 390 px (a phone), in light and dark
mode, with every dropdown open, in ``test-artifacts/pages/``."""

from __future__ import annotations

import pytest

OPEN = """() => {
    document.querySelectorAll('.toggle-hidden').forEach(
        el => el.classList.remove('toggle-hidden'));
    document.querySelectorAll('details').forEach(el => { el.open = true; });
    window.dispatchEvent(new Event('resize'));
}"""


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("phone", [False, True], ids=["1280px", "390px"])
def test_screenshot_every_page(page_path, phone, dark, browse_http,
                               artifacts, pytestconfig):
    if not pytestconfig.getoption("--screenshots"):
        pytest.skip("screenshots of every page: pass --screenshots")
    page, visit = browse_http.open(page_path, phone=phone, dark=dark)
    page.evaluate(OPEN)
    page.wait_for_timeout(300)
    folder = artifacts / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    name = page_path.removesuffix(".html").replace("/", "_")
    width = "390" if phone else "1280"
    mode = "dark" if dark else "light"
    page.screenshot(path=str(folder / f"{name}-{width}-{mode}.png"),
                    full_page=True)
    assert not visit.problems(), "\n".join(visit.problems())
