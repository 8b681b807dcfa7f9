"""The naive baseline the issue names: BM25 (rank_bm25's Okapi) over 1,000-character chunks of each
page as pypdf extracts it, with LangChain's recursive character splitter. No cleanup, no context."""
from __future__ import annotations

import re
from pathlib import Path

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class NaiveBM25:
    def __init__(self, pdfs: list[Path], chunk_chars: int = 1000, overlap: int = 100):
        import pypdf
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from rank_bm25 import BM25Okapi

        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_chars, chunk_overlap=overlap)
        self.chunks: list[tuple[str, str]] = []
        for pdf in pdfs:
            with pypdf.apply_configuration(stream_parsing_work_maximum_count=50_000_000):
                reader = pypdf.PdfReader(pdf)
                for page in reader.pages:
                    for piece in splitter.split_text(page.extract_text() or ""):
                        self.chunks.append((str(pdf), piece))
        self.bm25 = BM25Okapi([tokens(t) for _, t in self.chunks])

    def search(self, query: str, k: int = 10) -> list[tuple[str, str]]:
        scores = self.bm25.get_scores(tokens(query))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [self.chunks[i] for i in order]
