"""`memvae` command line: figures (notebook batch), scoreboard, and thin train / eval wrappers.

    memvae figures [--profile laptop] [--only mem/table1] [--device cuda] [--jobs 2]
    memvae scoreboard
    memvae train --list [--profile P]
    memvae train NAME|GLOB ... --profile smoke [--device cuda] [--jobs N] [--max-minutes M]
    memvae train NAME|GLOB ... --profile paper --ray [ADDRESS] [--cpus-per-run C] [--gpus-per-run 0.25]
    memvae eval NAME --profile smoke [--k 5000]
    memvae cache export ARCHIVE [NAME|GLOB ...] --profile laptop | import ARCHIVE | trust RUN_FOLDER ...
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

from .files import project_root
from .results import update_page

def _figures(args) -> int:
    from .batch import Interrupted, run_notebooks

    root = project_root()
    try:
        results = run_notebooks(profile=args.profile, only=args.only, device=args.device, jobs=args.jobs,
                                notebooks_dir=root / "notebooks")
    except Interrupted as stop:  # Ctrl-C (or SIGTERM while training ahead): the README is left as it was
        how = "SIGTERM" if stop.signal_number == signal.SIGTERM else "interrupted (Ctrl-C)"
        print(f"memvae figures: {how}: {len(stop.finished)} notebook(s) finished, "
              f"{len(stop.stopped)} stopped ({', '.join(stop.stopped) or 'none'}), {stop.skipped} not started. "
              "Models being trained keep their last checkpoint: the same command resumes them and reuses "
              "every finished one", file=sys.stderr)
        return 128 + stop.signal_number
    except ValueError as e:  # a profile without notebooks/profiles/<profile>.yaml, a pattern matching nothing
        print(f"memvae figures: {e}", file=sys.stderr)
        return 2
    board = _scoreboard(args)
    failed = [r for r in results if not r.ok]
    for r in failed:  # the batch's summary table only counts them: each is told here, once, last
        print(f"FAILED {r.failure()}", file=sys.stderr)
    return 1 if failed or board else 0


# the pages holding generated blocks: the README (claims at a glance, gallery) for readers, and the
# numeric scoreboard on its own page
GENERATED_PAGES = ("README.md", "docs/scoreboard.md")


def _scoreboard(args) -> int:
    from .results import scoreboard_results

    root = project_root()
    pages, figures = [root / p for p in GENERATED_PAGES], root / "figures"
    names = " and ".join(GENERATED_PAGES)
    # always the committed figures/: a smoke or scratch run (MEMVAE_FIGURES_DIR) never reaches the README
    try:
        _, ignored = scoreboard_results(figures)  # reads every results JSON before any page is written
        changed = {page: update_page(page, figures) for page in pages}
    except ValueError as e:  # a truncated or hand-broken results JSON: the pages stay as they were
        print(f"memvae scoreboard: {e}; {names} not updated", file=sys.stderr)
        return 1
    except FileNotFoundError as e:
        print(f"memvae scoreboard: {e.filename} is missing: each of {names} holds generated tables "
              "(git checkout it, or restore its markers)", file=sys.stderr)
        return 1
    for path, profile in ignored.items():
        print(f"memvae scoreboard: left out {path}: profile {profile!r}, and only laptop and paper results "
              "go in the README; delete it, or rerun its notebook at --profile laptop", file=sys.stderr)
    for page, did in changed.items():
        print(f"generated tables in {page} {'updated' if did else 'unchanged'}")
    return 0


# train and eval are thin wrappers over the library, for scripted or GPU runs without a notebook.

def _spec(args):
    from . import experiments

    if args.list or not args.name:
        _print_list(args.profile)
        return None
    known = experiments.experiment_names(args.profile)
    if args.name not in known:
        _unknown_names(args, [args.name], known)
    return experiments.run_spec(args.name, args.profile)


def _print_list(profile: str) -> None:
    """Every experiment name at `profile` with its one-line description."""
    from . import experiments

    names = experiments.experiment_names(profile)
    width = max((len(n) for n in names), default=0)
    for name in names:
        print(f"{name:<{width}}  {experiments.describe(experiments.run_spec(name, profile))}")


def _unknown_names(args, patterns: list[str], known: list[str]) -> None:
    """Exit 2, as argparse does for a bad option: which names match nothing, the closest known
    names, and where the list is."""
    import difflib

    hints = []
    for pattern in patterns:
        close = difflib.get_close_matches(pattern, known, n=3, cutoff=0.5)
        hints.append(f"{pattern!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    args.parser.error(f"no experiment matches {', '.join(hints)} at profile {args.profile!r}; "
                      f"`memvae {args.command} --list --profile {args.profile}` lists the names")


def _train(args) -> int:
    """Train every named run (names or globs over `--list`), `--jobs` at a time: several small models
    share one GPU. With --max-minutes, runs pause at an epoch boundary before the budget ends (exit 3)
    and the same command resumes them: a long run survives a per-command time limit. With --ray, each
    missing run is a Ray task instead (memvae_lib/cluster.py); without it, Ray is never imported: a
    local Ray costs seconds to start that a process pool does not."""
    import fnmatch
    import time

    from . import experiments, train_jobs

    known = experiments.experiment_names(args.profile)
    if args.ray is not None and args.ray != "local" and "/" in args.ray and "://" not in args.ray:
        args.names, args.ray = [*args.names, args.ray], "local"  # `--ray NAME`: a name, not an address
    if args.list or not args.names:
        _print_list(args.profile)
        return 0
    names = [n for pattern in args.names for n in known if fnmatch.fnmatchcase(n, pattern)]
    missing = [p for p in args.names if not any(fnmatch.fnmatchcase(n, p) for n in known)]
    if missing:
        _unknown_names(args, missing, known)
    names = list(dict.fromkeys(names))
    if args.ray is not None:
        return _train_on_ray(args, names)
    if args.cpus_per_run is not None or args.gpus_per_run is not None:
        sys.exit("memvae train: --cpus-per-run and --gpus-per-run are Ray task resources; add --ray")
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes is not None else None
    try:
        outcome = train_jobs.train_locally(names, args.profile, args.device, deadline, args.jobs,
                                           args.progress_seconds)
    except (KeyboardInterrupt, train_jobs.Stopped) as stop:
        sigterm = isinstance(stop, train_jobs.Stopped)
        print(f"memvae train: {'SIGTERM' if sigterm else 'interrupted (Ctrl-C)'}: stopped every run; the same "
              "command resumes each from its last checkpoint (saved every few epochs and at least every 30 s)",
              file=sys.stderr)
        return 128 + (signal.SIGTERM if sigterm else signal.SIGINT)
    if any(o.startswith("FAILED") for o in outcome.values()):
        return 1
    return 3 if any(o.startswith("PAUSED") for o in outcome.values()) else 0


def _train_on_ray(args, names: list[str]) -> int:
    from . import cluster

    if args.jobs != 1:
        sys.exit("memvae train: --jobs is for runs on this machine; with --ray, --cpus-per-run and "
                 "--gpus-per-run decide how many run at once")
    if not cluster.ray_available():
        sys.exit(f"memvae train: --ray needs the ray package, which is not installed: {cluster.INSTALL_HINT}")
    return cluster.train_command(names, args.profile, address=None if args.ray == "local" else args.ray,
                                 device=args.device, cpus_per_run=args.cpus_per_run or 1.0,
                                 gpus_per_run=args.gpus_per_run,
                                 max_seconds=None if args.max_minutes is None else 60 * args.max_minutes)


def _eval(args) -> int:
    spec = _spec(args)
    if spec is None:
        return 0
    from . import train_jobs
    from .evaluation import get_run, test_log_likelihood, test_set

    try:
        with train_jobs.progress_lines(args.progress_seconds):
            run = get_run(spec, device=args.device)
            # the notebooks' own route (cached in the run folder): estimators.iw_log_likelihood on the test set
            ll = test_log_likelihood(run, test_set(spec.dataset), args.k)
    except KeyboardInterrupt:
        print(f"memvae eval {args.name}: interrupted (Ctrl-C); a training run keeps its last checkpoint",
              file=sys.stderr)
        return 128 + signal.SIGINT
    except _run_errors() as e:  # their messages name the file and the fix: one line, not a traceback
        print(f"memvae eval {args.name}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"{args.name} ({args.profile}): test log-likelihood L_{args.k} = {ll['mean']:.2f} "
          f"+- {ll['sem']:.2f} nats (n={ll['n']})")
    return 0


def _run_errors() -> tuple[type[BaseException], ...]:
    """Errors whose messages already say what is wrong and what to do (imported when one is raised)."""
    from .data import DataError
    from .files import IntegrityError, NoSpaceLeft
    from .train import CheckpointError, TrainingDiverged

    return (IntegrityError, CheckpointError, NoSpaceLeft, TrainingDiverged, DataError, PermissionError)


# memvae cache: hand a trained collection to others (memvae_lib/cache_archive.py)

def _cache(args) -> int:
    from . import cache_archive as ca

    try:
        if args.action == "export":
            report = ca.export_runs(args.archive, args.names, args.profile)
            print(f"{report.archive}: {len(report.runs)} run(s), {report.files} files, {report.bytes / 1e6:.1f} MB")
            if report.missing:
                print(f"not finished, left out ({len(report.missing)}): {', '.join(report.missing)}", file=sys.stderr)
        elif args.action == "import":
            report = ca.import_runs(args.archive)
            print(f"{args.archive}: {len(report['imported'])} run(s) imported, {len(report['kept'])} already "
                  f"there and kept, {len(report['baselines'])} baseline file(s) added")
        else:  # trust
            from .files import digest_path, record_digest

            for folder in args.archive:
                for name in ("model.pt", "history.json", "checkpoint.pt"):
                    path = Path(folder) / name
                    if path.is_file() and not digest_path(path).exists():
                        print(f"recorded {record_digest(path)[:16]}... for {path}")
    except (ca.ArchiveError, ValueError, OSError) as e:
        print(f"memvae cache {args.action}: {e}", file=sys.stderr)
        return 1
    return 0


# Argument types: a bad value is argparse's one-line usage error (exit 2), before anything is trained.

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1; give an integer >= 1")
    return value


def _non_negative(what: str):
    """An argparse type: a finite number >= 0, refused with `what` (the rest of the message)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


_minutes = _non_negative("a number of minutes; give a finite number >= 0 (0 pauses after every epoch; "
                         "leave the option out for no budget)")
_resource = _non_negative("an amount of a resource; give a number >= 0, e.g. 0.25 of a GPU")


def _profile(text: str) -> str:
    from .profiles import PROFILES

    if text not in PROFILES:
        raise argparse.ArgumentTypeError(f"unknown profile {text!r}; use one of {', '.join(sorted(PROFILES))}")
    return text


def _device(text: str) -> str:
    """The device as given ('auto' stays 'auto' for the workers), once this machine can run it: a
    cuda request without CUDA fails here, not after the data are loaded."""
    from .files import resolve_device

    try:
        resolve_device(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _profile_help() -> str:
    from .profiles import PROFILES

    return "the compute budget: " + ", ".join(f"{name} ({p.description})" for name, p in PROFILES.items())


_seconds = _non_negative("a number of seconds; give a finite number > 0")


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


TRAIN_HELP = """Train the named experiments (or load them from the run cache, $MEMVAE_RUNS_DIR), the runs the
notebooks use: `memvae train --list` shows each name with what it trains. A finished run is never
trained again; an interrupted one resumes from its last checkpoint."""

TRAIN_EPILOG = """examples:
  memvae train --list --profile smoke
  memvae train 'mem/mnist/*' --profile laptop --jobs 2 > train.log 2>&1
  memvae train mem/frey/VAE-b100 --profile paper --device cuda --max-minutes 50

progress: a bar when stdout and stderr are a terminal; otherwise (`> log`, a pipe, or --jobs above 1)
a line on stderr every --progress-seconds with the epoch, the loss and the time left.
MEMVAE_PROGRESS=0 silences it.

exit status: 0 every run finished; 1 a run failed (each is named); 2 a bad option or an unknown
name; 3 paused by --max-minutes (rerun the command to resume); 130/143 stopped by Ctrl-C/SIGTERM."""

EVAL_HELP = """Print a named experiment's test log-likelihood, estimated with K importance samples (the
estimate the notebooks use, cached in the run folder); the run is trained first if the cache lacks it."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memvae", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    fig = sub.add_parser("figures", help="execute the notebooks (papermill), then rebuild the generated "
                                         "tables (README.md, docs/scoreboard.md)")
    fig.add_argument("--profile", type=_profile, default="laptop", help=_profile_help())
    fig.add_argument("--only", help="notebook name pattern(s), comma-separated: substring or glob, "
                                    "e.g. mem/table1 or 'evae/*'")
    fig.add_argument("--device", type=_device, help="override the profile's device (cpu, cuda, cuda:1)")
    fig.add_argument("--jobs", type=_positive_int, default=1, help="notebooks run at once (default 1)")
    fig.set_defaults(func=_figures)

    sub.add_parser("scoreboard", help="rebuild the claims table and gallery (README.md) and the "
                                      "scoreboard (docs/scoreboard.md) from figures/*/*.json and figures/paper-profile/*/*.json") \
        .set_defaults(func=_scoreboard)

    for name, func, text, description, epilog in (
            ("train", _train, "train (or load from the runs cache) named experiments", TRAIN_HELP, TRAIN_EPILOG),
            ("eval", _eval, "print a named experiment's test IW log-likelihood", EVAL_HELP, None)):
        p = sub.add_parser(name, help=text, description=description, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == "train":
            p.add_argument("names", nargs="*", help="experiment names or globs, e.g. 'mem/mnist/*' (see --list)")
            p.add_argument("--jobs", type=_positive_int, default=1,
                           help="runs trained at once, each in a worker process above 1 (default 1)")
            p.add_argument("--max-minutes", type=_minutes, default=None,
                           help="pause every run at an epoch boundary after this long (exit 3); rerun to resume")
            p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                           help="train each missing run as a Ray task (pip install -e '.[cluster]'): on the cluster "
                                "at ADDRESS ('auto', 'host:6379', 'ray://host:10001'; MEMVAE_RUNS_DIR must be "
                                "shared by every node), or on a local Ray with this machine's cores")
            p.add_argument("--cpus-per-run", type=_resource, default=None, metavar="C",
                           help="with --ray: CPUs each run reserves (default 1)")
            p.add_argument("--gpus-per-run", type=_resource, default=None, metavar="G",
                           help="with --ray: GPU fraction each run reserves (default 0.25 on a cluster with "
                                "GPUs unless --device cpu, else 0)")
        else:
            p.add_argument("name", nargs="?", help="experiment name (see --list)")
            p.add_argument("--k", type=_positive_int, default=5000, help="importance samples (default 5000)")
        p.add_argument("--list", action="store_true",
                       help="print every experiment name at --profile with what it trains, and exit")
        p.add_argument("--profile", type=_profile, default="laptop", help=_profile_help())
        p.add_argument("--device", type=_device, default="auto", help="auto | cpu | cuda | cuda:<index> (default auto)")
        p.add_argument("--progress-seconds", type=_positive_seconds, default=None, metavar="S",
                       help="when stdout or stderr is not a terminal, or with --jobs above 1: a progress "
                            "line on stderr every S seconds (default 5, or $MEMVAE_PROGRESS_SECONDS)")
        p.set_defaults(func=func, parser=p)

    cache = sub.add_parser("cache", help="export finished runs to an archive, import one, or trust old runs")
    actions = cache.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="pack the finished runs of the named experiments (default: all) "
                                               "with a sha256 per file")
    export.add_argument("archive", help="the archive to write: .tar, or .tar.gz / .tgz to compress")
    export.add_argument("names", nargs="*", help="experiment names or globs (default: every notebook's runs)")
    export.add_argument("--profile", type=_profile, default="laptop", help=_profile_help())
    imp = actions.add_parser("import", help="check a whole archive, then unpack it into $MEMVAE_RUNS_DIR")
    imp.add_argument("archive", help="an archive written by memvae cache export")
    trust = actions.add_parser("trust", help="record digests for run folders finished before memvae recorded "
                                             "them (only for runs you vouch for)")
    trust.add_argument("archive", nargs="+", metavar="RUN_FOLDER", help="run folders under $MEMVAE_RUNS_DIR")
    cache.set_defaults(func=_cache)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
