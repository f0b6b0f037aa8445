"""Fault injection of the run cache: damaged files, kills at every write, a full disk, read-only and
group-shared folders, stale temporaries."""
import builtins
import errno
import functools
import os
import shutil
import stat

import pytest
import torch

from memvae_lib import runs as runs_mod
from memvae_lib import files as files_mod
from memvae_lib import train as train_mod
from memvae_lib.runs import get_or_train, run_dir
from memvae_lib.files import atomic_write
from memvae_lib.train import CheckpointError, TrainConfig, train
from test_runs import Killed, Tiny, TinyConfig, calls, counting_loader, digest, spec


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def ask(counter, **kw):
    return get_or_train(spec(), device="cpu", build_model=Tiny, load_data=functools.partial(counting_loader, counter),
                        **kw)


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def temporaries(folder):
    return sorted(p.name for p in folder.rglob("*.tmp"))


# ---- digests -------------------------------------------------------------------------------------
def test_a_flipped_byte_in_model_pt_is_refused_not_loaded(runs):
    counter = runs / "calls"
    path = ask(counter).path
    assert (path / "model.pt.sha256").read_text().split()[1] == "model.pt"
    flip_a_byte(path / "model.pt")
    damaged = (path / "model.pt").read_bytes()
    with pytest.raises(RuntimeError, match=rf"{path / 'model.pt'} is damaged.*Delete the folder {path} to retrain"):
        ask(counter)
    assert calls(counter) == 1 and (path / "model.pt").read_bytes() == damaged  # neither loaded nor retrained over


def test_a_changed_number_in_the_history_is_refused(runs):
    """The training curves are read from history.json: a digit changed there (still valid JSON) is
    a damaged run, not a different curve."""
    counter = runs / "calls"
    path = ask(counter).path
    text = (path / "history.json").read_text()
    (path / "history.json").write_text(text.replace('"epoch": 1', '"epoch": 7', 1))
    with pytest.raises(RuntimeError, match=rf"{path / 'history.json'} is damaged.*Delete the folder {path}"):
        ask(counter)
    assert calls(counter) == 1


def test_a_flipped_byte_in_the_checkpoint_is_refused_not_resumed(runs):
    counter = runs / "calls"

    def dies_at_epoch_3(model, epoch):
        if epoch == 3:
            raise Killed
        return {}

    with pytest.raises(Killed):
        ask(counter, evaluate=dies_at_epoch_3)
    ckpt = run_dir(spec()) / "checkpoint.pt"
    flip_a_byte(ckpt)
    with pytest.raises(CheckpointError, match=rf"{ckpt} is damaged.*Delete {ckpt} to retrain"):
        ask(counter)
    assert not (ckpt.parent / "done").exists() and not (ckpt.parent / "model.pt").exists()


def test_a_run_finished_before_digests_is_refused_with_the_fix(runs):
    """Decided: a model.pt without a digest is not trusted silently; the message says to delete the
    folder, or to vouch for the file with record_digest, after which it loads."""
    counter = runs / "calls"
    first = ask(counter)
    (first.path / "model.pt.sha256").unlink()
    with pytest.raises(RuntimeError, match=r"model\.pt has no digest file model\.pt\.sha256.*Delete the folder.*"
                                           r"record_digest\('.*model\.pt'\)") as e:
        ask(counter)
    assert "\n" not in str(e.value)
    files_mod.record_digest(first.path / "model.pt")
    assert digest(ask(counter).model) == digest(first.model) and calls(counter) == 1


REAL_REPLACE, REAL_UNLINK = os.replace, os.unlink


def kill_at_replace(monkeypatch, n, after, name=None):
    """os.replace raises Killed at its n-th call (n=0: never; with `name`, its n-th call that writes a
    file of that name), before replacing or just after; like SIGKILL, the kill also skips
    atomic_write's removal of its temporary. Returns the call count."""
    real_replace, real_unlink, count = REAL_REPLACE, REAL_UNLINK, [0]

    def replace(src, dst):
        count[0] += name is None or os.path.basename(dst) == name
        if count[0] == n and not after:
            raise Killed
        real_replace(src, dst)
        if count[0] == n:
            raise Killed

    def unlink(path, *args, **kwargs):
        if n and count[0] == n and str(path).endswith(".tmp"):
            raise Killed  # the process is already dead
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(files_mod.os, "replace", replace)
    monkeypatch.setattr(files_mod.os, "unlink", unlink)
    return count


def test_a_kill_at_any_write_resumes_to_the_same_model(runs, monkeypatch):
    """Every os.replace of a whole run (spec, checkpoints and their digests, model.pt and its digest,
    history, done), killed just before and just after: the restart never sees a damaged file, leaves
    no temporary behind and ends with the same parameters."""
    counter = runs / "calls"
    count = kill_at_replace(monkeypatch, 0, after=False)  # counts, never kills
    reference = ask(counter)
    reference_digest, path, writes = digest(reference.model), reference.path, count[0]
    assert writes == 14  # spec, 2 checkpoints x 3 (digest, file, digest), model x 3, history x 3, done
    for n in range(1, writes + 1):
        for after in (False, True):
            shutil.rmtree(path)
            kill_at_replace(monkeypatch, n, after)
            with pytest.raises(Killed):
                ask(counter)
            kill_at_replace(monkeypatch, 0, after)
            resumed = ask(counter)
            assert digest(resumed.model) == reference_digest, (n, after)
            assert temporaries(path) == [], (n, after)


def test_stale_temporaries_are_removed_when_a_run_is_reopened(runs, monkeypatch):
    counter = runs / "calls"
    kill_at_replace(monkeypatch, 1, after=False, name="model.pt")
    with pytest.raises(Killed):
        ask(counter)
    kill_at_replace(monkeypatch, 0, after=False)
    path = run_dir(spec())
    assert [name.split(".")[:2] for name in temporaries(path)] == [["model", "pt"]]
    ask(counter)
    assert temporaries(path) == [] and (path / "done").exists()


# ---- a full disk ---------------------------------------------------------------------------------
class FullDisk:
    """A file object whose writes (or fsync) fail as on a full disk."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


@pytest.mark.parametrize("fails", ["write", "fsync"])
def test_a_full_disk_is_one_clear_error_and_leaves_no_temporary(tmp_path, monkeypatch, fails):
    path = tmp_path / "x.pt"
    path.write_bytes(b"previous")
    if fails == "write":
        real = os.fdopen
        monkeypatch.setattr(files_mod.os, "fdopen", lambda *a, **k: FullDisk(real(*a, **k)))
    else:
        def fsync(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(files_mod.os, "fsync", fsync)
    with pytest.raises(OSError, match=rf"^no space left on device while writing {path} \(.*free some space or "
                                      r"set MEMVAE_RUNS_DIR") as e:
        atomic_write(path, lambda f: torch.save({"w": torch.zeros(1000)}, f))
    monkeypatch.undo()
    assert e.value.errno == errno.ENOSPC and "\n" not in str(e.value)
    assert path.read_bytes() == b"previous" and temporaries(tmp_path) == []


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    x = torch.rand(64, 20, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    train(Tiny(TinyConfig()), x, TrainConfig(epochs=1, batch_size=16), binarize=False, run_dir=tmp_path)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files_mod.os, "fsync", fsync)
    with pytest.raises(OSError, match=rf"no space left on device while writing {tmp_path}/checkpoint\.pt"):
        train(Tiny(TinyConfig()), x, TrainConfig(epochs=2, batch_size=16), binarize=False, run_dir=tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint.pt").read_bytes() == before and temporaries(tmp_path) == []


# ---- permissions ---------------------------------------------------------------------------------
@pytest.fixture
def umask():
    def set_umask(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_written_files_get_a_plain_open_permissions(tmp_path, umask, mask, mode):
    umask(mask)
    atomic_write(tmp_path / "f", lambda f: f.write(b"x"))
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == mode


def test_a_finished_run_is_readable_by_others_under_umask_022(runs, umask):
    path = ask(runs / "calls").path
    for name in ("spec.json", "checkpoint.pt", "checkpoint.pt.sha256", "model.pt", "model.pt.sha256",
                 "history.json", "done", ".lock"):
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o644, name


def read_only(monkeypatch, path):
    """What a non-root user sees in a read-only (or another user's) run folder: opening for writing
    fails, and no file may be replaced (the tests run as root, where chmod stops nothing)."""
    def open_(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return builtins.open(file, mode, *args, **kwargs)

    def replace(src, dst):
        raise AssertionError(f"wrote {dst} in a read-only folder")

    monkeypatch.setattr(runs_mod, "open", open_, raising=False)
    monkeypatch.setattr(files_mod.os, "replace", replace)


@pytest.mark.parametrize("lock_exists", [True, False])
def test_a_finished_run_in_a_read_only_folder_loads(runs, monkeypatch, lock_exists):
    counter = runs / "calls"
    first = ask(counter)
    if not lock_exists:
        (first.path / ".lock").unlink()
    (first.path / "stale.tmp").write_bytes(b"")  # not removable here: left alone, no error
    first.path.chmod(0o555)
    try:
        read_only(monkeypatch, first.path)
        again = ask(counter)
    finally:
        first.path.chmod(0o755)
    assert digest(again.model) == digest(first.model) and calls(counter) == 1
    assert (first.path / ".lock").exists() == lock_exists and (first.path / "stale.tmp").exists()


def test_an_unfinished_run_in_a_read_only_folder_is_a_clear_error(runs, monkeypatch):
    path = run_dir(spec())
    path.mkdir(parents=True)
    (path / ".lock").touch()
    read_only(monkeypatch, path)
    with pytest.raises(PermissionError, match=rf"run folder {path} is not writable .*unfinished.*MEMVAE_RUNS_DIR"):
        ask(runs / "calls")
    assert calls(runs / "calls") == 0


def test_a_runs_folder_that_cannot_be_written_is_named_with_the_fix(runs, monkeypatch):
    from pathlib import Path

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)  # as root, a chmod would not stop the write
    with pytest.raises(PermissionError, match=r"cannot create the run folder .*Read-only file system.*MEMVAE_RUNS_DIR"):
        ask(runs / "calls")
