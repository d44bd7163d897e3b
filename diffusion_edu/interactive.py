"""Explorable figures: live sliders in Jupyter, a self-contained twin in
the book.

One helper, :func:`explorable`, turns a pure plotting function
``plot(ax, **params)`` and a small grid of parameter values into

* **live** ipywidgets sliders when the notebook runs in Jupyter with a
  kernel, redrawing the figure on every change; or
* a **static** explorable figure for the rendered book: every combination
  of parameter values is drawn once, in advance, and embedded as a PNG
  frame in a self-contained HTML snippet with one slider per parameter.
  It needs no kernel, no CDN and no JavaScript library, so it works on the
  website, in an offline copy and in any notebook viewer.

The mode is chosen automatically (live inside a Jupyter server, static
otherwise, e.g. during the book build or under nbval) and can be forced
with ``mode=`` or the environment variable ``DIFFUSION_EDU_EXPLORABLE``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from matplotlib.figure import Figure

__all__ = ["StaticExplorable", "explorable", "render_png"]

Mode = Literal["auto", "live", "static"]
MAX_FRAMES = 64


def _format_value(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def render_png(plot: Callable, params: Mapping, *, nrows: int = 1,
               ncols: int = 1, figsize=(6.0, 4.0), dpi: int = 80) -> bytes:
    """Draw ``plot(ax, **params)`` on a fresh figure; return PNG bytes.

    ``ax`` is one Axes when ``nrows * ncols == 1``, else an array of Axes.
    The figure is never shown through pyplot, so no global state leaks.
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True)
    plot(axes, **params)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _validate(plot, params, alt) -> dict[str, list]:
    if not callable(plot):
        raise TypeError(
            f"plot must be a function plot(ax, **params); "
            f"got {type(plot).__name__}")
    if not isinstance(params, Mapping) or not params:
        raise ValueError(
            "params must be a non-empty dict mapping each parameter name "
            "to a list of values, e.g. {'beta': [0.01, 0.1]}")
    grid = {}
    for name, values in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(
                f"parameter names must be Python identifiers; got {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(
                values, (Sequence, np.ndarray)):
            raise TypeError(
                f"params[{name!r}] must be a list of values; "
                f"got {type(values).__name__}")
        values = list(values)
        if len(values) == 0:
            raise ValueError(f"params[{name!r}] must not be empty")
        grid[name] = values
    n_frames = int(np.prod([len(v) for v in grid.values()]))
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"the parameter grid has {n_frames} combinations; at most "
            f"{MAX_FRAMES} are precomputed for the book. Use fewer values.")
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(
            "alt must be a non-empty description of the figure for readers "
            "who cannot see it; it may use the parameters, e.g. "
            "'Histogram of x_t after {t} steps'")
    return grid


def _alt_text(alt: str, values: Mapping) -> str:
    shown = {k: _format_value(v) for k, v in values.items()}
    try:
        return alt.format(**shown)
    except (KeyError, IndexError, ValueError):
        return alt


@dataclass
class StaticExplorable:
    """Precomputed frames with one slider per parameter (no kernel)."""

    grid: dict[str, list]
    frames: list[bytes]
    alts: list[str]
    uid: str

    def _strides(self) -> list[int]:
        sizes = [len(v) for v in self.grid.values()]
        return [int(np.prod(sizes[i + 1:])) for i in range(len(sizes))]

    def _repr_html_(self) -> str:
        uid = self.uid
        sources = [
            "data:image/png;base64," + base64.b64encode(f).decode("ascii")
            for f in self.frames]
        data = json.dumps({"src": sources, "alt": self.alts,
                           "strides": self._strides()})
        controls = []
        for i, (name, values) in enumerate(self.grid.items()):
            if len(values) < 2:  # a fixed value: no slider that does nothing
                continue
            labels = json.dumps([_format_value(v) for v in values])
            controls.append(
                f'<label style="display:flex;align-items:center;gap:0.6em;'
                f'margin:0.2em 0;font-family:monospace;">'
                f'<span style="min-width:9em;">{html.escape(name)} = '
                f'<output>{html.escape(_format_value(values[0]))}</output>'
                f'</span><input type="range" min="0" '
                f'max="{len(values) - 1}" step="1" value="0" '
                f'data-axis="{i}" data-labels=\'{html.escape(labels)}\' '
                f'aria-label="{html.escape(name)}" style="flex:1;">'
                f"</label>")
        script = (
            "(function(){var root=document.getElementById('" + uid + "');"
            "var d=JSON.parse(root.querySelector('script.frames')"
            ".textContent);var img=root.querySelector('img');"
            "var inputs=root.querySelectorAll('input[type=range]');"
            "function update(){var k=0;inputs.forEach(function(el){"
            "var i=+el.dataset.axis;k+=d.strides[i]*(+el.value);"
            "el.parentNode.querySelector('output').textContent="
            "JSON.parse(el.dataset.labels)[+el.value];});"
            "img.src=d.src[k];img.alt=d.alt[k];}"
            "inputs.forEach(function(el){el.addEventListener('input',"
            "update);});})();")
        return (
            f'<div class="diffusion-edu-explorable" id="{uid}" '
            f'style="max-width:100%;">'
            f'<img src="{sources[0]}" alt="{html.escape(self.alts[0])}" '
            f'style="max-width:100%;height:auto;">'
            f'<div class="explorable-controls">{"".join(controls)}</div>'
            f'<script type="application/json" class="frames">{data}'
            f"</script><script>{script}</script></div>")

    def __repr__(self) -> str:
        names = ", ".join(f"{k} ({len(v)} values)"
                          for k, v in self.grid.items())
        return f"<explorable figure: {len(self.frames)} frames; {names}>"


def _choose_mode(mode: Mode) -> Literal["live", "static"]:
    if mode not in ("auto", "live", "static"):
        raise ValueError(
            f"mode must be 'auto', 'live' or 'static'; got {mode!r}")
    if mode != "auto":
        return mode
    forced = os.environ.get("DIFFUSION_EDU_EXPLORABLE", "").strip()
    if forced in ("live", "static"):
        return forced
    # A Jupyter server (JupyterLab, Notebook 7) sets JPY_SESSION_NAME in
    # the kernel's environment; the book build and nbval do not.
    return "live" if os.environ.get("JPY_SESSION_NAME") else "static"


def _static(plot, grid, alt, render) -> StaticExplorable:
    names = list(grid)
    frames, alts = [], []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(names, combo, strict=True))
        frames.append(render(values))
        alts.append(_alt_text(alt, values))
    shape = [len(grid[n]) for n in names]
    cube = np.empty(len(frames), dtype=object)
    cube[:] = frames  # bytes stay whole: never unpacked into characters
    cube = cube.reshape(shape)
    for axis, name in enumerate(names):
        if shape[axis] < 2:
            continue
        moved = np.moveaxis(cube, axis, 0)
        if all(moved[(0, *idx)] == moved[(i, *idx)]
               for i in range(1, shape[axis])
               for idx in np.ndindex(*moved.shape[1:])):
            raise ValueError(
                f"changing {name!r} never changes the figure; plot must "
                f"use every parameter (a slider must do something)")
    uid = "explorable-" + hashlib.sha1(b"".join(frames)).hexdigest()[:12]
    return StaticExplorable(grid, frames, alts, uid)


def _live(plot, grid, render):
    import ipywidgets as widgets
    from IPython.display import Image, display

    sliders = {
        name: widgets.SelectionSlider(
            options=[(_format_value(v), v) for v in values],
            value=values[0], description=name, continuous_update=False,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="420px"))
        for name, values in grid.items() if len(values) > 1}
    fixed = {name: values[0] for name, values in grid.items()
             if len(values) == 1}
    out = widgets.Output()

    def redraw(**values):
        with out:
            out.clear_output(wait=True)
            display(Image(render({**fixed, **values})))

    widgets.interactive_output(redraw, sliders)
    return widgets.VBox([*sliders.values(), out])


def explorable(plot: Callable, params: Mapping[str, Sequence], *,
               nrows: int = 1, ncols: int = 1, figsize=(6.0, 4.0),
               alt: str, dpi: int = 80, mode: Mode = "auto"):
    """Make ``plot(ax, **params)`` explorable over a grid of values.

    Args:
        plot: draws on ``ax`` (one Axes, or an array of Axes when
            ``nrows * ncols > 1``) for one value of each parameter.
        params: parameter name -> list of values (at most 64
            combinations in total).
        nrows, ncols, figsize, dpi: layout of the matplotlib figure.
        alt: alternative text of the figure; may contain ``{name}``
            placeholders filled with the current parameter values.
        mode: ``"live"`` (ipywidgets), ``"static"`` (precomputed frames,
            self-contained HTML) or ``"auto"`` (live inside Jupyter).

    Returns:
        An ipywidgets ``VBox`` (live) or a :class:`StaticExplorable`
        (static); either displays itself as the last line of a cell.
    """
    grid = _validate(plot, params, alt)
    chosen = _choose_mode(mode)

    def render(values):
        return render_png(plot, values, nrows=nrows, ncols=ncols,
                          figsize=figsize, dpi=dpi)

    if chosen == "live":
        return _live(plot, grid, render)
    return _static(plot, grid, alt, render)
