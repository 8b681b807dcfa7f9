"""The second ranking stage: a closer look at the best candidates of the first.

One seam, `Reranker.score(query, passages) -> scores`, so a model-based reranker (a cross-encoder,
or the generator as a judge) can be added later as one more class. The default looks for the
sentence window that answers: a key passage is one to three sentences inside a 250-token passage,
and a passage whose query terms sit together in one window is likelier to hold the answer than one
that mentions them far apart.
"""
from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod

from .query import QUESTION_WORDS, STOPWORDS

_SENTENCE = re.compile(r"(?<=[.!?;。！？])\s+|\n+")
_WORD = re.compile(r"\w+")


class Reranker(ABC):
    """Scores passages for a query; higher is better. Only the order of the scores is used."""

    name: str

    @abstractmethod
    def score(self, query: str, passages: list[str]) -> list[float]:
        """One score per passage."""


def stem(word: str) -> str:
    """A light suffix stripper: enough to match "mutations" with "mutation" and "treated" with "treat"."""
    w = word.lower()
    if len(w) <= 4 or w[-1].isdigit():
        return w
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: len(w) - len(suffix)] + repl
    return w


def terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


class SentenceWindowReranker(Reranker):
    """The IDF-weighted share of the query's terms found in a passage's best window of `window`
    consecutive sentences. IDF comes from the candidates themselves, so it needs no index."""

    name = "sentence-window"

    def __init__(self, window: int = 2):
        self.window = window

    def score(self, query: str, passages: list[str]) -> list[float]:
        wanted = {t for t in terms(query) if t not in QUESTION_WORDS}
        if not wanted or not passages:
            return [0.0] * len(passages)
        windows_of = []
        df: dict[str, int] = {}
        for text in passages:
            sentences = [set(terms(s)) for s in _SENTENCE.split(text) if s.strip()] or [set()]
            spans = [set().union(*sentences[i:i + self.window])
                     for i in range(max(1, len(sentences) - self.window + 1))]
            windows_of.append(spans)
            for t in wanted & set().union(*sentences):
                df[t] = df.get(t, 0) + 1
        n = len(passages)
        idf = {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in wanted}
        total = sum(idf.values()) or 1.0
        return [max(sum(idf[t] for t in wanted & span) for span in spans) / total for spans in windows_of]


class DenseWindowReranker(Reranker):
    """The best cosine between the query and a window of `window` consecutive sentences, embedded at
    query time with the index's embedder. Sharper than the passage vector, but it embeds every
    window of every candidate for each query: seconds on a CPU, so it is not the default there."""

    name = "dense-window"

    def __init__(self, embedder, window: int = 2):
        self.embedder = embedder
        self.window = window

    def score(self, query: str, passages: list[str]) -> list[float]:
        windows, owner = [], []
        for n, text in enumerate(passages):
            sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 20] or [text]
            for i in range(max(1, len(sentences) - self.window + 1)):
                windows.append(" ".join(sentences[i:i + self.window]))
                owner.append(n)
        if not windows:
            return [0.0] * len(passages)
        q = self.embedder.embed_query(query)
        sims = self.embedder.embed(windows) @ q
        best = [-1.0] * len(passages)
        for n, s in zip(owner, sims.tolist()):
            best[n] = max(best[n], s)
        return best


RERANKERS = ("none", "sentence-window", "dense-window")


def load_reranker(name: str | None, embedder=None) -> Reranker | None:
    """A reranker by name: "none" (the first stage alone), "sentence-window" or "dense-window"
    (which needs the index's embedder)."""
    if name is None or name == "none":
        return None
    if name == "sentence-window":
        return SentenceWindowReranker()
    if name == "dense-window" and embedder is not None:
        return DenseWindowReranker(embedder)
    from .errors import InvalidQuery

    raise InvalidQuery(f"reranker {name!r} is not one of {', '.join(RERANKERS)}")
