"""One round trip through the real nbgrader (PyPI), on a built problem set.

A problem set of Chapter 1 exercises is built; in its nbgrader course
folder `nbgrader generate_assignment` releases it and `nbgrader autograde`
grades three submissions: the answer key (the reference solutions in the
released notebook), the untouched student notebook, and one with a
classic mistake (noise scaled by the variance beta instead of sqrt(beta)).
Everything runs once, in a module-scoped fixture (about half a minute).
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from diffusion_edu.problemset import build_problem_set
from diffusion_edu.problemset._code import strip_markers

pytest.importorskip("nbgrader")
from nbgrader.api import Gradebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SLUG = "ps-roundtrip"
SPEC = f"""\
title: "Round trip: Markov chains"
due: "the end of the test"
slug: {SLUG}
exercises:
  - ex-01-two-state
  - ex-01-n-step-distribution
  - ex-01-gaussian-chain-step
  - label: ex-01-stationary-distribution
    points: 5
"""
# points: n-step 4, Gaussian step 4, stationary 5 (override); two-state
# 4 points graded by hand.
AUTOGRADED = {"ex-01-n-step-distribution": 4,
              "ex-01-gaussian-chain-step": 4,
              "ex-01-stationary-distribution": 5}
WRONG_STEP = '''\
def gaussian_chain_step(x_prev, beta, noise):
    return np.sqrt(1 - beta) * x_prev + beta * noise   # beta, not sqrt
'''


def _nbgrader(*args, cwd):
    exe = Path(sys.executable).with_name("nbgrader")
    command = [str(exe) if exe.exists() else "nbgrader", *args]
    # nbgrader runs `alembic` from PATH: put this interpreter's bin first
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, (
        f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    start = time.perf_counter()
    tmp = tmp_path_factory.mktemp("roundtrip")
    spec = tmp / "spec.yml"
    spec.write_text(SPEC)
    built = build_problem_set(spec, tmp / "out", ROOT)
    course = tmp / "out" / "nbgrader"
    source = nbformat.read(built.nbgrader_source, as_version=4)
    _nbgrader("generate_assignment", SLUG, "--force", cwd=course)
    release_path = course / "release" / SLUG / f"{SLUG}.ipynb"
    release = nbformat.read(release_path, as_version=4)

    answers = {_grade_id(c): c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}

    def submission(student, replace):
        nb = nbformat.read(release_path, as_version=4)
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in replace:
                cell.source = replace[gid]
        folder = course / "submitted" / student / SLUG
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{SLUG}.ipynb")

    key = {gid: (strip_markers(src) if not gid.endswith("-written")
                 else "A complete derivation.")
           for gid, src in answers.items()}
    mistake = dict(key)
    mistake["ex-01-gaussian-chain-step-answer"] = WRONG_STEP
    submission("answer-key", key)
    submission("untouched", {})
    submission("mistake", mistake)
    _nbgrader("autograde", SLUG, "--force", cwd=course)

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("answer-key", "untouched", "mistake"):
            nb = gb.find_submission_notebook(SLUG, SLUG, student)
            scores[student] = (nb.code_score, nb.max_code_score,
                               nb.needs_manual_grade)
    elapsed = time.perf_counter() - start
    print(f"\nnbgrader round trip: {elapsed:.1f} s; scores "
          f"(autograded, max, needs manual grade): {scores}")
    yield {"scores": scores, "source": source, "release": release,
           "course": course, "seconds": elapsed}
    shutil.rmtree(tmp, ignore_errors=True)


def test_answer_key_gets_full_autograded_marks(roundtrip):
    score, max_score, manual = roundtrip["scores"]["answer-key"]
    assert max_score == sum(AUTOGRADED.values()) == 13
    assert score == max_score
    assert manual   # the derivation still waits for a human grader


def test_untouched_student_notebook_scores_zero(roundtrip):
    score, max_score, _ = roundtrip["scores"]["untouched"]
    assert max_score == 13
    assert score == 0


def test_classic_mistake_loses_exactly_that_exercise(roundtrip):
    score, _, _ = roundtrip["scores"]["mistake"]
    assert score == 13 - AUTOGRADED["ex-01-gaussian-chain-step"] == 9


def test_release_has_no_solution_regions_or_hidden_tests(roundtrip):
    text = nbformat.writes(roundtrip["release"])
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "strict=True",
                   "Model answer", "np.linalg.lstsq"):
        assert marker not in text, marker
    stubs = [c.source for c in roundtrip["release"].cells
             if c.metadata.get("nbgrader", {}).get("solution")
             and c.cell_type == "code"]
    assert len(stubs) == 3
    assert all("def " in s and "raise NotImplementedError()" in s
               for s in stubs)


def test_source_marks_cells_for_nbgrader(roundtrip):
    meta = [c.metadata.get("nbgrader", {})
            for c in roundtrip["source"].cells]
    tests = [m for m in meta if m.get("grade") and not m.get("solution")]
    written = [m for m in meta if m.get("grade") and m.get("solution")]
    assert sorted(m["points"] for m in tests) == [4, 4, 5]
    assert [m["grade_id"] for m in written] == ["ex-01-two-state-written"]
    assert written[0]["points"] == 4
