"""Split documents into passages sized in tokens of the embedder, keeping pages, sections and offsets."""
from __future__ import annotations

import bisect
import re
from typing import Callable

from .errors import InvalidOption
from .ingest.cleanup import BACK_MATTER_SECTIONS, looks_like_heading, section_opened_by
from .records import Chunk, Document

# A piece of fewer words than this is no passage: a heading left alone ("Methods"), a page number, a
# rule of dots. Embedded with its paper's title and section as context, a bare heading would match
# any question about the paper's topic and take a place in the results from the passages that answer.
MIN_WORDS = 3
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\d_]{2,}")  # a CJK character counts as a word
# Paragraphs first, then sentences (Latin and CJK punctuation), then clauses, words, characters.
# The final "" lets text without spaces (Chinese, Japanese) still be cut to size.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "。", "！", "？", "; ", "；", ", ", "，", "、", " ", ""]


def check_sizes(chunk_tokens: int, overlap: int) -> None:
    """InvalidOption (a ValueError) naming the passage size or overlap that cannot be used."""
    if chunk_tokens < 16:
        raise InvalidOption(f"chunk size {chunk_tokens} tokens is too small (minimum 16)")
    if not 0 <= overlap < chunk_tokens:
        raise InvalidOption(f"overlap {overlap} must be at least 0 and below the chunk size {chunk_tokens}")


class Chunker:
    """Splits a Document into Chunks of at most `chunk_tokens` tokens with `overlap` tokens shared."""

    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int = 250, overlap: int = 40):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        check_sizes(chunk_tokens, overlap)
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self._splitter = RecursiveCharacterTextSplitter(
            separators=SEPARATORS, keep_separator="end", chunk_size=chunk_tokens,
            chunk_overlap=overlap, length_function=count_tokens, add_start_index=True,
        )

    def split(self, doc: Document, doc_id: str) -> list[Chunk]:
        text = doc.text
        page_starts, offset = [], 0
        for page in doc.pages:
            page_starts.append(offset)
            offset += len(page.text) + 2  # the blank line that joins pages in Document.text
        headings = list(doc.sections) or _headings(text)
        heading_offsets = [o for o, _ in headings]
        pieces = []
        for base, part in _body_and_back_matter(text, headings):
            for p in self._splitter.create_documents([part]):
                if body := p.page_content.strip():
                    pieces.append((body, base + max(0, p.metadata.get("start_index", 0))))
        # a document that is all short pieces (a two-word note) keeps them: it has nothing else
        pieces = [(body, at) for body, at in pieces if len(_WORD.findall(body)) >= MIN_WORDS] or pieces
        chunks = []
        for body, at in pieces:
            start = text.find(body, max(0, at - 1))
            if start < 0:
                start = at
            end = start + len(body)
            first = doc.pages[bisect.bisect_right(page_starts, start) - 1].number
            last = doc.pages[bisect.bisect_right(page_starts, max(start, end - 1)) - 1].number
            chunks.append(Chunk(doc_id=doc_id, ordinal=len(chunks), text=body, page_start=first,
                                page_end=last, section=_section_at(headings, heading_offsets, start, end),
                                char_start=start, char_end=end))
        return chunks


def _headings(text: str) -> list[tuple[int, str | None]]:
    """Where each section starts. A back-matter label run into its paragraph early in a paper (a
    first-page footnote, "Abbreviations: DVT, deep vein thrombosis ...") is that paragraph alone: the
    section it interrupted goes on after it. Inside back matter only a heading on its own line or in
    capitals leaves it: "Methodology: A.B. and C.D." is a line of the authors' contributions."""
    found: list[tuple[int, str | None]] = []
    offset, body, back = 0, None, False
    for line in text.split("\n"):
        stripped, late = line.strip(), offset > len(text) // 2
        name = section_opened_by(line, late) if stripped else None
        if name:
            alone = looks_like_heading(stripped) or stripped[:12].isupper()
            if name in BACK_MATTER_SECTIONS:
                found.append((offset, name))
                if alone or late:
                    back = True
                else:
                    found.append((offset + len(line) + 1, body))
            elif not back or alone:
                found.append((offset, name))
                body, back = name, False
        offset += len(line) + 1
    return found


def _body_and_back_matter(text: str, headings) -> list[tuple[int, str]]:
    """The text cut where back matter starts or ends, as (offset, part): a passage holds either the
    paper's own text or its author details, funding, declarations, never both."""
    cuts, back = [0], False
    for offset, name in headings:
        if (name in BACK_MATTER_SECTIONS) != back:
            back = not back
            if offset > cuts[-1]:
                cuts.append(offset)
    cuts.append(len(text))
    return [(a, text[a:b]) for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()]


def _section_at(headings, offsets, start: int, end: int) -> str | None:
    """The section a passage belongs to: one that opens in its first third, else the one in force."""
    i = bisect.bisect_right(offsets, start + (end - start) // 3) - 1
    return headings[i][1] if i >= 0 else None
