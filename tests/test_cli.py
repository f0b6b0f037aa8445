"""`memvae train`: globs over experiment names, concurrent runs, and pausing at a time budget."""
import pytest

from memvae_lib.cli import main


def test_train_pauses_at_the_budget_and_the_same_command_resumes_to_the_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    command = ["train", "mem/frey/VAE-b100", "--profile", "smoke", "--device", "cpu", "--max-minutes", "0"]
    codes = [main(command) for _ in range(3)]  # smoke: 3 epochs; a zero budget pauses after each
    assert codes == [3, 3, 0]
    out = capsys.readouterr().out
    assert out.count("PAUSED paused after epoch") == 2 and "done" in out
    assert len(list(tmp_path.glob("frey-VAE-*/done"))) == 1


def test_train_globs_run_concurrently_and_unknown_names_fail_fast(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMVAE_RUNS_DIR", str(tmp_path))
    assert main(["train", "mem/frey/*-b10", "--profile", "smoke", "--device", "cpu", "--jobs", "2"]) == 0
    assert sorted(p.parent.name.split("-")[1] for p in tmp_path.glob("*/done")) == ["MemVAE", "VAE"]
    with pytest.raises(SystemExit, match="no experiment matches mem/nope"):
        main(["train", "mem/nope", "--profile", "smoke"])
