"""Does any retrieved paper speak of what the question asks about?

A sentence embedding puts a question close to passages on its topic even when none of them answers
it: "Is cefiderocol effective against carbapenem-resistant Acinetobacter baumannii?" is close to a
paper on Acinetobacter's antibiotic resistance that never names cefiderocol. What a paper must share with a question it
answers are the question's key words, the rare ones most of all. `question_coverage` weighs each
content word of the question by its rarity in the index (IDF over passages) and finds the retrieved
paper that holds the largest weighted share of them anywhere in its text; the words that paper lacks
are named, so a summary that stops here can say what is missing.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .query import QUESTION_WORDS, dense_query, is_entity
from .records import Hit
from .store import CJK_RE, Index
from .verify import _is_content, stem, tokens

# A word's passages are counted among at most this many (the first stored), and scaled to the index.
_SAMPLE = 50_000
# Words a question uses to ask, not to name what it asks about.
_ASKING = """happen happens happened make makes made making help helps helped work works worked get gets go goes
going need needs needed really still always often usually ever actually matter matters differ differs different
change changes changed affect affects affected influence influences lead leads leading better worse good bad best
worth useful necessary true common commonly way ways kind kinds type types mean means""".split()
_QUESTION_STEMS = frozenset(stem(w) for w in (*QUESTION_WORDS, *_ASKING))
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]*[A-Z][A-Z0-9]*s?$")


@dataclass(frozen=True)
class Coverage:
    """How much of the question the best-covering retrieved paper speaks of."""
    share: float  # IDF-weighted share of the question's key words that paper holds (1.0: all, or none to weigh)
    doc_id: str | None = None  # that paper
    missing: tuple[str, ...] = ()  # the question's words it lacks, as the question spells them, rarest first


def _key_tokens(question: str) -> list[tuple[str | None, str]]:
    """Each word and mark of the question: (stem, word) for a key word, (None, word) otherwise."""
    out: list[tuple[str | None, str]] = []
    for raw in re.findall(r"[A-Za-z0-9]+(?:'[a-z]+)?|[^\sA-Za-z0-9]", dense_query(question).replace("-", " ")):
        tok = raw.lower()
        if _is_content(tok):
            s = stem(tok)
        else:  # a name with digits (KCNJ11, E23K, MRTX1133) is a key word as it stands
            s = tok if len(tok) > 2 and any(c.isdigit() for c in tok) and is_entity(raw) else None
        out.append((s if s not in _QUESTION_STEMS else None, raw))
    return out


def key_words(question: str) -> dict[str, str]:
    """The question's content words, stem -> the word as written (framing such as "what is the
    effect of" and generic words such as "patients" or "study" left out)."""
    words: dict[str, str] = {}
    for s, raw in _key_tokens(question):
        if s:
            words.setdefault(s, raw)
    return words


def key_pairs(question: str) -> list[tuple[str, str, str]]:
    """Adjacent key words of the question, as (stem, stem, "the words") ("heart failure")."""
    toks = _key_tokens(question)
    return [(a, b, f"{x} {y}") for (a, x), (b, y) in zip(toks, toks[1:]) if a and b and a != b]


def _passages_with(index: Index, words: str, total: int) -> float:
    """How many of the index's `total` passages hold the word, or the words as a phrase: counted
    exactly in an index of up to _SAMPLE passages, past that among the first _SAMPLE and scaled
    (the count then costs the same at a million passages as at fifty thousand)."""
    first, last = index.db.execute("SELECT min(id), max(id) FROM chunks").fetchone()
    if first is None:
        return 0.0
    upto = min(last, first + _SAMPLE - 1)
    probe = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ?"
    found = index.db.execute(probe, ('"' + words.replace('"', '""') + '"', first, upto)).fetchone()[0]
    if upto == last:
        return float(found)
    sampled = index.db.execute("SELECT count(*) FROM chunks WHERE id BETWEEN ? AND ?", (first, upto)).fetchone()[0]
    return found * total / max(sampled, 1)


def _anywhere(index: Index, words: str) -> bool:
    """Whether any passage of the index holds the word, or the words as a phrase."""
    probe = "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1"
    return index.db.execute(probe, ('"' + words.replace('"', '""') + '"',)).fetchone() is not None


def _spelled_out(acronym: str, text: str) -> bool:
    """Whether the text spells the acronym out ("DVT": "deep vein thrombosis")."""
    letters = acronym.rstrip("s").lower()
    if not 2 <= len(letters) <= 6 or not letters.isalpha():
        return False
    pattern = r"\b" + r"\w*[\s-]+".join(re.escape(c) for c in letters) + r"\w*"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _abbreviated(question: str, acronyms: set[str]) -> set[str]:
    """Stems of the question's words that a run of three to five of them abbreviates to one of
    `acronyms` ("very low birth weight" where the paper writes "VLBW")."""
    words = re.findall(r"[A-Za-z]+", question.replace("-", " "))
    covered: set[str] = set()
    for i in range(len(words)):
        for n in range(3, 6):
            run = words[i:i + n]
            if len(run) == n and "".join(w[0] for w in run).lower() in acronyms:
                covered.update(stem(w.lower()) for w in run)
    return covered


def unindexed_names(index: Index, question: str) -> tuple[str, ...]:
    """The gene, protein, variant and drug names of the question (`query.is_entity`: KCNJ11, S118L,
    GSDMD, pembrolizumab) that no passage of the index holds, as the question spells them."""
    if CJK_RE.search(question):
        return ()
    return tuple(w for w in key_words(question).values() if is_entity(w) and not _anywhere(index, w))


def question_coverage(index: Index, question: str, hits: list[Hit]) -> Coverage:
    """The retrieved paper that speaks of most of the question (its title and whole stored text
    count, not only the passages retrieved), with the share it covers and what it lacks.

    A key word counts when the paper holds its stem, or spells out the question's acronym, or
    abbreviates the question's words to an acronym. Two adjacent key words that the paper holds
    only apart ("heart" and "failure", never "heart failure") count the rarer one alone, when
    some passage of the index holds them together (so that they name something)."""
    words = key_words(question)
    if len(words) < 2 or CJK_RE.search(question) or not hits:
        return Coverage(1.0, hits[0].doc_id if hits else None)
    total = index.count_chunks()
    weight = {s: max(math.log((total + 1) / (_passages_with(index, w, total) + 0.5)), 0.0) for s, w in words.items()}
    whole = sum(weight.values())
    if whole <= 0:
        return Coverage(1.0, hits[0].doc_id)
    pairs = [p for p in key_pairs(question) if _anywhere(index, p[2])]
    best = Coverage(-1.0)
    for doc_id in dict.fromkeys(h.doc_id for h in hits):
        rows = index.db.execute("SELECT coalesce(context, '') || ' ' || text FROM chunks WHERE doc_id=?", (doc_id,))
        title = (index.document(doc_id) or {}).get("title") or ""
        text = " ".join([title, *(r[0] for r in rows)])
        stems = [stem(t) for t in tokens(text)]
        held = set(stems) | _abbreviated(question, {a.lower() for a in re.findall(r"\b[A-Z][A-Za-z]*[A-Z]\b", text)})
        lacks = {s: words[s] for s in words
                 if s not in held and not (_ACRONYM.match(words[s]) and _spelled_out(words[s], text))}
        together = set(zip(stems, stems[1:]))
        for a, b, phrase in pairs:
            if a not in lacks and b not in lacks and (a, b) not in together:
                lacks[min((a, b), key=lambda x: weight[x])] = phrase
        share = 1.0 - sum(weight[s] for s in lacks) / whole
        if share > best.share:
            rarest_first = sorted(lacks, key=lambda s: -weight[s])
            best = Coverage(share, doc_id, tuple(dict.fromkeys(lacks[s] for s in rarest_first)))
    return best
