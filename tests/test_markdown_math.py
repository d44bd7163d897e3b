"""Math in the notebooks' markdown that MyST would print as raw TeX.

Two slips turned formulas into raw TeX on the website (the browser suite
finds them too, but only after a full build):

* a line inside inline math ``$...$`` that starts with ``+``, ``-``,
  ``*``, ``1.`` or ``>``: markdown reads it as a list item or a quote and
  the formula falls apart;
* a display ``$$`` block that does not start a block of its own (the line
  before it is text): MyST leaves the whole display as text.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("chapters/*.ipynb"),
                    *ROOT.glob("solutions/*.ipynb")])
MARKER = re.compile(r"\s*([-+*]\s|\d+[.)]\s|>)")
DOLLAR = re.compile(r"(?<!\\)\$")
DISPLAY = re.compile(r"\$\$.*?\$\$", re.S)


def list_marker_lines(source: str) -> list[str]:
    """Lines inside inline math that markdown would read as a list item."""
    text = DISPLAY.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    inside, found = False, []
    for line in text.split("\n"):
        if inside and MARKER.match(line):
            found.append(line.strip())
        if len(DOLLAR.findall(line)) % 2:
            inside = not inside
    return found


def displays_glued_to_text(source: str) -> list[str]:
    """Opening ``$$`` lines whose previous line is text."""
    lines, found, inside = source.split("\n"), [], False
    for k, line in enumerate(lines):
        s = line.strip()
        if not s.startswith("$$"):
            continue
        if not inside:
            single = len(s) > 2 and s.count("$$") >= 2
            if k and lines[k - 1].strip() and not single:
                found.append(lines[k - 1].strip())
            inside = not single
        else:
            inside = False
    return found


def _markdown(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            yield cell.get("id", "?"), "".join(cell["source"])


def test_detectors_find_the_two_slips():
    assert list_marker_lines("so $a = b\n+ c$ holds") == ["+ c$ holds"]
    assert list_marker_lines("so $a = b +\nc$ holds") == []
    assert displays_glued_to_text("text\n$$\nx\n$$\n") == ["text"]
    assert displays_glued_to_text("text\n\n$$\nx\n$$ (eq-a)\n") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_list_marker_inside_inline_math(path):
    bad = [f"cell {cid}: {line!r}" for cid, src in _markdown(path)
           for line in list_marker_lines(src)]
    assert not bad, "join these lines to the previous one:\n" + \
        "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_display_math_starts_a_block(path):
    bad = [f"cell {cid}: after {line!r}" for cid, src in _markdown(path)
           for line in displays_glued_to_text(src)]
    assert not bad, "put a blank line before these $$:\n" + "\n".join(bad)
