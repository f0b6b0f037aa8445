"""The nbval run of the goldens: the header says what they were made with and what this run uses.

The smoke profile computes in float64, so a golden made on one x86-64 CPU matches on any other
(memvae_lib/reproducible.py); nothing is pinned here. Another torch version can still change
what an operation computes (not only its rounding), so the header names both.
"""

import json
from pathlib import Path

from memvae_lib.reproducible import numerics_fingerprint

GOLDENS = Path(__file__).parent


def fingerprint_text(fingerprint: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(fingerprint.items()))


def golden_fingerprints() -> set[str]:
    """The torch, architecture and dtype each golden was recorded with ('unrecorded' where none is)."""
    seen = set()
    for path in GOLDENS.glob("*/*.ipynb"):
        recorded = json.loads(path.read_text())["metadata"].get("memvae", {}).get("numerics")
        seen.add(fingerprint_text(recorded) if recorded else "unrecorded")
    return seen


def numerics_note() -> str | None:
    """None when every golden was recorded with this torch, architecture and dtype, else the note."""
    here = fingerprint_text(numerics_fingerprint())
    recorded = golden_fingerprints()
    if recorded <= {here}:
        return None
    return (f"goldens: recorded with {'; '.join(sorted(recorded))}, this is {here}: a checked number "
            "that differs may come from that, not from a regression (make goldens records them anew)")


def pytest_configure(config):
    """nbval's kernels talk over private Unix sockets, as the batch's do (memvae_lib/kernels.py)."""
    import nbval.kernel

    from memvae_lib.kernels import ipc_transport

    if not getattr(nbval.kernel.KernelManager, "memvae_ipc", False):
        nbval.kernel.KernelManager = ipc_transport(nbval.kernel.KernelManager)
        nbval.kernel.KernelManager.memvae_ipc = True


def pytest_report_header(config):
    here = fingerprint_text(numerics_fingerprint())
    return numerics_note() or f"goldens: {here} as recorded"


def pytest_terminal_summary(terminalreporter):
    if note := numerics_note():  # the header is hidden under -q, as make test runs it
        terminalreporter.write_line(note, yellow=True)
