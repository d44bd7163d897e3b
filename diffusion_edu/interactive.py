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
  website, in an offline copy and in any notebook viewer. Every frame is
  drawn for the width of the book's text column at twice its pixel
  density (sharp on high-density screens), with text about 12 px high
  at that width. Parameters are labelled in mathematics (``beta`` is
  shown as β, ``x_t`` as x_t), named choices (strings) get a menu
  instead of a slider, and the figure has a caption.

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
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from matplotlib.figure import Figure

__all__ = ["StaticExplorable", "explorable", "label_tex", "render_png"]

Mode = Literal["auto", "live", "static"]
MAX_FRAMES = 64
DISPLAY_WIDTH = 680  # css px: the width of the book's text column
DENSITY = 2          # image pixels per css px (high-density screens)
FONT_PX = 12         # default text height in css px at DISPLAY_WIDTH
GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon",
         "zeta", "eta", "theta", "kappa", "lambda", "mu", "nu", "xi",
         "pi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
         "Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Omega"}


def label_tex(name: str) -> str | None:
    """The TeX of a parameter's label, or None for a plain word.

    ``beta`` -> ``\\beta``, ``t`` -> ``t``, ``x_t`` -> ``x_{t}``,
    ``alpha_bar`` -> ``\\bar{\\alpha}``; ``schedule`` -> None.
    """
    base, _, sub = name.partition("_")
    if sub == "bar" and base in GREEK:
        return "\\bar{\\" + base + "}"
    if base in GREEK:
        head = "\\" + base
    elif len(base) == 1:
        head = base
    else:
        return None
    if not sub:
        return head
    if sub in GREEK:
        sub = "\\" + sub
    elif not sub.isalnum():
        return None
    return f"{head}_{{{sub}}}"


def _label_html(name: str, label: str | None) -> str:
    """A label for the page: TeX (typeset by MathJax in the book) or
    plain text."""
    tex = label if label is not None else label_tex(name)
    if label is None and tex is None:
        return html.escape(name.replace("_", " "))
    if label is not None and not label.startswith("$"):
        return html.escape(label)
    tex = tex.strip("$")
    return (f'<span class="math notranslate nohighlight">'
            f"\\({html.escape(tex)}\\)</span>")


def _format_value(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def render_png(plot: Callable, params: Mapping, *, nrows: int = 1,
               ncols: int = 1, figsize=(6.0, 4.0), dpi: float = 80,
               font_size: float | None = None) -> bytes:
    """Draw ``plot(ax, **params)`` on a fresh figure; return PNG bytes.

    ``ax`` is one Axes when ``nrows * ncols == 1``, else an array of Axes.
    ``font_size`` (points) is the default text size. The figure is never
    shown through pyplot, so no global state leaks.
    """
    import matplotlib

    style = {} if font_size is None else {"font.size": font_size}
    with matplotlib.rc_context(style):
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=True)
        plot(axes, **params)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _compact_png(data: bytes) -> bytes:
    """The same image with at most 256 colours (a third of the bytes)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        small = img.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE,
            dither=Image.Dither.NONE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _column_render(figsize) -> dict:
    """dpi and font size that draw a figure of ``figsize`` inches for
    the text column (DISPLAY_WIDTH css px) at DENSITY pixels per css px,
    with text FONT_PX css px high."""
    width_in = float(figsize[0])
    if not width_in > 0:
        raise ValueError(f"figsize must be (width, height) in inches, "
                         f"both positive; got {figsize!r}")
    css_per_inch = DISPLAY_WIDTH / width_in
    return {"dpi": DENSITY * css_per_inch,
            "font_size": FONT_PX * 72 / css_per_inch}


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
    size: tuple[int, int] = (DISPLAY_WIDTH, 400)  # css px
    labels: dict = field(default_factory=dict)
    caption: str = ""

    def _strides(self) -> list[int]:
        sizes = [len(v) for v in self.grid.values()]
        return [int(np.prod(sizes[i + 1:])) for i in range(len(sizes))]

    def _control(self, i: int, name: str, values: list) -> str:
        label = _label_html(name, self.labels.get(name))
        uid = f"{self.uid}-{i}"
        names = [_format_value(v) for v in values]
        if all(isinstance(v, str) for v in values):  # named choices
            options = "".join(
                f'<option value="{k}">{html.escape(v)}</option>'
                for k, v in enumerate(names))
            return (
                f'<label class="explorable-control">'
                f'<span class="explorable-label">{label}</span>'
                f'<select data-axis="{i}" '
                f'aria-label="{html.escape(name)}">{options}</select>'
                f"</label>")
        labels = json.dumps(names)
        ticks = "".join(f'<option value="{k}"></option>'
                        for k in range(len(values)))
        return (
            f'<label class="explorable-control">'
            f'<span class="explorable-label">{label} = '
            f"<output>{html.escape(names[0])}</output></span>"
            f'<input type="range" min="0" max="{len(values) - 1}" '
            f'step="1" value="0" data-axis="{i}" '
            f"data-labels='{html.escape(labels)}' list=\"{uid}-ticks\" "
            f'aria-label="{html.escape(name)}">'
            f'<datalist id="{uid}-ticks">{ticks}</datalist></label>')

    def _repr_html_(self) -> str:
        uid = self.uid
        sources = [
            "data:image/png;base64," + base64.b64encode(f).decode("ascii")
            for f in self.frames]
        data = json.dumps({"src": sources, "alt": self.alts,
                           "strides": self._strides()})
        controls = [self._control(i, name, values)
                    for i, (name, values) in enumerate(self.grid.items())
                    if len(values) >= 2]  # a fixed value: no control
        width, height = self.size
        caption = ""
        if self.caption:
            # mathjax_process: the book's MathJax typesets its \\(...\\)
            caption = (f'<figcaption class="explorable-caption '
                       f'mathjax_process">{self.caption}</figcaption>')
        script = (
            "(function(){var root=document.getElementById('" + uid + "');"
            "var d=JSON.parse(root.querySelector('script.frames')"
            ".textContent);var img=root.querySelector('img');"
            "var inputs=root.querySelectorAll('[data-axis]');"
            "function update(){var k=0;inputs.forEach(function(el){"
            "var i=+el.dataset.axis;k+=d.strides[i]*(+el.value);"
            "var out=el.parentNode.querySelector('output');"
            "if(out){out.textContent="
            "JSON.parse(el.dataset.labels)[+el.value];}});"
            "img.src=d.src[k];img.alt=d.alt[k];}"
            "inputs.forEach(function(el){el.addEventListener('input',"
            "update);el.addEventListener('change',update);});})();")
        return (
            f'<figure class="diffusion-edu-explorable" id="{uid}">'
            f'<img src="{sources[0]}" alt="{html.escape(self.alts[0])}" '
            f'width="{width}" height="{height}" '
            f'style="width:100%;max-width:{width}px;height:auto;">'
            f'<div class="explorable-controls">{"".join(controls)}</div>'
            f"{caption}"
            f'<script type="application/json" class="frames">{data}'
            f"</script><script>{script}</script></figure>")

    def _repr_png_(self) -> bytes:
        """One representative frame (the sliders' starting position) with
        a line saying that the web edition is explorable. Used where no
        HTML can be shown, such as the PDF edition of the book."""
        import matplotlib.image as mpimg

        frame = mpimg.imread(io.BytesIO(self.frames[0]), format="png")
        h, w = frame.shape[:2]
        dpi = 72.0 * DENSITY  # so that a point is DENSITY image pixels
        note_px = int(2.5 * FONT_PX * DENSITY)
        fig = Figure(figsize=(w / dpi, (h + note_px) / dpi), dpi=dpi)
        ax = fig.add_axes((0, note_px / (h + note_px), 1,
                           h / (h + note_px)))
        ax.imshow(frame)
        ax.set_axis_off()
        varied = []
        for name, values in self.grid.items():
            if len(values) >= 2:
                tex = label_tex(name)
                varied.append(f"${tex}$" if tex else name)
        fig.text(0.5, 0.5 * note_px / (h + note_px),
                 "Explorable figure: in the web edition of the book, "
                 "sliders vary " + ", ".join(varied) + ".",
                 ha="center", va="center", fontsize=FONT_PX,
                 style="italic")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

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


def _static(plot, grid, alt, render, *, figsize=(6.0, 4.0), labels=None,
            caption="") -> StaticExplorable:
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
    frames = [_compact_png(f) for f in frames]
    height = round(DISPLAY_WIDTH * float(figsize[1]) / float(figsize[0]))
    return StaticExplorable(grid, frames, alts, uid,
                            size=(DISPLAY_WIDTH, height),
                            labels=dict(labels or {}), caption=caption)


def _live_description(name: str, labels: Mapping) -> str:
    label = labels.get(name)
    if label is not None:
        return label
    tex = label_tex(name)
    return name if tex is None or tex == name else f"${tex}$"


def _live(plot, grid, render, labels=None):
    import ipywidgets as widgets
    from IPython.display import Image, display

    labels = dict(labels or {})

    def control(name, values):
        kind = (widgets.Dropdown if all(isinstance(v, str) for v in values)
                else widgets.SelectionSlider)
        extra = {} if kind is widgets.Dropdown else {
            "continuous_update": False}
        return kind(
            options=[(_format_value(v), v) for v in values],
            value=values[0], description=_live_description(name, labels),
            style={"description_width": "initial"},
            layout=widgets.Layout(width="420px"), **extra)

    sliders = {name: control(name, values)
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
               alt: str, dpi: int = 80, mode: Mode = "auto",
               labels: Mapping[str, str] | None = None,
               caption: str | None = None):
    """Make ``plot(ax, **params)`` explorable over a grid of values.

    Args:
        plot: draws on ``ax`` (one Axes, or an array of Axes when
            ``nrows * ncols > 1``) for one value of each parameter.
        params: parameter name -> list of values (at most 64
            combinations in total).
        nrows, ncols, figsize: layout of the matplotlib figure. Static
            frames are drawn for the width of the text column at twice
            its pixel density, whatever the width in inches.
        dpi: resolution of the live figure (in Jupyter).
        alt: alternative text of the figure; may contain ``{name}``
            placeholders filled with the current parameter values.
        mode: ``"live"`` (ipywidgets), ``"static"`` (precomputed frames,
            self-contained HTML) or ``"auto"`` (live inside Jupyter).
        labels: parameter name -> label shown next to its control:
            ``"$...$"`` for mathematics, else plain text. By default a
            Greek name is its letter (``beta`` -> β), a one-letter name
            with a subscript is typeset (``x_t``), other names are words.
        caption: what the figure shows (HTML; ``\\(...\\)`` for math);
            by default, which controls change it.

    Returns:
        An ipywidgets ``VBox`` (live) or a :class:`StaticExplorable`
        (static); either displays itself as the last line of a cell.
    """
    grid = _validate(plot, params, alt)
    chosen = _choose_mode(mode)
    labels = _validate_labels(labels, grid)

    if chosen == "live":
        def render(values):
            return render_png(plot, values, nrows=nrows, ncols=ncols,
                              figsize=figsize, dpi=dpi)
        return _live(plot, grid, render, labels)

    column = _column_render(figsize)

    def render_column(values):
        return render_png(plot, values, nrows=nrows, ncols=ncols,
                          figsize=figsize, **column)

    if caption is None:
        caption = _default_caption(grid, labels)
    elif not isinstance(caption, str):
        raise TypeError(f"caption must be a string; got "
                        f"{type(caption).__name__}")
    return _static(plot, grid, alt, render_column, figsize=figsize,
                   labels=labels, caption=caption)


def _validate_labels(labels, grid) -> dict:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise TypeError("labels must be a dict: parameter name -> label; "
                        f"got {type(labels).__name__}")
    unknown = sorted(set(labels) - set(grid))
    if unknown:
        raise ValueError(f"labels for unknown parameters {unknown}; the "
                         f"parameters are {sorted(grid)}")
    bad = [k for k, v in labels.items() if not isinstance(v, str)]
    if bad:
        raise TypeError(f"labels must be strings; not for {bad}")
    return dict(labels)


def _default_caption(grid, labels) -> str:
    moving = [_label_html(name, labels.get(name))
              for name, values in grid.items() if len(values) >= 2]
    if not moving:
        return ""
    if len(moving) == 1:
        which = moving[0]
    else:
        which = ", ".join(moving[:-1]) + " and " + moving[-1]
    return (f"Explorable figure: choose {which} with the controls below "
            "the figure; every setting was drawn in advance.")
