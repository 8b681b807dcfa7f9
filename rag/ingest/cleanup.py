"""Repairs for text extracted from PDFs: ligatures, broken words, running heads, reference lists."""
from __future__ import annotations

import re
import statistics
from collections import Counter

LIGATURES = {
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
    "\ufb05": "st", "\ufb06": "st", "\u2011": "-", "\u00ad": "", "\u00a0": " ", "\u2010": "-",
}
_LIGATURE_RE = re.compile("|".join(map(re.escape, LIGATURES)))

# A word broken at a line end: "compli-\ncations". Joined without the hyphen when the
# continuation is lower case; kept as a hyphen for "IL-\n6" or "COVID-\n19".
_HYPHEN_BREAK = re.compile(r"(\w+) ?-[ \t]*\n[ \t]*(\w)")

_REFERENCE_HEADING = re.compile(
    r"^\s*(?:\d+\.?\s*)?(references|bibliography|literature cited|references and notes|works cited)\s*:?\s*$",
    re.IGNORECASE,
)
_REFERENCE_ENTRY = re.compile(r"^\s*(?:\[\d+\]|\d{1,3}\.|\d{1,3}(?=\s+[A-Z][\w'\-]+,? [A-Z]))\s+")
# The first entry of a numbered (Vancouver-style) list, for papers whose "References" heading
# did not survive text extraction: "1. Geerts WH, Code KI, ..."
_FIRST_ENTRY = re.compile(r"^\s*(?:\[1\]|1\.?)\s+[A-Z][\w'\-]+,? (?:[A-Z]{1,3}|[A-Z]\.(?: ?[A-Z]\.)*)[,:;]")
# An author-year entry (Cell, Elsevier styles): "Adams, P.D., Afonine, P.V., ..."
_AUTHOR_YEAR_ENTRY = re.compile(r"^\s*[A-Z][\w'\-]+(?: [A-Z][\w'\-]+)?,\s+(?:[A-Z]\.-?\s?)+(?:,|\()")
_SECOND_ENTRY = re.compile(r"^\s*(?:\[2\]|2\.?)\s+[A-Z]")


def fix_ligatures(text: str) -> str:
    return _LIGATURE_RE.sub(lambda m: LIGATURES[m.group(0)], text)


def join_hyphenated(text: str) -> str:
    def repl(m: re.Match) -> str:
        left, right = m.group(1), m.group(2)
        if right.islower() and not left.isupper() and not any(c.isdigit() for c in left):
            return left + right
        return f"{left}-{right}"

    return _HYPHEN_BREAK.sub(repl, text)


def _line_key(line: str) -> str:
    """What stays the same in a running head from page to page: its words, in any order. Page numbers,
    dates and volumes change ("www.clinsci.org 307 © 2014" on one page, "www.clinsci.org © 2014" on
    another), and some journals swap the words on facing pages ("OPEN ACCESS Report", "Report OPEN
    ACCESS"). A line with no such word ("e3", a page of a paper's online methods) is its own key, its
    numbers aside."""
    words = {w for w in (re.sub(r"[\d_]+", "", t) for t in re.findall(r"\w+", line.lower())) if len(w) > 1}
    return " ".join(sorted(words)) or re.sub(r"\d+", "#", line.strip().lower())


# A review copy's running head, which journals leave on figures pasted into the final paper
# ("Cancers 2022, 14, x FOR PEER REVIEW 8 of 19"), mid-page where no edge rule sees it.
_REVIEW_HEAD = re.compile(r"^.{0,60}\bx\s+FOR\s+PEER\s+REVIEW\b.{0,20}$")


def strip_running_lines(pages: list[str], depth: int = 3) -> list[str]:
    """Remove header and footer lines that repeat across pages, and bare page numbers.

    A line is a running head when its words open or close (within `depth` lines) at least a third
    of the pages: facing pages often carry different heads (the authors on one, a short title on
    the other), so each is on half the pages or fewer. A running head goes from the edges of every
    page; a footer with a number in it and three words or more ("Li et al., Science 376, eabi9591
    (2022) 15 April 2022 7 of 13") goes wherever it stands, since PDF text puts a footer beside a
    figure mid-page as often as at its end, while a line of words alone mid-page ("Case report") may
    be the paper's own heading."""
    if len(pages) < 3:
        return [_drop_page_numbers(_drop_review_heads(p)) for p in pages]
    counts: Counter[str] = Counter()
    for text in pages:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        counts.update(set(_line_key(ln) for ln in lines[:depth] + lines[-depth:]))
    threshold = max(3, len(pages) // 3)
    running = {k for k, n in counts.items() if k and n >= threshold and len(k) < 200}
    cleaned = []
    for text in pages:
        lines = text.splitlines()
        keep = []
        nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(nonblank[:depth] + nonblank[-depth:])
        for i, ln in enumerate(lines):
            key = _line_key(ln)
            if key in running and (i in edges or (len(key.split()) >= 3 and re.search(r"\d", ln))):
                continue
            keep.append(ln)
        cleaned.append(_drop_page_numbers(_drop_review_heads("\n".join(keep))))
    return cleaned


def _drop_review_heads(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not _REVIEW_HEAD.match(ln.strip()))


def _drop_page_numbers(text: str) -> str:
    return re.sub(r"(?m)^\s*(?:page\s+)?\d{1,4}(?:\s+of\s+\d{1,4})?\s*$\n?", "", text, flags=re.IGNORECASE)


def reflow(text: str) -> str:
    """Join the lines of a PDF page into paragraphs; a paragraph ends at a short line closing a sentence."""
    lines = [ln.strip() for ln in text.splitlines()]
    lengths = [len(ln) for ln in lines if ln]
    if not lengths:
        return ""
    typical = statistics.median(lengths)
    out: list[str] = []
    current = ""
    for ln in lines:
        if not ln:
            if current:
                out.append(current)
                current = ""
            continue
        if looks_like_heading(ln):
            if current:
                out.append(current)
            out.append(ln)
            current = ""
            continue
        current = f"{current} {ln}" if current else ln
        if ln[-1] in ".?!:" and len(ln) < 0.75 * typical:
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return "\n\n".join(out)


SECTION_NAMES = {
    "abstract": "Abstract", "summary": "Summary", "background": "Background",
    "introduction": "Introduction", "objective": "Objective", "objectives": "Objectives",
    "aim": "Aims", "aims": "Aims", "purpose": "Purpose", "context": "Background",
    "methods": "Methods", "method": "Methods", "materials and methods": "Methods",
    "material and methods": "Methods", "patients and methods": "Methods",
    "methodology": "Methods", "study design": "Methods", "design": "Methods",
    "experimental procedures": "Methods", "star methods": "Methods", "method details": "Methods",
    "key resources table": "Methods", "experimental model and subject details": "Methods",
    "quantification and statistical analysis": "Methods",
    "results": "Results", "findings": "Results", "results and discussion": "Results",
    "case report": "Case report", "case presentation": "Case report",
    "discussion": "Discussion", "limitations": "Limitations", "conclusion": "Conclusions",
    "conclusions": "Conclusions", "interpretation": "Conclusions",
    "conclusions and relevance": "Conclusions", "acknowledgements": "Acknowledgements",
    "acknowledgments": "Acknowledgements", "funding": "Funding",
    "competing interests": "Competing interests", "conflict of interest": "Competing interests",
    "abbreviations": "Abbreviations", "supplementary material": "Supplementary material",
    "keywords": "Keywords", "key words": "Keywords",
}
# A paper's back matter: who the authors are and what each did, who paid, what they declare, where
# the data and supplements are. Its labels often open a paragraph without a colon ("Author details
# Department of Surgery, ...", "Acknowledgements We thank ..."), so in the second half of a paper a
# paragraph that opens with one starts that section (`back_matter_label`).
_BACK_LABELS = (
    (r"author\s+details|author\s+information|affiliations", "Author details"),
    (r"authors?[’'`]?\s+contributions?|contributors", "Author contributions"),
    (r"acknowledge?ments?", "Acknowledgements"),
    (r"(?:open\s+access\s+)?funding(?:\s+information)?|financial\s+support", "Funding"),
    (r"competing\s+interests?|conflicts?\s+of\s+interests?|declaration\s+of\s+(?:competing\s+)?interests?",
     "Competing interests"),
    (r"declarations?|ethics\s+approval(?:\s+and\s+consent\s+to\s+participate)?|ethics\s+statement|"
     r"consent\s+for\s+publication|publisher[’'`]?s\s+note", "Declarations"),
    (r"availability\s+of\s+data(?:\s+and\s+materials?)?|data\s+availability(?:\s+statement)?|"
     r"data\s+and\s+code\s+availability|materials\s+availability|resource\s+availability|lead\s+contact",
     "Data availability"),
    (r"additional\s+files?|supplementary\s+information|supplementa(?:ry|l)\s+materials?", "Supplementary material"),
    (r"abbreviations", "Abbreviations"),
    (r"open\s+access\s+this\s+article|received\s*:", "Licence and dates"),
)
_BACK_LABEL_RE = re.compile(r"^\s*(?:" + "|".join(f"({pattern})" for pattern, _ in _BACK_LABELS) + r")(?![\w’'`])",
                            re.IGNORECASE)
BACK_MATTER_SECTIONS = frozenset(name for _, name in _BACK_LABELS) | {"Keywords"}
_HEADING_RE = re.compile(r"^\s*(?:\d{1,2}(?:\.\d)*\.?\s+|[IVX]{1,4}\.\s+)?([A-Za-z][A-Za-z ]{2,40}?)\s*[:.]?\s*$")
_CAPS_WORDS = re.compile(r"^\s*[A-Z][A-Z+]+(?:\s+[A-Z][A-Z+]*)*(?=\s|$)")
_INLINE_LABEL_RE = re.compile(r"^\s*([A-Z][A-Z ]{2,40}|[A-Z][a-z]+(?: [a-z]+){0,3})\s*:\s+\S")


def heading_name(line: str) -> str | None:
    """The canonical section name if the line is a section heading, else None."""
    m = _HEADING_RE.match(line)
    if m:
        name = SECTION_NAMES.get(" ".join(m.group(1).lower().split()))
        if name:
            return name
    m = _INLINE_LABEL_RE.match(line)
    if m and (name := SECTION_NAMES.get(" ".join(m.group(1).lower().split()))):
        return name
    m = _BACK_LABEL_RE.match(line)
    if m and not line[m.end():].strip(" :.\t\n"):  # a back-matter label alone on its line
        return back_matter_label(line)
    return None


def section_opened_by(paragraph: str, late: bool) -> str | None:
    """The section a paragraph of a paper's text opens, if any: a heading line ("2. Methods"), a
    label ("Results: ..."), a heading in capitals run into its text ("STAR+METHODS KEY RESOURCES
    TABLE ..."), or, `late` in the paper, a back-matter label ("Author details Department of ...")."""
    name = heading_name(paragraph) if len(paragraph) < 400 else None
    words = _CAPS_WORDS.match(paragraph)
    if name is None and words:
        caps = words.group(0).replace("+", " ").lower().split()
        name = next((n for i in range(len(caps), 0, -1) if (n := SECTION_NAMES.get(" ".join(caps[:i])))), None)
    if name is None and late:
        name = back_matter_label(paragraph)
    return name


def back_matter_label(paragraph: str) -> str | None:
    """The back-matter section a paragraph opens ("Authors' contributions ID - Study design ..." opens
    Author contributions), else None. A label is followed by the end of the line, a colon or full stop,
    a number or a capital ("Funding This work was supported ..."); "Funding of health services in
    Malawi is scarce" is a sentence of the paper itself."""
    m = _BACK_LABEL_RE.match(paragraph)
    if not m:
        return None
    name = next(_BACK_LABELS[i][1] for i, group in enumerate(m.groups()) if group is not None)
    after = paragraph[m.end():].lstrip(" \t")
    if name != "Licence and dates" and after and not (after[0] in ":." or after[0].isdigit() or after[0].isupper()):
        return None
    return name


def looks_like_heading(line: str) -> bool:
    return len(line) <= 45 and _HEADING_RE.match(line) is not None and heading_name(line) is not None


def split_references(pages: list[str]) -> tuple[list[str], list[str]]:
    """Cut the reference list out of a paper; return (pages without it, its entries).

    A heading counts in the second half of the document, or after the first fifth when entries
    follow it, so a "References" line in an abstract does not swallow the paper. The list ends at
    the next section heading (Cell's STAR Methods follow the references) or at the end. Pages keep
    their positions: a page that held only references comes back empty.
    """
    total = sum(len(p) for p in pages)
    seen = 0
    for pi, text in enumerate(pages):
        offset = 0
        for line in text.splitlines(keepends=True):
            position = (seen + offset) / max(total, 1)
            heading = _REFERENCE_HEADING.match(line) and (position > 0.5 or _entries_follow(text, offset, line))
            if position > 0.2 and (heading or _starts_list(text, offset, line)):
                body = offset + (len(line) if heading else 0)
                return _cut(pages, pi, offset, body)
            offset += len(line)
        seen += len(text)
    return pages, []


def _cut(pages: list[str], pi: int, head_end: int, body: int) -> tuple[list[str], list[str]]:
    """Remove the list that starts at pages[pi][body:], up to the next section heading."""
    out = list(pages)
    out[pi] = pages[pi][:head_end]
    collected: list[str] = []
    first = True
    for pj in range(pi, len(pages)):
        text = pages[pj][body:] if pj == pi else pages[pj]
        base = body if pj == pi else 0
        offset = 0
        for line in text.splitlines(keepends=True):
            if not first and collected and _ends_list(line):
                rest = pages[pj][base + offset:]
                out[pj] = (out[pi] + "\n" + rest) if pj == pi else rest
                return out, _reference_entries("".join(collected))
            collected.append(line)
            first = False
            offset += len(line)
        if pj != pi:
            out[pj] = ""
    return out, _reference_entries("".join(collected))


def _ends_list(line: str) -> bool:
    """A section heading after a reference list, e.g. "STAR+METHODS" or "Supplementary material"."""
    plain = re.sub(r"[+★*•]", " ", line).strip()
    return 0 < len(plain) <= 45 and heading_name(plain) is not None and not _REFERENCE_ENTRY.match(line)


def _entries_follow(text: str, offset: int, line: str) -> bool:
    following = [ln for ln in text[offset + len(line):].splitlines() if ln.strip()][:3]
    return any(_REFERENCE_ENTRY.match(ln) or _AUTHOR_YEAR_ENTRY.match(ln) for ln in following)


def _starts_list(text: str, offset: int, line: str) -> bool:
    if not _FIRST_ENTRY.match(line):
        return False
    following = text[offset + len(line):].splitlines()[:12]
    return any(_SECOND_ENTRY.match(ln) for ln in following)


def _reference_entries(text: str, limit: int = 1000) -> list[str]:
    entries: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        starts_author_year = _AUTHOR_YEAR_ENTRY.match(line) and entries and entries[-1].endswith(".")
        if _REFERENCE_ENTRY.match(line) or starts_author_year or not entries:
            entries.append(line)
        else:
            entries[-1] += " " + line
        if len(entries) >= limit:
            break
    return [join_hyphenated(e) for e in entries]


# The open-access licence that a journal prints on a paper's first page, in the middle of its abstract
# or introduction as the text comes out ("This is an Open Access article distributed under the terms of
# the Creative Commons Attribution License (...), which permits unrestricted use, ... properly cited."),
# and the licensee line ("© 2010 Datta et al; licensee BioMed Central Ltd."): no passage should carry it.
_LICENCE = re.compile(
    r"©[^©\n]{0,80}?;\s*licensee\s+[^.]{0,60}\.|\bLicensee\s+MDPI,[^.]{0,40}\.|"
    r"(?:Open\s+Access\s+)?This\s+(?:is\s+an\s+open[- ]access\s+article|article\s+is\s+(?:licensed|an\s+open\s+"
    r"access\s+article)|work\s+is\s+licensed)(?:(?!\n\s*\n)[\s\S]){0,1500}?(?:properly\s+cited\.|are\s+credited\.|"
    r"licenses/by[\w./ -]*?/\s*\)?\.(?=\s|$)|CC\s+BY\)?\s+license\s*\([^)]*\)\.|International\s+licen[cs]e\.|"
    r"these\s+terms\.)"
    r"(?:\s*The\s+Creative\s+Commons\s+Public\s+Domain\s+Dedication\s+waiver[\s\S]{0,300}?credit\s+line\s+to\s+the\s+data\.)?",
    re.IGNORECASE)


def drop_licence(text: str) -> str:
    return _LICENCE.sub(" ", text)


def clean_pdf_pages(raw_pages: list[str]) -> tuple[list[str], list[str]]:
    """The whole repair for one PDF: returns cleaned page texts and the reference entries."""
    pages = [fix_ligatures(p) for p in raw_pages]
    pages = strip_running_lines(pages)
    pages = [drop_licence(join_hyphenated(p)) for p in pages]
    pages, references = split_references(pages)
    return [reflow(p) for p in pages], references
