"""One model per module; `build_model(config)` maps a config dataclass to its model.

| module       | config         | model         | paper                                             |
| ------------ | -------------- | ------------- | ------------------------------------------------- |
| `vae.py`     | `VAEConfig`    | `VAE`         | VAE / IWAE-k, KL-weighted VAE, dropout VAE        |
| `mem_vae.py` | `MemVAEConfig` | `MemVAE`      | MEM-VAE / MEM-IWAE-k, VIS-MEM-VAE (Li et al.)     |
| `evae.py`    | `EVAEConfig`   | `EpitomicVAE` | eVAE (Yeung et al.)                               |
| `mvae.py`    | `MVAEConfig`   | `MixtureVAE`  | mVAE, the mixture-of-VAEs baseline (Yeung et al.) |

`base.py` holds the interface every model implements (`LatentVariableModel`) and the base the eVAE
and mVAE share (`HardAssignmentModel`: Algorithm 1's hard y* and balanced minibatches);
`vae_objectives.py` the objectives a `VAE` chooses from its config; `_checks.py` the config checks.

Names are imported lazily, so one model module can be used without importing the others.
"""
import importlib

from .base import LatentVariableModel

_WHERE = {
    "VAE": "vae", "VAEConfig": "vae",
    "MemVAE": "mem_vae", "MemVAEConfig": "mem_vae",
    "EpitomicVAE": "evae", "EVAEConfig": "evae", "epitome_masks": "evae",
    "MixtureVAE": "mvae", "MVAEConfig": "mvae",
}
# config class name -> (module, model class name); exact class match, so subclasses never alias.
_MODEL_FOR_CONFIG = {
    "VAEConfig": ("vae", "VAE"),
    "MemVAEConfig": ("mem_vae", "MemVAE"),
    "EVAEConfig": ("evae", "EpitomicVAE"),
    "MVAEConfig": ("mvae", "MixtureVAE"),
}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_model(config) -> LatentVariableModel:
    """The model a config describes (weights drawn from the global torch RNG: seed first)."""
    entry = _MODEL_FOR_CONFIG.get(type(config).__name__)
    if entry is None:
        raise ValueError(
            f"no model for config {type(config).__name__!r}; expected one of: {', '.join(_MODEL_FOR_CONFIG)}"
        )
    module, model_name = entry
    model_class = getattr(importlib.import_module(f".{module}", __name__), model_name)
    return model_class(config)


__all__ = ["LatentVariableModel", "build_model", *_WHERE]
