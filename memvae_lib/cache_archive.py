"""A trained collection to hand out: finished runs packed into one archive, checked on unpacking.

    memvae cache export laptop-runs.tar --profile laptop            # every notebook's runs
    memvae cache export mem.tar 'mem/mnist/*' --profile laptop      # some of them
    memvae cache import laptop-runs.tar                             # into $MEMVAE_RUNS_DIR

A teacher trains once (or on a GPU); students import the archive and every notebook finds its
models in the run cache, so each figure takes seconds. The archive is a tar file (`.tar.gz` or
`.tgz` compresses it) whose first member, MANIFEST.json, lists every other member with its size
and sha256. Import reads the whole archive and checks every member against the manifest before it
writes anything: a damaged, truncated or tampered archive is refused with one line naming it, and
the run cache is left as it was. Members are only ever written inside the run cache (no absolute
paths, no `..`, no links). A run folder that already exists and is finished is kept, not replaced.
"""
from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .files import atomic_write

MANIFEST = "MANIFEST.json"
FORMAT = "memvae-run-cache/1"
BASELINES = "baselines"  # Parzen baselines of the data sets (parzen_protocol), beside the runs
# A finished run loads from model.pt and history.json: the last checkpoint (optimiser state, about
# three times the model) and the lock stay behind.
SKIPPED = {".lock", "checkpoint.pt", "checkpoint.pt.sha256"}


class ArchiveError(RuntimeError):
    """An archive that cannot be written or used as it is."""


@dataclass
class ExportReport:
    archive: Path
    runs: list[str]          # run folder names packed
    missing: list[str]       # experiment names without a finished run (not packed)
    files: int
    bytes: int


def _mode(path: Path, writing: bool) -> str:
    compressed = path.name.endswith((".tar.gz", ".tgz"))
    return ("w:gz" if compressed else "w") if writing else ("r:gz" if compressed else "r:")


def finished_runs(names: list[str], profile: str) -> tuple[dict[str, Path], list[str]]:
    """{experiment name: finished run folder} for `names` at `profile`, and the names not finished."""
    from .experiments import run_spec
    from .runs import run_dir

    found, missing = {}, []
    for name in names:
        folder = run_dir(run_spec(name, profile))
        (found.__setitem__(name, folder) if (folder / "done").is_file() else missing.append(name))
    return found, missing


def finished_replicates(names: list[str], profile: str) -> list[Path]:
    """The finished seed replicates of `names` at `profile` (experiments.seed_replicates, as many as
    the paper's budget has seeds): the notebooks judge their claims against them (Notebook.seed_runs),
    so a cache without them would train them again, and a read-only one could not. Not every
    experiment is replicated, so an unfinished replicate is no missing run."""
    from .experiments import run_spec, seed_replicates
    from .papers import paper
    from .runs import run_dir

    folders = []
    for name in names:
        seeds = paper(name.split("/")[0]).budget(profile).seeds
        folders += [run_dir(spec) for spec in seed_replicates(run_spec(name, profile), seeds)[1:]]
    return [folder for folder in folders if (folder / "done").is_file()]


def select_names(patterns: list[str] | None, profile: str) -> list[str]:
    """Experiment names matching the patterns (names or globs); every name of the profile when none.
    ValueError naming the patterns that match nothing."""
    from .experiments import experiment_names

    known = experiment_names(profile)
    if not patterns:
        return known
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in known)]
    if unmatched:
        raise ValueError(f"no experiment matches {', '.join(unmatched)} at profile {profile!r} "
                         "(`memvae train --list --profile P` prints the names)")
    return [n for n in known if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _files_of(folder: Path, root: Path) -> list[tuple[str, Path]]:
    """(archive name, path) of the files a run folder hands out: not SKIPPED, no temporaries."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name in SKIPPED or path.name.endswith(".tmp") or path.is_symlink():
            continue
        out.append((path.relative_to(root).as_posix(), path))
    return out


def export_runs(archive: str | os.PathLike, patterns: list[str] | None, profile: str) -> ExportReport:
    """Pack the finished runs of the matching experiments, their finished seed replicates (and the
    Parzen baselines) into `archive`, written atomically. ArchiveError when none of them is finished."""
    from . import NUMERICS_VERSION, __version__
    from .files import runs_dir

    archive, root = Path(archive), runs_dir()
    names = select_names(patterns, profile)
    found, missing = finished_runs(names, profile)
    if not found:
        raise ArchiveError(f"none of the {len(names)} experiment(s) has a finished run in {root} at profile "
                           f"{profile!r}: train them first (memvae train ... --profile {profile} or make figures)")
    folders = sorted(set(found.values()) | set(finished_replicates(list(found), profile)))
    members = [m for folder in folders for m in _files_of(folder, root)]
    if (root / BASELINES).is_dir() and not patterns:
        members += _files_of(root / BASELINES, root)
    entries, payloads = [], []
    for name, path in members:
        data = path.read_bytes()
        entries.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        payloads.append(data)
    manifest = {"format": FORMAT, "profile": profile, "memvae": __version__,
                "numerics_version": NUMERICS_VERSION, "runs": [f.name for f in folders],
                "experiments": sorted(found), "files": entries}
    def write(f):
        with tarfile.open(fileobj=f, mode=_mode(archive, writing=True)) as tar:
            _add(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            for entry, data in zip(entries, payloads):
                _add(tar, entry["name"], data)

    archive.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(archive, write)  # the payloads are in memory already; a kill leaves no half archive
    return ExportReport(archive=archive, runs=[f.name for f in folders], missing=missing, files=len(entries),
                        bytes=archive.stat().st_size)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # same bytes give the same archive
    tar.addfile(info, io.BytesIO(data))


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def _first(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def read_archive(archive: str | os.PathLike) -> tuple[dict, dict[str, bytes]]:
    """The manifest and every member's bytes, each checked against the manifest. ArchiveError with
    the archive's name, what is wrong and the fix, before anything is written anywhere."""
    archive = Path(archive)
    fix = "ask for a fresh copy of the archive (or export it again); nothing was imported"
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive file")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, _mode(archive, writing=False)) as tar:
            for info in tar:
                if not info.isfile() or not _safe_name(info.name):
                    raise ArchiveError(f"{archive}: member {info.name!r} is not a plain file inside the run "
                                       f"cache (a link, a folder outside it or an absolute path); {fix}")
                if info.name in members:
                    raise ArchiveError(f"{archive}: member {info.name!r} appears twice; {fix}")
                members[info.name] = tar.extractfile(info).read()
    except ArchiveError:
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error) as e:  # truncated, bad CRC or header
        raise ArchiveError(f"{archive}: damaged or not a memvae run archive ({type(e).__name__}: {e}); {fix}") from e
    try:
        manifest = json.loads(members.pop(MANIFEST))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
        listed = {e["name"]: e for e in manifest["files"]}
        if not all(isinstance(e["size"], int) and isinstance(e["sha256"], str) for e in listed.values()):
            raise ValueError("an entry without an integer size and a sha256")
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise ArchiveError(f"{archive}: damaged: no readable {MANIFEST} of format {FORMAT} ({type(e).__name__}); "
                           f"{fix}") from e
    extra, absent = sorted(set(members) - set(listed)), sorted(set(listed) - set(members))
    if extra or absent:
        # a flipped byte in a compressed archive garbles every member after it: name a few, count the rest
        wrong = "; ".join(f"{len(names)} {what} ({_first(names)})" for names, what in
                          ((absent, "listed file(s) missing"), (extra, "member(s) not listed")) if names)
        raise ArchiveError(f"{archive}: damaged: members do not match its manifest: {wrong}; {fix}")
    for name, data in members.items():
        entry = listed[name]
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ArchiveError(f"{archive}: {name} does not match the sha256 in its manifest (damaged); {fix}")
    return manifest, members


def import_runs(archive: str | os.PathLike) -> dict[str, list[str]]:
    """Verify `archive` whole, then unpack its runs into the run cache: each run folder is assembled
    beside its final place and renamed into it, so a killed import leaves no half run. A finished
    run already there is kept. Returns {"imported": [...], "kept": [...], "baselines": [...]}."""
    from .files import runs_dir

    manifest, members = read_archive(archive)
    root = runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    by_folder: dict[str, dict[str, bytes]] = {}
    for name, data in members.items():
        top, _, rest = name.partition("/")
        by_folder.setdefault(top, {})[rest] = data
    report = {"imported": [], "kept": [], "baselines": []}
    for top, files in sorted(by_folder.items()):
        if top == BASELINES:  # cached metrics with their digests: add the missing ones
            for rest, data in files.items():
                target = root / top / rest
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write(target, data)
                    report["baselines"].append(rest)
            continue
        final = root / top
        if (final / "done").is_file():
            report["kept"].append(top)
            continue
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{top}.", suffix=".import"))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the run from a group
        try:
            for rest, data in files.items():
                target = staging / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(target, data)
            if final.exists():  # an unfinished attempt of the same run: the finished one replaces it
                shutil.rmtree(final)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        report["imported"].append(top)
    return report


