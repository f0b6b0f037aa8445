"""Sliders over a figure, with a static fallback for headless runs.

In JupyterLab (`interactive=True`) the notebook's last cell gets ipywidgets sliders that redraw the
figure; under papermill / nbval (`interactive=False`, set by every profile) or without ipywidgets
the figure is drawn once at the default values. Either way the default figure is returned, so the
notebook can save it.
"""

from __future__ import annotations

import numbers


def _default(spec):
    if isinstance(spec, tuple):
        assert len(spec) == 4, f"a slider is (min, max, step, default), got {spec!r}"
        return spec[3]
    if isinstance(spec, list):
        assert spec, "an options slider needs at least one option"
        return spec[0]
    raise TypeError(f"a slider is a (min, max, step, default) tuple or a list of options, got {spec!r}")


def _choices(spec) -> int:
    """How many values a control can take (a one-value control is held fixed: nothing to move)."""
    if isinstance(spec, list):
        return len(spec)
    lo, hi, step, _ = spec
    return int(round((hi - lo) / step)) + 1 if step > 0 and hi > lo else 1


def readout_format(step: float) -> str:
    """A float slider's readout with as many decimals as its step has (0.001 -> '.3f'), so every
    position reads differently (ipywidgets' default '.2f' showed 0.01 for 0.012)."""
    decimals = 0
    while decimals < 6 and abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-9:
        decimals += 1
    return f".{max(decimals, 1)}f"


def _control(name, spec, widgets):
    # the label at its full width: ipywidgets cuts a description longer than ~10 characters ("switched_...")
    style = {"description_width": "initial"}
    if isinstance(spec, list):
        return widgets.Dropdown(options=spec, value=spec[0], description=name, style=style)
    lo, hi, step, default = spec
    if all(isinstance(v, numbers.Integral) for v in spec):
        return widgets.IntSlider(min=lo, max=hi, step=step, value=default, description=name, style=style,
                                 continuous_update=False)
    return widgets.FloatSlider(min=lo, max=hi, step=step, value=default, description=name, style=style,
                               readout_format=readout_format(step), continuous_update=False)


def _show(fig):
    """Display a figure once (inline) and close it, so the inline backend does not show it again."""
    import matplotlib.pyplot as plt
    try:
        from IPython import get_ipython
        from IPython.display import display
        if get_ipython() is not None:
            display(fig)
    except ImportError:
        pass
    plt.close(fig)


def slider_figure(draw, *, interactive: bool, **sliders):
    """Show `draw(**values)` with one slider per keyword; return the figure at the defaults.

    Each slider is `(min, max, step, default)` (IntSlider when all four are ints) or a list of
    options (the first is the default). A control with a single value (a smoke profile's one grid
    column) gets no widget: it stays at that value, and with nothing left to move the figure is static.
    An exception raised by `draw` propagates: a broken callback fails the notebook instead of leaving
    an empty plot.
    """
    import matplotlib.pyplot as plt

    defaults = {name: _default(spec) for name, spec in sliders.items()}
    fig = draw(**defaults)
    # Detach it from pyplot at once: an open figure would be flushed into the cell's output by the
    # inline backend (and by interactive_output) besides the one we display, a stale second copy.
    plt.close(fig)
    movable = {name: spec for name, spec in sliders.items() if _choices(spec) > 1}
    reason = None
    if not interactive:
        reason = "interactive=False (headless run)"
    elif not movable:
        reason = f"{', '.join(sliders)} has a single value at this profile"
    else:
        try:
            import ipywidgets as widgets
        except ImportError:
            reason = "ipywidgets is not installed"
    if reason is not None:
        print(f"Static figure at the default values: {reason}; set interactive=True in JupyterLab for sliders.")
        _show(fig)
        return fig

    from IPython.display import display

    controls = {name: _control(name, spec, widgets) for name, spec in movable.items()}
    fixed = {name: defaults[name] for name in sliders if name not in movable}
    # interactive_output captures what the callback displays in its own Output widget and calls it once
    # at the defaults; the already drawn default figure is reused for that first call.
    out = widgets.interactive_output(
        lambda **values: _show(fig if {**fixed, **values} == defaults else draw(**fixed, **values)), controls)
    display(widgets.VBox([widgets.HBox(list(controls.values())), out]))
    return fig
