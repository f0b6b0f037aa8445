"""Files and folders: where runs, data and figures live, the project root, the device, and the
two ways this project writes a file (atomically; and with a sha256 digest beside it, checked on
every read), so that a kill, a full disk or a damaged file never passes silently.

    runs_dir(), data_dir(), default_figures_dir(profile), project_root()
    atomic_write(path, lambda f: torch.save(state, f))
    write_verified(path, data) / read_verified(path, fix)  ->  IntegrityError when damaged
    resolve_device("auto")
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Callable, Mapping

import torch

# Folders named by environment variables. A relative value means "from where the command ran", but
# notebook kernels run in their notebook's folder: so it is made absolute, once, when memvae_lib is
# first imported (memvae_lib/__init__.py), and written back to os.environ for every child process
# (papermill kernels, workers) to inherit. runs_dir() and data_dir() return absolute paths in any case.
PATH_VARIABLES = ("MEMVAE_RUNS_DIR", "MEMVAE_DATA_DIR")
FIGURES_ENV = "MEMVAE_FIGURES_DIR"
# only these profiles' results are committed under figures/ and reach the generated tables
# (README.md, docs/scoreboard.md)
COMMITTED_PROFILES = ("laptop", "paper")
# where each one's results live inside figures/: laptop (the default) at the top, figures/<paper>/,
# and paper in a folder of its own, figures/paper-profile/<paper>/, so the two are committed side by side
PROFILE_FOLDERS = {"laptop": "", "paper": "paper-profile"}
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>")
READ_ONLY_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)  # a folder this process may not write
DIGEST_SUFFIX = ".sha256"  # checkpoint.pt.sha256, model.pt.sha256: see write_verified




def absolute_path_variables(environ=os.environ) -> None:
    """Make each relative PATH_VARIABLES value in `environ` absolute against the current directory."""
    for name in PATH_VARIABLES:
        value = environ.get(name)
        if value and not os.path.isabs(os.path.expanduser(value)):
            environ[name] = os.path.abspath(os.path.expanduser(value))



def runs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$MEMVAE_RUNS_DIR (of `environ`, os.environ by default), else ~/.cache/memvae/runs; always
    absolute (a relative value is taken from the current directory: importing memvae_lib already
    made os.environ's absolute, so that notebook kernels, whose cwd is their folder, agree)."""
    env = (os.environ if environ is None else environ).get("MEMVAE_RUNS_DIR")
    return Path(os.path.abspath(Path(env).expanduser())) if env else Path.home() / ".cache" / "memvae" / "runs"


def data_dir() -> Path:
    """`$MEMVAE_DATA_DIR` if set (CI points it at `shared/data`), else `~/.cache/memvae/data`; always
    absolute (a relative value counts from the current directory; see memvae_lib.PATH_VARIABLES)."""
    env = os.environ.get("MEMVAE_DATA_DIR")
    if not env:
        return Path.home() / ".cache" / "memvae" / "data"
    return Path(os.path.abspath(Path(env).expanduser()))


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The repository root: the first folder holding pyproject.toml, walking up from `start`.

    Notebooks run with their own folder as working directory (papermill and nbval alike), so they
    call this instead of relying on relative paths. Falls back to the folder above this package
    (an editable install) when the walk from `start` (default: cwd) finds nothing.
    """
    for origin in (Path(start or Path.cwd()), Path(__file__).parent):
        for folder in (origin.resolve(), *origin.resolve().parents):
            if (folder / "pyproject.toml").is_file():
                return folder
    raise FileNotFoundError(f"no pyproject.toml above {start or Path.cwd()}: not inside the memvae checkout")


def scratch_figures_dir(profile: str | None, build_dir: str | os.PathLike | None = None) -> Path:
    """<build_dir>/<profile>-figures (build_dir defaults to <root>/notebooks/_build): where a
    profile other than laptop or paper writes, beside the executed notebooks and never in git."""
    name = profile if isinstance(profile, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", profile) else "scratch"
    build = Path(build_dir) if build_dir is not None else project_root() / "notebooks" / "_build"
    return build / f"{name}-figures"


def default_figures_dir(profile: str | None = None) -> Path:
    """Where figures and results JSON go: $MEMVAE_FIGURES_DIR when set, else <root>/figures at laptop,
    <root>/figures/paper-profile at paper (`committed_figures_dir`) and `scratch_figures_dir(profile)`
    for any other.

    The decision is made here, not by whoever starts the notebook: JupyterLab, `jupyter nbconvert
    --execute`, papermill from any folder and `memvae figures` all end up in this function, so a
    smoke run can never overwrite the committed figures (or put smoke rows in the README).
    `profile` defaults to the running notebook's own `profile` parameter (see `session_profile`).
    """
    env = os.environ.get(FIGURES_ENV)
    if env:
        return Path(env)
    profile = profile if profile is not None else session_profile()
    profile = getattr(profile, "name", profile)  # a Profile object counts as its name
    if profile in COMMITTED_PROFILES:
        return committed_figures_dir(profile)
    return scratch_figures_dir(profile)


def committed_figures_dir(profile: str, root: str | os.PathLike | None = None) -> Path:
    """<root>/figures for laptop, <root>/figures/paper-profile for paper (PROFILE_FOLDERS); `root`
    defaults to the project root. Any other profile is a ValueError: it is never committed."""
    if profile not in COMMITTED_PROFILES:
        raise ValueError(f"profile {profile!r} is not committed under figures/; only {', '.join(COMMITTED_PROFILES)} are")
    figures = (Path(root) if root is not None else project_root()) / "figures"
    return figures / PROFILE_FOLDERS[profile] if PROFILE_FOLDERS[profile] else figures


def session_profile() -> str | None:
    """The profile of the notebook running this code, None outside one.

    Every notebook's first cell sets `profile` (papermill injects it too), and save_figure is called
    before write_results names the profile, so the kernel's namespace is the one place that knows it
    for both. Outside a kernel, $MEMVAE_PROFILE (the notebooks' own default) decides.
    """
    ipython = sys.modules.get("IPython")  # never imported here: a plain script has no notebook
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    value = shell.user_ns.get("profile") if shell is not None else None
    value = getattr(value, "name", value)
    if isinstance(value, str):
        return value
    return os.environ.get("MEMVAE_PROFILE")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cpu', 'cuda', 'cuda:1' or a torch.device as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str) and (device in ("cpu", "cuda") or
                                    (device.startswith("cuda:") and device[5:].isdigit())):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available here; use 'cpu' or 'auto'")
        if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} but this machine has {torch.cuda.device_count()} CUDA "
                             f"device(s); use 'cuda:0' to 'cuda:{torch.cuda.device_count() - 1}', or 'auto'")
        return torch.device(device)
    raise ValueError(f"device={device!r} is not one of {', '.join(DEVICE_CHOICES)}")


class IntegrityError(RuntimeError):
    """A file written by `write_verified` is damaged, or has no digest to check it against."""


class NoSpaceLeft(OSError):
    """The disk filled up while `atomic_write` wrote a file (errno ENOSPC or EDQUOT)."""

    def __init__(self, path: Path, size: int):
        try:
            stat = os.statvfs(Path(path).parent)
            free = f"{stat.f_bavail * stat.f_frsize / 1e6:.1f} MB free there"
        except OSError:
            free = "free space unknown"
        super().__init__(errno.ENOSPC, f"no space left on device while writing {path} ({size / 1e6:.1f} MB, "
                                        f"{free}; the previous file, if any, is untouched): free some space or set "
                                        "MEMVAE_RUNS_DIR to a folder on a larger disk, then run the same command again")

    def __str__(self):  # the message alone, without OSError's "[Errno 28]" prefix
        return self.strerror


def atomic_write(path: Path, write: Callable | bytes) -> None:
    """write(file) into memory (or `write` itself when it is bytes), then the bytes into a temporary
    file beside `path`, fsync, os.replace: readers see the old file or the new one, never a partial
    one, whenever the process dies. Serialising first means a full disk fails in one place with one
    message (`NoSpaceLeft`), not inside torch.save's zip writer. The file gets the permissions a plain
    open() would give (0666 & ~umask, as mkstemp's 0600 would hide a group-shared cache)."""
    path, data = Path(path), _serialised(write)
    f, tmp = _open_temp(path)
    try:
        try:
            with f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                os.unlink(tmp)  # first, so that the message counts the space the partial file held
                raise NoSpaceLeft(path, len(data)) from e
            raise
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _serialised(write: Callable | bytes) -> bytes:
    """The bytes `write(file)` writes (e.g. `lambda f: torch.save(state, f)`), or `write` itself."""
    if not callable(write):
        return bytes(write)
    buffer = io.BytesIO()
    write(buffer)
    return buffer.getvalue()


def _open_temp(path: Path):
    """A new file `<name>.<random>.tmp` beside path, opened for writing; the kernel applies the umask
    (and a default ACL) to the 0666 asked for, as for any open()."""
    for _ in range(100):
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, "wb"), tmp
    raise FileExistsError(f"no free temporary name beside {path}")


# ---- files with a digest -------------------------------------------------------------------------
# A checkpoint or model file is two writes: the file and path.sha256 beside it. The digest file is
# written first and lists both the old and the new digest, then the file is replaced, then the
# digest file lists the new digest alone. A kill between any two steps leaves a file whose digest is
# listed, so a kill never makes a valid file look damaged; a flipped byte always does.
def digest_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + DIGEST_SUFFIX)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _listed_digests(path: Path) -> list[str]:
    text = digest_path(path).read_bytes().decode("ascii", "replace")  # a damaged digest file lists nothing valid
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def _write_digests(path: Path, digests: list[str]) -> None:
    lines = "".join(f"{d}  {Path(path).name}\n" for d in dict.fromkeys(digests))  # sha256sum's format
    atomic_write(digest_path(path), lines.encode())


def write_verified(path: Path, write: Callable | bytes) -> None:
    """atomic_write(path, write) and record its sha256 in path.sha256, in the kill-safe order above."""
    path, data = Path(path), _serialised(write)
    new, keep = _sha256(data), []
    if path.exists():
        with contextlib.suppress(OSError):
            old = _sha256(path.read_bytes())
            keep = [old] if old in _listed_digests(path) else []  # a damaged old file loses its entry
    _write_digests(path, keep + [new])
    atomic_write(path, data)
    _write_digests(path, [new])


def read_verified(path: Path, fix: str) -> bytes:
    """The bytes of `path` once its sha256 is one that path.sha256 lists; else `IntegrityError`,
    whose one-line message ends with `fix`."""
    path, digests = Path(path), digest_path(path)
    data = path.read_bytes()
    if not digests.exists():
        raise IntegrityError(
            f"{path} has no digest file {digests.name} (written before memvae recorded digests, or the digest was "
            f"deleted), so its contents cannot be verified. {fix} Or, if you trust the file, record its digest: "
            f"python -c \"from memvae_lib.files import record_digest; record_digest('{path}')\"")
    actual, listed = _sha256(data), _listed_digests(path)
    if actual not in listed:
        raise IntegrityError(f"{path} is damaged: its sha256 {actual[:16]}... is not one recorded in {digests.name} "
                             f"({', '.join(d[:16] + '...' for d in listed) or 'none'}). {fix}")
    return data


def record_digest(path: Path) -> str:
    """Record the sha256 of `path` as it is now: for a file the user vouches for (a run finished
    before digests were recorded); nothing calls it on its own. Returns the digest."""
    data = Path(path).read_bytes()
    _write_digests(path, [_sha256(data)])
    return _sha256(data)
