"""The book (`make book`), read in headless Chromium: every page loads, every image and internal link
resolves, equations render, and the landing page's claims table is the results JSON's.

The session builds the book once from the committed executed notebooks and results (figures/), as
`make book` does (about 20 s; no kernel runs), into book/_build/, serves it on 127.0.0.1 and opens
every page. Screenshots go to book/_build/screenshots/. A copy of the site holding
fixtures/broken_book_page.html (a missing image, a broken link and anchor, raw TeX, an image from
another site) and missing one real figure proves that the checker reports each fault. A second,
scratch build from results with judged claims checks the claims table whatever figures/ holds.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from memvae_lib.claims import VERDICTS, count_verdicts
from memvae_lib.files import COMMITTED_PROFILES
from memvae_lib.results import NO_CLAIMS, scoreboard_results

REPO = Path(__file__).resolve().parents[2]
BOOK_BUILD = REPO / "book" / "_build"
SCREENSHOTS = BOOK_BUILD / "screenshots"
FIGURES = REPO / "figures"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAGE_TIMEOUT_MS = 60_000
# TeX that MathJax did not typeset: \( \) \[ \] delimiters, or $...$ that the parser left as text
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$[^$\s][^$\n]{0,200}\$")


def _build_module():
    spec = importlib.util.spec_from_file_location("book_build", REPO / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def book_html() -> Path:
    """`make book`'s build (book/build.py) into book/_build/html; fails the session when it fails."""
    for module in _build_module().BOOK_MODULES:
        if importlib.util.find_spec(module) is None:
            what = f"{module} is not installed: pip install -e '.[book]' (make setup does)"
            if os.environ.get("MEMVAE_BROWSER_REQUIRED") == "1":  # as the conftest's fixtures do
                pytest.fail(f"{what} (MEMVAE_BROWSER_REQUIRED=1)", pytrace=False)
            pytest.skip(what)
    done = subprocess.run([sys.executable, str(REPO / "book" / "build.py"), "--out", str(BOOK_BUILD)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"book build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return BOOK_BUILD / "html"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would bury the test's report
        pass


@contextmanager
def serve(folder: Path):
    """http://127.0.0.1:<free port>/ serving `folder` (MathJax's fonts need http, not file://)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageReport:
    page: str
    errors: list[str] = field(default_factory=list)
    math: int = 0  # typeset equations on the page


def pages(html: Path) -> list[str]:
    """Every HTML page of the site, relative to its root (not the theme's or Sphinx's own files)."""
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(html).parts))


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))


# "done" once MathJax 2 has typeset the page; "timeout" when it never finishes (a font or an
# extension it could not load stops it without an error on the page)
MATHJAX_TIMEOUT_MS = 30_000
WAIT_FOR_MATHJAX = """ms => new Promise(resolve => {
  if (!window.MathJax || !window.MathJax.Hub) { resolve("none"); return; }
  setTimeout(() => resolve("timeout"), ms);
  // once started, the page's typesetting is on the Hub's queue: a callback queued after it runs last
  const ready = () => MathJax.isReady ? MathJax.Hub.Queue(() => resolve("done")) : setTimeout(ready, 100);
  ready();
})"""
LOAD_IMAGES = """() => Promise.all([...document.images].map(img => {
  img.loading = "eager";
  return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; });
}))"""
PAGE_FACTS = """() => {
  const main = (document.querySelector("main") || document.body).cloneNode(true);
  main.querySelectorAll("pre, code, script, style, .highlight, .MathJax_Preview").forEach(e => e.remove());
  return {
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    text: main.textContent,
    mathSource: document.querySelectorAll("span.math, div.math").length,
    typeset: document.querySelectorAll(".MathJax, .MathJax_Display, .MathJax_SVG, mjx-container").length,
    mathErrors: [...document.querySelectorAll(".merror, .MathJax_Error")].map(e => e.textContent.slice(0, 80)),
  };
}"""


def check_page(browser, base: str, html: Path, page: str, screenshot: Path | None = None) -> PageReport:
    """Open one page and report what a reader would see broken."""
    report = PageReport(page)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    failed: list[str] = []
    tab.on("pageerror", lambda e: report.errors.append(f"JavaScript error: {e}"))
    tab.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    tab.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
    # the book must render offline (a reading group's laptop, CI): nothing fetched from another site
    tab.on("request", lambda r: report.errors.append(f"fetched from another site: {r.url}")
           if r.url.startswith(("http:", "https:")) and not r.url.startswith(base) else None)
    try:
        response = tab.goto(base + page, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        if response is None or not response.ok:
            report.errors.append(f"page did not load: HTTP {response.status if response else '?'}")
            return report
        tab.evaluate(LOAD_IMAGES)
        if tab.evaluate(WAIT_FOR_MATHJAX, MATHJAX_TIMEOUT_MS) == "timeout":
            report.errors.append(f"MathJax did not finish typesetting in {MATHJAX_TIMEOUT_MS // 1000} s")
        facts = tab.evaluate(PAGE_FACTS)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(screenshot), full_page=False)
    finally:
        context.close()
    report.errors += [f"request failed: {f}" for f in failed if f.startswith(base)]
    report.errors += [f"image not shown: {i['src']}" for i in facts["images"] if not i["ok"]]
    for href in facts["links"]:
        if not href.startswith(base):
            continue  # another site (arXiv): not fetched, the machine is offline
        parts = urlsplit(href)
        target = html / unquote(parts.path[len(urlsplit(base).path):])
        if target.is_dir() or parts.path.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            report.errors.append(f"broken link: {href}")
        elif parts.fragment and target.suffix == ".html" and parts.fragment not in _ids(target):
            report.errors.append(f"broken anchor: {href}")
    report.errors += [f"raw TeX in the text: {m.group(0)[:60]!r}" for m in RAW_MATH.finditer(facts["text"])]
    report.errors += [f"MathJax error: {e}" for e in facts["mathErrors"]]
    if facts["mathSource"] and not facts["typeset"]:
        report.errors.append(f"{facts['mathSource']} equation(s) not typeset by MathJax")
    report.math = facts["typeset"]
    return report


def _screenshot_name(page: str) -> Path:
    return SCREENSHOTS / (page.removesuffix(".html").replace("/", "_") + ".png")


def test_every_page_loads_with_its_images_links_and_equations(browser, book_html):
    found = pages(book_html)
    notebook_pages = [p for p in found if p.startswith("notebooks/")]
    assert len(notebook_pages) == 17, f"one page per notebook, found {notebook_pages}"
    assert {"index.html", "mem.html", "evae.html", "docs/protocols.html"} <= set(found)
    with serve(book_html) as base:
        reports = [check_page(browser, base, book_html, p, _screenshot_name(p)) for p in found]
    broken = {r.page: r.errors for r in reports if r.errors}
    assert not broken, json.dumps(broken, indent=1)[:6000]
    math = {r.page: r.math for r in reports}
    for page in ("mem.html", "evae.html"):  # the model pages are mostly equations
        assert math[page] >= 8, f"{page}: only {math[page]} typeset equation(s)"
    assert sum(math.values()) > 40
    assert len(list(SCREENSHOTS.glob("*.png"))) >= len(found)


NOTEBOOK_PAGE_FACTS = """() => ({
  warning: [...document.querySelectorAll(".memvae-missing-executed-copy")].map(e => e.textContent).join(" "),
  outputs: document.querySelectorAll(".cell_output").length,
  outputImages: [...document.querySelectorAll(".cell_output img")].filter(i => i.complete && i.naturalWidth > 0).length,
  paperLink: [...document.querySelectorAll("a[href]")].some(a => a.href.startsWith("https://arxiv.org/pdf/")),
})"""


def test_each_notebook_page_shows_its_executed_outputs_or_says_which_copy_is_missing(browser, book_html):
    """A notebook with an executed copy under figures/ shows its outputs (figures drawn); one without
    shows the clean source under a warning naming the missing file. Both link the paper on arXiv."""
    found = [p for p in pages(book_html) if p.startswith("notebooks/")]
    with serve(book_html) as base:
        context = browser.new_context()
        tab = context.new_page()
        facts = {}
        for page in found:
            tab.goto(base + page, wait_until="load", timeout=PAGE_TIMEOUT_MS)
            tab.evaluate(LOAD_IMAGES)
            facts[page] = tab.evaluate(NOTEBOOK_PAGE_FACTS)
        context.close()
    for page, f in facts.items():
        name = page.removeprefix("notebooks/").removesuffix(".html")
        assert f["paperLink"], f"{page}: no link to the paper on arXiv"
        if (FIGURES / f"{name}.ipynb").is_file():
            assert not f["warning"] and f["outputs"] > 0 and f["outputImages"] > 0, (page, f)
        else:
            assert f"figures/{name}.ipynb is missing" in f["warning"], (page, f)
            assert f"--only {name}" in f["warning"] and f["outputs"] == 0, (page, f)


def _plain(text: str) -> str:
    """Markdown emphasis and code marks dropped, whitespace collapsed: a statement as a reader reads it."""
    return " ".join(re.sub(r"[*_`\\]", "", text).split())


def check_claims_table(browser, html: Path, figures: Path):
    """The landing page of the book at `html` shows, row by row, the claims of the laptop and paper
    results JSON under `figures`, each linked to its notebook's page, and the verdict counts."""
    shown, _ = scoreboard_results(figures)
    expected = [(_plain(c["statement"]), c["section"], c["verdict"], d["profile"], name)
                for name, d in sorted(((d["notebook"], d) for d in shown.values()), key=lambda nd: nd[0])
                for c in d.get("claims", [])]
    with serve(html) as base:
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(base + "index.html", wait_until="load", timeout=PAGE_TIMEOUT_MS)
        rows = tab.evaluate("""() => {
          const table = [...document.querySelectorAll("table")].find(t =>
            (t.querySelector("thead th") || {}).textContent?.trim() === "claim");
          if (!table) return null;
          return [...table.querySelectorAll("tbody tr")].map(tr => {
            const cells = [...tr.querySelectorAll("td")];
            const link = cells[6].querySelector("a");
            return {cells: cells.map(c => c.textContent.trim()), href: link ? link.getAttribute("href") : null};
          });
        }""")
        text = tab.evaluate("() => document.querySelector('main').textContent")
        context.close()
    if not expected:
        assert rows is None and " ".join(NO_CLAIMS.replace("_", "").replace("`", "").split()) in " ".join(text.split())
        return
    assert rows is not None, "no claims table on the landing page"
    got = [(_plain(r["cells"][0]), r["cells"][1], r["cells"][4], r["cells"][5], r["cells"][6]) for r in rows]
    assert got == expected
    for row, (*_, name) in zip(rows, expected):
        assert row["href"] == f"notebooks/{name}.html", row  # the claim's notebook page in this book
    claims = [c for _, d in sorted(((d["notebook"], d) for d in shown.values()), key=lambda nd: nd[0])
              for c in d.get("claims", [])]
    for row, c in zip(rows, claims):  # our measured effect as the JSON holds it (to 2 decimals), or none
        shown_number = re.match(r"[-+]?\d+(?:\.\d+)?", row["cells"][3])
        if c["ours"] is None:
            assert row["cells"][3] == "-", row
        else:
            assert shown_number and abs(float(shown_number.group(0)) - c["ours"]) <= 0.005 + 1e-9, (row, c["ours"])
    for profile in COMMITTED_PROFILES:
        claims = [c for d in shown.values() if d["profile"] == profile for c in d.get("claims", [])]
        if claims:
            n = count_verdicts(claims)
            line = f"{profile}: " + ", ".join(f"{n[v]} {v}" for v in VERDICTS) + f" ({len(claims)} claims)"
            assert line in " ".join(text.split())


def test_the_landing_page_claims_table_is_the_committed_results_json(browser, book_html):
    check_claims_table(browser, book_html, FIGURES)


def _claim(verdict_shows: bool, n: int):
    from memvae_lib.claims import estimate, exceeds, not_measurable

    who = dict(paper="mem", section="Sec. 5.1, Table 1")
    if verdict_shows:
        return exceeds(estimate([0.91, 0.85], test_se=0.05, floor=0.1), id=f"mem/t/gain-{n}",
                       statement=f"MEM-VAE *beats* VAE on MNIST (k={n})", paper_effect=1.26, unit="nats", **who)
    return not_measurable(id=f"mem/t/omniglot-{n}", statement="MEM-VAE beats VAE on OMNIGLOT | at most",
                          reason="not trained at this profile", paper_value=0.4, **who)


def test_the_claims_table_shows_judged_claims_of_both_profiles(browser, tmp_path):
    """Whatever figures/ holds today: results with claims at laptop and at paper (and a smoke one,
    left out) build a landing page whose table is theirs, with the counts per profile."""
    from memvae_lib.results import Row, write_results

    figures = tmp_path / "figures"
    write_results("mem/table1_log_likelihood", "laptop", [Row("q", "m", 1.0)], device="cpu", protocol={},
                  claims=[_claim(True, 1), _claim(False, 2)], figures_dir=figures)
    paper = figures / "paper-profile"  # where a paper run writes (files.PROFILE_FOLDERS)
    write_results("evae/table2_iw_log_likelihood", "paper", [Row("q", "m", 1.0)], device="cpu", protocol={},
                  claims=[_claim(True, 3)], figures_dir=paper)
    write_results("mem/table1_log_likelihood", "paper", [Row("q", "m", 1.0)], device="cpu", protocol={},
                  claims=[_claim(False, 5)], figures_dir=paper)
    write_results("mem/fig4_random_generation", "smoke", [Row("q", "m", 1.0)], device="cpu", protocol={},
                  claims=[_claim(True, 4)], figures_dir=figures)
    done = subprocess.run([sys.executable, str(REPO / "book" / "build.py"), "--figures", str(figures),
                           "--out", str(tmp_path / "book")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"book build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert len(scoreboard_results(figures)[0]) == 3
    check_claims_table(browser, tmp_path / "book" / "html", figures)


def test_the_checker_reports_a_broken_fixture_page_and_a_deleted_figure(browser, book_html, tmp_path):
    """A copy of the built site with tests/browser/fixtures/broken_book_page.html put into a copy of
    its landing page, and one figure of a notebook page deleted: each fault is reported, on the page
    where it is, and the untouched pages of the same copy still pass."""
    site = tmp_path / "site"
    shutil.copytree(book_html, site)
    # a figure the site really shows (a model page's diagram, or a notebook's figure), deleted
    page, image = next((p, m.group(1)) for p in pages(site)
                       if (m := re.search(r'<img[^>]+src="(?:\.\./)*(_images/[^"]+)"', (site / p).read_text())))
    (site / image).unlink()
    index = (site / "index.html").read_text()
    assert index.count("</main>") == 1
    (site / "broken.html").write_text(index.replace("</main>", FIXTURES.joinpath("broken_book_page.html").read_text()
                                                    + "</main>"))
    with serve(site) as base:
        broken = check_page(browser, base, site, "broken.html")
        missing = check_page(browser, base, site, page)
        intact = check_page(browser, base, site, "index.html")
    expected = [f"image not shown: {base}_images/no-such-figure.png", f"broken link: {base}mem-gone.html",
                f"broken anchor: {base}evae.html#no-such-section", "raw TeX in the text: '$x^2 + y$'",
                "fetched from another site: https://example.org/figure.png"]
    assert [e for e in expected if e not in broken.errors] == [], broken.errors
    # nothing else: the fixture's images also fail as requests, and the rest of the page is sound
    assert [e for e in broken.errors if e not in expected
            and "no-such-figure.png" not in e and "example.org" not in e] == [], broken.errors
    assert any(e.startswith("image not shown:") and image in e for e in missing.errors), missing.errors
    assert intact.errors == [] and intact.math > 0, intact.errors


def test_a_notebook_without_an_executed_copy_gets_a_placeholder_naming_the_command(tmp_path):
    """Staging only (no Sphinx): the clean source, headed by the missing file and the command."""
    build = _build_module()
    executed = tmp_path / "executed"
    source = REPO / "notebooks" / "mem" / "table1_log_likelihood.ipynb"
    done = nbformat.read(source, as_version=4)
    done.metadata["papermill"] = {"parameters": {"profile": "laptop"}}
    (executed / "mem").mkdir(parents=True)
    nbformat.write(done, executed / "mem" / "table1_log_likelihood.ipynb")
    missing = build.stage(tmp_path / "src", FIGURES, executed, REPO)
    assert "mem/table1_log_likelihood" not in missing and "mem/fig3_slot_preferences" in missing
    assert len(missing) == 16
    placeholder = nbformat.read(tmp_path / "src" / "notebooks" / "mem" / "fig3_slot_preferences.ipynb", as_version=4)
    text = "\n".join(c.source for c in placeholder.cells if c.cell_type == "markdown")
    assert "`figures/mem/fig3_slot_preferences.ipynb` is missing" in text
    assert "memvae figures --profile laptop --only mem/fig3_slot_preferences" in text
    staged = nbformat.read(tmp_path / "src" / "notebooks" / "mem" / "table1_log_likelihood.ipynb", as_version=4)
    beside = next(c for c in staged.cells if c.get("id") == "memvae-paper-beside-ours")
    assert "https://arxiv.org/pdf/1602.07416" in beside.source and "profile **laptop**" in beside.source
    assert "is missing" not in "\n".join(c.source for c in staged.cells if c.cell_type == "markdown")
    # the paper's item sits right under the notebook's title
    titles = [i for i, c in enumerate(staged.cells) if c.cell_type == "markdown" and c.source.startswith("# ")]
    assert staged.cells[titles[0] + 1].get("id") == "memvae-paper-beside-ours"


def test_a_paper_profile_figure_is_shown_beside_the_laptop_one(tmp_path):
    """Staging only (no Sphinx): figures/paper-profile/<paper>/<name>.png, when there, gets its own
    column beside our laptop figure, and its file beside the page; a notebook without one gets none."""
    build = _build_module()
    figures = tmp_path / "figures"
    png = (FIGURES / "evae" / "fig1_kl_vs_activity.png").read_bytes()
    for folder in (figures / "evae", figures / "paper-profile" / "evae"):
        folder.mkdir(parents=True)
        (folder / "fig1_kl_vs_activity.png").write_bytes(png)
    build.stage(tmp_path / "src", figures, figures, REPO)
    pages = tmp_path / "src" / "notebooks" / "evae"
    assert (pages / "fig1_kl_vs_activity_paper.png").read_bytes() == png
    beside = [c for c in nbformat.read(pages / "fig1_kl_vs_activity.ipynb", as_version=4).cells
              if c.get("id") == "memvae-paper-beside-ours"][0].source
    assert "profile **paper**" in beside and "(fig1_kl_vs_activity_paper.png)" in beside
    assert beside.splitlines()[1] == "| --- | --- | --- |"
    other = [c for c in nbformat.read(pages / "fig2_kl_weight_sweep.ipynb", as_version=4).cells
             if c.get("id") == "memvae-paper-beside-ours"][0].source
    assert "paper-profile" not in other and not (pages / "fig2_kl_weight_sweep_paper.png").exists()


def test_the_book_lists_every_notebook_and_no_other(tmp_path):
    build = _build_module()
    listed = build.catalogue()
    from memvae_lib.batch import discover_notebooks

    notebooks = discover_notebooks(REPO / "notebooks")
    build.check_catalogue(notebooks, listed)  # the repository as it is: consistent
    with pytest.raises(SystemExit, match="does not list mem/new_figure"):
        build.check_catalogue({**notebooks, "mem/new_figure": tmp_path / "x.ipynb"}, listed)
    with pytest.raises(SystemExit, match="lists mem/table1_log_likelihood, which notebooks/ no longer has"):
        build.check_catalogue({k: v for k, v in notebooks.items() if k != "mem/table1_log_likelihood"}, listed)
