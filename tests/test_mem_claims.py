"""The MEM paper's claims (memvae_lib/papers/mem/claims.py): each verdict from per-seed inputs whose
threshold is known in closed form, the floors taking over when the seeds agree by luck, and the
misleading cases the old notebooks printed as 'shows' (a collapse, a budget confound)."""
import dataclasses
import math

import pytest

from memvae_lib.claims import VERDICTS, Claim, format_verdicts
from memvae_lib.papers import mem
from memvae_lib.papers.mem import claims, scores, values

SMOKE, LAPTOP, PAPER = (mem.budget(p) for p in ("smoke", "laptop", "paper"))


def seeds(*means, sem=0.0):
    return [{"mean": m, "sem": sem} for m in means]


def threshold(floor, n, sem=0.0, sd=0.0):
    """z x uncertainty of claims._estimate, in closed form."""
    return claims.Z * math.sqrt(max(sd, floor) ** 2 / n + sem ** 2)


# ---- Table 1 ---------------------------------------------------------------------------------------------

def test_a_gain_shows_only_beyond_the_floor_when_two_seeds_agree_by_luck():
    t = threshold(claims.LL_GAP_FLOOR, 2)  # the seeds' sd (0.01) is below the floor
    assert claims.table1_memory_gain("mnist", 1, seeds(t + 0.02, t + 0.03), LAPTOP).verdict == "shows"
    below = claims.table1_memory_gain("mnist", 1, seeds(t - 0.03, t - 0.02), LAPTOP)
    assert below.verdict == "does not show" and below.threshold == pytest.approx(t)  # the paper's +1.26 > t


def test_a_gain_within_the_noise_does_not_show_when_the_papers_effect_would_have_shown():
    claim = claims.table1_memory_gain("mnist", 1, seeds(0.1, 0.2, 0.15), PAPER)
    assert claim.threshold < 1.26 and claim.verdict == "does not show" and "would have shown" in claim.reason
    assert claim.paper_value == pytest.approx(values.MEM_TABLE1["mnist"]["MEM-VAE"] - values.MEM_TABLE1["mnist"]["VAE"])


def test_a_wide_seed_spread_raises_the_threshold_and_test_se_adds_in_quadrature():
    claim = claims.table1_memory_gain("ocr_letters", 5, seeds(0.0, 3.0, sem=0.4), PAPER)
    sd = math.sqrt(4.5)
    assert claim.threshold == pytest.approx(threshold(claims.LL_GAP_FLOOR, 2, sem=0.4, sd=sd))
    assert claim.id == "mem/table1/ocr-letters-gain-k5" and claim.n_seeds == 2


def test_the_k50_gain_says_its_models_train_fewer_epochs_only_where_they_do():
    laptop = claims.table1_memory_gain("mnist", 50, seeds(2.0, 2.1), LAPTOP)
    assert f"k=50 models train {LAPTOP.epochs_k50} epochs here, the others {LAPTOP.epochs} epochs" in laptop.reason
    assert "k=50" not in claims.table1_memory_gain("mnist", 50, seeds(2.0, 2.1, 2.2), PAPER).reason



def test_the_mnist_k1_gain_says_its_pair_has_its_own_budget_only_where_it_does():
    laptop = claims.table1_memory_gain("mnist", 1, seeds(2.0, 2.1), LAPTOP)
    assert (LAPTOP.k1_epochs, LAPTOP.k1_train_subset) != (LAPTOP.epochs, LAPTOP.train_subset)
    assert (f"this k=1 pair trains {LAPTOP.k1_epochs} epochs on all 60,000 images here, the other rows "
            f"{LAPTOP.epochs} epochs (k=50: {LAPTOP.epochs_k50}) on {LAPTOP.train_subset:,}") in laptop.reason
    assert "k=1 pair" not in claims.table1_memory_gain("mnist", 1, seeds(2.0, 2.1, 2.2), PAPER).reason
    ocr = claims.table1_memory_gain("ocr_letters", 1, seeds(2.0, 2.1), LAPTOP).reason
    assert (f"this k=1 pair trains {LAPTOP.ocr_k1_epochs} epochs on all 32,152 images here, the other rows "
            f"{LAPTOP.epochs} epochs (k=50: {LAPTOP.ocr_epochs_k50}) on {LAPTOP.ocr_train_subset:,}") in ocr
    assert "k=1 pair" not in claims.table1_memory_gain("ocr_letters", 1, seeds(2.0, 2.1, 2.2), PAPER).reason
    assert "k=1 pair" not in claims.table1_memory_gain("mnist", 5, seeds(2.0, 2.1), LAPTOP).reason


def k1_pairs(dataset):
    """(profile, budget, Table 1 spec, `-long` spec) of `dataset`'s VAE and MEM-VAE at every profile."""
    for profile in ("smoke", "laptop", "paper"):
        b = mem.budget(profile)
        named = mem.experiments(b)
        for model in ("VAE", "MEM-VAE"):
            yield profile, b, named[f"mem/{dataset}/{model}"](), named[f"mem/{dataset}/{model}-long"]()


def test_the_long_k1_pair_is_the_table1_pair_at_paper_and_its_own_budget_below():
    for profile, b, short, long in k1_pairs("mnist"):
        assert (long.train_subset, long.train.epochs) == (b.k1_train_subset, b.k1_epochs)
        assert long.model == short.model and long.train.batch_size == short.train.batch_size
        assert long.train.eval_every == b.k1_eval_every and short.train.eval_every == b.eval_every
        # the same run wherever the budgets agree (smoke and paper), its own folder where not
        same = (b.k1_epochs, b.k1_train_subset, b.k1_eval_every) == (b.epochs, b.train_subset, b.eval_every)
        assert (long == short) == same and same == (profile != "laptop")
    line = scores.budget_line(mem.budget("laptop"))
    assert "(-long, also Sec. 5.2's k=1 models): 20 epochs on all 60000, test-LL curve every 5" in line


def test_the_ocr_k1_pair_differs_from_the_table1_pair_only_in_its_budget():
    for profile, b, short, long in k1_pairs("ocr_letters"):
        assert (long.train.epochs, long.train_subset) == mem.configs.k1_budget(b, "ocr_letters")
        assert (short.train.epochs, short.train_subset) == mem.configs.table1_budget(b, "ocr_letters")
        assert long.model == short.model and long.dataset == short.dataset == "ocr_letters"
        assert long.train.eval_every == short.train.eval_every == b.eval_every
        assert (long == short) == (profile != "laptop")
    assert scores.k1_budget_note(mem.budget("laptop"), "ocr_letters") == "k=1 budget: 5 epochs on all 32,152 images"
    assert scores.k1_budget_note(mem.budget("laptop"), "mnist") == "k=1 budget: 20 epochs on all 60,000 images"
    assert scores.k1_budget_note(mem.budget("smoke"), "mnist") == "k=1 budget: 2 epochs on 500 images"


def test_sec52_compares_its_k1_models_at_the_k1_pairs_budget_and_the_others_at_table1s():
    for profile in ("smoke", "laptop", "paper"):
        b = mem.budget(profile)
        named = mem.experiments(b)
        pair = named["mem/mnist/VAE-long"]()
        for experiment, run in scores.SEC52_K1_RUNS.items():
            long, short = named[f"mem/mnist/{run}"](), named[f"mem/mnist/{experiment}"]()
            assert long.model == short.model  # only the budget differs
            assert (long.train_subset, long.train.epochs, long.train.batch_size) == \
                   (pair.train_subset, pair.train.epochs, pair.train.batch_size)
            if experiment not in ("VAE", "MEM-VAE"):  # the ablations record no curve, at any budget
                assert long.train.eval_every == short.train.eval_every == 0
                assert (long == short) == (profile != "laptop")
        assert "Large-VAE-k5" not in scores.SEC52_K1_RUNS and "Large-VAE-k50" not in scores.SEC52_K1_RUNS


def test_ocr_k50_trains_as_long_as_the_other_ocr_rows_at_laptop_so_its_steps_are_measured():
    assert LAPTOP.ocr_epochs_k50 == LAPTOP.epochs != LAPTOP.epochs_k50
    specs = mem.experiments(LAPTOP)
    assert specs["mem/ocr_letters/MEM-IWAE-50"]().train.epochs == LAPTOP.epochs
    assert specs["mem/mnist/MEM-IWAE-50"]().train.epochs == LAPTOP.epochs_k50
    assert "k=50" not in claims.table1_memory_gain("ocr_letters", 50, seeds(2.0, 2.1), LAPTOP).reason
    assert "k=50 models train" in claims.table1_memory_gain("mnist", 50, seeds(2.0, 2.1), LAPTOP).reason
    steps = _steps("ocr_letters", k5=(3.0, 3.1), k50=(-9.0, -9.5))  # judged at laptop: reversed at k=50
    ocr = claims.table1_more_samples_help("ocr_letters", False, steps, LAPTOP)
    assert ocr.verdict == "partly" and "IWAE-50 > IWAE-5 -9.25" in ocr.reason and "n/m" not in ocr.reason


def _steps(dataset="mnist", **means):
    names = {("IWAE-5", "VAE"): "k5", ("IWAE-50", "IWAE-5"): "k50",
             ("MEM-IWAE-5", "MEM-VAE"): "k5", ("MEM-IWAE-50", "MEM-IWAE-5"): "k50"}
    return {(dataset, a, b): seeds(*means[tag]) for (a, b), tag in names.items()}


def test_more_samples_help_is_not_measurable_at_k50_when_k50_trains_fewer_epochs():
    steps = _steps(k5=(3.0, 3.1), k50=(-9.0, -9.5))  # k=50 far behind: its budget, not k
    laptop = claims.table1_more_samples_help("mnist", False, steps, LAPTOP)
    assert laptop.verdict == "partly" and "IWAE-50 > IWAE-5: n/m" in laptop.reason
    assert laptop.reason.endswith(f"k=50 trains {LAPTOP.epochs_k50} epochs here, k=5 {LAPTOP.epochs} epochs")
    paper = claims.table1_more_samples_help("mnist", False, {k: v + v[:1] for k, v in steps.items()}, PAPER)
    assert paper.verdict == "partly" and "IWAE-50 > IWAE-5 -9.17" in paper.reason  # judged: reversed


def test_more_samples_help_with_memory_reads_the_memory_steps():
    steps = _steps(k5=(3.0, 3.1, 3.2), k50=(2.0, 2.1, 2.2))
    claim = claims.table1_more_samples_help("mnist", True, steps, PAPER)
    assert claim.verdict == "shows" and claim.id == "mem/table1/mnist-mem-more-samples"
    assert "MEM-IWAE-50 (-82.84) > MEM-IWAE-5 (-83.26) > MEM-VAE (-84.41)" in claim.statement


# ---- Sec. 5.2 ----------------------------------------------------------------------------------------------

def test_the_larger_baseline_claim_uses_the_papers_large_vae_value():
    claim = claims.sec52_memory_beats_larger_vae(5, seeds(2.0, 2.2), LAPTOP)
    assert claim.verdict == "shows"
    paper = values.MEM_TABLE1["mnist"]["MEM-IWAE-5"] - values.MEM_SEC52["Large-VAE-k5"]
    assert claim.paper_value == pytest.approx(paper)


@pytest.mark.parametrize("means, sem, verdict", [
    ((0.01, -0.02, 0.0), 0.05, "shows"),                                  # no effect, and noise below the margin
    ((0.01, -0.02), 0.5, "not measurable at this budget"),                # no effect seen, but noise too large to tell
    ((-1.5, -1.6), 0.05, "partly"),                                       # LRE hurts: no gain, yet an effect
    ((1.5, 1.6), 0.05, "does not show"),                                  # LRE helps beyond the noise
])
def test_no_gain_claims_need_a_small_noise_to_show(means, sem, verdict):
    claim = claims.sec52_lre_alone_no_gain(seeds(*means, sem=sem))
    assert claim.verdict == verdict
    assert claim.threshold == pytest.approx(threshold(claims.LL_GAP_FLOOR, len(means), sem))
    margin = claims.NO_EFFECT_FRACTION * (values.MEM_SEC52["MEM-VAE-no-LRE"] - values.MEM_TABLE1["mnist"]["VAE"])
    assert (claim.threshold > margin) == (verdict == "not measurable at this budget")


def test_lre_on_top_of_memory_is_judged_as_no_effect_with_the_papers_small_difference():
    claim = claims.sec52_lre_adds_little_to_memory(seeds(0.05, 0.0, 0.02))
    assert claim.verdict == "shows" and claim.paper_value == pytest.approx(0.03)


def test_table3_counts_must_round_to_the_printed_thousand():
    exact = {"MNIST-500-500-100": 1_440_984, "MNIST-530-530-100": 1_559_184, "MNIST-500-500-100-MEM": 1_550_084,
             "OCR-letters-200-200-50": 163_828, "OCR-letters-200-200-50-MEM": 207_528}
    assert claims.table3_parameter_counts(exact).verdict == "shows"
    off = claims.table3_parameter_counts({**exact, "OCR-letters-200-200-50-MEM": 208_528})  # 208.5K rounds up to 209K
    assert off.verdict == "partly" and off.ours == 4 and "OCR-letters-200-200-50-MEM 208.5K vs 208K" in off.reason
    assert claims.table3_parameter_counts({k: 2 * v for k, v in exact.items()}).verdict == "does not show"


def test_the_svm_claim_is_in_points_and_not_measurable_when_the_papers_tenth_of_a_point_is_below_noise():
    claim = claims.appendix_a_svm(seeds(0.1, 0.2, sem=0.7))
    assert claim.verdict == "not measurable at this budget" and claim.unit == "points"
    assert claim.paper_value == pytest.approx(0.13)
    assert claims.appendix_a_svm(seeds(-3.0, -3.2, sem=0.1)).verdict == "does not show"


# ---- Fig. 3, 6, Table 4 ----------------------------------------------------------------------------------

def test_a_shared_slot_shows_only_if_memory_beats_the_pixels():
    assert claims.fig3_shared_slot(1, seeds(-0.4, -0.5, sem=0.05)).verdict == "does not show"  # pixels share more
    for layer in (1, 2):  # each layer's own floor
        assert claims.fig3_shared_slot(layer, seeds(0.0, 0.0)).threshold == pytest.approx(
            threshold(claims.SHARING_FLOOR[layer], 2))
    claim = claims.fig3_shared_slot(2, seeds(0.9, 1.0, sem=0.05))
    assert claim.verdict == "shows" and "3, 5 and 8" in claim.statement and "raw pixel" in claim.reason


def test_layer1_graph_claim_compares_with_layer2():
    assert claims.fig3_layer1_graph_like_raw(seeds(0.3, 0.35, sem=0.02)).verdict == "shows"
    assert claims.fig3_layer1_graph_like_raw(seeds(-0.3, -0.35, sem=0.02)).verdict == "does not show"


def test_fig6_bounds_are_in_percent_and_the_noise_straddling_a_bound_is_not_measurable():
    unused = claims.fig6_details_lost(seeds(0.02, 0.025, sem=0.001))  # 2% of another sample's change
    assert unused.verdict == "does not show" and unused.unit == "%" and unused.ours == pytest.approx(2.25)
    assert claims.fig6_details_lost(seeds(0.30, 0.32, sem=0.01)).verdict == "shows"
    straddles = claims.fig6_details_lost(seeds(0.10, 0.105, sem=0.01))
    assert straddles.verdict == "not measurable at this budget" and "straddles" in straddles.reason
    assert claims.fig6_pattern_kept(seeds(0.9, 0.92, sem=0.01)).verdict == "shows"


def test_a_collapsed_attention_does_not_show_though_its_top1_share_is_large():
    collapsed = claims.fig7_class_specific_slots(seeds(2, 1))  # slot 35 top-1 for 9 of 10 classes
    assert collapsed.verdict == "does not show" and collapsed.paper_value == values.MEM_TABLE4_DISTINCT_TOP1 == 9
    assert claims.fig7_class_specific_slots(seeds(9, 8)).verdict == "shows"
    assert claims.fig7_class_specific_slots(seeds(0, 0)).verdict == "does not show"  # flat: no class has a slot


def test_vis_between_needs_both_steps():
    steps = {("MEM-VAE", "VIS-MEM-VAE"): seeds(0.3, 0.2), ("VIS-MEM-VAE", "VAE"): seeds(2.0, 2.2)}
    claim = claims.fig7_vis_between(steps)
    assert claim.verdict == "partly" and "VIS-MEM-VAE > VAE" in claim.reason


# ---- Fig. 5, Table 2 -----------------------------------------------------------------------------------

def test_frey_claims_use_the_frey_floor_and_name_the_epochs():
    t = threshold(claims.FREY_GAP_FLOOR, 2)
    assert claims.fig5_memory_gain(100, seeds(t + 1, t + 1.5)).verdict == "shows"
    assert claims.fig5_memory_gain(10, seeds(t - 2, t - 1.5)).verdict == "does not show"  # paper's +185 would show
    batch = claims.fig5_batch_size_matters(seeds(-8.0, -9.0), LAPTOP)
    assert f"batch 100 trains {LAPTOP.frey_epochs_b100} epochs" in batch.reason
    assert batch.threshold == pytest.approx(threshold(claims.FREY_BATCH_FLOOR, 2))  # two VAEs: a wider floor
    assert batch.verdict == "does not show"  # -8.5 is within the noise; the paper's 253 is not


def test_imputation_is_lower_is_better_in_thousandths():
    claim = claims.table2_lower_imputation_error("HALF", seeds(-0.004, -0.005, sem=0.0002))  # MEM below VAE
    assert claim.verdict == "shows" and claim.unit == "1e-3 MSE" and claim.ours == pytest.approx(4.5)
    assert claim.paper_value == pytest.approx(1.1)
    worse = claims.table2_lower_imputation_error("RECT-12", seeds(0.004, 0.005, sem=0.0002))
    assert worse.verdict == "does not show" and "reversed" in worse.reason


# ---- every claim ----------------------------------------------------------------------------------------

def mem_counts():
    from memvae_lib.papers.mem.architecture import parameter_counts

    return parameter_counts()


def every_claim():
    s = seeds(1.0, 1.1)
    return [
        claims.table1_memory_gain("mnist", 1, s, LAPTOP),
        claims.table1_more_samples_help("mnist", False, _steps(k5=(1, 2), k50=(1, 2)), LAPTOP),
        claims.sec52_memory_beats_larger_vae(50, s, LAPTOP), claims.sec52_memory_alone_gains(s),
        claims.sec52_lre_alone_no_gain(s), claims.sec52_lre_adds_little_to_memory(s), claims.appendix_a_svm(s),
        claims.table3_parameter_counts(mem_counts()), claims.fig3_shared_slot(1, s), claims.fig3_layer1_graph_like_raw(s),
        claims.fig4_clear_samples(), claims.fig5_memory_gain(100, s), claims.fig5_batch_size_matters(s, LAPTOP),
        claims.fig5_clearer_faces(), claims.fig6_details_lost(s), claims.fig6_pattern_kept(s),
        claims.fig7_vis_between({("MEM-VAE", "VIS-MEM-VAE"): s, ("VIS-MEM-VAE", "VAE"): s}),
        claims.fig7_class_specific_slots(s), claims.fig7_slot_sketches(), claims.table2_lower_imputation_error("HALF", s),
        claims.fig8_clearer_imputations(),
    ]


def test_every_claim_is_a_valid_claim_of_the_mem_paper_with_a_section_and_survives_json():
    out = every_claim()
    assert len({c.id for c in out}) == len(out)
    for c in out:
        assert c.paper == "mem" and c.verdict in VERDICTS and c.section and c.statement and c.id.startswith("mem/")
        assert Claim.from_json(c.to_json()) == dataclasses.replace(c, **{
            k: round(v, 4) for k, v in dataclasses.asdict(c).items() if isinstance(v, float)})
    assert format_verdicts(out).count("\n[") == len(out) - 1


def test_visual_claims_are_not_measurable_with_a_reason():
    for c in (claims.fig4_clear_samples(), claims.fig5_clearer_faces(), claims.fig7_slot_sketches(),
              claims.fig8_clearer_imputations()):
        assert c.verdict == "not measurable at this budget" and c.paper_value == "by eye" and c.reason


def test_claims_refuse_no_seeds():
    with pytest.raises(ValueError, match="no seeds"):
        claims.table1_memory_gain("mnist", 1, [], LAPTOP)


def test_sec52_k1_claims_say_their_models_train_at_the_k1_pairs_budget_only_where_they_do():
    per_seed = seeds(0.1, 0.2)
    laptop = [claims.sec52_memory_beats_larger_vae(1, seeds(1.0, 1.1), LAPTOP),
              claims.sec52_memory_alone_gains(seeds(1.0, 1.1), LAPTOP), claims.sec52_lre_alone_no_gain(per_seed, LAPTOP),
              claims.sec52_lre_adds_little_to_memory(per_seed, LAPTOP)]
    note = (f"these k=1 models train {LAPTOP.k1_epochs} epochs on all 60,000 images here, the other rows "
            f"{LAPTOP.epochs} epochs (k=50: {LAPTOP.epochs_k50}) on {LAPTOP.train_subset:,}")
    assert all(note in c.reason for c in laptop)
    paper = [claims.sec52_memory_beats_larger_vae(1, seeds(1.0, 1.1, 1.2), PAPER),
             claims.sec52_lre_alone_no_gain(seeds(0.1, 0.2, 0.1), PAPER), claims.sec52_lre_alone_no_gain(per_seed)]
    assert not any("k=1 models" in c.reason for c in paper)
    assert "k=1 models" not in claims.sec52_memory_beats_larger_vae(5, seeds(1.0, 1.1), LAPTOP).reason
    # the note changes the reason, never the verdict or the numbers
    bare = claims.sec52_lre_alone_no_gain(per_seed)
    noted = claims.sec52_lre_alone_no_gain(per_seed, LAPTOP)
    assert (bare.verdict, bare.ours, bare.threshold) == (noted.verdict, noted.ours, noted.threshold)


def test_the_k1_budget_helpers_know_the_two_table1_data_sets_and_refuse_others():
    assert mem.configs.images_text(None, "mnist") == "all 60,000"
    assert mem.configs.images_text(None, "ocr_letters") == "all 32,152"
    assert mem.configs.images_text(10_000, "ocr_letters") == "10,000"
    assert mem.configs.k1_has_own_budget(LAPTOP, "mnist") and mem.configs.k1_has_own_budget(LAPTOP, "ocr_letters")
    assert not mem.configs.k1_has_own_budget(PAPER, "mnist") and not mem.configs.k1_has_own_budget(PAPER, "ocr_letters")
    for helper in (mem.configs.k1_budget, mem.configs.table1_budget, mem.configs.k1_has_own_budget):
        with pytest.raises(ValueError, match=r"dataset='frey' is not a Table 1 data set; those are \('mnist', 'ocr_letters'\)"):
            helper(LAPTOP, "frey")
