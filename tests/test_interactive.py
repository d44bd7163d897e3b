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


def _png_size(data: bytes) -> tuple[int, int]:
    import struct

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("figsize", [(4.0, 3.0), (6.0, 4.0), (12.0, 3.8)])
def test_static_frames_fill_the_column_at_twice_its_density(figsize):
    from diffusion_edu.interactive import DENSITY, DISPLAY_WIDTH

    fig = explorable(_line, {"slope": [1.0, 2.0], "offset": [0]},
                     alt="x", figsize=figsize, mode="static")
    width, height = _png_size(fig.frames[0])
    # one display width for every figure, drawn at DENSITY pixels per
    # css px (matplotlib may round by a pixel)
    assert abs(width - DENSITY * DISPLAY_WIDTH) <= 2
    assert abs(height / width - figsize[1] / figsize[0]) < 0.01
    html = fig._repr_html_()
    assert f'width="{DISPLAY_WIDTH}"' in html
    assert f"max-width:{DISPLAY_WIDTH}px" in html


def test_text_has_the_same_displayed_size_whatever_the_figsize():
    from diffusion_edu.interactive import _column_render

    narrow, wide = _column_render((4.0, 3.0)), _column_render((12.0, 3.0))
    # a point of text covers dpi / 72 image pixels; displayed at the same
    # width, the default font then has the same height in image pixels
    assert narrow["font_size"] * narrow["dpi"] == pytest.approx(
        wide["font_size"] * wide["dpi"])
    assert wide["font_size"] > narrow["font_size"]
    with pytest.raises(ValueError, match="figsize"):
        _column_render((0.0, 3.0))


@pytest.mark.parametrize("name, tex", [
    ("beta", r"\beta"), ("eta", r"\eta"), ("t", "t"), ("T", "T"),
    ("x_t", "x_{t}"), ("alpha_bar", r"\bar{\alpha}"),
    ("schedule", None), ("points", None)])
def test_parameter_labels_are_typeset(name, tex):
    from diffusion_edu.interactive import label_tex

    assert label_tex(name) == tex


def test_static_controls_label_in_math_and_menus_for_named_choices():
    def curve(ax, beta, schedule):
        _line(ax, beta if schedule == "linear" else -beta, 0)

    fig = explorable(curve, {"beta": [0.1, 0.5],
                             "schedule": ["linear", "cosine"]},
                     alt="x", mode="static")
    html = fig._repr_html_()
    assert r"\(\beta\)" in html and "beta =" not in html
    assert html.count('type="range"') == 1
    assert html.count("<select") == 1
    assert '<option value="1">cosine</option>' in html
    assert "<figcaption" in html and "schedule" in html
    assert "<datalist" in html  # tick marks under the slider


def test_explicit_labels_and_caption():
    fig = explorable(_line, PARAMS, alt="x", mode="static",
                     labels={"slope": "$a$", "offset": "offset b"},
                     caption="A line y = a x + b.")
    html = fig._repr_html_()
    assert r"\(a\)" in html and "offset b =" in html
    assert "A line y = a x + b.</figcaption>" in html
    with pytest.raises(ValueError, match="unknown parameters"):
        explorable(_line, PARAMS, alt="x", mode="static",
                   labels={"slant": "$s$"})
    with pytest.raises(TypeError, match="caption"):
        explorable(_line, PARAMS, alt="x", mode="static", caption=3)


def test_live_mode_uses_math_labels_and_menus():
    import ipywidgets as widgets

    def curve(ax, beta, schedule):
        _line(ax, beta if schedule == "linear" else -beta, 0)

    box = explorable(curve, {"beta": [0.1, 0.5],
                             "schedule": ["linear", "cosine"]},
                     alt="x", mode="live")
    slider, menu = box.children[:2]
    assert isinstance(slider, widgets.SelectionSlider)
    assert slider.description == r"$\beta$"
    assert isinstance(menu, widgets.Dropdown)
    assert menu.description == "schedule"
