"""Progress displays: what shows where (terminal, JupyterLab kernel, papermill/nbval/CI kernel, a
log file), the plain lines a log gets at an interval (a fake clock, never sleeps), and training that
computes the same numbers whatever the display."""
import sys
import types

import pytest
import torch

from memvae_lib import progress_log
from memvae_lib.progress import LINES, NOTEBOOK, OFF, TERMINAL, Progress, choose_display, current_display
from memvae_lib.progress_log import LinePrinter, duration, line_interval


# ---- the decision -------------------------------------------------------------------------------

@pytest.mark.parametrize("setting, in_kernel, headless, tty, shown", [
    # a script or pytest: a bar on a terminal, silence otherwise
    (None, False, False, True, TERMINAL),
    (None, False, False, False, OFF),
    ("auto", False, False, False, OFF),
    ("", False, False, True, TERMINAL),
    # MEMVAE_PROGRESS=1: a bar even into a pipe; =0: nothing even on a terminal
    ("1", False, False, False, TERMINAL),
    ("0", False, False, True, OFF),
    # what `memvae train > log` sets: lines, whether or not a terminal is there (workers)
    ("lines", False, False, False, LINES),
    ("lines", False, False, True, LINES),
    # a kernel in JupyterLab: the widget bar, whatever stderr is
    (None, True, False, False, NOTEBOOK),
    ("1", True, False, False, NOTEBOOK),
    ("0", True, False, False, OFF),
    # papermill, nbval, CI kernels: nothing, even when asked (their outputs are checked)
    (None, True, True, False, OFF),
    ("1", True, True, True, OFF),
    ("lines", True, True, False, OFF),
    # headless matters only in a kernel: a CI log still gets the CLI's lines
    ("lines", False, True, False, LINES),
])
def test_choose_display(setting, in_kernel, headless, tty, shown):
    assert choose_display(setting, in_kernel=in_kernel, headless=headless, tty=tty) == shown


def test_an_unknown_setting_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"MEMVAE_PROGRESS='yes' is not one of '0', '1', 'lines', 'auto'"):
        choose_display("yes", in_kernel=False, headless=False, tty=True)


class FakeShell:
    """What _kernel_shell looks at: a kernel attribute (ipykernel's shell has one) and user_ns."""

    def __init__(self, kernel=True, **user_ns):
        self.kernel = object() if kernel else None
        self.user_ns = user_ns


@pytest.fixture
def kernel(monkeypatch):
    """Pretend this code runs in a Jupyter kernel whose namespace the test sets."""
    for name in ("MEMVAE_PROGRESS", "MEMVAE_HEADLESS", "CI"):
        monkeypatch.delenv(name, raising=False)
    shell = FakeShell()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    return shell


def test_a_jupyterlab_kernel_gets_the_notebook_bar(kernel):
    kernel.user_ns["interactive"] = True  # the notebooks' own parameter cell
    assert current_display() == NOTEBOOK


@pytest.mark.parametrize("marker", ["interactive", "MEMVAE_HEADLESS", "CI"])
def test_a_kernel_nobody_watches_stays_quiet(kernel, monkeypatch, marker):
    if marker == "interactive":  # papermill injects interactive = False; the goldens keep that cell
        kernel.user_ns["interactive"] = False
    else:  # memvae figures / make goldens set MEMVAE_HEADLESS for their kernels; CI runners set CI
        monkeypatch.setenv(marker, "true")
    monkeypatch.setenv("MEMVAE_PROGRESS", "1")  # even when asked
    assert current_display() == OFF
    assert current_display(enabled=True) == OFF


def test_a_terminal_ipython_is_no_kernel(kernel, monkeypatch):
    kernel.kernel = None
    monkeypatch.setattr(sys, "stderr", types.SimpleNamespace(isatty=lambda: False))
    assert current_display() == OFF
    monkeypatch.setenv("MEMVAE_PROGRESS", "lines")
    assert current_display() == LINES


# ---- plain lines at an interval ---------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lines_come_at_the_interval_with_unit_loss_and_time_left():
    clock, lines = FakeClock(), []
    printer = LinePrinter(10, desc="mem/frey/VAE", unit="epoch", interval=5, clock=clock, write=lines.append)
    for _ in range(10):  # one epoch every 2 s
        clock.now += 2
        printer.update(1)
        printer.set_postfix(loss="98.21")
    clock.now += 4  # the end of the run: saving, evaluating
    # updates at t = 2, 4, 6, ...: a line once 5 s have passed since the last one (t = 6, 12, 18)
    assert lines == [
        "mem/frey/VAE: epoch 4/10 (30%), loss 98.21, 6 s elapsed, about 14 s left",
        "mem/frey/VAE: epoch 7/10 (60%), loss 98.21, 12 s elapsed, about 8 s left",
        "mem/frey/VAE: epoch 10/10 (90%), loss 98.21, 18 s elapsed, about 2 s left",
    ]
    printer.close()
    assert lines[-1] == "mem/frey/VAE: done at 10/10 epochs, loss 98.21, 24 s"


def test_a_run_shorter_than_the_interval_prints_nothing():
    clock, lines = FakeClock(), []
    printer = LinePrinter(3, unit="epoch", interval=5, clock=clock, write=lines.append)
    for _ in range(3):
        clock.now += 1
        printer.update(1)
    printer.close()
    assert lines == []


def test_a_resumed_run_counts_from_its_checkpoint_and_times_only_this_part():
    clock, lines = FakeClock(), []
    printer = LinePrinter(10, initial=6, desc="r", unit="epoch", interval=5, clock=clock, write=lines.append)
    clock.now += 6
    printer.update(1)  # epoch 7 took 6 s: 3 epochs left, about 18 s
    assert lines == ["r: epoch 8/10 (70%), 6 s elapsed, about 18 s left"]
    printer.close()
    assert lines[-1] == "r: stopped at 7/10 epochs, 6 s"  # paused or failed before the end


def test_fractions_of_a_unit_move_the_lines_within_a_long_epoch():
    """A 30 s epoch still gets a line every 5 s: train() reports each minibatch with advance_to."""
    clock, lines = FakeClock(), []
    bar = Progress(range(1, 3), desc="r", unit="epoch", display=LINES, interval=5, clock=clock,
                   write=lines.append)
    for _ in bar:
        for step in range(1, 31):  # 30 minibatches of 1 s
            clock.now += 1
            bar.advance_to(step / 30)
    assert len(lines) == 12  # 60 s of training, one line per 5 s
    assert lines[0] == "r: epoch 1/2 (8%), 5 s elapsed, about 55 s left"
    assert lines[6] == "r: epoch 2/2 (58%), 35 s elapsed, about 25 s left"
    bar.close()
    assert lines[-1] == "r: done at 2/2 epochs, 1 min 00 s"


def test_the_time_left_is_unknown_before_any_progress():
    clock, lines = FakeClock(), []
    printer = LinePrinter(4, desc="L_5000", unit="call", interval=5, clock=clock, write=lines.append)
    clock.now += 7
    printer.update(0)
    assert lines == ["L_5000: call 1/4 (0%), 7 s elapsed, time left unknown yet"]


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MEMVAE_PROGRESS_SECONDS", raising=False)
    assert line_interval() == 5.0
    monkeypatch.setenv("MEMVAE_PROGRESS_SECONDS", "0.5")
    assert line_interval() == 0.5
    for bad in ("0", "-1", "soon", "inf"):
        monkeypatch.setenv("MEMVAE_PROGRESS_SECONDS", bad)
        with pytest.raises(ValueError, match="is not a number of seconds > 0"):
            line_interval()


@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (42, "42 s"), (185, "3 min 05 s"),
                                           (7620, "2 h 07 min")])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_off_shows_nothing_and_still_iterates(capsys):
    bar = Progress(range(3), display=OFF)
    assert bar.disable and list(bar) == [0, 1, 2]
    bar.advance_to(0.5)
    bar.set_postfix(loss=1)
    bar.close()
    assert capsys.readouterr() == ("", "")


def test_the_terminal_bar_counts_whole_units(capsys):
    bar = Progress(range(2), total=4, initial=2, desc="run", unit="epoch", display=TERMINAL)
    for _ in bar:
        bar.advance_to(0.5)
    assert bar._shown.n == 4  # halves of a unit and the rest of it add up to whole epochs
    bar.close()
    assert "run" in capsys.readouterr().err


def test_an_exception_in_the_loop_closes_the_display():
    bar = Progress(range(3), display=TERMINAL)
    shown = bar._shown
    assert not shown.disable
    with pytest.raises(KeyError), bar:
        for _ in bar:
            raise KeyError("interrupted")
    assert shown.disable and bar.disable  # tqdm.close() ran: no live bar is left behind


def test_a_diverging_training_run_closes_its_bar(monkeypatch):
    """train() raises TrainingDiverged from inside its epoch loop: the display is closed first."""
    from memvae_lib import progress as progress_module
    from memvae_lib.models import build_model
    from memvae_lib.models.vae import VAEConfig
    from memvae_lib.train import TrainConfig, TrainingDiverged, train

    made = []
    real = progress_module.progress

    def spy(*args, **kwargs):
        made.append(real(*args, **{**kwargs, "enabled": False}))
        return made[-1]

    monkeypatch.setattr("memvae_lib.train.progress", spy)
    closes = []
    monkeypatch.setattr(Progress, "close", lambda self: closes.append(self))
    model = build_model(VAEConfig(input_dim=12, hidden=(6,), latent_dim=2))
    x = torch.full((40, 12), float("nan"))
    with pytest.raises(TrainingDiverged):
        train(model, x, TrainConfig(epochs=3, batch_size=10), binarize=False)
    assert len(made) == 1 and closes == made


# ---- training: lines in the log, the same numbers -----------------------------------------------

def _trained(monkeypatch, setting: str):
    from memvae_lib.models import build_model
    from memvae_lib.models.vae import VAEConfig
    from memvae_lib.train import TrainConfig, train

    monkeypatch.setenv("MEMVAE_PROGRESS", setting)
    torch.manual_seed(0)
    model = build_model(VAEConfig(input_dim=12, hidden=(6,), latent_dim=2))
    x = torch.rand(40, 12, generator=torch.Generator().manual_seed(1))
    history = train(model, x, TrainConfig(epochs=3, batch_size=10), binarize=True, progress_desc="tiny")
    return model.state_dict(), history


def test_training_logs_lines_and_trains_the_same_parameters_bit_for_bit(monkeypatch, capsys):
    clock = FakeClock()

    def tick():  # every look at the clock is a second later: a line every few minibatches
        clock.now += 1
        return clock.now

    monkeypatch.setattr(progress_log, "_now", tick)
    monkeypatch.setenv("MEMVAE_PROGRESS_SECONDS", "3")
    quiet, quiet_history = _trained(monkeypatch, "0")
    assert capsys.readouterr().err == ""
    logged, logged_history = _trained(monkeypatch, "lines")
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("tiny: ") for line in lines)
    assert any("epoch 2/3" in line and ", loss " in line and " left" in line for line in lines), lines
    assert lines[-1].startswith("tiny: done at 3/3 epochs, loss ")
    assert quiet.keys() == logged.keys()
    assert all(torch.equal(quiet[key], logged[key]) for key in quiet)
    assert [h["loss"] for h in quiet_history] == [h["loss"] for h in logged_history]


# ---- a real kernel: the widget bar and its empty trace ---------------------------------------------

def test_a_kernel_shows_a_widget_bar_that_leaves_an_empty_output_and_a_headless_one_shows_nothing(monkeypatch):
    """nbclient runs the cells as JupyterLab would (no `interactive = False`, no MEMVAE_HEADLESS):
    the bar is a widget, replaced by an empty output when it closes; a task quicker than
    NOTEBOOK_DELAY (here made huge) shows nothing; `interactive = False` (papermill's) silences it."""
    import nbformat
    from nbclient import NotebookClient

    for name in ("MEMVAE_PROGRESS", "MEMVAE_HEADLESS", "CI"):
        monkeypatch.delenv(name, raising=False)  # the kernel inherits this environment
    run = ("bar = progress(range(3), desc='run', unit='epoch')\n"
           "for _ in bar: bar.advance_to(0.5)\nbar.close()")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (
        "from memvae_lib import progress as progress_mod\nfrom memvae_lib.progress import progress\n"
        "progress_mod.NOTEBOOK_DELAY = 0",
        run,
        "progress_mod.NOTEBOOK_DELAY = 1e9",
        run,
        "progress_mod.NOTEBOOK_DELAY = 0\ninteractive = False",
        run)]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    shown, quick, headless = (nb.cells[i].outputs for i in (1, 3, 5))
    assert shown == [{"output_type": "display_data", "metadata": {}, "data": {"text/plain": ""}}]
    assert quick == [] and headless == []
