"""Plain data types for what flows through the pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Page:
    number: int  # 1-based page number in the source; abstracts have one page, number 1
    text: str


@dataclass(frozen=True)
class Document:
    """One paper or abstract as parsed, before chunking."""

    source: str  # path of the file it came from
    kind: str  # "pdf", "abstract", "text" or "jats" (a JATS full text, without pages)
    pages: tuple[Page, ...]
    title: str = ""
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    pmid: str | None = None
    journal: str | None = None
    record: str | None = None  # position of the record inside a multi-record file
    references: tuple[str, ...] = ()  # reference list of a paper, kept out of the chunks
    page_count: int | None = None  # pages in the source file (PDFs), reference pages included
    # (offset into `text`, section name or None) where each section starts, for sources that mark
    # their sections (JATS); other documents' sections are found from their headings when chunked.
    sections: tuple[tuple[int, str | None], ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is embedded and retrieved."""

    doc_id: str
    ordinal: int  # position inside its document
    text: str
    page_start: int
    page_end: int
    section: str | None
    char_start: int  # offsets into the document's text (pages joined by a blank line)
    char_end: int

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}:{self.ordinal}"

    @property
    def pages(self) -> str:
        return pages_label(self.page_start, self.page_end)


def pages_label(start: int, end: int) -> str:
    return f"p. {start}" if start == end else f"pp. {start}-{end}"


# Document kinds whose sources have no page numbers (their one page is numbered 1 only so that
# every passage has a page span): a citation to them names the section instead.
PAGELESS_KINDS = frozenset({"jats"})


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with its document's metadata."""

    rank: int
    score: float
    doc_id: str
    chunk_id: str
    text: str
    title: str
    year: int | None
    source: str
    page_start: int
    page_end: int
    section: str | None
    kind: str
    pmid: str | None = None
    doi: str | None = None
    authors: tuple[str, ...] = ()
    journal: str | None = None
    dense_score: float | None = None  # cosine similarity to the query, when the dense search saw it

    @property
    def pages(self) -> str:
        """The page label ("p. 3", "pp. 3-4"); empty for a source without page numbers."""
        return "" if self.kind in PAGELESS_KINDS else pages_label(self.page_start, self.page_end)

    @property
    def where(self) -> str:
        """Where the passage sits in its paper: "p. 3, Methods", "p. 3", or the section alone."""
        return ", ".join(x for x in (self.pages, self.section) if x)

    def to_dict(self) -> dict:
        return {
            "rank": self.rank, "score": round(self.score, 6), "doc_id": self.doc_id,
            "chunk_id": self.chunk_id, "title": self.title, "year": self.year,
            "source": self.source, "pages": self.pages, "page_start": self.page_start,
            "page_end": self.page_end, "section": self.section, "kind": self.kind,
            "pmid": self.pmid, "doi": self.doi, "authors": list(self.authors),
            "journal": self.journal,
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "text": self.text,
        }


@dataclass
class FileOutcome:
    path: str
    status: str  # "indexed", "unchanged", "skipped", "duplicate"
    reason: str | None = None
    documents: int = 0
    chunks: int = 0


@dataclass
class IndexReport:
    """What one `index` run did."""

    index: str
    seen: int = 0
    indexed: int = 0
    unchanged: int = 0
    skipped: int = 0
    removed: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def skipped_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "skipped"]

    @property
    def ok(self) -> bool:
        return self.skipped == 0

    def to_dict(self) -> dict:
        return {
            "index": self.index, "seen": self.seen, "indexed": self.indexed,
            "unchanged": self.unchanged, "skipped": self.skipped, "removed": self.removed,
            "chunks_added": self.chunks_added, "chunks_removed": self.chunks_removed,
            "seconds": round(self.seconds, 3),
            "skipped_files": [{"path": f.path, "reason": f.reason} for f in self.skipped_files],
            "files": [vars(f) for f in self.files],
        }

    def _repr_markdown_(self) -> str:
        rows = ["| seen | indexed | unchanged | skipped | removed | chunks + | chunks − | seconds |",
                "|---|---|---|---|---|---|---|---|",
                f"| {self.seen} | {self.indexed} | {self.unchanged} | {self.skipped} | {self.removed} "
                f"| {self.chunks_added} | {self.chunks_removed} | {self.seconds:.1f} |"]
        rows += [f"\n- skipped `{f.path}`: {f.reason}" for f in self.skipped_files]
        return "\n".join(rows)
