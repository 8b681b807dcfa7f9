"""Safe FTS5 queries: any user text becomes a list of quoted terms, never FTS syntax."""
from __future__ import annotations

import re

from .store import CJK_RE

STOPWORDS = frozenset("""a an and are as at be been being by can could did do does doing for from had has have
how i if in into is it its may might more most no nor not of on or our over should so such than that the their
them then there these they this those through to under up was we were what when where which while who whom
why will with within would you your versus vs""".split())
MAX_TERMS = 64

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK_RUN = re.compile(CJK_RE.pattern + "+")


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def latin_query(text: str) -> str | None:
    """An FTS5 expression OR-ing the query's words (stopwords dropped), or None if none are left."""
    terms: list[str] = []
    for word in _WORD.findall(CJK_RE.sub(" ", text)):
        w = word.lower()
        if w not in STOPWORDS and w not in terms and (len(w) > 1 or w.isdigit()):
            terms.append(w)
        if len(terms) == MAX_TERMS:
            break
    return " OR ".join(_quote(t) for t in terms) or None


def cjk_query(text: str) -> str | None:
    """An expression for the trigram table: the query's CJK runs cut into overlapping trigrams."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        pieces = [run] if len(run) <= 3 else [run[i:i + 3] for i in range(len(run) - 2)]
        for g in pieces:
            if len(g) >= 3 and g not in grams:
                grams.append(g)
    return " OR ".join(_quote(g) for g in grams[:MAX_TERMS]) or None
