"""What a passage is about, beyond its own words: its paper's title and the section it sits under.

A passage that says "these mutants" or "the treated group" names neither; the title and heading
do. They are embedded and lexically indexed with the passage; the passage shown stays its own text.
"""
from __future__ import annotations

MAX_TITLE_CHARS = 200


def passage_context(title: str | None, section: str | None) -> str:
    """One short line: "Title — Section" (either may be missing)."""
    title = " ".join((title or "").split())
    if len(title) > MAX_TITLE_CHARS:
        title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    section = " ".join((section or "").split())
    return " — ".join(p for p in (title, section) if p)


def embedding_text(context: str | None, text: str) -> str:
    """The text the embedder reads for a passage: its context line, then the passage."""
    return f"{context}\n{text}" if context else text
