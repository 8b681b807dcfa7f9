"""PDF papers: text per page (PDFium through pypdfium2, or pypdf), cleaned, with title, authors, year and DOI."""
from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

from ..errors import ParseError
from ..records import Document, Page
from .cleanup import clean_pdf_pages, fix_ligatures, join_hyphenated

DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>,;]+[^\s\"<>,;.)\]])")
_YEAR_HINT = re.compile(
    r"(?:©|copyright|published(?: online)?:?|accepted:?|received:?)[^\n]{0,40}?\b((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_NOT_A_TITLE = re.compile(r"www\.|https?:|journal|volume|issn|doi|research article|open access", re.I)

# Real papers carry content streams larger than pypdf's default parsing budget.
_PARSING_BUDGET = 50_000_000


def read_pdf(path: Path, max_pages: int) -> Document:
    import pypdf
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if path.stat().st_size == 0:
        raise ParseError(path, "empty file (0 bytes)")
    try:
        with pypdf.apply_configuration(stream_parsing_work_maximum_count=_PARSING_BUDGET):
            reader = pypdf.PdfReader(str(path), strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")
                except Exception:
                    opened = 0
                if not opened:
                    raise ParseError(path, "encrypted PDF: it needs a password; save a decrypted copy first")
            count = len(reader.pages)
            if count == 0:
                raise ParseError(path, "PDF has no pages")
            if count > max_pages:
                raise ParseError(path, f"{count} pages is over the limit of {max_pages} (raise --max-pages)")
            raw = _page_texts(path, reader)
            title_guess = _title_from_first_page(reader.pages[0])
            meta = reader.metadata or {}
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise ParseError(path, f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    except Exception as exc:  # pypdf raises many internal types on damaged files
        raise ParseError(path, f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None

    letters = sum(sum(c.isalpha() for c in p) for p in raw)
    if letters < 50 * max(1, min(count, 3)):
        raise ParseError(path, "no text layer (a scanned or image-only PDF); run OCR on it first")

    pages, references = clean_pdf_pages(raw)
    head = "\n".join(fix_ligatures(p) for p in raw[:2])
    return Document(
        source=str(path),
        kind="pdf",
        pages=tuple(Page(i + 1, t) for i, t in enumerate(pages) if t.strip()),
        title=_pick_title(title_guess, _meta(meta, "/Title"), head, path),
        authors=_authors(_meta(meta, "/Author")),
        year=_year(head, _meta(meta, "/CreationDate")),
        doi=_doi(meta, head),
        journal=_journal(_meta(meta, "/Subject")),
        references=tuple(references),
        page_count=count,
    )


def _page_texts(path: Path, reader) -> list[str]:
    """Each page's text. PDFium (pypdfium2) reads the shared papers 10-30x faster than pypdf, which was
    half of indexing time, with the same text; its line ends and end-of-line hyphens are written as
    pypdf writes them, so cleanup treats both alike. pypdf reads where PDFium cannot, or when
    MEDRAG_PDF_TEXT=pypdf."""
    if os.environ.get("MEDRAG_PDF_TEXT", "pdfium").lower() != "pypdf":
        try:
            import pypdfium2 as pdfium

            doc = pdfium.PdfDocument(str(path))
            try:
                texts = []
                for i in range(len(doc)):
                    page = doc[i]
                    textpage = page.get_textpage()
                    texts.append(textpage.get_text_range())
                    textpage.close()
                    page.close()
            finally:
                doc.close()
            if len(texts) == len(reader.pages):
                return [t.replace("\r\n", "\n").replace("\ufffe", "-\n").replace("\x02", "-\n") for t in texts]
        except Exception:  # not installed, or a file PDFium will not open: pypdf below
            pass
    return [page.extract_text() or "" for page in reader.pages]


def _meta(meta, key: str) -> str:
    try:
        value = meta.get(key)
    except Exception:
        return ""
    return str(value).strip() if value else ""


def _title_from_first_page(page) -> str:
    """The text set in the largest font on the first page, which is the title in nearly every paper."""
    frags: list[tuple[float, str]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip():
            scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
            frags.append((round(float(font_size) * scale, 1), text))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:
        return ""
    by_size: dict[float, list[str]] = {}
    for size, text in frags:
        by_size.setdefault(size, []).append(text)
    for size in sorted(by_size, reverse=True)[:4]:
        text = join_hyphenated(" ".join(by_size[size]).replace("- ", "-\n"))
        text = " ".join(fix_ligatures(text).split())
        text = re.sub(r"^(research article|original article|review|article)\s*", "", text, flags=re.I)
        if 3 <= len(text.split()) <= 40 and not _NOT_A_TITLE.search(text):
            return text
    return ""


def _pick_title(from_font: str, from_meta: str, head: str, path: Path) -> str:
    plausible_meta = len(from_meta.split()) >= 3 and sum(c.isalpha() for c in from_meta) > len(from_meta) / 2
    if from_font and (not plausible_meta or len(from_font) >= len(from_meta)):
        return from_font
    if plausible_meta:
        return " ".join(fix_ligatures(from_meta).split())
    for line in head.splitlines():
        if len(line.split()) >= 4 and not _NOT_A_TITLE.search(line):
            return line.strip()
    return path.stem


# A journal's name followed at once by its volume, year or DOI: "Diabetologia, https://doi.org/...",
# "Cancer Cell, 40 (2022) 1060-1076", "Science 2022.376:eabi9591", "Journal of ... 2010 4:1. doi:...".
_CITATION_SUBJECT = re.compile(r"\s*([A-Za-z][A-Za-z&.' -]{1,80}?)(?:,\s*(?:https?://|doi)|,\s*\d+\s*\((?:19|20)\d\d\)|"
                               r"\s+(?:19|20)\d\d(?:[.:;]\d|\s+\d+:\d))", re.IGNORECASE)


def _journal(subject: str) -> str | None:
    """The journal's name where the PDF's Subject is a short citation; not an abstract put there."""
    m = _CITATION_SUBJECT.match(subject) if len(subject) <= 200 else None
    name = m.group(1).strip(" .-") if m else ""
    return name if 1 <= len(name.split()) <= 8 else None


def _authors(raw: str) -> tuple[str, ...]:
    raw = re.sub(r"\{?et al\.?\}?", "", raw)
    parts = [p.strip() for p in re.split(r";|,| and ", raw) if p.strip()]
    return tuple(p for p in parts if 1 <= len(p.split()) <= 5)


def _year(head: str, creation: str) -> int | None:
    """The publication year: the latest year the first page gives beside "Received", "Accepted",
    "Published" or a copyright sign (a paper received in 2023 may be published in 2024), else the
    file's creation year."""
    years = [int(m.group(1)) for m in _YEAR_HINT.finditer(head)]
    if years:
        return max(years)
    m = re.match(r"D:((?:19|20)\d\d)", creation)
    return int(m.group(1)) if m else None


def _doi(meta, head: str) -> str | None:
    for key in ("/doi", "/DOI", "/Subject"):
        m = DOI_RE.search(_meta(meta, key))
        if m:
            return m.group(1)
    m = DOI_RE.search(head.replace("doi: ", "doi:"))
    return m.group(1) if m else None
