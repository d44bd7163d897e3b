"""Links between notebooks that work in the book and in JupyterLab.

Learners run the chapters in JupyterLab, where jupyterlab-myst renders
each notebook on its own: a ``{doc}`` link, a ``{ref}`` or ``{eq}`` to a
label in another notebook and a ``{cite:t}`` citation cannot resolve
there. The notebooks therefore point outside themselves with ordinary
markdown links to the file, with their own text::

    [Chapter 2](02_forward_process.ipynb)
    eq. [(2.4)](02_forward_process.ipynb#eq-gaussian-chain)
    [Ho et al. (2020)](../book/bibliography.md#cite-ho2020)

myst-parser turns a link to a source file into a cross-reference to that
document, but after ``#`` it only knows heading slugs. This extension
resolves the part after ``#`` when it is, in the linked document,

* an explicit label (``(sec-x)=``, an exercise's ``:label:``, a figure,
  a ``{prf:lemma}``'s ``:label:``),
* a labelled equation (``$$ ... $$ (eq-x)``), or
* a bibliography entry (``cite-<key>``: ``bibtex_cite_id`` in
  ``_config.yml`` gives each entry that id),

and links to it. A label that is not there stays a build warning (from
myst-parser: "local id not found").

Because the link text is written by hand, it is checked: a link whose
text prints an equation number, "(2.4)", or a figure number,
"Figure 2.1", must print the number the book gives that equation or
figure, otherwise the build warns (and ``-W`` fails). The same check
applies to ``[Figure 2.1](#fig-x)`` links within a notebook.
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.nodes import make_id
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.nodes import make_refnode

logger = logging.getLogger(__name__)

EQ_NUMBER = re.compile(r"\((\d+(?:\.\d+)*)\)")
FIG_NUMBER = re.compile(r"\bFig(?:ure|\.)\s+(\d+(?:\.\d+)*)", re.IGNORECASE)


def _printed(env, docname: str, figtype: str, node_id: str) -> str | None:
    """The number the book prints for a figure or equation, e.g. '2.4'."""
    numbers = env.toc_fignumbers.get(docname, {}).get(figtype, {})
    found = numbers.get(node_id)
    return ".".join(map(str, found)) if found else None


def _find(env, docname: str, target: str):
    """(anchor id, kind, printed number or None) of ``target`` in
    ``docname``, or None when the document has no such target."""
    std = env.get_domain("std")
    name = target.lower()  # docutils lower-cases labels: fig-gap-vs-T
    if name in std.anonlabels and std.anonlabels[name][0] == docname:
        anchor = std.anonlabels[name][1]
        kind, number = "label", None
        for figtype in ("figure", "code-block", "table"):
            number = _printed(env, docname, figtype, anchor)
            if number:
                kind = "figure" if figtype == "figure" else figtype
                break
        return anchor, kind, number
    proofs = getattr(env, "proof_list", {})  # sphinx-proof: lemmas, ...
    if target in proofs and proofs[target].get("docname") == docname:
        return target, "proof", None
    math = env.get_domain("math")
    if target in math.equations and math.equations[target][0] == docname:
        anchor = make_id(f"equation-{target}")
        return anchor, "equation", _printed(env, docname, "displaymath",
                                            anchor)
    if "cite" in env.domains:
        for key, value in env.get_domain("cite").bibliographies.items():
            if key.docname != docname:
                continue
            for citation in value.citation_nodes.values():
                if target in citation.get("ids", []):
                    return target, "citation", None
    return None


def _check_number(node, text: str, kind: str, number: str | None,
                  target: str) -> None:
    pattern = {"equation": EQ_NUMBER, "figure": FIG_NUMBER}.get(kind)
    if pattern is None or number is None:
        return
    match = pattern.search(text)
    if match and match.group(1) != number:
        logger.warning(
            "link text %r prints %s %s, but the book numbers %r as %s",
            text, kind, match.group(1), target, number,
            location=node, type="notebook_links", subtype="number")


class NotebookLinkResolver(SphinxPostTransform):
    """Resolves ``[text](file.ipynb#label)`` before myst-parser does."""

    default_priority = 8  # myst-parser's own resolver runs at 9

    def run(self, **kwargs) -> None:
        env = self.env
        for node in self.document.findall(nodes.reference):
            # [Figure 2.1](#fig-x) within a notebook: check the number.
            if node.get("id_link") and node.get("refid"):
                found = _find(env, env.docname, node["refid"])
                if found:
                    _check_number(node, node.astext(), found[1], found[2],
                                  node["refid"])
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst":
                continue
            if node.get("refdomain") != "doc":
                continue
            text = node.astext()
            docname = node.get("reftarget")
            target = node.get("reftargetid")
            if not target or docname not in env.all_docs:
                continue
            if target in env.metadata[docname].get("myst_slugs", {}):
                continue
            found = _find(env, docname, target)
            if found is None:
                continue  # myst-parser warns: "local id not found"
            anchor, kind, number = found
            _check_number(node, text, kind, number, target)
            inner = nodes.inline("", "", classes=["std", "std-ref"])
            inner.extend(child.deepcopy() for child in node[0].children)
            ref = make_refnode(self.app.builder, env.docname, docname,
                               anchor, inner)
            node.replace_self(ref)


def setup(app):
    app.add_post_transform(NotebookLinkResolver)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
