"""The checked paper-vs-ours tables of the Parzen notebooks (Yeung et al. 2017, Fig. 7, Tables 1, 3
and 4): one `Row` per number, the paper's value beside ours where the paper prints one.

Parzen values are a legacy metric (Theis et al. 2016, docs/protocols.md §3.7, P9): the same
estimator with real training images and k-means centroids as centres is listed beside them. Face
rows (the Olivetti stand-in for TFD) never carry the paper's TFD value as `paper`: only the order
of VAE, mVAE and eVAE is comparable, so the TFD number goes in the note.
"""
from __future__ import annotations

from ...results import Row
from . import values
from .parzen_protocol import parzen_rank
from .grid import KINDS, CellResult

TAG = {"mnist": "mnist", "olivetti": "olivetti (TFD stand-in)"}


def _mean(xs) -> float:
    return sum(xs) / len(xs)


def _cell_rows(r: CellResult, label: str, paper: tuple | None, faces_note: str = "", extra: str = "") -> list[Row]:
    """Parzen (mean over seeds at the replicated cell), active units and, for eVAE/mVAE, the share
    of training images its busiest epitome explains."""
    seeds = f"; {len(r.parzen)} seeds" if len(r.parzen) > 1 else ""
    par = _mean([p["mean"] for p in r.parzen])
    rows = [Row("parzen_log_density", label, par, TAG[r.dataset], paper=None if faces_note else (paper or (None,))[0],
                note=f"SE {r.parzen[0]['sem']:.1f}{seeds}{extra}{faces_note}"),
            Row("active_units", label, r.activity[0]["count"], TAG[r.dataset], unit="units",
                paper=None if faces_note or not paper else paper[1], note=f"of {r.latent}")]
    if r.usage is not None:
        flag = f"; DEGENERATE ({r.degenerate})" if r.degenerate else ""
        rows.append(Row("largest_epitome_share", label, r.usage["largest_share_train"], TAG[r.dataset], unit="fraction",
                        note=f"{r.usage['used_train']} of {r.usage['epitomes']} epitomes used (train){flag}"))
    return rows


def rank_rows(cells: dict[str, CellResult], theirs: dict[str, int], dataset: str, where: str = "") -> list[Row]:
    """`parzen_rank` of each kind (1 = highest Parzen) among the sound models only: a degenerate
    eVAE/mVAE (`CellResult.degenerate`: its Parzen value is mostly of untrained epitomes) is not
    ranked; its row keeps the paper's rank and says why ours is empty."""
    sound = {k: r.parzen[0]["mean"] for k, r in cells.items() if r.degenerate is None}
    ours = parzen_rank(sound) if sound else {}
    return [Row("parzen_rank", f"{k}{where}", ours.get(k), TAG[dataset], paper=theirs.get(k), unit="rank",
                note="" if k in ours else f"degenerate ({cells[k].degenerate}): not ranked") for k in cells]


def baseline_rows(baselines: dict, dataset: str) -> list[Row]:
    """The Theis et al. checks: real training images and k-means centroids as Parzen centres."""
    out = []
    for what, name, anchor in (("real", "real train images", "true distribution"), ("kmeans", "k-means centroids", "k-means")):
        ref = values.THEIS_PARZEN_MNIST[anchor] if dataset == "mnist" else None
        out.append(Row("parzen_log_density", name, baselines[what]["mean"], TAG[dataset], paper=ref,
                       note="Theis et al. anchor" if ref else "baseline"))
    return out


def fig7_rows(results: dict[tuple, CellResult], best_k: dict[int, int], baselines: dict) -> list[Row]:
    """Fig. 7: every (kind, D, K) cell (the VAE lines carry Table 4's L1 H500 values), the best K of
    the eVAE per D (by validation Parzen), and the baselines."""
    out = []
    for (kind, _, _, latent, k), r in results.items():
        ref = values.EVAE_TABLE4.get((kind, latent), {}).get((1, 500)) if kind == "VAE" else None
        out += _cell_rows(r, f"{kind}{'' if k is None else f' K={k}'} D={latent}", ref)
    out += [Row("best_epitome_size", f"eVAE D={d}", k, "mnist", unit="K", note="validation Parzen; paper: K << D")
            for d, k in best_k.items()]
    return out + baseline_rows(baselines, "mnist")


def grid_rows(best: dict[tuple, CellResult], baselines: dict, dataset: str, iwll: dict | None = None) -> list[Row]:
    """Table 4 (mnist) or Table 1 (olivetti): the best-K cell of every (kind, L, H, D), its rank
    among VAE/mVAE/eVAE in that configuration (1 = highest Parzen) against the paper's, baselines.
    `iwll` ({(kind, L, H, D): test_log_likelihood report}) adds the IW log-likelihood to the notes."""
    table = values.EVAE_TABLE4 if dataset == "mnist" else values.EVAE_TABLE1_TFD
    out = []
    for (kind, layers, hidden, latent), r in best.items():
        ref = table.get((kind, latent), {}).get((layers, hidden))
        iw = (iwll or {}).get((kind, layers, hidden, latent))
        extra = f"; IW-LL k={iw['k']} n={iw['n']}: {iw['mean']:.1f}" if iw else ""
        faces = (f"; TFD paper {ref[0]} ({ref[1]}), not comparable" if ref else "; no TFD value") if dataset != "mnist" else ""
        out += _cell_rows(r, f"{kind} L{layers} H{hidden} D{latent}" + ("" if r.epitome is None else f" (K={r.epitome})"),
                          ref, faces, extra)
    for layers, hidden, latent in sorted({key[1:] for key in best}):
        refs = {k: table.get((k, latent), {}).get((layers, hidden)) for k in KINDS}
        theirs = parzen_rank({k: v[0] for k, v in refs.items()}) if all(refs.values()) else {}
        out += rank_rows({k: best[k, layers, hidden, latent] for k in KINDS}, theirs, dataset,
                         f" L{layers} H{hidden} D{latent}")
    return out + baseline_rows(baselines, dataset)


def table3_rows(best: dict[str, CellResult], baselines: dict, dataset: str, iwll: dict) -> list[Row]:
    """Table 3: the best model of each family (validation Parzen) with its IW log-likelihood, its
    rank against the paper's, the baselines; the literature rows are the paper's alone (MNIST)."""
    col = 0 if dataset == "mnist" else 1
    out = []
    for kind in KINDS:
        r, ref = best[kind], values.EVAE_TABLE3[kind][col][0]
        faces = f"; TFD paper {ref}, not comparable" if col else ""
        out += _cell_rows(r, r.label, (ref, None) if col == 0 else None, faces)
        out.append(Row("test_log_likelihood", r.label, iwll[kind]["mean"], TAG[dataset],
                       note=f"k={iwll[kind]['k']}, n={iwll[kind]['n']}"))
    out += rank_rows({k: best[k] for k in KINDS}, parzen_rank({k: values.EVAE_TABLE3[k][col][0] for k in KINDS}), dataset)
    out += baseline_rows(baselines, dataset)
    if dataset == "mnist":
        out += [Row("parzen_log_density", f"{name} (literature)", None, "mnist", paper=m)
                for name, ((m, _), _) in values.EVAE_TABLE3.items() if name not in KINDS]
    return out
