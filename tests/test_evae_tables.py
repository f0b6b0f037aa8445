"""The checked rows of the Parzen notebooks (memvae_lib/papers/evae/tables.py): paper values only where
they are comparable, ranks, baselines."""
from memvae_lib.papers.evae import grid, tables, values


def _cell(kind, dataset, layers, hidden, latent, k, parzen, share=None):
    return grid.CellResult("x", dataset, kind, layers, hidden, latent, k, [None],
                           [{"mean": parzen, "sem": 2.0, "sweep": [[0.1, 1.0]]}], [{"count": latent}],
                           None if kind == "VAE" else {"largest_share_train": share, "used_train": 2, "epitomes": 3})


BASELINES = {"real": {"mean": 150.0}, "kmeans": {"mean": 250.0}}


def test_mnist_rows_carry_table4_and_faces_rows_only_their_rank():
    mnist = {("VAE", 1, 500, 8): _cell("VAE", "mnist", 1, 500, 8, None, 180.0),
             ("mVAE", 1, 500, 8): _cell("mVAE", "mnist", 1, 500, 8, 4, 160.0, 0.4),
             ("eVAE", 1, 500, 8): _cell("eVAE", "mnist", 1, 500, 8, 4, 170.0, 0.5)}
    rows = tables.grid_rows(mnist, BASELINES, "mnist")
    parzen = {r.model: r for r in rows if r.quantity == "parzen_log_density"}
    assert parzen["VAE L1 H500 D8"].paper == values.EVAE_TABLE4[("VAE", 8)][(1, 500)][0]
    assert parzen["real train images"].paper == values.THEIS_PARZEN_MNIST["true distribution"]
    ranks = {r.model: (r.ours, r.paper) for r in rows if r.quantity == "parzen_rank"}
    assert ranks == {"VAE L1 H500 D8": (1, 3), "mVAE L1 H500 D8": (3, 1), "eVAE L1 H500 D8": (2, 1)}
    faces = {key: _cell(key[0], "olivetti", 2, 500, 15, None if key[0] == "VAE" else 5, 1000.0 + i)
             for i, key in enumerate([("VAE", 2, 500, 15), ("mVAE", 2, 500, 15), ("eVAE", 2, 500, 15)])}
    face_rows = tables.grid_rows(faces, BASELINES, "olivetti")
    assert all(r.paper is None for r in face_rows if r.quantity != "parzen_rank")
    assert any("TFD paper 2298 (15), not comparable" in r.note for r in face_rows)
    assert any(r.quantity == "largest_epitome_share" and r.ours == 0.4 for r in rows)


def test_table3_rows_name_the_literature_on_mnist_only():
    best = {k: _cell(k, "mnist", 1, 500, 8, None if k == "VAE" else 4, p) for k, p in (("VAE", 1.0), ("mVAE", 3.0), ("eVAE", 2.0))}
    iwll = {k: {"mean": -100.0, "k": 10, "n": 5} for k in best}
    rows = tables.table3_rows(best, BASELINES, "mnist", iwll)
    assert sum(r.model.endswith("(literature)") for r in rows) == len(values.EVAE_TABLE3) - 3
    faces = tables.table3_rows({k: _cell(k, "olivetti", 2, 500, 15, None, 1.0) for k in best}, BASELINES, "olivetti", iwll)
    assert not any(r.model.endswith("(literature)") for r in faces)



def test_a_degenerate_model_is_flagged_and_the_others_are_ranked_among_themselves():
    faces = {("VAE", 2, 500, 15): _cell("VAE", "olivetti", 2, 500, 15, None, 1000.0),
             ("mVAE", 2, 500, 15): _cell("mVAE", "olivetti", 2, 500, 15, 5, 900.0, 0.5),
             ("eVAE", 2, 500, 15): _cell("eVAE", "olivetti", 2, 500, 15, 5, 3000.0, 1.0)}   # collapsed, highest
    rows = tables.grid_rows(faces, BASELINES, "olivetti")
    ranks = {r.model: (r.ours, r.paper, r.note) for r in rows if r.quantity == "parzen_rank"}
    assert ranks["VAE L2 H500 D15"][0] == 1 and ranks["mVAE L2 H500 D15"][0] == 2
    assert ranks["eVAE L2 H500 D15"][0] is None and ranks["eVAE L2 H500 D15"][1] == 1
    assert ranks["eVAE L2 H500 D15"][2] == "degenerate (collapsed 100%): not ranked"
    share = next(r for r in rows if r.quantity == "largest_epitome_share" and r.model.startswith("eVAE"))
    assert "DEGENERATE (collapsed 100%)" in share.note
    best = {k[0]: v for k, v in faces.items()}
    iwll = {k: {"mean": -100.0, "k": 10, "n": 5} for k in best}
    t3 = {r.model: r.ours for r in tables.table3_rows(best, BASELINES, "olivetti", iwll) if r.quantity == "parzen_rank"}
    assert t3 == {"VAE": 1, "mVAE": 2, "eVAE": None}


def test_fig7_rows_list_every_cell_and_the_best_k():
    results = {("VAE", 1, 500, 8, None): _cell("VAE", "mnist", 1, 500, 8, None, 180.0),
               ("eVAE", 1, 500, 8, 2): _cell("eVAE", "mnist", 1, 500, 8, 2, 170.0, 0.5)}
    rows = tables.fig7_rows(results, {8: 2}, BASELINES)
    assert [r.model for r in rows if r.quantity == "best_epitome_size"] == ["eVAE D=8"]
    assert next(r for r in rows if r.model == "VAE D=8").paper == 283
