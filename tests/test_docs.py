"""docs/protocols.md is the protocol reference the code cites: every section reference ("§1.6",
"§2.5 E8", "§1.3-1.4", "§6 P1-P2") in the library, the tests, the notebooks and the README names a
heading of it, and nothing cites the protocol document that lives outside the repository any more."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "protocols.md"

# "## 2. MEM-VAE ...", "### 2.5 Experiments" -> "2", "2.5"; "#### E8: ..." / "#### P9: ..." -> E8, P9
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$")
NUMBERED = re.compile(r"(\d+(?:\.\d+)*)\.?(?=\s)")
LABELLED = re.compile(r"([EP])(\d+)\b")
# A reference: "§" and a section number (no space after "§"), an optional range "-1.4" or "–4",
# then optionally an experiment or pitfall label, itself optionally a range ("E2-E4", "P1-P2").
NUM = r"\d+(?:\.\d+)*"
REFERENCE = re.compile(rf"§({NUM})(?:\s*[-–]\s*({NUM}))?(?:\s+([EP])(\d+)(?:\s*[-–]\s*[EP]?(\d+))?)?")
# A label cited without its section ("(E8)", "P4;"): not part of a word, a range or a number.
BARE_LABEL = re.compile(r"(?<![\w§.\-–])([EP])(\d{1,2})(?![\w\-–]|\.\d)")
LABEL_SECTION = {"E": "2.5", "P": "6"}  # where the experiments and the pitfalls are listed


def _doc_headings() -> tuple[set[str], set[tuple[str, str]]]:
    """(section numbers, {(section, label)}) of docs/protocols.md, outside code fences. A label
    heading belongs to the nearest numbered heading above it and to that heading's ancestors."""
    sections, labels, current, fenced = set(), set(), None, False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = HEADING.match(line)
        if fenced or not m:
            continue
        title = m.group(1)
        if (n := NUMBERED.match(title)) is not None:
            current = n.group(1)
            sections.add(current)
        elif (lab := LABELLED.match(title)) is not None and current is not None:
            parts = current.split(".")
            for i in range(1, len(parts) + 1):
                labels.add((".".join(parts[:i]), lab.group(1) + str(int(lab.group(2)))))
    return sections, labels


SECTIONS, LABELS = _doc_headings()


def _sources() -> list[Path]:
    files = [p for p in (ROOT / "memvae_lib").rglob("*.py") if "__pycache__" not in p.parts]
    files += [p for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name]
    files += sorted((ROOT / "notebooks").glob("*/*.ipynb"))
    files.append(ROOT / "README.md")
    files += [p for p in (ROOT / "docs").glob("*.md") if p != DOC]  # the pages the README moved out
    files += sorted((ROOT / "book").rglob("*.md"))  # the book's own pages cite sections too
    return sorted(set(files))


def _text(path: Path) -> str:
    """The text a reader sees: a notebook's cell sources, any other file as it is."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return raw
    return "\n".join("".join(cell["source"]) for cell in json.loads(raw)["cells"])


def _expand(first: str, last: str | None) -> list[str]:
    """'1.3', '1.4' -> ['1.3', '1.4']; '2.2', '2.4' -> ['2.2', '2.3', '2.4']; '3', '4' -> ['3', '4']."""
    if last is None:
        return [first]
    head, _, tail = first.rpartition(".")
    if "." not in last and head:
        last = f"{head}.{last}"  # "§1.3-4" written short
    end_head, _, end_tail = last.rpartition(".")
    if end_head != head or not tail.isdigit() or not end_tail.isdigit() or int(end_tail) < int(tail):
        return [first, last]
    return [f"{head}.{i}" if head else str(i) for i in range(int(tail), int(end_tail) + 1)]


def _references(text: str) -> list[tuple[str, list[str], list[str]]]:
    """[(the reference as written, sections it names, labels it names)]."""
    out = []
    for m in REFERENCE.finditer(text):
        first, last, kind, lo, hi = m.groups()
        sections = _expand(first, last)
        labels = [] if kind is None else [f"{kind}{i}" for i in range(int(lo), int(hi or lo) + 1)]
        out.append((m.group(0), sections, labels))
    return out


def test_the_document_has_the_numbered_sections_the_code_relies_on():
    assert DOC.is_file(), "docs/protocols.md is missing"
    for number in ("0", "1", "1.1", "1.7", "2", "2.5", "3", "3.9", "4", "5", "5.5", "6"):
        assert number in SECTIONS, f"docs/protocols.md has no heading numbered {number}"
    assert {("2.5", f"E{i}") for i in range(1, 11)} <= LABELS, "§2.5 needs headings E1 ... E10"
    assert {("6", f"P{i}") for i in range(1, 11)} <= LABELS, "§6 needs headings P1 ... P10"


def test_the_reference_parser_reads_every_form_in_use():
    refs = _references("(§1.3-1.4, §6 P1-P2) §2.5 E2-E4; §3. §1.6, §2.4 §2.5 E10). §3.5 defaults")
    assert [(s, lab) for _, s, lab in refs] == [
        (["1.3", "1.4"], []), (["6"], ["P1", "P2"]), (["2.5"], ["E2", "E3", "E4"]), (["3"], []),
        (["1.6"], []), (["2.4"], []), (["2.5"], ["E10"]), (["3.5"], [])]
    assert _expand("1.1", "1.3") == ["1.1", "1.2", "1.3"] and _expand("1.3", "4") == ["1.3", "1.4"]
    assert [m.group(0) for m in BARE_LABEL.finditer("(E8), P4; E2-E4 x1E8 1.E5 EP8 P1.5 P10.")] == \
        ["E8", "P4", "P10"]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_section_reference_names_a_heading(path):
    text = _text(path)
    missing = []
    for written, sections, labels in _references(text):
        missing += [f"{written!r}: no section {s}" for s in sections if s not in SECTIONS]
        missing += [f"{written!r}: no heading {lab} under §{sections[0]}" for lab in labels
                    if (sections[0], lab) not in LABELS]
    for m in BARE_LABEL.finditer(text):
        kind, number = m.group(1), str(int(m.group(2)))
        if (LABEL_SECTION[kind], kind + number) not in LABELS:
            missing.append(f"{m.group(0)!r}: no heading {kind}{number} under §{LABEL_SECTION[kind]}")
    assert not missing, f"{path.relative_to(ROOT)} cites what docs/protocols.md lacks: " + "; ".join(missing)


def _citing_files() -> list[Path]:
    """Every text file of memvae_lib/, notebooks/ (without the executed copies in _build) and README.md."""
    out = [ROOT / "README.md"]
    for top in ("memvae_lib", "notebooks"):
        for p in (ROOT / top).rglob("*"):
            rel = p.relative_to(ROOT).parts
            if p.is_file() and "__pycache__" not in rel and "_build" not in rel and ".ipynb_checkpoints" not in rel \
                    and p.suffix not in (".pyc", ".png", ".pdf"):
                out.append(p)
    return sorted(out)


@pytest.mark.parametrize("path", _citing_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_cites_the_protocol_document_outside_the_repository(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    for outside in ("PROTOCOLS.md", "shared/spec", "PROTOCOLS §"):
        assert outside not in text, f"{path.relative_to(ROOT)} cites {outside!r}: cite docs/protocols.md §x.y instead"


def test_links_to_the_protocol_notes_resolve():
    """Notebook markdown links ../../docs/protocols.md, the READMEs docs/ or ../docs/: each must reach it."""
    pages = [ROOT / "README.md", ROOT / "notebooks" / "README.md", *sorted((ROOT / "notebooks").glob("*/*.ipynb"))]
    seen = 0
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]*protocols\.md)(?:#[^)]*)?\)", _text(page)):
            seen += 1
            assert (page.parent / target).resolve() == DOC.resolve(), \
                f"{page.relative_to(ROOT)}: {target} does not reach {DOC}"
    assert seen, "no page links docs/protocols.md"
