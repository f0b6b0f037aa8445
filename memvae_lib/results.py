"""Results JSON (one file per notebook) and the generated tables built from it.

Every notebook ends by writing `figures/<paper>/<name>.json` through `write_results` and printing
`format_table(rows)`; the README's claims table and gallery and docs/scoreboard.md's scoreboard are
regenerated from those files by `update_page` (`memvae scoreboard`), never typed by hand. Only the laptop and paper profiles write to figures/ (and reach the README);
smoke goes to notebooks/_build/smoke-figures (`default_figures_dir`). The contract (see the README,
"Results"):

    {"notebook": "mem/table1_log_likelihood", "profile": "laptop", "device": "cpu",
     "protocol": {"binarisation": "dynamic", "k_eval": 5000},
     "rows": [{"quantity": "test_log_likelihood", "dataset": "mnist", "model": "MEM-VAE",
               "ours": -84.52, "paper": -84.41, "gap": -0.11, "unit": "nats"}],
     "claims": [{"id": "mem/table1/mnist-gain-k1", "verdict": "shows", ...}]}

"claims" holds the notebook's verdicts on the papers' claims (memvae_lib/claims.py); files written
before claims existed have no such key and count as judging none.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .claims import VERDICTS, Claim, count_verdicts
from .files import COMMITTED_PROFILES, PROFILE_FOLDERS, atomic_write, default_figures_dir

SCOREBOARD_START = "<!-- scoreboard:start -->"
SCOREBOARD_END = "<!-- scoreboard:end -->"
GALLERY_START = "<!-- gallery:start -->"
GALLERY_END = "<!-- gallery:end -->"
CLAIMS_START = "<!-- claims:start -->"
CLAIMS_END = "<!-- claims:end -->"
NO_CLAIMS = "_No claims judged yet: run `make figures`._"
REQUIRED_KEYS = ("notebook", "profile", "device", "protocol", "rows")
REQUIRED_ROW_KEYS = ("quantity", "model", "ours")
JSON_DECIMALS = 4  # stored precision; tables print fewer


@dataclass
class Row:
    """One reported number. `gap` = ours - paper, filled in when both are known."""

    quantity: str
    model: str
    ours: float | int | None
    dataset: str | None = None
    paper: float | int | None = None
    gap: float | None = None
    unit: str = "nats"
    note: str = ""

    def __post_init__(self):
        # numpy / torch scalars become Python numbers, so tables and JSON treat them alike
        self.ours, self.paper, self.gap = (_plain(v) for v in (self.ours, self.paper, self.gap))
        if self.gap is None and _is_number(self.ours) and _is_number(self.paper):
            self.gap = self.ours - self.paper

    def to_json(self) -> dict:
        """The row as stored: floats rounded, empty fields left out."""
        out = {}
        for key, value in asdict(self).items():
            if key != "ours" and (value is None or (key == "note" and not value)):
                continue  # 'ours' stays, as null when a value could not be computed
            out[key] = _round(value)
        return out


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _plain(x):
    return x.item() if hasattr(x, "item") and callable(x.item) else x


def _round(x, decimals: int = JSON_DECIMALS):
    if isinstance(x, float):
        return round(x, decimals) if math.isfinite(x) else None  # JSON has no NaN
    if isinstance(x, dict):
        return {k: _round(v, decimals) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v, decimals) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy / torch scalars
        return _round(_plain(x), decimals)
    return x


def _as_row(row) -> Row:
    if isinstance(row, Row):
        return row
    known = {f.name for f in fields(Row)}
    unknown = set(row) - known
    if unknown:
        raise ValueError(f"unknown row keys {sorted(unknown)}; a row has {sorted(known)}")
    return Row(**row)


def _as_claims(claims) -> list:
    """Claim objects (dicts are validated by Claim.from_json), ids unique within one notebook."""
    out = [c if isinstance(c, Claim) else Claim.from_json(c) for c in claims]
    _unique_ids([c.id for c in out])
    return out


def _unique_ids(ids: list[str]) -> None:
    if dup := sorted({i for i in ids if ids.count(i) > 1}):
        raise ValueError(f"claim id {dup[0]!r} appears {ids.count(dup[0])} times: give each claim its own id")


def write_results(notebook: str, profile: str, rows, *, device: str, protocol: dict,
                  figures_dir: str | os.PathLike | None = None, claims=()) -> Path:
    """Write figures/<paper>/<name>.json for `notebook` ('mem/table1_log_likelihood'), with its
    `claims` (Claim objects or their dicts) after the rows.

    `figures_dir` defaults to `default_figures_dir(profile)`: $MEMVAE_FIGURES_DIR, else
    <root>/figures at laptop, <root>/figures/paper-profile at paper, else a scratch folder under
    notebooks/_build. Written
    atomically: a run killed mid-write leaves the previous file, never a truncated one.
    """
    assert notebook.count("/") == 1, f"notebook should be '<paper>/<name>', got {notebook!r}"
    base = Path(figures_dir) if figures_dir is not None else default_figures_dir(profile)
    path = base / f"{notebook}.json"
    payload = {
        "notebook": notebook,
        "profile": profile,
        "device": str(device),
        "protocol": _round(dict(protocol)),
        "rows": [_as_row(r).to_json() for r in rows],
        "claims": [c.to_json() for c in _as_claims(claims)],
    }
    text = json.dumps(payload, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(text.encode()))
    return path


def read_results(path: str | os.PathLike) -> dict:
    """Load one results JSON; a one-line ValueError naming the file, what is wrong with it and the
    notebook to rerun (its writer) when it is not valid JSON or misses a key."""
    path = Path(path)
    fix = f"; rerun its notebook to rewrite it: memvae figures --only {path.parent.name}/{path.stem}"
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # e.g. truncated by a killed run
        raise ValueError(f"{path}: not valid JSON ({e}){fix}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object{fix}")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ValueError(f"{path}: missing required key {key!r}{fix}")
    if not isinstance(data["rows"], list):
        raise ValueError(f"{path}: 'rows' should be a list{fix}")
    for i, row in enumerate(data["rows"]):
        for key in REQUIRED_ROW_KEYS:
            if not isinstance(row, dict) or key not in row:
                raise ValueError(f"{path}: rows[{i}] missing required key {key!r}{fix}")
    if "claims" in data:  # absent from files written before claims existed: none judged
        if not isinstance(data["claims"], list):
            raise ValueError(f"{path}: 'claims' should be a list{fix}")
        for i, claim in enumerate(data["claims"]):
            try:
                Claim.from_json(claim)
            except ValueError as e:
                raise ValueError(f"{path}: claims[{i}]: {e}{fix}") from e
        try:
            _unique_ids([c["id"] for c in data["claims"]])
        except ValueError as e:
            raise ValueError(f"{path}: {e}{fix}") from e
    return data


def _fmt(value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text  # no "-0.00"


def format_table(rows, digits: int = 2) -> str:
    """Paper vs ours as a fixed-width text table, numbers rounded to `digits` decimals.

    This printed table is what nbval compares, so it contains nothing run-specific.
    """
    rows = [_as_row(r) for r in rows]
    header = ["quantity", "dataset", "model", "paper", "ours", "gap", "unit"]
    with_note = any(r.note for r in rows)
    if with_note:
        header.append("note")
    body = []
    for r in rows:
        cells = [r.quantity, r.dataset or "-", r.model, _fmt(r.paper, digits), _fmt(r.ours, digits),
                 _fmt(r.gap, digits), r.unit]
        body.append(cells + [r.note] if with_note else cells)
    numeric = {"paper", "ours", "gap"}
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]

    def line(cells):
        parts = [c.rjust(w) if h in numeric else c.ljust(w) for h, c, w in zip(header, cells, widths)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(c) for c in body)])


def results_files(figures_dir: str | os.PathLike) -> list[Path]:
    """Every results JSON under `figures_dir`: <paper>/<name>.json (laptop, or any profile written
    with an explicit MEMVAE_FIGURES_DIR), then paper-profile/<paper>/<name>.json (files.PROFILE_FOLDERS)."""
    figures_dir = Path(figures_dir)
    found = sorted(figures_dir.glob("*/*.json"))
    for folder in (f for f in PROFILE_FOLDERS.values() if f):
        found += sorted((figures_dir / folder).glob("*/*.json"))
    return found


def scoreboard_results(figures_dir: str | os.PathLike) -> tuple[dict[Path, dict], dict[Path, str]]:
    """({path: results} the scoreboard shows, {path: profile} it leaves out) for every results JSON
    under `figures_dir`. Only laptop and paper results count: a smoke run's JSON copied (or written
    with an explicit MEMVAE_FIGURES_DIR) into figures/ would otherwise put toy numbers in the README.
    Raises read_results' ValueError for a file that cannot be read."""
    shown, ignored = {}, {}
    for path in results_files(figures_dir):
        data = read_results(path)
        if data["profile"] in COMMITTED_PROFILES:
            shown[path] = data
        else:
            ignored[path] = data["profile"]
    return shown, ignored


def build_scoreboard(figures_dir: str | os.PathLike, link_prefix: str = "") -> str:
    """A markdown table of every row with a paper value, from every laptop or paper results JSON
    under `figures_dir`; rows without one (our extra diagnostics) stay in the JSON, linked below
    (`link_prefix` + figures/...: the way from the page's folder to the project root)."""
    shown, _ = scoreboard_results(figures_dir)
    if not shown:
        return "_No results yet: run `make figures`._"
    lines = ["| notebook | quantity | dataset | model | paper | ours | gap | unit | profile |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- |"]
    for data in shown.values():
        for row in data["rows"]:
            if row.get("paper") is None:
                continue
            cells = [data["notebook"], row["quantity"], row.get("dataset") or "-", row["model"],
                     _fmt(row.get("paper"), 2), _fmt(row["ours"], 2), _fmt(row.get("gap"), 2),
                     row.get("unit", ""), data["profile"]]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    base = Path(figures_dir).parent
    links = ", ".join(f"[{p.parent.name}/{p.stem}{'' if d['profile'] == 'laptop' else ' (' + d['profile'] + ')'}]"
                      f"({link_prefix}{p.relative_to(base).as_posix()})" for p, d in shown.items())
    return "\n".join(lines) + f"\n\nEvery number of every notebook, with its protocol: {links}."


def build_gallery(figures_dir: str | os.PathLike, link_prefix: str = "") -> str:
    """One image per notebook (the PNG named after its results JSON in figures/<paper>/: laptop, the
    default profile; the paper profile's are in the claims table and the book), linked to the
    notebook's executed copy beside it, else to its source (`link_prefix`: the way from the page's
    folder to the project root)."""
    figures_dir = Path(figures_dir)
    shown, _ = scoreboard_results(figures_dir)
    cells = []
    for png in sorted(figures_dir.glob("*/*.png")):
        if figures_dir / png.parent.name / f"{png.stem}.json" not in shown:
            continue  # secondary figures of a notebook, or a notebook run at another profile
        name = f"{png.parent.name}/{png.stem}"
        # the executed copy (outputs kept, rendered by the repository's web page) when it is there
        notebook = f"{figures_dir.name}/{name}" if png.with_suffix(".ipynb").is_file() else f"notebooks/{name}"
        cells.append(f"[**{name}**]({link_prefix}{notebook}.ipynb)<br>"
                     f"<img src=\"{link_prefix}{figures_dir.name}/{name}.png\" width=\"400\">")
    if not cells:
        return "_No figures yet: run `make figures`._"
    rows = ["| | |", "| --- | --- |"]
    for i in range(0, len(cells), 2):
        pair = cells[i:i + 2] + [""] * (2 - len(cells[i:i + 2]))
        rows.append("| " + " | ".join(pair) + " |")
    return "\n".join(rows)


def _signed(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-" if value is None else str(value)
    text = _fmt(value, 2)
    return text if text.startswith("-") else "+" + text


def build_claims_table(figures_dir: str | os.PathLike, link_prefix: str = "") -> str:
    """A markdown table of every claim judged in the laptop or paper results JSON under `figures_dir`
    (by notebook, then in the notebook's order), and a line counting the verdicts per profile.
    Each claim links its notebook at `link_prefix` + notebooks/<paper>/<name>.ipynb."""
    shown, _ = scoreboard_results(figures_dir)
    judged = sorted(((d["notebook"], d) for d in shown.values() if d.get("claims")), key=lambda nd: nd[0])
    if not judged:
        return NO_CLAIMS
    lines = ["| claim | section | paper | ours | verdict | profile | notebook |",
             "| --- | --- | ---: | ---: | --- | --- | --- |"]
    by_profile: dict[str, list] = {}
    for name, data in judged:
        for c in data["claims"]:
            ours = _signed(c["ours"])
            if c["ours"] is not None and c["uncertainty"] is not None:
                ours += f" ± {_fmt(c['uncertainty'], 2)}"
            if c["ours"] is not None and c["unit"]:
                ours += f" {c['unit']}"
            cells = [c["statement"], c["section"], _signed(c["paper_value"]), ours, c["verdict"], data["profile"],
                     f"[{name}]({link_prefix}notebooks/{name}.ipynb)"]
            lines.append("| " + " | ".join(" ".join(str(x).split()).replace("|", "\\|") for x in cells) + " |")
            by_profile.setdefault(data["profile"], []).append(c)
    counts = []
    for profile in (p for p in COMMITTED_PROFILES if p in by_profile):
        n = count_verdicts(by_profile[profile])
        counts.append(f"**{profile}**: " + ", ".join(f"{n[v]} {v}" for v in VERDICTS)
                      + f" ({len(by_profile[profile])} claims)")
    return "\n".join(lines) + "\n\n" + "\n\n".join(counts)


def _replace_between(text: str, start_marker: str, end_marker: str, body: str, where) -> str:
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"{where}: needs {start_marker} followed by {end_marker}")
    return text[: start + len(start_marker)] + "\n" + body + "\n" + text[end:]


GENERATED = {  # marker pair -> what fills it
    (CLAIMS_START, CLAIMS_END): build_claims_table,
    (GALLERY_START, GALLERY_END): build_gallery,
    (SCOREBOARD_START, SCOREBOARD_END): build_scoreboard,
}


def update_page(page_path: str | os.PathLike, figures_dir: str | os.PathLike) -> bool:
    """Regenerate every generated block (claims table, gallery, scoreboard) that the markdown page
    at `page_path` has markers for; True when the page changed. Its links start from the page's own
    folder (README.md at the root, docs/scoreboard.md one level down). A page with no marker at all
    is an error: it would silently never be updated. Everything is read before the page is written,
    and it is written atomically: an unreadable results JSON or a kill leaves the page as it was."""
    page_path = Path(page_path)
    text = new = page_path.read_text()
    prefix = os.path.relpath(os.path.dirname(os.path.abspath(figures_dir)), os.path.dirname(os.path.abspath(page_path)))
    prefix = "" if prefix == "." else Path(prefix).as_posix() + "/"
    found = [(start, end) for start, end in GENERATED if start in text]
    if not found:
        raise ValueError(f"{page_path}: needs at least one generated block, e.g. {SCOREBOARD_START} followed by "
                         f"{SCOREBOARD_END}; none of {', '.join(start for start, _ in GENERATED)} is there")
    for start, end in found:
        new = _replace_between(new, start, end, GENERATED[start, end](figures_dir, prefix), page_path)
    if new == text:
        return False
    atomic_write(page_path, lambda f: f.write(new.encode()))
    return True
