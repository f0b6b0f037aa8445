"""Named configurations of every model in both papers, scaled by a compute profile.

A profile scales epochs, training subsets, importance samples and grid sizes, never a model's
definition (DESIGN.md). Every notebook asks this module for its models, so two notebooks that
need the same model get the same `RunSpec`, hence the same run folder, and it is trained once.

    run_spec("mem/mnist/MEM-VAE", "laptop")  ->  RunSpec(...)
    experiment_names()                        ->  every name

Protocol sources: docs/protocols.md §2.3 (MEM configurations), §2.5 (MEM experiments), §3.5-3.6 (eVAE),
§4 (the IWAE schedule for eVAE Table 2).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from .runs import RunSpec
from .train import TrainConfig


@dataclass(frozen=True)
class Profile:
    """Compute budget of one profile. `None` as a subset means the whole split."""

    name: str
    # --- MEM paper (paper: all data, 3000 epochs, lr annealed after epoch 1000) ---
    mem_train_subset: int | None     # MNIST training images for the MEM models
    mem_epochs: int                  # MNIST and OCR-letters
    mem_epochs_k50: int              # IWAE-50 / MEM-IWAE-50 (50 decoder passes per image)
    ocr_train_subset: int | None
    frey_epochs_b100: int            # Frey, batch 100 (paper's Fig. 5 setting; README: 3000)
    frey_epochs_b10: int             # Frey, batch 10 (README default: 1000)
    # --- eVAE paper (paper: 200 epochs MNIST, 250 TFD, constant lr) ---
    evae_train_subset: int | None
    evae_epochs: int
    faces_epochs: int
    iwae_stages: int                 # eVAE Table 2: the 3^i schedule (paper: 8 stages, 3280 epochs)
    table2_train_subset: int | None
    # --- evaluation ---
    test_subset: int | None          # test images scored by IW-LL, Parzen, imputation
    k_eval: int                      # importance samples (paper 5000)
    k_eval_ocr: int                  # OCR-letters final evaluation (paper 100,000)
    eval_every: int                  # in-training test-LL points for training curves
    k_curve: int                     # importance samples of those points
    parzen_samples: int              # model samples as Parzen centres (paper 10,000)
    parzen_valid: int                # validation images for the bandwidth (paper 1000)
    imputation_iterations: int       # paper 100
    # --- grids (eVAE) ---
    table4_layers: tuple[int, ...]
    table4_hidden: tuple[int, ...]
    table4_latent: tuple[int, ...]
    table4_epitome: tuple[int, ...]  # paper: best of K in {3, 4}
    faces_layers: tuple[int, ...]
    faces_hidden: tuple[int, ...]
    faces_latent: tuple[int, ...]
    fig7_latent: tuple[int, ...]
    fig7_epitome: tuple[int, ...]
    fig6_latent: tuple[int, ...]
    table2_latent: tuple[int, ...]
    # --- numerics ---
    # float64 makes a run's numbers independent of the CPU that computed them: kernels chosen by
    # instruction set (AVX-512, AVX2, none), MKL's code paths and thread counts differ in the last
    # bits, ~1e-16 relative in float64 against ~1e-7 in float32, and a few hundred training steps
    # amplify that into printed digits only in float32. The smoke profile (the nbval goldens) uses it.
    dtype: str = "float32"


PROFILES: dict[str, Profile] = {
    # seconds per notebook: CI and the nbval goldens
    "smoke": Profile(
        name="smoke",
        mem_train_subset=500, mem_epochs=2, mem_epochs_k50=1, ocr_train_subset=500,
        frey_epochs_b100=3, frey_epochs_b10=1,
        evae_train_subset=500, evae_epochs=2, faces_epochs=2, iwae_stages=2, table2_train_subset=500,
        test_subset=100, k_eval=10, k_eval_ocr=20, eval_every=1, k_curve=5,
        parzen_samples=200, parzen_valid=100, imputation_iterations=5,
        table4_layers=(1,), table4_hidden=(500,), table4_latent=(8,), table4_epitome=(4,),
        faces_layers=(2,), faces_hidden=(500,), faces_latent=(15,),
        fig7_latent=(8,), fig7_epitome=(2, 4), fig6_latent=(2, 5), table2_latent=(50,),
        dtype="float64",
    ),
    # the default: real data, the whole collection well under an hour on a 2-core CPU
    "laptop": Profile(
        name="laptop",
        mem_train_subset=10_000, mem_epochs=5, mem_epochs_k50=2, ocr_train_subset=10_000,
        frey_epochs_b100=200, frey_epochs_b10=40,
        evae_train_subset=10_000, evae_epochs=10, faces_epochs=100, iwae_stages=3, table2_train_subset=10_000,
        test_subset=1000, k_eval=100, k_eval_ocr=200, eval_every=1, k_curve=20,
        parzen_samples=2000, parzen_valid=500, imputation_iterations=100,
        table4_layers=(1,), table4_hidden=(500,), table4_latent=(8, 24, 48), table4_epitome=(3, 4),
        faces_layers=(2,), faces_hidden=(500,), faces_latent=(15, 25, 50),
        fig7_latent=(8, 24, 48), fig7_epitome=(2, 4, 8), fig6_latent=(2, 5, 10, 20), table2_latent=(50, 100),
    ),
    # the papers' settings, for a GPU
    "paper": Profile(
        name="paper",
        mem_train_subset=None, mem_epochs=3000, mem_epochs_k50=3000, ocr_train_subset=None,
        frey_epochs_b100=3000, frey_epochs_b10=1000,
        # eVAE "standard splits": train on the first 50,000 (the Parzen bandwidth is chosen on 50,000+)
        evae_train_subset=50_000, evae_epochs=200, faces_epochs=250, iwae_stages=8, table2_train_subset=None,
        test_subset=None, k_eval=5000, k_eval_ocr=100_000, eval_every=10, k_curve=5000,
        parzen_samples=10_000, parzen_valid=1000, imputation_iterations=100,
        table4_layers=(1, 2, 3), table4_hidden=(500, 1000), table4_latent=(8, 24, 48), table4_epitome=(3, 4),
        faces_layers=(2, 3), faces_hidden=(500, 1000), faces_latent=(15, 25, 50),
        fig7_latent=(8, 24, 48), fig7_epitome=(1, 2, 3, 4, 6, 8), fig6_latent=(2, 5, 10, 20),
        table2_latent=(50, 100, 200),
    ),
}


def get_profile(profile: str | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use one of {', '.join(sorted(PROFILES))}")
    return PROFILES[profile]


# ------------------------------------------------------------------------------------------------
# MEM paper (Li, Zhu, Zhang 2016)
# ------------------------------------------------------------------------------------------------
MEM_K = {"VAE": 1, "MEM-VAE": 1, "IWAE-5": 5, "MEM-IWAE-5": 5, "IWAE-50": 50, "MEM-IWAE-50": 50}
MEM_ARCH = {  # protocols §2.2-2.3: BN-ReLU MLPs; memory 70 slots (layer nearest x), 30 (nearest z)
    "mnist": dict(input_dim=784, hidden=(500, 500), latent_dim=100),
    "ocr_letters": dict(input_dim=128, hidden=(200, 200), latent_dim=50),
}


def mem_train_config(epochs: int, batch_size: int = 100, *, eval_every: int = 0, k_curve: int = 100,
                     eval_subset: int = 1000) -> TrainConfig:
    """MEM_DGM optimisation (§1.7): Adam (Lasagne form, eps 1e-4), clipping (norm 5, value 1),
    lr 1e-3 constant for the first third of training, then x0.998 per epoch (3000 epochs: 1000 + 2000)."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, schedule="mem",
                       anneal_start=max(1, round(epochs / 3)), eval_every=eval_every,
                       eval_k=k_curve, eval_subset=eval_subset)


def mem_spec(dataset: str, model: str, p: Profile, *, hidden: tuple[int, ...] | None = None,
             memory: bool | None = None, lre: bool | None = None, attention: str = "sigmoid",
             composition: str = "ladder", curve: bool = False) -> RunSpec:
    """A Table-1-style model: `model` is a row name of Table 1 (VAE, MEM-IWAE-5, ...)."""
    from .models.mem_vae import MemVAEConfig
    from .models.vae import VAEConfig

    k = MEM_K[model]
    memory = model.startswith("MEM") if memory is None else memory
    lre = memory if lre is None else lre
    arch = dict(MEM_ARCH[dataset])
    if hidden is not None:
        arch["hidden"] = hidden
    lre_weights = (0.1, 0.1) if lre else (0.0, 0.0)
    if memory:
        config = MemVAEConfig(**arch, k=k, memory_slots=(70, 30), attention=attention,
                              composition=composition, lre_weights=lre_weights)
    else:
        config = VAEConfig(**arch, k=k, lre_weights=lre_weights if lre else ())
    epochs = p.mem_epochs_k50 if k == 50 else p.mem_epochs
    subset = p.mem_train_subset if dataset == "mnist" else p.ocr_train_subset
    train = mem_train_config(epochs, eval_every=p.eval_every if curve else 0, k_curve=p.k_curve,
                             eval_subset=min(p.test_subset or 10_000, 1000))
    return RunSpec(dataset=dataset, model=config, train=train, train_subset=subset,
                   binarize=dataset == "mnist", label=model, dtype=p.dtype)


def frey_spec(model: str, batch_size: int, p: Profile) -> RunSpec:
    """Frey faces (E7): 560 -> 200 -> 10, Gaussian output, 20 memory slots, no LRE."""
    from .models.mem_vae import MemVAEConfig
    from .models.vae import VAEConfig

    arch = dict(input_dim=560, hidden=(200,), latent_dim=10, likelihood="gaussian")
    if model == "MEM-VAE":
        config = MemVAEConfig(**arch, memory_slots=(20,), lre_weights=(0.0,))
    else:
        config = VAEConfig(**arch)
    epochs = p.frey_epochs_b100 if batch_size == 100 else p.frey_epochs_b10
    # batch 100 follows the README's 3000-epoch run (annealed after a third); batch 10 its 1000-epoch
    # default, where the anneal never starts.
    train = mem_train_config(epochs, batch_size)
    if batch_size == 10:
        train = dataclasses.replace(train, anneal_start=epochs)
    return RunSpec(dataset="frey", model=config, train=train, binarize=False, label=f"{model} (batch {batch_size})",
                   dtype=p.dtype)


# ------------------------------------------------------------------------------------------------
# eVAE paper (Yeung et al. 2017)
# ------------------------------------------------------------------------------------------------
def evae_train_config(epochs: int) -> TrainConfig:
    """eVAE paper: Adam, lr 0.001, constant; batch and the rest unspecified (§3.5 defaults: batch
    100, PyTorch Adam, no clipping)."""
    return TrainConfig(epochs=epochs, batch_size=100, schedule="constant", optimizer="adam",
                       eps=1e-8, clip_norm=None, clip_value=None)


def evae_spec(kind: str, p: Profile, *, latent: int, layers: int = 1, hidden: int = 500,
              epitome: int | None = None, stride: int | None = None, kl_weight: float = 1.0,
              z_dropout: float = 0.0, dataset: str = "mnist") -> RunSpec:
    """`kind` is VAE, eVAE or mVAE; faces use a Gaussian decoder (eq. 5), MNIST a Bernoulli one."""
    from .models.evae import EVAEConfig
    from .models.mvae import MVAEConfig
    from .models.vae import VAEConfig

    faces = dataset == "olivetti"
    input_dim = 48 * 48 if faces else 784
    widths = (hidden,) * layers
    likelihood = "gaussian" if faces else "bernoulli"
    if kind == "VAE":
        config = VAEConfig(input_dim=input_dim, hidden=widths, latent_dim=latent, batch_norm=False,
                           likelihood=likelihood, bernoulli_clip=None, kl_weight=kl_weight, z_dropout=z_dropout)
    else:
        config_class = EVAEConfig if kind == "eVAE" else MVAEConfig
        config = config_class(input_dim=input_dim, hidden=widths, latent_dim=latent, epitome_size=epitome,
                              stride=stride or epitome, likelihood=likelihood,
                              logvar_floor=-6.0 if faces else None)
    train = evae_train_config(p.faces_epochs if faces else p.evae_epochs)
    label = kind if kind != "VAE" or kl_weight == 1 else f"VAE (lambda={kl_weight:g})"
    if z_dropout:
        label = f"dropout VAE (p={z_dropout:g})"
    return RunSpec(dataset=dataset, model=config, train=train,
                   train_subset=None if faces else p.evae_train_subset, binarize=not faces, label=label,
                   dtype=p.dtype)


def table2_spec(kind: str, latent: int, p: Profile) -> RunSpec:
    """eVAE Table 2 (§3.8): 200-200 tanh nets, K = 25, the IWAE protocol (batch 20, the 8-stage 3^i
    schedule, Adam beta1 0.9 / eps 1e-4 as the IWAE paper states; its code's beta1 0.99 and v0 = 1
    quirks are not ported)."""
    from .models.evae import EVAEConfig
    from .models.vae import VAEConfig

    arch = dict(input_dim=784, hidden=(200, 200), latent_dim=latent, activation="tanh", batch_norm=False)
    if kind == "VAE":
        config = VAEConfig(**arch, bernoulli_clip=None)
    else:
        config = EVAEConfig(**arch, epitome_size=25, stride=25)
    stages = p.iwae_stages
    train = TrainConfig(epochs=sum(3**i for i in range(stages)), batch_size=20, schedule="iwae3i",
                        stages=stages, optimizer="adam", eps=1e-4, clip_norm=None, clip_value=None)
    return RunSpec(dataset="mnist", model=config, train=train, train_subset=p.table2_train_subset,
                   binarize=True, label=kind, dtype=p.dtype)


# ------------------------------------------------------------------------------------------------
# The registry of named experiments
# ------------------------------------------------------------------------------------------------
def _registry(p: Profile) -> dict[str, Callable[[], RunSpec]]:
    r: dict[str, Callable[[], RunSpec]] = {}
    for dataset in ("mnist", "ocr_letters"):
        for model in MEM_K:
            r[f"mem/{dataset}/{model}"] = lambda d=dataset, m=model: mem_spec(d, m, p, curve=True)
    for k in (1, 5, 50):
        model = {1: "VAE", 5: "IWAE-5", 50: "IWAE-50"}[k]
        r[f"mem/mnist/Large-VAE-k{k}"] = lambda m=model: mem_spec("mnist", m, p, hidden=(530, 530))
    r["mem/mnist/MEM-VAE-no-LRE"] = lambda: mem_spec("mnist", "MEM-VAE", p, lre=False)
    r["mem/mnist/VAE-LRE"] = lambda: mem_spec("mnist", "VAE", p, lre=True)
    r["mem/mnist/VIS-MEM-VAE"] = lambda: mem_spec("mnist", "MEM-VAE", p, attention="softmax", composition="sum")
    for b in (100, 10):
        for model in ("VAE", "MEM-VAE"):
            r[f"mem/frey/{model}-b{b}"] = lambda m=model, b=b: frey_spec(m, b, p)

    for lam in (1.0, 0.5, 0.2):
        r[f"evae/mnist/VAE-D50-lambda{lam:g}"] = lambda lam=lam: evae_spec("VAE", p, latent=50, kl_weight=lam)
    r["evae/mnist/dropout-VAE-D50"] = lambda: evae_spec("VAE", p, latent=50, z_dropout=0.5)
    r["evae/mnist/eVAE-D50-K5"] = lambda: evae_spec("eVAE", p, latent=50, epitome=5)
    r["evae/mnist/eVAE-D20-K2-s1"] = lambda: evae_spec("eVAE", p, latent=20, epitome=2, stride=1)
    for d in p.fig6_latent:
        r[f"evae/mnist/VAE-D{d}"] = lambda d=d: evae_spec("VAE", p, latent=d)
        r[f"evae/mnist/eVAE-D{d}-K2-s1"] = lambda d=d: evae_spec("eVAE", p, latent=d, epitome=2, stride=1)
    for name, spec in grid_specs(p).items():
        r[name] = lambda s=spec: s
    for d in p.table2_latent:
        for kind in ("VAE", "eVAE"):
            r[f"evae/table2/{kind}-D{d}"] = lambda k=kind, d=d: table2_spec(k, d, p)
    return r


def grid_cell(kind: str, p: Profile, *, layers: int, hidden: int, latent: int, epitome: int | None,
              dataset: str = "mnist") -> tuple[str, RunSpec]:
    """One cell of eVAE Tables 1/4 and Fig. 7 (non-overlapping epitomes), with its name."""
    tag = "faces" if dataset == "olivetti" else "mnist"
    name = f"evae/{tag}/{kind}-L{layers}-H{hidden}-D{latent}" + (f"-K{epitome}" if kind != "VAE" else "")
    return name, evae_spec(kind, p, latent=latent, layers=layers, hidden=hidden, epitome=epitome, dataset=dataset)


def grid_specs(p: Profile) -> dict[str, RunSpec]:
    """Every cell of eVAE Table 4 (MNIST), Fig. 7 and Table 1 (faces) at this profile."""
    cells: dict[str, RunSpec] = {}

    def add(kind, **kw):
        name, spec = grid_cell(kind, p, **kw)
        cells[name] = spec

    for layers in p.table4_layers:
        for hidden in p.table4_hidden:
            for latent in p.table4_latent:
                add("VAE", layers=layers, hidden=hidden, latent=latent, epitome=None)
                for k in p.table4_epitome:
                    if k <= latent:
                        add("mVAE", layers=layers, hidden=hidden, latent=latent, epitome=k)
                        add("eVAE", layers=layers, hidden=hidden, latent=latent, epitome=k)
    for latent in p.fig7_latent:
        add("VAE", layers=1, hidden=500, latent=latent, epitome=None)
        for k in p.fig7_epitome:
            if k <= latent:
                add("eVAE", layers=1, hidden=500, latent=latent, epitome=k)
                add("mVAE", layers=1, hidden=500, latent=latent, epitome=k)
    for layers in p.faces_layers:
        for hidden in p.faces_hidden:
            for latent in p.faces_latent:
                add("VAE", layers=layers, hidden=hidden, latent=latent, epitome=None, dataset="olivetti")
                for kind in ("mVAE", "eVAE"):
                    add(kind, layers=layers, hidden=hidden, latent=latent, epitome=5, dataset="olivetti")
    return cells


def experiment_names(profile: str | Profile = "laptop") -> list[str]:
    return sorted(_registry(get_profile(profile)))


def run_spec(name: str, profile: str | Profile = "laptop") -> RunSpec:
    """The RunSpec of a named experiment at a profile (ValueError naming close matches)."""
    registry = _registry(get_profile(profile))
    if name not in registry:
        import difflib

        close = difflib.get_close_matches(name, registry, n=5, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `memvae train --list` lists them"
        raise ValueError(f"no experiment named {name!r} at profile {get_profile(profile).name!r}{hint}")
    return registry[name]()
