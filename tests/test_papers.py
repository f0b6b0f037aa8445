"""The paper packages, their budgets and the registry gathered from them; the notebook session."""
import dataclasses

import pytest

from memvae_lib import experiments, papers
from memvae_lib.notebook import open_notebook
from memvae_lib.parameters import Int, ParameterError
from memvae_lib.profiles import PROFILES, Budget, get_profile
from memvae_lib.runs import spec_hash


def test_both_papers_are_found_and_each_has_a_budget_for_every_profile():
    keys = [p.KEY for p in papers.all_papers()]
    assert {"evae", "mem"} <= set(keys) and keys == sorted(keys)
    for paper in papers.all_papers():
        for name, profile in PROFILES.items():
            b = paper.budget(name)
            assert isinstance(b, Budget) and b.name == name and b.dtype == profile.dtype
            assert paper.budget(b) is b and paper.budget(profile) is b  # a budget passes through


def test_experiment_names_are_the_union_of_the_papers_and_start_with_their_key():
    for profile in PROFILES:
        names = experiments.experiment_names(profile)
        assert len(names) == len(set(names))
        for paper in papers.all_papers():
            own = paper.experiments(paper.budget(profile))
            assert set(own) <= set(names) and all(n.startswith(paper.KEY + "/") for n in own)


def test_a_budget_names_its_profile_and_refuses_bad_values():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        papers.paper("mem").budget("fast")
    with pytest.raises(ValueError, match="seeds=0"):
        dataclasses.replace(papers.paper("mem").budget("smoke"), seeds=0)
    with pytest.raises(ValueError, match="no paper 'gan'"):
        papers.paper("gan")
    assert get_profile(papers.paper("evae").budget("laptop")).name == "laptop"


def test_run_spec_accepts_a_budget_or_a_profile_name_alike():
    name = "mem/mnist/MEM-VAE"
    assert experiments.run_spec(name, papers.paper("mem").budget("laptop")) == experiments.run_spec(name, "laptop")


def test_seed_replicates_change_only_the_training_seed_and_keep_the_first_run():
    spec = experiments.run_spec("evae/mnist/VAE-D50-lambda1", "smoke")
    reps = experiments.seed_replicates(spec, 3)
    assert reps[0] is spec and len({spec_hash(r) for r in reps}) == 3
    for r in reps[1:]:
        assert dataclasses.replace(r, train=dataclasses.replace(r.train, seed=spec.train.seed)) == spec
    with pytest.raises(ValueError, match="seeds=0"):
        experiments.seed_replicates(spec, 0)


def test_open_notebook_checks_knobs_before_anything_and_takes_the_papers_budget():
    ns = dict(profile="smoke", device="cpu", seed=3, interactive=False, top_k=2)
    nb = open_notebook("mem/fig3_slot_preferences", ns, papers.paper("mem").budget, top_k=Int(1))
    assert nb.budget is papers.paper("mem").budget("smoke") and str(nb.device) == "cpu" and nb.profile == "smoke"
    with pytest.raises(ParameterError, match="top_k=0"):
        open_notebook("mem/fig3_slot_preferences", {**ns, "top_k": 0}, papers.paper("mem").budget, top_k=Int(1))
    with pytest.raises(ValueError, match="expected '<paper>/<notebook>'"):
        open_notebook("fig3", ns, papers.paper("mem").budget)


def test_notebook_results_carry_the_claims_and_the_runs_that_made_them(tmp_path, monkeypatch, capsys):
    import types

    from memvae_lib import claims
    from memvae_lib.results import read_results

    monkeypatch.setenv("MEMVAE_FIGURES_DIR", str(tmp_path))
    ns = dict(profile="smoke", device="cpu", seed=0, interactive=False)
    nb = open_notebook("mem/table1_log_likelihood", ns, papers.paper("mem").budget)
    claim = claims.holds(True, id="mem/t1/x", paper="mem", section="Sec. 5.1", statement="x holds", ours=1.0,
                         reason="1 >= 1")
    run = types.SimpleNamespace(path=tmp_path / "mnist-VAE-0123456789abcdef")
    assert nb.write_results([], [claim], protocol={"k_eval": 10}, runs={"mem/mnist/VAE": run}) is None
    data = read_results(tmp_path / "mem" / "table1_log_likelihood.json")
    assert data["protocol"] == {"profile": "smoke", "seeds": 2, "k_eval": 10,
                                "runs": {"mem/mnist/VAE": "mnist-VAE-0123456789abcdef"}}
    assert [c["verdict"] for c in data["claims"]] == ["shows"]
    out = capsys.readouterr().out
    assert f"results: {tmp_path / 'mem' / 'table1_log_likelihood.json'}" in out  # outside the repository: as is
    assert "[shows] Sec. 5.1: x holds" in out
