import builtins
import sys

import matplotlib.pyplot as plt
import pytest

from memvae_lib.plots import image_grid, save_figure
from memvae_lib.widgets import slider_figure


def _draw(scale=1.0, kind="line"):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, scale])
    ax.set_title(kind)
    return fig


def _forget_ipywidgets(monkeypatch):
    for name in [m for m in sys.modules if m == "ipywidgets" or m.startswith("ipywidgets.")]:
        monkeypatch.delitem(sys.modules, name)


def test_headless_draws_defaults_without_importing_widgets(monkeypatch, capsys):
    _forget_ipywidgets(monkeypatch)
    fig = slider_figure(_draw, interactive=False, scale=(0.0, 2.0, 0.1, 0.5), kind=["bar", "line"])
    assert fig.axes[0].get_title() == "bar"
    assert fig.axes[0].lines[0].get_ydata()[1] == 0.5
    assert "interactive=False" in capsys.readouterr().out
    assert "ipywidgets" not in sys.modules


def test_missing_ipywidgets_falls_back_to_static(monkeypatch, capsys):
    _forget_ipywidgets(monkeypatch)
    real_import = builtins.__import__

    def no_ipywidgets(name, *args, **kwargs):
        if name.split(".")[0] == "ipywidgets":
            raise ImportError("No module named 'ipywidgets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    fig = slider_figure(_draw, interactive=True, scale=(0, 10, 1, 3))
    assert fig.axes[0].lines[0].get_ydata()[1] == 3
    assert "ipywidgets is not installed" in capsys.readouterr().out


def test_interactive_builds_sliders_and_redraws(monkeypatch):
    pytest.importorskip("ipywidgets")
    calls = []

    def draw(scale, kind):
        calls.append((scale, kind))
        return _draw(scale, kind)

    import ipywidgets

    plt.close("all")
    open_when_wired = []
    real = ipywidgets.interactive_output
    monkeypatch.setattr(ipywidgets, "interactive_output",
                        lambda f, controls: open_when_wired.append(plt.get_fignums()) or real(f, controls))
    fig = slider_figure(draw, interactive=True, scale=(1, 5, 1, 2), kind=["a", "b"])
    assert calls == [(2, "a")]  # the default figure is drawn once and reused for the first display
    assert fig.axes[0].get_title() == "a"
    # no figure open in pyplot when the sliders are wired: in a kernel, interactive_output and the
    # inline backend flush open figures, a second, stale copy above the sliders (seen in JupyterLab)
    assert open_when_wired == [[]]


def test_a_broken_draw_fails_loudly():
    def broken(**values):
        raise RuntimeError("bad slider callback")

    with pytest.raises(RuntimeError, match="bad slider callback"):
        slider_figure(broken, interactive=False, scale=(0, 1, 0.1, 0.5))


def test_bad_slider_spec_is_rejected():
    with pytest.raises(AssertionError, match=r"\(min, max, step, default\)"):
        slider_figure(_draw, interactive=False, scale=(0, 1, 0.5))


def test_image_grid_tiles_row_major():
    import numpy as np

    images = np.zeros((5, 6))
    images[4] = 1.0  # the fifth image: row 1, column 1 when 4 go in a row
    ax = image_grid(images, (2, 3), nrow=4, title="five")
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 3 + 1, 4 * 4 + 1)  # 2 rows of height 2 + pad, 4 columns of width 3 + pad
    assert canvas[4:6, 5:8].min() == 1.0 and canvas[1:3, 1:4].max() == 0.0
    with pytest.raises(AssertionError, match="image_shape"):
        image_grid(images, (2, 2), nrow=4)
    plt.close("all")


def test_save_figure_writes_png_and_pdf_deterministically(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_FIGURES_DIR", str(tmp_path / "figs"))
    paths = save_figure(_draw(), "mem/demo")
    assert [p.name for p in paths] == ["demo.png", "demo.pdf"]
    assert all(p.parent == tmp_path / "figs" / "mem" and p.stat().st_size > 0 for p in paths)
    first = [p.read_bytes() for p in paths]
    save_figure(_draw(), tmp_path / "figs" / "mem" / "demo")  # an absolute stem is used as is
    assert [p.read_bytes() for p in paths] == first
    plt.close("all")


def test_a_one_value_control_is_held_fixed(monkeypatch, capsys):
    pytest.importorskip("ipywidgets")
    import ipywidgets

    wired = []
    real = ipywidgets.interactive_output
    monkeypatch.setattr(ipywidgets, "interactive_output",
                        lambda f, controls: wired.append((f, sorted(controls))) or real(f, controls))
    calls = []

    def draw(scale, kind):
        calls.append((scale, kind))
        return _draw(scale, kind)

    # a one-column grid (min == max) gets no slider; the dropdown stays and redraws with the held value
    slider_figure(draw, interactive=True, scale=(0, 0, 1, 0), kind=["a", "b"])
    (f, names), = wired
    assert names == ["kind"]
    f(kind="b")
    assert calls[-1] == (0, "b")
    plt.close("all")
    # nothing left to move: a static figure and a note that says why, not a dead slider
    fig = slider_figure(draw, interactive=True, scale=(3, 3, 1, 3), kind=["only"])
    assert len(wired) == 1
    assert "single value at this profile" in capsys.readouterr().out
    assert fig.axes[0].get_title() == "only"


@pytest.mark.parametrize("step, fmt", [(0.001, ".3f"), (0.01, ".2f"), (0.1, ".1f"), (0.5, ".1f"), (0.25, ".2f"),
                                       (1.0, ".1f"), (2.5e-5, ".6f")])
def test_a_float_slider_reads_out_every_step(step, fmt):
    from memvae_lib.widgets import readout_format
    assert readout_format(step) == fmt


def test_controls_show_their_whole_label():
    ipywidgets = pytest.importorskip("ipywidgets")
    from memvae_lib.widgets import _control
    dropdown = _control("switched_off", ["layer 1", "both"], ipywidgets)
    slider = _control("threshold", (0.001, 0.05, 0.001, 0.02), ipywidgets)
    assert dropdown.style.description_width == slider.style.description_width == "initial"
    assert slider.readout_format == ".3f"
