"""Every notebook, opened in JupyterLab in headless Chromium: Run All at smoke, then move each slider.

For each notebook under notebooks/ (not _build, not profiles): open it in JupyterLab, wait for the
kernel, run all cells, wait until the kernel is idle and no cell shows [*], and fail on any error
output (in cells or in widget Output areas). Then, for every slider (ipywidgets IntSlider /
FloatSlider, drawn by noUiSlider) and dropdown, move it and check that the Output widget it drives
changes and shows no error. A full-page screenshot per notebook goes to notebooks/_build/browser/.

MEMVAE_BROWSER_NOTEBOOKS='mem/table1 evae/fig2' (substrings or paths) narrows the run; a path to a
notebook outside notebooks/ (e.g. tests/browser/fixtures/raising_slider.ipynb) checks that one.
See tests/browser/README.md.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "notebooks" / "_build" / "browser"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUN_ALL_TIMEOUT_S = float(os.environ.get("MEMVAE_BROWSER_RUN_TIMEOUT", "300"))
SLIDER_TIMEOUT_S = float(os.environ.get("MEMVAE_BROWSER_SLIDER_TIMEOUT", "90"))
OPEN_TIMEOUT_S = 90


def discover_notebooks() -> list[Path]:
    root = REPO / "notebooks"
    found = sorted(p for p in root.rglob("*.ipynb")
                   if not {"_build", "profiles", ".ipynb_checkpoints"} & set(p.relative_to(root).parts))
    wanted = os.environ.get("MEMVAE_BROWSER_NOTEBOOKS", "").split()
    if not wanted:
        return found
    chosen = []
    for w in wanted:
        p = Path(w) if Path(w).is_absolute() else REPO / w
        if p.is_file():
            chosen.append(p.resolve())
        else:
            chosen += [nb for nb in found if w in nb.relative_to(root).as_posix()]
    return list(dict.fromkeys(chosen))


def _id(path: Path) -> str:
    try:
        return path.relative_to(REPO / "notebooks").with_suffix("").as_posix()
    except ValueError:
        return path.relative_to(REPO).with_suffix("").as_posix()


@dataclass
class ControlResult:
    kind: str  # 'slider' | 'dropdown'
    label: str
    before: str
    after: str
    changed: bool | None  # None: not moved (a dropdown with a single option)
    errors: list[str] = field(default_factory=list)


@dataclass
class NotebookReport:
    path: str
    seconds_run_all: float = 0.0
    seconds_total: float = 0.0
    errors: list[str] = field(default_factory=list)
    controls: list[ControlResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    screenshot: str = ""

    @property
    def failures(self) -> list[str]:
        out = list(self.errors)
        for c in self.controls:
            if c.changed is False and not c.errors:
                out.append(f"{c.kind} {c.label!r} ({c.before} -> {c.after}): the output it drives did not change")
            out += [f"{c.kind} {c.label!r} ({c.before} -> {c.after}): {e}" for e in c.errors]
        return out

    def summary(self) -> str:
        lines = [f"{self.path}: run all {self.seconds_run_all:.1f} s, total {self.seconds_total:.1f} s, "
                 f"{len(self.controls)} control(s), screenshot {self.screenshot}"]
        lines += [f"  {c.kind} {c.label!r}: {c.before} -> {c.after}, output changed={c.changed}"
                  for c in self.controls]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        lines += [f"  FAILURE: {f}" for f in self.failures]
        return "\n".join(lines)


# --- JavaScript run in the page (window.jupyterapp is exposed by --LabApp.expose_app_in_browser) ---

JS_CURRENT_READY = """(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const w = app.shell.currentWidget;
  return !!(w && w.context && w.context.path === path && w.context.isReady && w.sessionContext
            && w.sessionContext.session && w.sessionContext.session.kernel
            && w.sessionContext.session.kernel.status === 'idle' && w.content && w.content.widgets.length);
}"""

JS_KERNEL_ID = """() => { const w = window.jupyterapp.shell.currentWidget;
  return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
         ? w.sessionContext.session.kernel.id : null; }"""

JS_BUSY = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext.session && w.sessionContext.session.kernel;
  const status = k ? k.status : 'dead';
  const starred = [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')]
    .some(e => e.textContent.includes('*'));
  return {status, starred, busy: status !== 'idle' || starred};
}"""

# Errors in the notebook model (output_type 'error') and in the DOM: stderr outputs with a traceback or
# an exception name (cells and widget Output areas alike), and widgets that failed to render.
JS_ERRORS = """(scope) => {
  const errs = [];
  const w = window.jupyterapp.shell.currentWidget;
  if (!scope && w && w.content && w.content.model) {
    const cells = w.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
      const c = cells.get(i);
      if (c.type !== 'code') continue;
      const outs = c.sharedModel.outputs || [];
      for (const o of outs) if (o.output_type === 'error')
        errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  }
  const root = scope || document;
  const exc = /(^|\\n)\\s*[A-Za-z_][\\w.]*(Error|Exception)\\b/;
  for (const e of root.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], ' +
      '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')) {
    const t = e.innerText || e.textContent || '';
    if (t.includes('Traceback') || exc.test(t)) {
      const inWidget = !!e.closest('.widget-output');
      const lines = t.trim().split('\\n').filter(s => s.trim());
      errs.push(`${inWidget ? 'widget output' : 'stderr'}: ${lines.slice(-1)[0] || t.slice(0, 200)}`);
    }
  }
  for (const e of root.querySelectorAll('.jp-OutputArea-output, .widget-output')) {
    const t = e.textContent || '';
    if (t.includes('Error displaying widget') || t.includes('Failed to display'))
      errs.push('widget failed to render: ' + t.trim().slice(0, 200));
  }
  return [...new Set(errs)];
}"""

JS_CONTROLS = """() => {
  const ctl = [...document.querySelectorAll('.jp-Notebook .widget-slider, .jp-Notebook .widget-dropdown')];
  return ctl.map(e => ({
    kind: e.classList.contains('widget-dropdown') ? 'dropdown' : 'slider',
    label: (e.querySelector('.widget-label') || {}).textContent || '',
  }));
}"""

# Figures in an interactive cell that are not inside the Output widget: drawn once, they never follow
# the sliders (a stale copy of the default figure above the controls).
JS_STALE_FIGURES = """() => {
  const cells = new Set([...document.querySelectorAll('.jp-Notebook .widget-slider, .jp-Notebook .widget-dropdown')]
    .map(e => e.closest('.jp-Cell')).filter(c => c));
  const out = [];
  for (const c of cells) {
    const n = [...c.querySelectorAll('.jp-Cell-outputArea img')].filter(i => !i.closest('.widget-output')).length;
    const prompt = (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '';
    if (n) out.push(`cell ${prompt.trim()} shows ${n} figure(s) outside the sliders' Output widget; ` +
                    `they stay at the defaults when a slider moves`);
  }
  return out;
}"""

JS_STATE = """(el) => {
  // the value shown by a control, and the content of the Output widget(s) in the same cell output
  const sel = el.querySelector('select');
  const ro = el.querySelector('.widget-readout');
  const value = sel ? sel.value : (ro ? (ro.textContent || ro.value || '') : '');
  const cell = el.closest('.jp-OutputArea-output') || el.closest('.jp-OutputArea');
  const outs = cell ? [...cell.querySelectorAll('.widget-output')] : [];
  return {value: value.trim(), nOutputs: outs.length, html: outs.map(o => o.innerHTML).join('\\n')};
}"""


def _wait_idle(page, timeout_s: float, settle_s: float = 1.0) -> dict:
    """Wait until the kernel is idle and no cell shows [*], continuously for settle_s."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    state = {}
    while time.monotonic() < deadline:
        state = page.evaluate(JS_BUSY)
        if state["busy"]:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle_s:
            return state
        page.wait_for_timeout(250)
    raise TimeoutError(f"kernel still busy after {timeout_s:.0f} s ({state})")


def _wait_controls_stable(page, settle_s: float = 1.5, timeout_s: float = 30) -> list[dict]:
    """Widgets render after their output arrives: wait until the list of controls stops changing."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = page.evaluate(JS_CONTROLS)
        loading = page.evaluate("() => document.querySelectorAll('.jp-Notebook .jupyter-widgets-loading, "
                                ".jp-Notebook .lm-Widget.jupyter-widgets.widget-loading').length")
        if now != last or loading:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            break
        page.wait_for_timeout(250)
    return last or []


def _move(page, control, kind: str, before_value: str) -> bool | None:
    """Move a control to a different value: End (or Home) on a slider's handle; another dropdown option.
    True if its value changed, False if nothing worked, None for a dropdown with a single option."""
    control.scroll_into_view_if_needed()
    if kind == "dropdown":
        select = control.locator("select")
        options = select.locator("option").all_text_contents()
        if len(options) < 2:
            return None
        current = select.evaluate("s => s.selectedIndex")
        select.select_option(index=(current + 1) % len(options))
        return True
    handle = control.locator(".noUi-handle").first
    handle.focus()
    for key in ("End", "Home", "ArrowRight", "ArrowLeft"):
        handle.press(key)
        page.wait_for_timeout(200)
        if page.evaluate(JS_STATE, control.element_handle())["value"] != before_value:
            return True
    # keyboard had no effect: drag the handle to the far end of the track
    track = control.locator(".noUi-target").first.bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] + 20, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_timeout(200)
    return page.evaluate(JS_STATE, control.element_handle())["value"] != before_value


def check_notebook(page, server, notebook: Path, screenshot: Path | None = None) -> NotebookReport:
    """Open `notebook` in JupyterLab, Run All, move every control; return what went wrong (never raises
    for a notebook problem: failures are in the report)."""
    rel = notebook.resolve().relative_to(REPO).as_posix()
    report = NotebookReport(path=rel)
    t0 = time.monotonic()
    kernel_id = None
    try:
        page.goto(f"{server.url}/doc/tree/{rel}?reset", wait_until="domcontentloaded")
        try:
            page.wait_for_function(JS_CURRENT_READY, arg=rel, timeout=OPEN_TIMEOUT_S * 1000, polling=250)
        except Exception as e:
            dialog = page.locator(".jp-Dialog").all_inner_texts()
            report.errors.append(f"notebook or kernel not ready in {OPEN_TIMEOUT_S} s"
                                 + (f" (dialog: {dialog})" if dialog else "") + f": {type(e).__name__}")
            return report
        kernel_id = page.evaluate(JS_KERNEL_ID)

        t_run = time.monotonic()
        page.evaluate("() => { window.__memvaeRunAll = window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        page.wait_for_timeout(500)
        try:
            _wait_idle(page, RUN_ALL_TIMEOUT_S, settle_s=1.5)
        except TimeoutError as e:
            report.errors.append(f"Run All: {e}")
        report.seconds_run_all = time.monotonic() - t_run
        report.errors += page.evaluate(JS_ERRORS, None)

        controls = _wait_controls_stable(page)
        report.errors += [e for e in page.evaluate(JS_ERRORS, None) if e not in report.errors]
        all_controls = page.locator(".jp-Notebook .widget-slider, .jp-Notebook .widget-dropdown")
        for i, meta in enumerate(controls):
            control = all_controls.nth(i)
            before = page.evaluate(JS_STATE, control.element_handle())
            label = meta["label"].strip() or f"#{i}"
            res = ControlResult(meta["kind"], label, before["value"], before["value"], changed=False)
            report.controls.append(res)
            if before["nOutputs"] == 0:
                res.errors.append("no Output widget next to it (nothing for it to drive)")
                continue
            moved = _move(page, control, meta["kind"], before["value"])
            if moved is None:  # a single option at this profile: nothing to move, nothing to check
                res.changed = None
                report.warnings.append(f"{meta['kind']} {label!r} has a single option ({before['value']}) "
                                       "at this profile: not moved")
                continue
            if not moved:
                res.errors.append("could not move it (keyboard, drag and dropdown all had no effect)")
                continue
            deadline = time.monotonic() + SLIDER_TIMEOUT_S
            while time.monotonic() < deadline:
                now = page.evaluate(JS_STATE, control.element_handle())
                if now["html"] != before["html"]:
                    break
                page.wait_for_timeout(250)
            try:
                _wait_idle(page, SLIDER_TIMEOUT_S, settle_s=1.0)
            except TimeoutError as e:
                res.errors.append(str(e))
            now = page.evaluate(JS_STATE, control.element_handle())
            res.after, res.changed = now["value"], now["html"] != before["html"]
            cell = control.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea-output')][1]")
            res.errors += page.evaluate(JS_ERRORS, cell.element_handle()) if cell.count() else []
        report.errors += page.evaluate(JS_STALE_FIGURES)
        if not controls and notebook.resolve().is_relative_to(REPO / "notebooks"):
            report.errors.append("no slider or dropdown found: the notebook's interactive section "
                                 "(memvae_lib.widgets.slider_figure with interactive=True) is missing")
        # errors anywhere else on the page after all the moves (e.g. a callback writing to another cell)
        report.errors += [e for e in page.evaluate(JS_ERRORS, None)
                          if e not in report.errors and not e.startswith("widget output")]
    except Exception as e:  # a browser or page problem: report it as a failure of this notebook
        report.errors.append(f"browser: {type(e).__name__}: {e}")
    finally:
        if screenshot is not None:
            try:
                # the last control's cell, scrolled so its Output widget (the redrawn figure) ends the view
                page.evaluate("""() => {
                  const ctl = [...document.querySelectorAll('.jp-Notebook .widget-slider, .jp-Notebook .widget-dropdown')];
                  if (!ctl.length) return;
                  const cell = ctl[ctl.length - 1].closest('.jp-OutputArea-output');
                  const outs = cell ? cell.querySelectorAll('.widget-output') : [];
                  (outs.length ? outs[outs.length - 1] : ctl[ctl.length - 1]).scrollIntoView({block: 'end'});
                }""")
                page.wait_for_timeout(300)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
                report.screenshot = str(screenshot.relative_to(REPO))
            except Exception as e:
                report.errors.append(f"screenshot: {type(e).__name__}: {e}")
        if kernel_id:
            try:
                server.shutdown_kernel(kernel_id)
            except Exception as e:
                report.errors.append(f"kernel shutdown: {type(e).__name__}: {e}")
        report.seconds_total = time.monotonic() - t0
    return report


def _screenshot_path(notebook: Path) -> Path:
    return SCREENSHOTS / (_id(notebook).replace("/", "_") + ".png")


def test_fixture_working_slider_passes(lab_page, lab_server):
    nb = FIXTURES / "demo_slider.ipynb"
    report = check_notebook(lab_page, lab_server, nb, SCREENSHOTS / "fixture_demo_slider.png")
    print(report.summary())
    assert not report.failures, report.summary()
    assert [c.kind for c in report.controls] == ["slider", "slider", "dropdown"], report.summary()
    assert all(c.changed and c.before != c.after for c in report.controls), report.summary()


def test_fixture_raising_callback_is_reported(lab_page, lab_server):
    nb = FIXTURES / "raising_slider.ipynb"
    report = check_notebook(lab_page, lab_server, nb, SCREENSHOTS / "fixture_raising_slider.png")
    print(report.summary())
    assert report.errors == [], "Run All itself must succeed; the error is only in the callback"
    assert len(report.controls) == 1
    assert any(re.search(r"widget output: .*ValueError.*the callback raises", f) for f in report.failures), \
        "the checker did not report the raising callback:\n" + report.summary()


def test_fixture_cell_error_is_reported(lab_page, lab_server):
    report = check_notebook(lab_page, lab_server, FIXTURES / "cell_error.ipynb")
    print(report.summary())
    assert any("RuntimeError" in f and "this cell raises" in f for f in report.failures), report.summary()


@pytest.mark.parametrize("notebook", discover_notebooks(), ids=_id)
def test_notebook_runs_and_sliders_redraw(notebook, lab_page, lab_server):
    report = check_notebook(lab_page, lab_server, notebook, _screenshot_path(notebook))
    print(report.summary())
    assert not report.failures, report.summary()
