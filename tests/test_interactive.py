"""The explorable-figure helper: live widgets and static twin."""

import re

import numpy as np
import pytest

from diffusion_edu.interactive import StaticExplorable, explorable


def _line(ax, slope, offset):
    x = np.linspace(0, 1, 20)
    ax.plot(x, slope * x + offset)
    ax.set_ylim(-3, 3)


PARAMS = {"slope": [0.5, 1.0, 2.0], "offset": [0, 1]}


def test_static_path_precomputes_every_combination():
    fig = explorable(_line, PARAMS, alt="line with slope {slope}",
                     mode="static")
    assert isinstance(fig, StaticExplorable)
    assert len(fig.frames) == 6
    assert len(set(fig.frames)) == 6  # every frame differs
    assert all(f.startswith(b"\x89PNG") for f in fig.frames)
    assert fig.alts[0] == "line with slope 0.5"


def test_static_html_is_self_contained():
    html = explorable(_line, PARAMS, alt="line", mode="static")._repr_html_()
    assert "<script src" not in html
    assert not re.search(r"(src|href)=[\"']https?://", html)
    assert html.count('type="range"') == 2
    assert html.count("data:image/png;base64,") == 1 + 6
    assert 'alt="line"' in html


def test_static_frame_order_matches_slider_strides():
    fig = explorable(_line, PARAMS, alt="x", mode="static")
    assert fig._strides() == [2, 1]
    # frame index = 2 * i_slope + i_offset
    same = explorable(_line, {"slope": [2.0], "offset": [1]}, alt="x",
                      mode="static")
    assert fig.frames[2 * 2 + 1] == same.frames[0]


def test_single_value_parameter_gets_no_slider():
    html = explorable(_line, {"slope": [1.0, 2.0], "offset": [0]},
                      alt="x", mode="static")._repr_html_()
    assert html.count('type="range"') == 1


def test_parameter_that_changes_nothing_is_rejected():
    def ignores_offset(ax, slope, offset):
        _line(ax, slope, 0)

    with pytest.raises(ValueError, match="never changes the figure"):
        explorable(ignores_offset, PARAMS, alt="x", mode="static")


def test_live_path_builds_one_slider_per_parameter():
    import ipywidgets as widgets

    box = explorable(_line, PARAMS, alt="x", mode="live")
    assert isinstance(box, widgets.VBox)
    sliders = [w for w in box.children
               if isinstance(w, widgets.SelectionSlider)]
    assert [s.description for s in sliders] == ["slope", "offset"]
    assert list(sliders[0].options) == [("0.5", 0.5), ("1", 1.0),
                                        ("2", 2.0)]
    out = box.children[-1]
    assert isinstance(out, widgets.Output)


def test_auto_mode_is_static_outside_a_jupyter_server(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("DIFFUSION_EDU_EXPLORABLE", raising=False)
    one = {"slope": [1.0, 2.0], "offset": [0]}
    fig = explorable(_line, one, alt="x")
    assert isinstance(fig, StaticExplorable)


def test_auto_mode_is_live_inside_a_jupyter_server(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.setenv("JPY_SESSION_NAME", "/tmp/some.ipynb")
    monkeypatch.delenv("DIFFUSION_EDU_EXPLORABLE", raising=False)
    one = {"slope": [1.0, 2.0], "offset": [0]}
    assert isinstance(explorable(_line, one, alt="x"), widgets.VBox)


@pytest.mark.parametrize("kwargs, message", [
    (dict(params={}), "non-empty dict"),
    (dict(params={"slope": []}), "must not be empty"),
    (dict(params={"slope": "abc"}), "list of values"),
    (dict(params={"slope": list(range(100))}), "at most 64"),
    (dict(params={"slope": [1, 2]}, alt=""), "alt must be"),
    (dict(params={"slope": [1, 2]}, mode="fast"), "mode must be"),
])
def test_bad_input_is_rejected_with_a_clear_message(kwargs, message):
    kwargs = {"alt": "x", **kwargs}
    params = kwargs.pop("params")
    with pytest.raises((ValueError, TypeError), match=message):
        explorable(_line, params, **kwargs)


def test_moving_a_live_slider_redraws_the_figure():
    import ipywidgets as widgets

    drawn = []

    def plot(ax, slope, offset):
        drawn.append((slope, offset))
        _line(ax, slope, offset)

    box = explorable(plot, PARAMS, alt="x", mode="live")
    slope = [w for w in box.children
             if isinstance(w, widgets.SelectionSlider)][0]
    before = len(drawn)
    slope.value = 2.0
    assert len(drawn) == before + 1
    assert drawn[-1] == (2.0, 0)


def test_single_parameter_figure_works_in_both_modes():
    def curve(ax, slope):
        _line(ax, slope, 0)

    fig = explorable(curve, {"slope": [1.0, 2.0, 3.0]}, alt="x",
                     mode="static")
    assert len(set(fig.frames)) == 3
    assert fig._repr_html_().count('type="range"') == 1
    with pytest.raises(ValueError, match="never changes the figure"):
        explorable(lambda ax, slope: _line(ax, 1.0, 0),
                   {"slope": [1.0, 2.0]}, alt="x", mode="static")
