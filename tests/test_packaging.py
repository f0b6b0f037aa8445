"""pyproject.toml and environment.yml describe the same environment; torch is never replaced."""

import importlib.metadata as md
import re
import sys
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from memvae_lib.files import project_root

ROOT = project_root()
CONDA_TO_PYPI = {"pytorch": "torch", "ray-core": "ray"}  # conda package names that differ from the PyPI ones
CONDA_ONLY = {"python", "pip", "cpuonly"}
TORCH_PINNED = "2.13.0"  # what `make setup` installs when no torch is present


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def _conda_requirements() -> dict[str, SpecifierSet]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip: section installs the project itself
            continue
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", dep).groups()
        if name in CONDA_ONLY:
            continue
        out[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = SpecifierSet(spec)
    return out


def _lower_bound(spec: SpecifierSet):
    bounds = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
    return max(bounds, default=None)


def test_environment_yml_lists_the_same_packages_as_pyproject():
    pyproject = {canonicalize_name(r.name) for r in _pyproject_requirements()}
    conda = set(_conda_requirements())
    assert conda == pyproject, f"only in environment.yml: {sorted(conda - pyproject)}; " \
                               f"only in pyproject.toml: {sorted(pyproject - conda)}"


def test_environment_yml_lower_bounds_match_pyproject():
    conda = _conda_requirements()
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        assert _lower_bound(conda[name]) == _lower_bound(req.specifier), \
            f"{name}: pyproject says {req.specifier or 'any'}, environment.yml says {conda[name] or 'any'}"


def test_environment_yml_installs_the_project_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip and "-e ." in pip[0]["pip"]


def test_no_requirement_would_replace_the_pinned_torch():
    torch_specs = [r.specifier for r in _pyproject_requirements() if canonicalize_name(r.name) == "torch"]
    torch_specs.append(_conda_requirements()["torch"])
    for spec in torch_specs:
        assert spec.contains(TORCH_PINNED), f"torch {spec} excludes {TORCH_PINNED}: pip would replace it"
    makefile = (ROOT / "Makefile").read_text()
    assert f"torch=={TORCH_PINNED}" in makefile


def test_the_book_extra_is_bounded_above_and_asks_for_no_torch():
    """book/conf.py configures these majors; a new major must be a decision, not an accident."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    book = [Requirement(r) for r in project["optional-dependencies"]["book"]]
    assert {canonicalize_name(r.name) for r in book} >= {"sphinx", "myst-nb", "sphinx-book-theme"}
    unbounded = [str(r) for r in book if not any(s.operator == "<" for s in r.specifier)]
    assert not unbounded, f"book extra without an upper bound: {unbounded}"
    assert "torch" not in {canonicalize_name(r.name) for r in book}


def test_installed_packages_accept_the_installed_torch():
    """Like `pip check` for torch alone: nothing installed here asks for another torch version."""
    installed = md.version("torch").split("+")[0]
    for dist in md.distributions():
        for text in dist.requires or []:
            req = Requirement(text)
            if canonicalize_name(req.name) != "torch":
                continue
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            assert req.specifier.contains(installed, prereleases=True), \
                f"{dist.metadata['Name']} requires {text}, but torch {installed} is installed"


def test_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"memvae": "memvae_lib.cli:main"}


def test_kernel_python3_is_this_interpreter():
    """papermill and nbval start kernel 'python3': it must run in this environment, not elsewhere."""
    pytest.importorskip("jupyter_client")
    from memvae_lib.batch import kernel_interpreter

    assert kernel_interpreter("python3") == sys.executable


def test_bare_pytest_at_the_root_collects_the_unit_tests_only():
    """`pytest` typed at the repository root (what most users do) collects every unit test and
    neither the goldens (nbval) nor the browser test; it once stopped at collection because a test
    imported `conftest` by name and got tests/browser/conftest.py."""
    import subprocess

    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    collected = [line for line in out.stdout.splitlines() if "::" in line]
    assert len(collected) > 300
    assert not [c for c in collected if c.startswith(("tests/browser", "tests/goldens"))]
    assert {c.split("::")[0] for c in collected} >= {"tests/test_batch.py", "tests/test_runs.py",
                                                     "tests/test_packaging.py"}
