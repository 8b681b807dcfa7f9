"""Abstract collections: MEDLINE text, PubMed XML, RIS, BibTeX, JSONL and CSV, one document per record.

Each reader returns (documents, problems): a malformed record is a problem to report, never a
reason to lose the good records beside it.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Iterable

from ..errors import ParseError
from ..records import Document, Page
from .pdf import DOI_RE

Records = tuple[list[Document], list[ParseError]]
_LABEL = re.compile(r"(?<=[.!?])\s+([A-Z][A-Z /&]{3,40}):\s")


def _structure(abstract: str) -> str:
    """Put each label of a structured abstract ("METHODS: ...") at the start of its own paragraph."""
    return _LABEL.sub(lambda m: f"\n\n{m.group(1)}: ", " ".join(abstract.split()))


def _year(value) -> int | None:
    m = re.search(r"\b(1[89]\d\d|20\d\d)\b", str(value or ""))
    return int(m.group(1)) if m else None


def _doi(value) -> str | None:
    m = DOI_RE.search(str(value or ""))
    return m.group(1) if m else None


def _authors(value) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = re.split(r"\s+and\s+|;\s*|\|", value)
    return tuple(" ".join(str(a).replace("{", "").replace("}", "").split()) for a in value if str(a).strip())


def make_abstract(path: Path, index: int, *, title, abstract, pmid=None, doi=None, year=None,
                  authors=None, journal=None) -> Document:
    title = " ".join(str(title or "").split())
    abstract = str(abstract or "").strip()
    label = f"PMID {pmid}" if pmid else f"record {index}"
    if not abstract:
        raise ParseError(f"{path}#{index}", f"{label} has no abstract")
    text = _structure(abstract)
    if title:
        text = f"{title}\n\n{text}"
    return Document(
        source=str(path), kind="abstract", pages=(Page(1, text),), title=title,
        authors=_authors(authors), year=_year(year), doi=_doi(doi),
        pmid=str(pmid).strip() if pmid else None,
        journal=" ".join(str(journal).split()) if journal else None, record=label,
    )


def _collect(path: Path, rows: Iterable[tuple[int, dict | Exception]]) -> Records:
    docs, problems = [], []
    for index, row in rows:
        if isinstance(row, Exception):
            problems.append(ParseError(f"{path}#{index}", str(row)))
            continue
        try:
            docs.append(make_abstract(path, index, **row))
        except ParseError as exc:
            problems.append(exc)
    if not docs and not problems:
        raise ParseError(path, "no records found")
    return docs, problems


def read_medline(path: Path, text: str) -> Records:
    from Bio import Medline

    def rows():
        for i, rec in enumerate(Medline.parse(io.StringIO(text)), 1):
            if not rec.get("PMID") and not rec.get("TI"):
                yield i, ValueError(f"record {i} has neither PMID nor title")
                continue
            ids = list(rec.get("AID") or []) + [rec.get("LID") or ""]
            doi = next((x for x in ids if "[doi]" in x), None)
            yield i, dict(title=rec.get("TI"), abstract=rec.get("AB"), pmid=rec.get("PMID"),
                          doi=doi, year=rec.get("DP"), authors=rec.get("FAU") or rec.get("AU"),
                          journal=rec.get("JT") or rec.get("TA"))

    return _collect(path, rows())


def parse_xml(path: Path, text: str):
    """The XML's root element; a file that declares entities (a billion-laughs bomb) is refused."""
    import xml.etree.ElementTree as ET

    if "<!ENTITY" in text:
        raise ParseError(path, "XML with entity declarations is refused")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ParseError(path, f"malformed XML ({exc})") from None


def read_pubmed_xml(path: Path, text: str) -> Records:
    root = parse_xml(path, text)

    def alltext(el) -> str:
        return " ".join("".join(el.itertext()).split()) if el is not None else ""

    def rows():
        for i, art in enumerate(root.iter("PubmedArticle"), 1):
            cit = art.find("MedlineCitation")
            if cit is None:
                yield i, ValueError(f"record {i} has no MedlineCitation")
                continue
            parts = []
            for ab in cit.findall("Article/Abstract/AbstractText"):
                label = ab.get("Label")
                parts.append(f"{label}: {alltext(ab)}" if label else alltext(ab))
            authors = []
            for au in cit.findall("Article/AuthorList/Author"):
                name = " ".join(x for x in (alltext(au.find("ForeName")), alltext(au.find("LastName"))) if x)
                authors.append(name or alltext(au.find("CollectiveName")))
            doi = next((alltext(x) for x in art.iter("ArticleId") if x.get("IdType") == "doi"), None) or \
                next((alltext(x) for x in cit.iter("ELocationID") if x.get("EIdType") == "doi"), None)
            date = cit.find("Article/Journal/JournalIssue/PubDate")
            yield i, dict(title=alltext(cit.find("Article/ArticleTitle")), abstract="\n\n".join(parts),
                          pmid=alltext(cit.find("PMID")) or None, doi=doi, year=alltext(date),
                          authors=[a for a in authors if a], journal=alltext(cit.find("Article/Journal/Title")))

    return _collect(path, rows())


def read_ris(path: Path, text: str) -> Records:
    import rispy

    try:
        entries = rispy.loads(text)
    except Exception as exc:
        raise ParseError(path, f"malformed RIS ({exc})") from None

    def rows():
        for i, e in enumerate(entries, 1):
            pmid = e.get("pubmed_id") or next(
                (m.group(1) for v in (e.get("accession_number"), *(e.get("notes") or []))
                 for m in [re.search(r"(?:PMID:?\s*)?(\d{5,9})\b", str(v or ""))] if m), None)
            yield i, dict(title=e.get("title") or e.get("primary_title"), abstract=e.get("abstract"),
                          pmid=pmid, doi=e.get("doi"), year=e.get("year") or e.get("publication_year") or e.get("date"),
                          authors=e.get("authors") or e.get("first_authors"),
                          journal=e.get("journal_name") or e.get("secondary_title") or e.get("alternate_title1"))

    return _collect(path, rows())


def read_bibtex(path: Path, text: str) -> Records:
    import logging

    import bibtexparser

    splitter = logging.getLogger("bibtexparser.splitter")  # its own report of a bad block: ours names the file
    quiet, splitter.disabled = splitter.disabled, True
    try:
        library = bibtexparser.parse_string(text)
    except Exception as exc:
        raise ParseError(path, f"malformed BibTeX ({exc})") from None
    finally:
        splitter.disabled = quiet

    def clean(value) -> str:
        return " ".join(str(value or "").replace("{", "").replace("}", "").split())

    def rows():
        i = 0
        for block in library.failed_blocks:
            i += 1
            first = block.raw.strip().splitlines()[0][:60] if block.raw.strip() else ""
            yield i, ValueError(f"malformed BibTeX entry near {first!r}")
        for entry in library.entries:
            i += 1
            f = {k.lower(): v.value for k, v in entry.fields_dict.items()}
            yield i, dict(title=clean(f.get("title")), abstract=clean(f.get("abstract")), pmid=clean(f.get("pmid")) or None,
                          doi=f.get("doi"), year=f.get("year"), authors=clean(f.get("author")) or None,
                          journal=clean(f.get("journal")) or None)

    return _collect(path, rows())


def _row_fields(row: dict) -> dict:
    low = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    return dict(title=low.get("title"), abstract=low.get("abstract"), pmid=low.get("pmid") or None,
                doi=low.get("doi"), year=low.get("year"), authors=low.get("authors"), journal=low.get("journal"))


def read_jsonl(path: Path, text: str) -> Records:
    def rows():
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield i, ValueError(f"line {i} is not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                yield i, ValueError(f"line {i} is not a JSON object")
                continue
            yield i, _row_fields(row)

    return _collect(path, rows())


def read_csv(path: Path, text: str) -> Records:
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if "abstract" not in columns:
        raise ParseError(path, "CSV has no 'abstract' column")
    return _collect(path, ((i, _row_fields(row)) for i, row in enumerate(reader, 1)))
