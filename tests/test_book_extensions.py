"""The book's Sphinx extensions (book/_ext): the parts that can be tested
without building the book. The built site is tested in tests/browser."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import bibliography_style  # noqa: E402
import page_quality  # noqa: E402
import site_features  # noqa: E402


def test_the_build_gives_kernels_the_inline_backend(monkeypatch):
    """Whatever the environment says (Agg draws nothing on plt.show()),
    the kernels that execute the book inherit the inline backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    site_features._inline_figures()
    assert os.environ["MPLBACKEND"] == (
        "module://matplotlib_inline.backend_inline")


def _entry(key, year, *authors):
    from pybtex.database import Entry, Person

    entry = Entry("article", fields={"year": year})
    entry.key = key
    entry.persons["author"] = [Person(a) for a in authors]
    return entry


@pytest.mark.parametrize("authors, label", [
    (["Norris, James R."], "Norris, 1997"),
    (["Song, Yang", "Ermon, Stefano"], "Song and Ermon, 1997"),
    (['Hyv{\\"a}rinen, Aapo'], "Hyv\u00e4rinen, 1997"),
    (["Ho, Jonathan", "Jain, Ajay", "Abbeel, Pieter"], "Ho et al., 1997"),
    (["Sohl-Dickstein, Jascha", "Weiss, Eric", "Ganguli, Surya"],
     "Sohl-Dickstein et al., 1997"),
])
def test_author_year_labels(authors, label):
    assert bibliography_style.author_year_label(
        _entry("k", "1997", *authors)) == label


def test_same_authors_and_year_get_letters():
    entries = [_entry("a", "2021", "Song, Yang", "Meng, C.", "Ermon, S."),
               _entry("b", "2021", "Song, Yang", "Kingma, D.", "Poole, B."),
               _entry("c", "2020", "Ho, J.")]
    labels = list(bibliography_style.AuthorYearLabels().format_labels(
        entries))
    assert labels == ["Song et al., 2021a", "Song et al., 2021b",
                      "Ho, 2020"]


def test_unnumbered_pages_count_their_equations_from_one():
    env = SimpleNamespace(
        toc_secnumbers={"chapters/a": {"": (1,)}, "solutions/a": {},
                        "book/app": {}},
        toc_fignumbers={
            "chapters/a": {"displaymath": {"e1": (1, 1), "e2": (1, 2)}},
            "solutions/a": {"displaymath": {"s1": (1,), "s2": (2,)}},
            "book/app": {"displaymath": {"x2": (5,), "x1": (4,)},
                         "figure": {"f": (3,)}},
        })
    changed = page_quality._number_per_page(None, env)
    assert changed == ["book/app"]
    assert env.toc_fignumbers["book/app"]["displaymath"] == {
        "x1": (1,), "x2": (2,)}
    assert env.toc_fignumbers["book/app"]["figure"] == {"f": (1,)}
    assert env.toc_fignumbers["chapters/a"]["displaymath"]["e2"] == (1, 2)


@pytest.mark.parametrize("tex, text", [
    (r"\bar\alpha_t", "\u03b1\u0304\u209c"),  # alpha, macron, sub t
    (r"\tilde\beta_t", "\u03b2\u0303\u209c"),
    (r"q(x_{t-1} \mid x_t)", "q(xₜ₋₁ | xₜ)")])
def test_titles_without_raw_tex(tex, text):
    assert page_quality.tex_to_text(tex) == text
