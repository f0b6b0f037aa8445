"""Issue 14's device run: what one GPU does in at most 9 minutes, everything written under --out.

    PYTHONPATH=. python3 scripts/device_run.py --out "$OUT" --data-dir /path/to/data      # the GPU lease
    PYTHONPATH=. python3 scripts/device_run.py --out /tmp/o --data-dir DIR --tiny         # CPU, seconds

1. bench: ms/step of VAE, MEM-VAE, IWAE-50 and MEM-IWAE-50 at batch 100, ours (train.training_step,
   with and without the per-step NaN read) against the plain loop (benchmarks/plain_reference.py),
   and of VAE and MEM-VAE with the step's forward compiled (--compile, default reduce-overhead:
   CUDA graphs; its compilation time is reported, not timed in the step);
   model-steps/s of 1, 2, 4, 8, 16 stacked models (stacked.train_stacked) against one model alone;
   IW-LL at k = 5000 on MNIST test images against its matmul FLOP floor at the measured matmul rate,
   eager and compiled.
2. table1: MEM Table 1, MNIST, at the paper's protocol (the notebooks' paper-budget specs and seeds,
   the seeds of each row stacked): the k = 1 pair, then the k = 5 pair, then k = 50, each trained for
   its share of the time (checkpoints in a scratch folder, never under --out) and evaluated at
   k = 5000 on as many test images as its share allows; epochs reached and the time the full
   protocol would take at the measured speed.
Output (3 files): results.json, table.txt, log.txt. A failing stage is recorded in results.json
("errors") and the next stage still runs; the exit status is 1 if any stage failed.
--tiny: small models, subsets and k, so a CPU test (tests/test_device_run.py) catches a typo before
a GPU lease is spent on it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # memvae_lib; speed.py and its plain reference

from memvae_lib.compiling import COMPILE_MODES  # noqa: E402

PAIRS = [("VAE", "MEM-VAE"), ("IWAE-5", "MEM-IWAE-5"), ("IWAE-50", "MEM-IWAE-50")]  # paper's order of need


class Log:
    def __init__(self, path: Path):
        self.file = open(path, "w", buffering=1)

    def __call__(self, *parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.file.write(line + "\n")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_training(device, tiny: bool, log, compile_mode=None) -> list[dict]:
    """ms/step of our update (with and without the per-step NaN read; compiled, for k = 1) and the
    plain loop."""
    from memvae_lib.models.mem_vae import MemVAE, MemVAEConfig
    from memvae_lib.models.vae import VAE, VAEConfig
    from memvae_lib.compiling import compiled_method, step_begin
    from memvae_lib.train import TrainConfig, make_optimizer, training_step
    from plain_reference import PlainMemVAE, PlainVAE
    from speed import compare, our_step, plain_step, same_loss

    steps, repeats, big_k = (1, 1, 2) if tiny else (10, 3, 50)
    x = torch.bernoulli(torch.rand(100, 784, generator=torch.Generator().manual_seed(0))).to(device)
    rows = []
    for name, k in (("VAE", 1), ("MEM-VAE", 1), (f"IWAE-{big_k}", big_k), (f"MEM-IWAE-{big_k}", big_k)):
        torch.manual_seed(0)
        mem = name.startswith("MEM")
        ours = (MemVAE(MemVAEConfig(k=k)) if mem else VAE(VAEConfig(k=k))).to(device).train()
        plain = (PlainMemVAE(k) if mem else PlainVAE(k)).to(device).train()
        dloss = same_loss(ours, plain, x)
        cfg = TrainConfig(epochs=1)
        opt = make_optimizer(ours, cfg)
        candidates = {"ours": our_step(ours, x), "ours_nosync": lambda: training_step(ours, opt, cfg, {"x": x},
                                                                                      check_finite=False),
                      "plain": plain_step(plain, x)}
        compile_s = None
        if compile_mode is not None and k == 1 and not (tiny and mem):  # tiny: one graph, to catch a typo
            terms = compiled_method(ours, "training_terms", compile_mode, device)
            step = lambda: (step_begin(compile_mode),  # noqa: E731
                            training_step(ours, opt, cfg, {"x": x}, check_finite=False, terms_fn=terms))
            sync(device)
            started = time.perf_counter()
            for _ in range(3):  # compilation, then CUDA-graph warm-up and recording
                step()
            sync(device)
            compile_s, candidates["compiled"] = time.perf_counter() - started, step
        t = compare(candidates, steps, repeats, device)
        row = {"model": name, "k": k, **{f"{key}_ms": v * 1e3 for key, v in t.items()}, "dloss": dloss,
               "compile_mode": compile_mode if compile_s is not None else None, "compile_s": compile_s}
        rows.append(row)
        fast = f"  compiled {row['compiled_ms']:8.2f} ms ({compile_s:.0f} s to compile)" if compile_s is not None else ""
        log(f"  {name:<14} ours {row['ours_ms']:8.2f} ms  no-sync {row['ours_nosync_ms']:8.2f} ms{fast}  "
            f"plain {row['plain_ms']:8.2f} ms  plain/ours {t['plain'] / t['ours']:.2f}  |dloss| {dloss:.1e}")
    return rows


def bench_stacked(device, tiny: bool, log) -> list[dict]:
    """Model-steps/s of M stacked VAEs (batch 100, one epoch of `steps`) against one VAE alone."""
    from memvae_lib.models.vae import VAE, VAEConfig
    from memvae_lib.stacked import train_stacked
    from memvae_lib.train import TrainConfig, train

    config = VAEConfig(hidden=(50, 50), latent_dim=10) if tiny else VAEConfig()
    ms, steps = ((1, 2), 2) if tiny else ((1, 2, 4, 8, 16), 30)
    x = torch.rand(steps * 100, 784, generator=torch.Generator().manual_seed(0)).to(device)

    def timed(fn):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        return time.perf_counter() - start

    def models(m):
        out = []
        for seed in range(m):
            torch.manual_seed(seed)
            out.append(VAE(config).to(device))
        return out

    cfgs = [TrainConfig(epochs=1, seed=s) for s in range(max(ms))]
    timed(lambda: train_stacked(models(1), x, cfgs[:1], binarize=True, nan_check_every=steps))  # warm-up
    alone = timed(lambda: train(models(1)[0], x, cfgs[0], binarize=True, nan_check_every=steps))
    rows = []
    for m in ms:
        t = timed(lambda: train_stacked(models(m), x, cfgs[:m], binarize=True, nan_check_every=steps))
        rows.append({"models": m, "ms_per_step": t / steps * 1e3, "model_steps_per_s": m * steps / t,
                     "speedup_vs_separate": m * alone / t})
        log(f"  {m:>3} stacked: {t / steps * 1e3:8.2f} ms/step, {m * steps / t:9.1f} model-steps/s, "
            f"{m * alone / t:5.2f}x {m} separate models")
    return rows


def bench_iwll(device, tiny: bool, x_test, x_train, log, seconds: float, compile_mode=None) -> dict:
    """IW-LL k=5000 (tiny: 20) with our estimator on as many test images as fit in `seconds`; then,
    with `compile_mode`, compiled on the same images after one warm-up call on the probe images that
    compiles (their two batch sizes make the batch dimension dynamic: the timed call runs the
    dynamic-shape kernels, and under reduce-overhead records a CUDA graph for each new shape)."""
    from memvae_lib.estimators import iw_log_likelihood
    from memvae_lib.models.vae import VAE, VAEConfig
    from speed import decoder_linears, encoder_linears, matmul_rate

    k = 20 if tiny else 5000
    torch.manual_seed(0)
    model = VAE(VAEConfig()).to(device)
    model.prepare_evaluation(x_train[:1000].to(device))
    probe = x_test[: 4 if tiny else 50].to(device)
    sync(device)
    start = time.perf_counter()
    iw_log_likelihood(model, probe, k=k, seed=123)
    sync(device)
    per_image = (time.perf_counter() - start) / len(probe)
    n = len(probe) if tiny else int(min(len(x_test), max(len(probe), seconds / per_image)))
    x = x_test[:n].to(device)
    start = time.perf_counter()
    ll = iw_log_likelihood(model, x, k=k, seed=123)
    sync(device)
    took = time.perf_counter() - start
    rate = matmul_rate(device, n=256 if tiny else 4096)
    flops = n * k * 2 * sum(l.in_features * l.out_features for l in decoder_linears(model)) + \
        n * 2 * sum(l.in_features * l.out_features for l in encoder_linears(model))
    out = {"k": k, "images": n, "seconds": took, "matmul_gflops": rate / 1e9, "floor_seconds": flops / rate,
           "over_floor": took / (flops / rate), "projected_10000_images_s": took / n * 10_000,
           "mean_ll_untrained": float(ll.mean())}
    log(f"  IW-LL k={k}: {n} images in {took:.2f} s, floor {flops / rate:.2f} s at {rate / 1e9:,.0f} GFLOP/s "
        f"({out['over_floor']:.1f}x); 10,000 images projected {out['projected_10000_images_s']:.0f} s")
    if compile_mode is not None:
        started = time.perf_counter()
        iw_log_likelihood(model, probe, k=k, seed=123, compile_mode=compile_mode)
        sync(device)
        compile_s = time.perf_counter() - started
        start = time.perf_counter()
        ll_c = iw_log_likelihood(model, x, k=k, seed=123, compile_mode=compile_mode)
        sync(device)
        took_c = time.perf_counter() - start
        out.update({"compile_mode": compile_mode, "compile_s": compile_s, "compiled_seconds": took_c,
                    "compiled_projected_10000_images_s": took_c / n * 10_000,
                    "compiled_mean_ll_untrained": float(ll_c.mean())})  # other noise: close, not equal
        log(f"  compiled ({compile_mode}, {compile_s:.0f} s to compile): {took_c:.2f} s, 10,000 images projected "
            f"{out['compiled_projected_10000_images_s']:.0f} s; mean L_k {out['mean_ll_untrained']:.2f} eager, "
            f"{out['compiled_mean_ll_untrained']:.2f} compiled")
    return out


def table1(device, tiny: bool, args, deadline: float, loader, x_test, log) -> list[dict]:
    """MEM Table 1 MNIST rows at the paper budget, seeds stacked, as far as the time allows."""
    from memvae_lib.data import fixed_binarization
    from memvae_lib.estimators import iw_log_likelihood
    from memvae_lib.experiments import seed_replicates
    from memvae_lib.models import build_model
    from memvae_lib.papers.mem.configs import budget, mem_spec
    from memvae_lib.papers.mem.values import MEM_TABLE1
    from memvae_lib.runs import EVAL_BINARIZATION_SEED, initial_model, run_dir, training_data
    from memvae_lib.stacked import train_stacked
    from memvae_lib.train import CHECKPOINT, TrainingPaused

    b = budget("paper")
    pairs = PAIRS[:1] if tiny else PAIRS
    rows, x_eval = [], None
    for p, pair in enumerate(pairs):
        left = deadline - time.monotonic()
        share = left / min(2, len(pairs) - p)  # k=1 and k=5 split the time; k=50 gets what remains
        if share < 20 and not tiny:
            log(f"  {pair}: {left:.0f} s left, not started")
            break
        for name in pair:
            spec = mem_spec("mnist", name, b)
            if tiny:
                spec = dataclasses.replace(spec, train_subset=200, train=dataclasses.replace(spec.train, epochs=2))
            specs = seed_replicates(spec, 2 if tiny else b.seeds)
            models = [initial_model(s, build_model) for s in specs]
            x = training_data(specs[0], loader)
            started = time.monotonic()
            try:
                train_stacked(models, x, [s.train for s in specs], binarize=True, device=device,
                              run_dirs=[run_dir(s) for s in specs], deadline=started + 0.7 * share / 2,
                              nan_check_every=args.nan_check_every)
            except TrainingPaused:
                pass
            trained = time.monotonic() - started
            histories = [torch.load(run_dir(s) / CHECKPOINT, weights_only=True)["history"] for s in specs]
            epochs = len(histories[0])
            epoch_s = sum(r["seconds"] for r in histories[0]) / epochs
            if x_eval is None:  # BN statistics from the one binarised training set (finish_run's)
                x_eval = fixed_binarization(x, seed=EVAL_BINARIZATION_SEED).to(device)
            k, eval_s = (10 if tiny else b.k_eval), 0.3 * share / 2
            lls, n = [], 0
            for model in models:
                model.prepare_evaluation(x_eval)
                if not n:  # images that fit this row's evaluation time, decided on the first seed
                    start = time.perf_counter()
                    iw_log_likelihood(model, x_test[:20].to(device), k=k, seed=123)
                    sync(device)
                    per_image = (time.perf_counter() - start) / 20
                    n = 20 if tiny else int(min(len(x_test), max(100, eval_s / len(models) / per_image)))
                lls.append(float(iw_log_likelihood(model, x_test[:n].to(device), k=k, seed=123).mean()))
            row = {"model": name, "seeds": [s.train.seed for s in specs], "epochs_done": epochs,
                   "epochs_protocol": spec.train.epochs, "train_seconds": trained, "seconds_per_epoch": epoch_s,
                   "projected_protocol_hours": epoch_s * spec.train.epochs / 3600,
                   "last_loss": [h[-1]["loss"] for h in histories], "k_eval": k, "test_images": n,
                   "test_ll": lls, "paper": MEM_TABLE1["mnist"].get(name), "runs": [run_dir(s).name for s in specs]}
            rows.append(row)
            log(f"  {name:<12} {epochs}/{spec.train.epochs} epochs ({epoch_s:.1f} s/epoch for {len(specs)} stacked, "
                f"full protocol {row['projected_protocol_hours']:.1f} h), L{k} on {n} test images: "
                f"{', '.join(f'{v:.2f}' for v in lls)} (paper {row['paper']})")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT"), help="results folder (default: $OUT)")
    parser.add_argument("--data-dir", default=os.environ.get("MEMVAE_DATA_DIR"),
                        help="folder holding mnist/ (default: $MEMVAE_DATA_DIR)")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock budget (default 540; tiny 300)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--nan-check-every", type=int, default=100, help="steps between host NaN reads")
    parser.add_argument("--compile", default="reduce-overhead", metavar="MODE",
                        help="torch.compile mode of the compiled rows (default reduce-overhead; 'none': no compiled rows)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test of every stage, in seconds")
    args = parser.parse_args(argv)
    compile_mode = None if args.compile == "none" else args.compile
    if compile_mode not in COMPILE_MODES:
        parser.error(f"--compile={args.compile!r} is not a torch.compile mode: use one of "
                     f"{[m for m in COMPILE_MODES if m]} or 'none'")
    if not args.out:
        parser.error("no output folder: pass --out or set OUT")
    data = Path(args.data_dir) if args.data_dir else None
    if data is None or not (data / "mnist").is_dir():
        parser.error(f"no MNIST at --data-dir={args.data_dir!r} (expected a folder with mnist/ inside): pass "
                     "--data-dir or set MEMVAE_DATA_DIR to the project's data folder; the device machine cannot "
                     "download it")
    start = time.monotonic()
    deadline = start + (args.budget_s or (300 if args.tiny else 540))  # tiny ends when done: room for a cold compile
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["MEMVAE_DATA_DIR"] = str(data.resolve())
    scratch = tempfile.mkdtemp(prefix="memvae-device-runs-")  # checkpoints: never under --out
    os.environ["MEMVAE_RUNS_DIR"] = scratch

    from memvae_lib.data import load_dataset
    from memvae_lib.evaluation import test_set
    from memvae_lib.files import resolve_device

    device = resolve_device(args.device)
    log = Log(out / "log.txt")
    loader = lambda name: load_dataset(name, download=False)  # noqa: E731
    x_test = test_set("mnist").x
    x_train = loader("mnist").train_x
    results = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "tiny": args.tiny, "budget_s": deadline - start, "errors": []}
    log(f"device {results['device']}, torch {torch.__version__}, budget {deadline - start:.0f} s, scratch {scratch}")
    stages = [("bench_training", lambda: bench_training(device, args.tiny, log, compile_mode)),
              ("bench_stacked", lambda: bench_stacked(device, args.tiny, log)),
              ("bench_iwll", lambda: bench_iwll(device, args.tiny, x_test, x_train, log, 45.0, compile_mode)),
              ("table1", lambda: table1(device, args.tiny, args, deadline - 15, loader, x_test, log))]
    for name, stage in stages:
        log(f"== {name} ({time.monotonic() - start:.0f} s)")
        try:
            results[name] = stage()
        except Exception as e:  # recorded, and the next stage still runs: a lease is not lost to one bug
            results["errors"].append({"stage": name, "error": f"{type(e).__name__}: {e}",
                                      "traceback": traceback.format_exc()[-4000:]})
            log(f"  FAILED: {type(e).__name__}: {e}")
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")  # after every stage
    results["elapsed_s"] = time.monotonic() - start
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "table.txt").write_text(render_table(results))
    shutil.rmtree(scratch, ignore_errors=True)  # the partial runs' checkpoints stay on the machine only while it runs
    log(f"done in {results['elapsed_s']:.0f} s, {len(results['errors'])} failed stage(s)")
    return 1 if results["errors"] else 0


def render_table(results: dict) -> str:
    lines = [f"device: {results['device']}, torch {results['torch']}", "", "training ms/step, batch 100"]
    for r in results.get("bench_training", []):
        fast = f"  compiled {r['compiled_ms']:8.2f}" if r.get("compiled_ms") is not None else ""
        lines.append(f"{r['model']:<16}ours {r['ours_ms']:8.2f}  no-sync {r['ours_nosync_ms']:8.2f}{fast}  "
                     f"plain {r['plain_ms']:8.2f}  plain/ours {r['plain_ms'] / r['ours_ms']:5.2f}")
    lines += ["", "stacked models (VAE)"]
    for r in results.get("bench_stacked", []):
        lines.append(f"M={r['models']:<3} {r['ms_per_step']:8.2f} ms/step  {r['model_steps_per_s']:9.1f} "
                     f"model-steps/s  {r['speedup_vs_separate']:5.2f}x separate")
    if "bench_iwll" in results:
        r = results["bench_iwll"]
        lines += ["", f"IW-LL k={r['k']}: {r['images']} images {r['seconds']:.2f} s, floor {r['floor_seconds']:.2f} s "
                      f"({r['over_floor']:.1f}x), 10,000 images projected {r['projected_10000_images_s']:.0f} s"]
        if "compiled_seconds" in r:
            lines.append(f"  compiled ({r['compile_mode']}): {r['compiled_seconds']:.2f} s, 10,000 images projected "
                         f"{r['compiled_projected_10000_images_s']:.0f} s")
    lines += ["", "MEM Table 1 MNIST (paper protocol, partial)"]
    for r in results.get("table1", []):
        lines.append(f"{r['model']:<12} epochs {r['epochs_done']}/{r['epochs_protocol']}  L{r['k_eval']} "
                     f"({r['test_images']} images) {', '.join(f'{v:.2f}' for v in r['test_ll'])}  paper {r['paper']}")
    return "\n".join(lines + [""] + [f"FAILED {e['stage']}: {e['error']}" for e in results["errors"]]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
