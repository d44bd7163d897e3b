"""The problem-set builder: specs, the three notebooks, no leaks, editions.

A module-scoped fixture builds one problem set with every catalogued
exercise that the chapters contain; the tests run its notebooks and
search them (and the student edition of the book, when it has been
built) for the distinctive lines of every worked solution.
"""

import dataclasses
import html
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from diffusion_edu.problemset import (
    BuildError,
    SpecError,
    _build,
    build_problem_set,
    load_book,
    load_catalogue,
    load_spec,
    validate_spec,
)
from diffusion_edu.problemset._code import (
    free_names,
    splice_solution,
    strict_calls,
    strip_markers,
)
from diffusion_edu.problemset._editions import student_config, student_toc
from diffusion_edu.problemset._render import EquationRegistry, build_renderer

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "book" / "exercises.yml"
STUDENT_HTML = ROOT / "_build" / "student" / "_build" / "html"
FULL_HTML = ROOT / "_build" / "html"
REQUIRE_EDITIONS = os.environ.get("DIFFUSION_EDU_REQUIRE_EDITIONS") == "1"


@pytest.fixture(scope="module")
def book():
    return load_book(ROOT)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(CATALOGUE)


def _spec(tmp_path, name="spec.yml", **data):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _first(catalogue, book, kind):
    return next(label for label, e in catalogue.entries.items()
                if e.kind == kind and label in book.exercises
                and label in book.solutions)


# ---------------------------------------------------------------------------
# bad specs fail clearly and never leave a half-written folder
# ---------------------------------------------------------------------------

def _error(tmp_path, **data) -> str:
    spec = _spec(tmp_path, **data)
    out = tmp_path / "out"
    with pytest.raises((SpecError, BuildError)) as info:
        build_problem_set(spec, out, ROOT)
    assert not out.exists(), "a failed build left an output folder"
    assert not list(tmp_path.glob(".out.*")), "temporary folder left over"
    return str(info.value)


def test_spec_without_title_is_rejected(tmp_path):
    msg = _error(tmp_path, due="Monday", exercises=["ex-01-two-state"])
    assert "missing title" in msg


def test_spec_without_due_date_is_rejected(tmp_path):
    msg = _error(tmp_path, title="PS", exercises=["ex-01-two-state"])
    assert "missing due date" in msg


def test_unknown_label_is_named_and_a_close_label_suggested(tmp_path):
    msg = _error(tmp_path, title="PS", due="Monday",
                 exercises=["ex-01-two-state", "ex-01-two-stat"])
    assert "unknown exercise label ex-01-two-stat" in msg
    assert "did you mean ex-01-two-state?" in msg


def test_duplicate_exercise_is_rejected(tmp_path):
    msg = _error(tmp_path, title="PS", due="Monday",
                 exercises=["ex-01-two-state", "ex-01-noise-scale",
                            {"label": "ex-01-two-state", "points": 3}])
    assert ("duplicate exercise ex-01-two-state: listed as exercise 1 and "
            "again as exercise 3") in msg


@pytest.mark.parametrize("points", [0, -2, "three", True, float("nan")])
def test_points_must_be_a_positive_number(tmp_path, points):
    msg = _error(tmp_path, title="PS", due="Monday",
                 exercises=[{"label": "ex-01-two-state", "points": points}])
    assert "exercise 1 (ex-01-two-state): points must be a number > 0" in msg


def test_every_problem_of_a_spec_is_reported_at_once(tmp_path):
    msg = _error(tmp_path, exercises=[], colour="blue")
    for part in ("missing title", "missing due date", "unknown key(s) "
                 "colour", "exercises must be a non-empty list"):
        assert part in msg


def test_form_and_label_problems_are_reported_together(tmp_path):
    msg = _error(tmp_path, due="Monday",
                 exercises=["ex-01-two-state", "ex-01-two-stat",
                            {"label": "ex-01-two-state", "points": 0}])
    assert "missing title" in msg
    assert "exercise 2: unknown exercise label ex-01-two-stat" in msg
    assert "duplicate exercise ex-01-two-state" in msg


def test_failed_build_keeps_the_previous_output(tmp_path, monkeypatch):
    spec = _spec(tmp_path, title="PS", due="Monday",
                 exercises=["ex-01-two-state"])
    out = tmp_path / "out"
    build_problem_set(spec, out, ROOT)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def broken_write(nb, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return nbformat.write(nb, path, *args, **kwargs)

    monkeypatch.setattr(_build.nbformat, "write", broken_write)
    spec.write_text(yaml.safe_dump({"title": "Changed", "due": "Tuesday",
                                    "exercises": ["ex-01-noise-scale"]}))
    with pytest.raises(OSError, match="disk full"):
        build_problem_set(spec, out, ROOT)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "spec.yml"]


def test_builder_refuses_to_overwrite_a_folder_it_did_not_make(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    spec = _spec(tmp_path, title="PS", due="Monday",
                 exercises=["ex-01-two-state"])
    with pytest.raises(BuildError, match="refusing to write into"):
        build_problem_set(spec, out, ROOT)
    assert (out / "thesis.tex").read_text() == "precious"


def test_rebuilding_gives_identical_files(tmp_path, catalogue, book):
    spec = _spec(tmp_path, title="PS", due="Monday",
                 exercises=[_first(catalogue, book, "coding"),
                            _first(catalogue, book, "derivation")])
    build_problem_set(spec, tmp_path / "a", ROOT)
    build_problem_set(spec, tmp_path / "b", ROOT)
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert path.read_bytes() == twin.read_bytes(), path.name


# ---------------------------------------------------------------------------
# the example specs
# ---------------------------------------------------------------------------

EXAMPLES = sorted((ROOT / "examples" / "problemsets").glob("*.yml"))


def test_there_are_three_example_specs():
    assert len(EXAMPLES) == 3


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_spec_builds(tmp_path, path):
    result = build_problem_set(path, tmp_path / "out", ROOT)
    spec = load_spec(path)
    student = nbformat.read(result.student, as_version=4)
    assert student.cells[0].source.startswith(f"# {spec.title}")
    assert f"**Due:** {spec.due}" in student.cells[0].source
    for item in spec.items:
        assert any(f"(`{item.label}`)" in c.source for c in student.cells)


# ---------------------------------------------------------------------------
# one problem set with every exercise
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def every_exercise(tmp_path_factory, book, catalogue):
    labels = [label for label in catalogue.entries
              if label in book.exercises and label in book.solutions]
    tmp = tmp_path_factory.mktemp("every")
    spec = _spec(tmp, title="Every exercise", due="never", slug="every",
                 exercises=labels)
    result = build_problem_set(spec, tmp / "out", ROOT)
    return result, labels


def _run(nb, cwd):
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _text(nb) -> str:
    parts = [json.dumps(nb.metadata)]
    for cell in nb.cells:
        parts += [cell.source, json.dumps(cell.metadata),
                  json.dumps(cell.get("outputs", []))]
    return _norm("\n".join(parts))


def _norm(text: str) -> str:
    text = (text.replace("\u2019", "'").replace("\u2018", "'")
            .replace("\u201c", '"').replace("\u201d", '"'))
    return " ".join(text.split())


def _markdown_phrases(text: str):
    text = re.sub(r"\$\$.*?\$\$", "\n\n", text, flags=re.S)
    text = re.sub(r"\$[^$\n]*\$", "\n\n", text)
    text = re.sub(r"\{[\w:.-]+\}`[^`]*`|`[^`]*`", "\n\n", text)
    text = re.sub(r"^(?::{3,}|`{3,}|:[\w-]+:).*$", "\n\n", text, flags=re.M)
    text = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "\n\n", text, flags=re.M)
    for run in re.split(r"[^A-Za-z0-9,.;: ()\n-]+|\n\s*\n|--", text):
        words = run.split()
        if len(words) >= 8:
            yield " ".join(words)


def _code_lines(source: str):
    for line in source.split("\n"):
        line = line.strip()
        if len(line) >= 24 and not line.startswith(("#", "from ",
                                                     "import ")):
            yield _norm(line)


@pytest.fixture(scope="module")
def distinctive(book):
    """label -> lines of its solution that no chapter or page contains."""
    corpus = []
    for path in [*ROOT.glob("chapters/*.ipynb")]:
        nb = nbformat.read(path, as_version=4)
        corpus += [c.source for c in nb.cells]
    corpus += [p.read_text() for p in ROOT.glob("book/*.md")]
    public = _norm("\n".join(corpus))
    out = {}
    for label, sol in book.solutions.items():
        lines = []
        for block in sol.blocks:
            found = (_code_lines(block.source) if block.kind == "code"
                     else _markdown_phrases(block.source))
            lines += [x for x in found if x not in public]
        out[label] = sorted(set(lines))
    return out


def test_every_exercise_builds_without_warnings(every_exercise):
    result, labels = every_exercise
    assert len(labels) > 10
    assert result.warnings == []


def test_every_solution_has_distinctive_lines(distinctive):
    empty = [label for label, lines in distinctive.items() if not lines]
    assert not empty, f"no distinctive solution text found for {empty}"


def test_student_notebook_contains_no_solution_text(every_exercise,
                                                    distinctive):
    result, labels = every_exercise
    text = _text(nbformat.read(result.student, as_version=4))
    leaks = [(label, line) for label in labels
             for line in distinctive[label] if line in text]
    assert not leaks, f"solution text in the student notebook: {leaks[:5]}"


def test_answer_key_contains_every_solution(every_exercise, distinctive):
    result, labels = every_exercise
    text = _text(nbformat.read(result.answer_key, as_version=4))
    missing = [label for label in labels
               if not any(line in text for line in distinctive[label])]
    assert not missing, f"answer key lacks the solutions of {missing}"


def test_student_notebook_runs_and_checks_report_not_implemented(
        every_exercise, tmp_path):
    result, labels = every_exercise
    nb = _run(nbformat.read(result.student, as_version=4), tmp_path)
    checks = [c for c in nb.cells if c.cell_type == "code"
              and "-check" in c.id]
    assert checks
    for cell in checks:
        out = " ".join(o.get("data", {}).get("text/plain", "")
                       for o in cell.outputs)
        assert "[not yet implemented]" in out, (cell.source, out)
    leaks = _text(nb)
    assert "Traceback" not in leaks


def test_student_notebook_has_no_myst_roles_or_directives(every_exercise):
    result, _ = every_exercise
    nb = nbformat.read(result.student, as_version=4)
    for cell in nb.cells:
        assert not re.search(r"\{(eq|ref|doc|cite:[pt]|prf:ref)\}`",
                             cell.source), cell.source
        assert "{exercise" not in cell.source
        assert "{solution" not in cell.source


def test_answer_key_runs_with_every_strict_check(every_exercise, catalogue,
                                                tmp_path):
    result, labels = every_exercise
    nb = _run(nbformat.read(result.answer_key, as_version=4), tmp_path)
    strict = [c for c in nb.cells if c.cell_type == "code"
              and "strict=True" in c.source]
    coding = [label for label in labels if catalogue[label].kind == "coding"]
    assert len(strict) >= len(coding) > 0


def test_answer_key_has_a_rubric_for_every_hand_graded_exercise(
        every_exercise, catalogue):
    result, labels = every_exercise
    nb = nbformat.read(result.answer_key, as_version=4)
    rubrics = {c.id.split("-", 1)[1].rsplit("-rubric", 1)[0]: c.source
               for c in nb.cells if c.id.endswith("-rubric")}
    for label in labels:
        text = rubrics[label]
        entry = catalogue[label]
        assert text.startswith(f"### Grading ({entry.points:g} points)")
        if entry.kind in ("derivation", "experiment"):
            assert "By hand" in text
        if entry.kind == "coding":
            assert "Autograded" in text


def test_nbgrader_source_with_reference_answers_passes_hidden_tests(
        every_exercise, tmp_path):
    """Every answer region holds a working reference solution: run the
    source notebook (hidden strict tests included) top to bottom."""
    result, labels = every_exercise
    nb = nbformat.read(result.nbgrader_source, as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
             and c.cell_type == "code"]
    assert all("### BEGIN HIDDEN TESTS" in c.source for c in tests)
    _run(nb, tmp_path)   # raises CellExecutionError on any failure


def test_points_follow_the_catalogue(every_exercise, catalogue):
    result, labels = every_exercise
    nb = nbformat.read(result.nbgrader_source, as_version=4)
    points = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            label = meta["grade_id"].rsplit("-", 1)[0]
            points[label] = points.get(label, 0) + meta["points"]
    assert points == pytest.approx({label: catalogue[label].points
                                    for label in labels})


def test_points_override_of_a_spec_is_used(tmp_path, catalogue, book):
    label = _first(catalogue, book, "coding")
    spec = _spec(tmp_path, title="PS", due="Monday",
                 exercises=[{"label": label, "points": 7.5}])
    result = build_problem_set(spec, tmp_path / "out", ROOT)
    student = nbformat.read(result.student, as_version=4)
    assert "**7.5 points**" in student.cells[2].source
    source = nbformat.read(result.nbgrader_source, as_version=4)
    graded = [c.metadata["nbgrader"] for c in source.cells
              if c.metadata.get("nbgrader", {}).get("grade")]
    assert [m["points"] for m in graded] == [7.5]


def test_validate_spec_names_a_catalogued_but_unwritten_exercise(
        tmp_path, catalogue, book):
    spec = load_spec(_spec(tmp_path, title="PS", due="Monday",
                           exercises=["ex-01-two-state"]))
    without = dataclasses.replace(book, exercises={
        k: v for k, v in book.exercises.items() if k != "ex-01-two-state"})
    with pytest.raises(SpecError, match="is in the catalogue but no "
                       "chapter notebook has it"):
        validate_spec(spec, catalogue, without)


# ---------------------------------------------------------------------------
# pieces: splicing, free names, rendering
# ---------------------------------------------------------------------------

STUB = '''\
def f(x, n):
    """Return x times n."""
    # x: an array.
    # YOUR CODE HERE
    raise NotImplementedError
'''
SOLUTION = '''\
import math


def helper(x):
    return x * math.pi / math.pi


def f(x, n):
    """The solution's docstring."""
    y = helper(x)
    return y * n


print(f(2, 3))   # a demonstration, not part of the answer
'''


def test_splice_keeps_the_stub_and_fills_the_region():
    spliced = splice_solution(STUB, [SOLUTION])
    assert spliced.startswith('def f(x, n):\n    """Return x times n."""\n'
                              '    # x: an array.\n'
                              '    ### BEGIN SOLUTION\n')
    assert "YOUR CODE HERE" not in spliced and "raise" not in spliced
    assert "print(f(2, 3))" not in spliced
    assert "solution's docstring" not in spliced
    namespace = {}
    exec(strip_markers(spliced), namespace)
    assert namespace["f"](2.0, 3) == pytest.approx(6.0)


def test_splice_gives_up_when_no_function_matches():
    assert splice_solution(STUB, ["def g(x):\n    return x\n"]) is None


def test_strict_calls_add_strict_true():
    assert strict_calls("from m import check_a\n\ncheck_a(fn, tol=2)") == [
        "check_a(fn, tol=2, strict=True)"]


def test_free_names_sees_use_before_assignment_and_nested_uses():
    assert free_names("v = v + 1") == {"v"}
    assert free_names("def g(x):\n    return np.sqrt(x) + k\nk = 1") == {
        "np"}
    assert free_names("import numpy as np\nprint(np.pi, len([]))") == set()


def test_equation_and_citation_roles_become_plain_text(book):
    renderer = build_renderer(book)
    registry = EquationRegistry()
    used = []
    text = renderer.render("By {eq}`eq-n-step`, see {cite:t}`ho2020` and "
                           "{cite:p}`ho2020`.", registry, used)
    assert text == "By (E1), see Ho et al. (2020) and (Ho et al. 2020)."
    assert used == ["eq-n-step"]
    listing = renderer.equation_list(used, registry)
    assert "p_n = p_0 P^n" in listing and "\\tag{E1}" in listing


# ---------------------------------------------------------------------------
# the student edition of the book
# ---------------------------------------------------------------------------

def test_student_toc_has_every_page_but_the_solutions():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    text = json.dumps(toc)
    files = set(re.findall(r'"file": "([^"]+)"', text))
    kept = set(re.findall(r'"file": "([^"]+)"',
                          json.dumps(student_toc(toc))))
    assert kept == {f for f in files if not f.startswith("solutions/")}
    assert any(f.startswith("solutions/") for f in files)
    captions = [p.get("caption") for p in student_toc(toc)["parts"]]
    assert "Solutions" not in captions


def test_student_config_reuses_the_cache_of_the_full_build():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    out = student_config(config, ROOT)
    assert out["execute"]["cache"] == str(ROOT / "_build" / ".jupyter_cache")
    assert out["sphinx"]["config"]["diffusion_edu_edition"] == "student"
    assert "diffusion_edu.problemset.sphinxext" in (
        out["sphinx"]["extra_extensions"])
    for path in out["sphinx"].get("local_extensions", {}).values():
        assert Path(path).is_absolute() and Path(path).is_dir()
    assert config["execute"].get("cache") is None   # the input is untouched


def _html_text(folder: Path) -> str:
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".html", ".js", ".txt", ".ipynb", ".md") and \
                path.is_file() and "_static" not in path.parts:
            raw = path.read_text(encoding="utf-8", errors="replace")
            raw = re.sub(r"</?span[^>]*>", "", raw)    # highlighted code
            parts.append(html.unescape(re.sub(r"<[^>]+>", " ", raw)))
    return _norm("\n".join(parts))


def _editions_or_skip():
    if STUDENT_HTML.is_dir() and FULL_HTML.is_dir():
        return
    message = ("build both editions first: jupyter-book build --all . && "
               "python -m diffusion_edu.problemset student-edition")
    if REQUIRE_EDITIONS:
        pytest.fail(message)
    pytest.skip(message)


def test_student_edition_contains_no_solution_text(distinctive, book):
    _editions_or_skip()
    assert not (STUDENT_HTML / "solutions").exists()
    text = _html_text(STUDENT_HTML)
    leaks = [(label, line) for label, lines in distinctive.items()
             for line in lines if line in text]
    assert not leaks, f"solution text in the student edition: {leaks[:5]}"
    # the search itself works: the full edition shows the solutions
    full = _html_text(FULL_HTML / "solutions")
    lines = [line for found in distinctive.values() for line in found]
    shown = [line for line in lines if line in full]
    assert len(shown) >= 0.9 * len(lines), (
        f"only {len(shown)} of {len(lines)} solution lines are found in "
        "the full edition: is the search broken (or the build stale)?")
