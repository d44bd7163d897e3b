"""An author–year bibliography, to match the author–year citations.

The chapters cite as "Ho et al. [2020]" (sphinxcontrib-bibtex's
``author_year`` reference style). With pybtex's ``plain`` style the
Bibliography itself was numbered [1]–[20], so a reader could not find
"[2020]" in it by eye. The ``authoryear`` style registered here keeps
``plain``'s formatting and sorting (by author, year, title; arXiv
identifiers, DOIs and URLs of the entries become links) and labels each
entry as it is cited: "Ho et al., 2020", with "a", "b" for the same
authors and year.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    """The surname in Unicode: Hyv{\\"a}rinen -> Hyvärinen."""
    import latexcodec  # noqa: F401 - registers the "latex" codec

    parts = person.prelast_names + person.last_names
    text = " ".join(str(p) for p in parts)
    text = text.encode("utf-8").decode("latex")
    return text.replace("{", "").replace("}", "")


def author_year_label(entry) -> str:
    """'Ho et al., 2020', 'Song and Ermon, 2019', 'Norris, 1997'."""
    people = entry.persons.get("author") or entry.persons.get("editor")
    year = entry.fields.get("year", "n.d.")
    if not people:
        return f"{entry.key}, {year}"
    names = [_surname(p) for p in people]
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {year}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(e) for e in sorted_entries]
        total = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if total[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
