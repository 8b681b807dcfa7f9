"""Check each finding against the passages it cites: meaning (embedding similarity to the best
sentence) and letter (the numbers, gene and drug names it quotes must appear in the passage)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .embed import Embedder

# Calibrated with bench/calibrate_thresholds.py on PubMedQA with all-MiniLM-L6-v2: a conclusion
# scored against the best sentence of its own abstract vs. of another abstract (see README).
SUPPORTED = 0.50
PARTIAL = 0.40
# A citation medrag attaches itself, to a finding the model left uncited, must clear a higher bar.
INFERRED = 0.60

_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n{2,}")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?=%|\b)")
_ENTITY = re.compile(r"\b(?:[A-Za-z]*\d+[A-Za-z][A-Za-z0-9]*|[A-Z][A-Za-z]*\d+[A-Za-z0-9]*|[A-Z]{2,}[a-z]?)\b")
_DRUG = re.compile(r"\b\w+(?:mab|nib|parin|statin|pril|sartan|olol|mycin|cillin|azole|formin|gliptin|glutide|"
                   r"prazole|vir|platin|rubicin|taxel|urea|ide)\b", re.IGNORECASE)
_IGNORE = {"AND", "OR", "NOT", "THE", "IN", "OF"}


@dataclass(frozen=True)
class Support:
    score: float  # best cosine similarity of the claim to the passage or one of its sentences
    missing: tuple[str, ...]  # numbers and names in the claim that the passage never mentions
    verdict: str  # "supported", "partial" or "unsupported"


def sentences(text: str) -> list[str]:
    parts = [" ".join(s.split()) for s in _SENTENCE.split(text)]
    return [s for s in parts if len(s) > 20]


def key_terms(text: str) -> set[str]:
    numbers = {n.replace(",", ".") for n in _NUMBER.findall(text) if not (len(n) == 4 and n.startswith(("19", "20")))}
    names = {m for m in _ENTITY.findall(text) if m not in _IGNORE} | {m.lower() for m in _DRUG.findall(text)}
    return {t for t in numbers | names if len(t) > 1 or t.isdigit()}


def missing_terms(claim: str, passage: str) -> tuple[str, ...]:
    """Numbers and names in the claim that the passage does not contain as whole words."""
    numbers = {n.replace(",", ".") for n in _NUMBER.findall(passage)}
    words = {w.lower() for w in re.findall(r"[\w-]+", passage)} | {w.lower() for w in re.findall(r"\w+", passage)}
    missing = []
    for t in key_terms(claim):
        found = t in numbers if t[0].isdigit() else t.lower() in words
        if not found:
            missing.append(t)
    return tuple(sorted(missing))


def verdict_for(score: float, missing: tuple[str, ...]) -> str:
    if score >= SUPPORTED and not missing:
        return "supported"
    if score >= PARTIAL:
        return "partial"
    return "unsupported"


class Verifier:
    """Scores claims against passages, embedding each sentence once."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo)):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dimension))

    def similarity(self, claim: str, passage: str) -> float:
        units = [" ".join(passage.split())] + sentences(passage)
        units += [f"{a} {b}" for a, b in zip(units[1:], units[2:])]  # claims often join two sentences
        vectors = self._vectors([claim] + units)
        return float(np.max(vectors[1:] @ vectors[0]))

    def check(self, claim: str, passage: str) -> Support:
        score = self.similarity(claim, passage)
        missing = missing_terms(claim, passage)
        return Support(round(score, 4), missing, verdict_for(score, missing))


def sentence_support(embedder: Embedder, claim: str, passage: str) -> float:
    return Verifier(embedder).similarity(claim, passage)
