"""Pack the best passages into the prompt under a token budget, strongest first, numbered."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .prompts import PASSAGE
from .records import Hit

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass(frozen=True)
class Evidence:
    """A passage as the model saw it: its number in the prompt, the hit it came from, the text given."""

    number: int
    hit: Hit
    text: str  # the passage, cut at a sentence end when the budget ran short

    @property
    def truncated(self) -> bool:
        return len(self.text) < len(self.hit.text)

    def to_dict(self) -> dict:
        h = self.hit
        return {"number": self.number, "doc_id": h.doc_id, "chunk_id": h.chunk_id, "title": h.title,
                "year": h.year, "pages": h.pages, "section": h.section, "source": h.source,
                "pmid": h.pmid, "doi": h.doi, "score": round(h.score, 6),
                "dense_score": None if h.dense_score is None else round(h.dense_score, 4),
                "truncated": self.truncated, "text": self.text}


class Distinct:
    """The passages kept so far, to tell a new one that repeats one of them nearly word for word: its
    words a run of a kept passage's, or more than 80% of their words shared. A passage that holds a
    kept one and more is new."""

    def __init__(self):
        self._kept: list[tuple[str, set[str]]] = []

    @staticmethod
    def _words(text: str) -> tuple[str, set[str]]:
        words = re.findall(r"\w+", text.lower())
        return f" {' '.join(words)} ", set(words)

    def repeats(self, text: str) -> bool:
        return self._repeats(*self._words(text))

    def _repeats(self, norm: str, words: set[str]) -> bool:
        return bool(words) and any(norm in other or len(words & other_words) > 0.8 * len(words | other_words)
                                   for other, other_words in self._kept)

    def keep(self, text: str) -> None:
        self._kept.append(self._words(text))

    def admit(self, text: str) -> bool:
        """`keep` the text and say True, unless it `repeats` a kept one (its words read once for both)."""
        entry = self._words(text)
        if self._repeats(*entry):
            return False
        self._kept.append(entry)
        return True


def render_passage(number: int, hit: Hit, text: str) -> str:
    pages, section = hit.pages, (f", {hit.section}" if hit.section else "")
    if not pages:  # a source without page numbers (JATS): the section says where the passage is
        pages, section = hit.section or "full text", ""
    return PASSAGE.format(number=number, title=hit.title, year=hit.year or "n.d.", pages=pages,
                          section=section, text=text)


def cut_to_budget(text: str, budget: int, count: Callable[[str], int]) -> str:
    """The longest run of whole sentences from the start of `text` within `budget` tokens ("" if none),
    verbatim: a prefix of `text`, its line breaks kept, so every quote from it is the paper's text."""
    if count(text) <= budget:
        return text
    kept = ""
    for end in [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        candidate = text[:end].strip()
        if count(candidate) > budget:
            break
        kept = candidate
    return kept


def pack(hits: list[Hit], count_tokens: Callable[[str], int], budget: int, min_tokens: int = 40) -> list[Evidence]:
    """Number the hits in rank order until `budget` tokens are used; drop near-duplicates."""
    evidence: list[Evidence] = []
    seen = Distinct()
    used = 0
    for hit in hits:
        if seen.repeats(hit.text):
            continue
        number = len(evidence) + 1
        overhead = count_tokens(render_passage(number, hit, ""))
        room = budget - used - overhead
        if room < min_tokens:
            break
        text = cut_to_budget(hit.text, room, count_tokens)
        if count_tokens(text) < min_tokens and text != hit.text:
            continue
        evidence.append(Evidence(number, hit, text))
        seen.keep(hit.text)
        used += overhead + count_tokens(text)
    return evidence


def passages_block(evidence: list[Evidence]) -> str:
    return "\n\n".join(render_passage(e.number, e.hit, e.text) for e in evidence)
