"""The nbval run of the goldens: kernels under the pinned CPU numerics the goldens were made with.

Without the pin, the same seed trains to numbers that differ in the last bits from one CPU to the
next (AVX-512 against AVX2 kernels, MKL paths, thread counts), enough to move a printed table
(memvae_lib/reproducible.py). Kernels inherit this process's environment, so pinning here, before
nbval starts any kernel, covers every golden.
"""

import json
from pathlib import Path

from memvae_lib.reproducible import numerics_fingerprint, pin_cpu_numerics

GOLDENS = Path(__file__).parent

pin_cpu_numerics()


def fingerprint_text(fingerprint: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(fingerprint.items()))


def golden_fingerprints() -> set[str]:
    """The torch and architecture each golden was recorded with ('unrecorded' where none is)."""
    seen = set()
    for path in GOLDENS.glob("*/*.ipynb"):
        recorded = json.loads(path.read_text())["metadata"].get("memvae", {}).get("numerics")
        seen.add(fingerprint_text({k: recorded[k] for k in ("torch", "machine")})
                 if recorded else "unrecorded")
    return seen


def numerics_note() -> str | None:
    """None when every golden was recorded with this torch and architecture, else the warning."""
    here = fingerprint_text(numerics_fingerprint())
    recorded = golden_fingerprints()
    if recorded <= {here}:
        return None
    return (f"goldens: recorded with {'; '.join(sorted(recorded))}, this is {here}: another torch or "
            "architecture computes other float rounding, so checked numbers may differ without a "
            "regression (make goldens records them anew here)")


def pytest_report_header(config):
    here = fingerprint_text(numerics_fingerprint())
    return numerics_note() or f"goldens: pinned CPU numerics, {here} as recorded"


def pytest_terminal_summary(terminalreporter):
    if note := numerics_note():  # the header is hidden under -q, as make test runs it
        terminalreporter.write_line(note, yellow=True)
