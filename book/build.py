#!/usr/bin/env python
"""Build the book (`make book`): stage the pages and the executed notebooks, then Sphinx.

    python book/build.py                                  # figures/ -> book/_build/html
    python book/build.py --executed notebooks/_build/laptop   # executed copies from elsewhere (development)

No kernel runs. Each notebook page is the executed copy published to figures/<paper>/<name>.ipynb
(memvae_lib/publish.py), with the paper's figure or table (book/catalogue.yaml, linked on arXiv)
put beside ours under its title. A notebook without an executed copy still gets its page: the
clean source, headed by a warning naming the missing file and the command that makes it; the build
lists such pages and succeeds (`--require-executed` makes them an error instead). The landing page's
claims table is `memvae_lib.results.build_claims_table(figures/)`, and docs/protocols.md is the
protocols page. Sphinx warnings fail the build: a broken link or image is never published.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import yaml

from memvae_lib.batch import discover_notebooks
from memvae_lib.files import COMMITTED_PROFILES, PROFILE_FOLDERS, project_root
from memvae_lib.papers import all_papers
from memvae_lib.results import CLAIMS_END, CLAIMS_START, build_claims_table

BOOK = Path(__file__).resolve().parent
PAPERS = {p.KEY: p for p in all_papers()}  # every paper package: a third one needs no edit here
BOOK_MODULES = ("sphinx", "myst_nb", "sphinx_book_theme", "jupyter_server_mathjax")  # the 'book' extra
MISSING_CLASS = "memvae-missing-executed-copy"  # the placeholder's admonition, found by the browser test


def catalogue() -> dict[str, dict[str, dict]]:
    """{paper: {name: {items, section, caption}}} from book/catalogue.yaml, in the book's order."""
    return yaml.safe_load((BOOK / "catalogue.yaml").read_text())


def check_catalogue(notebooks: dict[str, Path], listed: dict) -> None:
    """Every notebook source has a place in the book, and the book lists no notebook that is gone."""
    names = {f"{paper}/{name}" for paper, entries in listed.items() for name in entries}
    if missing := sorted(set(notebooks) - names):
        raise SystemExit(f"book/catalogue.yaml does not list {', '.join(missing)}: add each with its paper items")
    if gone := sorted(names - set(notebooks)):
        raise SystemExit(f"book/catalogue.yaml lists {', '.join(gone)}, which notebooks/ no longer has")


def beside_cell(paper: str, name: str, entry: dict, profile: str | None, has_png: bool, has_paper_png: bool = False):
    """Markdown: the paper's figure or table, linked on arXiv, beside our figure (and beside that our
    figure at the paper profile, `<name>_paper.png`, when figures/paper-profile/ has one)."""
    module = PAPERS[paper]
    arxiv_id = module.ARXIV.rsplit("/", 1)[-1]
    ours = f"![our {name} figure]({name}.png)" if has_png else "_no figure yet_"
    at = f"ours, at profile **{profile}**" if profile else "ours"
    heads, cells = [at], [ours]
    if has_paper_png:
        heads.append("ours, at profile **paper** (its results JSON is in `figures/paper-profile/`)")
        cells.append(f"![our {name} figure at the paper profile]({name}_paper.png)")
    text = (f"| the paper: {entry['items']} ({entry['section']}) | {' | '.join(heads)} |\n"
            f"| --- |{' --- |' * len(heads)}\n"
            f"| *{entry['caption']}* {module.CITATION}: "
            f"[{entry['items']} in the paper (arXiv:{arxiv_id}, PDF)](https://arxiv.org/pdf/{arxiv_id}), "
            f"[abstract]({module.ARXIV}). | {' | '.join(cells)} |\n")
    return nbformat.v4.new_markdown_cell(text, id="memvae-paper-beside-ours")


def missing_cell(paper: str, name: str):
    """The placeholder's warning: which file is missing and the command that makes it."""
    text = (f":::{{warning}}\n:class: {MISSING_CLASS}\n"
            f"No executed copy: `figures/{paper}/{name}.ipynb` is missing, so this page shows the "
            f"notebook's code without outputs. Make it with `memvae figures --profile laptop --only "
            f"{paper}/{name}` (or `make figures ONLY={paper}/{name}`), which publishes the executed copy "
            f"to `figures/{paper}/`; then run `make book` again.\n:::\n")
    return nbformat.v4.new_markdown_cell(text, id="memvae-missing-executed-copy")


def stage_notebook(paper: str, name: str, entry: dict, source: Path, executed: Path,
                   figures: Path, dest: Path) -> bool:
    """Write the page's notebook (executed copy, else the clean source) to dest; True if executed."""
    found = executed.is_file()
    nb = nbformat.read(executed if found else source, as_version=4)
    profile = (nb.metadata.get("papermill") or {}).get("parameters", {}).get("profile") if found else None
    png = figures / paper / f"{name}.png"
    paper_png = figures / PROFILE_FOLDERS["paper"] / paper / f"{name}.png"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if png.is_file():
        shutil.copyfile(png, dest.with_suffix(".png"))
    if paper_png.is_file():
        shutil.copyfile(paper_png, dest.with_name(f"{name}_paper.png"))
    # under the title (the first markdown cell with a level-1 heading), so the page keeps its title
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), -1)
    extra = [beside_cell(paper, name, entry, profile, png.is_file(), paper_png.is_file())]
    if not found:
        extra.insert(0, missing_cell(paper, name))
    nb.cells[title + 1:title + 1] = extra
    nbformat.write(nb, dest)
    return found


def stage(src: Path, figures: Path, executed_dir: Path, root: Path) -> list[str]:
    """Lay out the Sphinx source folder; the notebooks that have no executed copy."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(BOOK / "pages", src)
    shutil.copytree(BOOK / "diagrams", src / "diagrams")
    listed = catalogue()
    check_catalogue(discover_notebooks(root / "notebooks"), listed)

    index = (src / "index.md").read_text()
    start, end = index.index(CLAIMS_START) + len(CLAIMS_START), index.index(CLAIMS_END)
    (src / "index.md").write_text(index[:start] + "\n" + build_claims_table(figures) + "\n" + index[end:])

    protocols = (root / "docs" / "protocols.md").read_text()
    intro = (BOOK / "protocols_intro.md").read_text()
    first, rest = protocols.split("\n", 1)
    if not first.startswith("# "):  # its title is replaced by book/protocols_intro.md's
        raise SystemExit(f"docs/protocols.md should open with its '# ' title, not {first[:60]!r}")
    (src / "docs").mkdir()
    (src / "docs" / "protocols.md").write_text(intro + "\n" + rest)

    missing = []
    for paper, entries in listed.items():
        for name in entries:
            ok = stage_notebook(paper, name, entries[name], root / "notebooks" / paper / f"{name}.ipynb",
                                executed_dir / paper / f"{name}.ipynb", figures,
                                src / "notebooks" / paper / f"{name}.ipynb")
            if not ok:
                missing.append(f"{paper}/{name}")
        toc = "\n".join(f"notebooks/{paper}/{name}" for name in entries)
        with open(src / f"{paper}.md", "a") as page:
            page.write(f"\n```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n")
    return missing


def main(argv=None) -> int:
    root = project_root(BOOK)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, default=root / "figures",
                        help="results JSON and figures (default: figures/)")
    parser.add_argument("--executed", type=Path, help="executed notebooks <paper>/<name>.ipynb (default: --figures)")
    parser.add_argument("--out", type=Path, default=BOOK / "_build", help="default: book/_build (html/ inside)")
    parser.add_argument("--require-executed", action="store_true", help="fail when a notebook has no executed copy")
    parser.add_argument("--jobs", default="auto", help="sphinx-build -j")
    args = parser.parse_args(argv)
    absent = [m for m in BOOK_MODULES if importlib.util.find_spec(m) is None]
    if absent:  # before staging: otherwise Sphinx's own failure reads like a broken page
        print(f"book: {', '.join(absent)} not installed in {sys.prefix}: pip install -e '.[book]' "
              "(make setup does)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    src, html = args.out / "src", args.out / "html"
    missing = stage(src, args.figures, args.executed or args.figures, root)
    if missing:
        where = args.executed or args.figures
        print(f"book: {len(missing)} notebook(s) without an executed copy in {where} (placeholder pages): "
              f"{', '.join(missing)}; make them with `memvae figures --profile "
              f"{COMMITTED_PROFILES[0]} --only NAME`", file=sys.stderr)
        if args.require_executed:
            return 1
    if html.exists():
        shutil.rmtree(html)  # a page removed from the book must not survive from an earlier build
    warnings = args.out / "sphinx-warnings.txt"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(args.jobs), "-c", str(BOOK),
           "-w", str(warnings), "--keep-going", "-W", str(src), str(html)]
    done = subprocess.run(cmd)
    if done.returncode != 0:
        print(f"book: sphinx-build failed (warnings are errors; all of them in {warnings})", file=sys.stderr)
        return done.returncode
    print(f"book: {html / 'index.html'} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
