#!/usr/bin/env python
"""Run the nbval goldens as other CPUs would compute them, each from an empty run cache.

    python scripts/goldens_across_cpus.py                       # every setting of CPU_VARIANTS
    python scripts/goldens_across_cpus.py --only aten-avx2,threads-1
    python scripts/goldens_across_cpus.py --perturb             # goldens with one number 1% off: must fail

Each setting of `memvae_lib.reproducible.CPU_VARIANTS` (kernel dispatch, MKL code path, thread
count) runs `make nbval`'s pytest command from an empty run cache, so every smoke model is trained
under it. The table at the end gives passed/failed checks and minutes per setting; the exit status
is non-zero when any setting fails. With --perturb, a copy of the goldens has one checked
number (the one printed with the most significant digits) changed by 1% in every notebook, and
each of them must fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memvae_lib.reproducible import CPU_VARIANTS
from memvae_lib.files import project_root

ROOT = project_root()
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


def nbval(goldens: Path, env: dict[str, str], log: Path) -> tuple[int, int, float]:
    """(passed, failed, minutes) of one nbval run over `goldens`."""
    start = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", str(goldens), "-q",
           "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "-p", "no:cacheprovider", "-rf"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    log.write_text(out.stdout + out.stderr)
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error)", out.stdout.splitlines()[-1]
                                               if out.stdout.strip() else "")}
    return counts.get("passed", 0), counts.get("failed", 0) + counts.get("error", 0), (time.monotonic() - start) / 60


def _one_percent_more(text: str) -> str:
    decimals = len(text.split(".")[1])
    return f"{float(text) * 1.01:.{decimals}f}"


def perturbed_goldens(target: Path) -> list[str]:
    """Copy tests/goldens to `target` with one checked number of each notebook 1% larger: the one
    printed with the most significant digits, so that 1% shows in its printed digits (a 1% change
    of '0.6' printed with one decimal is '0.6' again: no text comparison could see it)."""
    shutil.copytree(ROOT / "tests" / "goldens", target, ignore=shutil.ignore_patterns("conftest.py"))
    changed = []
    for path in sorted(target.glob("*/*.ipynb")):
        nb = json.loads(path.read_text())
        best = None  # (printed steps |value| * 10^decimals, output, match)
        for cell in nb["cells"]:
            if cell["cell_type"] != "code" or "# NBVAL_CHECK_OUTPUT" not in "".join(cell["source"]):
                continue
            for out in cell.get("outputs", []):
                for m in NUMBER.finditer("".join(out.get("text", []))):
                    steps = abs(float(m.group())) * 10 ** len(m.group().split(".")[1])
                    if _one_percent_more(m.group()) != m.group() and (best is None or steps > best[0]):
                        best = (steps, out, m)
        if best is None:
            changed.append(f"{path.parent.name}/{path.stem}: no checked number where 1% shows")
            continue
        _, out, m = best
        new = _one_percent_more(m.group())
        text = "".join(out["text"])
        out["text"] = text[:m.start()] + new + text[m.end():]
        path.write_text(json.dumps(nb, indent=1))
        changed.append(f"{path.parent.name}/{path.stem}: {m.group()} -> {new}")
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated names of CPU_VARIANTS (default: all)")
    parser.add_argument("--perturb", action="store_true", help="check that 1%%-perturbed goldens fail")
    parser.add_argument("--logs", type=Path, default=ROOT / "notebooks" / "_build" / "goldens-across-cpus")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CPU_VARIANTS)
    unknown = [n for n in names if n not in CPU_VARIANTS]
    if unknown:
        parser.error(f"--only {','.join(unknown)}: not in CPU_VARIANTS ({', '.join(CPU_VARIANTS)})")
    args.logs.mkdir(parents=True, exist_ok=True)
    base = {**os.environ, "MEMVAE_FIGURES_DIR": str(ROOT / "notebooks" / "_build" / "smoke-figures")}
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="memvae-cpus-") as tmp:
        if args.perturb:
            changed = perturbed_goldens(Path(tmp) / "goldens")
            print("\n".join(changed))
            passed, failed, minutes = nbval(Path(tmp) / "goldens", base, args.logs / "perturbed.log")
            if passed + failed == 0:
                print(f"nbval ran no check: see {args.logs / 'perturbed.log'}")
                return 2
            failing = set(re.findall(r"FAILED \S*?(\w+/\w+)\.ipynb", (args.logs / "perturbed.log").read_text()))
            missed = [c.split(":")[0] for c in changed if c.split(":")[0] not in failing]
            print(f"perturbed goldens: {passed} passed, {failed} failed checks in {minutes:.1f} min; "
                  f"{len(changed) - len(missed)} of {len(changed)} perturbed notebooks failed"
                  + (f"; NOT detected: {', '.join(missed)}" if missed else ""))
            return 1 if missed else 0
        for name in names:
            runs = Path(tmp) / f"runs-{name}"  # empty: every smoke model trains under this setting
            env = {**base, **CPU_VARIANTS[name], "MEMVAE_RUNS_DIR": str(runs)}
            passed, failed, minutes = nbval(ROOT / "tests" / "goldens", env, args.logs / f"{name}.log")
            ok &= failed == 0 and passed > 0
            rows.append((name, " ".join(f"{k}={v}" for k, v in CPU_VARIANTS[name].items()), passed, failed, minutes))
            print(f"{name:<16} {rows[-1][1]:<40} {passed:>4} passed {failed:>3} failed  {minutes:5.1f} min",
                  flush=True)
            shutil.rmtree(runs, ignore_errors=True)
    print(f"\n{sum(r[3] == 0 and r[2] > 0 for r in rows)} of {len(rows)} settings pass (logs in {args.logs})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
