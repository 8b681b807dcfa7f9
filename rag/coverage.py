"""Does any retrieved paper speak of what the question asks about?

A sentence embedding puts a question close to passages on its topic even when none of them answers
it: "Is cefiderocol effective against carbapenem-resistant Acinetobacter baumannii?" is close to a
paper on Acinetobacter's antibiotic resistance that never names cefiderocol. What a paper must
share with a question it answers are the question's key words, the rare ones most of all.
`question_coverage` weighs each key word of the question by its rarity in the index (IDF over
passages) and finds the retrieved paper that holds the largest weighted share of them anywhere in
its title and text; the words that paper lacks are named, so a summary that stops here can say
what is missing. Words are matched as the full-text index matches them (Porter stems, British and
American spellings alike), so "tumours" finds "tumor" and "immunotherapy" never finds
"immunofluorescence".
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .query import QUESTION_WORDS, STOPWORDS, dense_query, is_entity
from .records import Hit
from .store import CJK_RE, Index
from .verify import _is_content

# A word's passages are counted exactly in an index of up to this many passages; past that, in
# _WINDOWS stretches of ids spread over the index, and scaled.
_SAMPLE = 50_000
_WINDOWS = 5
# Two adjacent key words name something ("heart failure") when at least this many passages hold them together.
_TERM_PASSAGES = 3
# Words a question uses to ask, not to name what it asks about (matched as written, not stemmed).
_ASKING = frozenset("""happen happens happened make makes made making help helps helped work works worked get gets
go goes going need needs needed really still always often usually ever actually matter matters differ differs
different change changes changed affect affects affected influence influences better worse good bad best worth
useful necessary true way ways kind kinds type types mean means""".split()) | QUESTION_WORDS
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?|[^\sA-Za-z0-9]")


@dataclass(frozen=True)
class Coverage:
    """How much of the question the retrieved paper that holds most of its key words speaks of."""
    share: float  # IDF-weighted share of the question's key words that paper holds (1.0: all, or none to weigh)
    doc_id: str | None = None  # that paper
    missing: tuple[str, ...] = ()  # the question's words it lacks, as the question spells them, rarest first


def _key_tokens(question: str) -> list[str | None]:
    """Each word and mark of the question: the word (lower case) if it is a key word, else None."""
    out: list[str | None] = []
    for raw in _WORD.findall(dense_query(question).replace("-", " ")):
        tok = re.sub(r"['’]s$", "", raw).lower()  # "Crohn's" -> "crohn"
        if _is_content(tok):
            out.append(None if tok in _ASKING else tok)
        else:  # a name with digits (KCNJ11, E23K, MRTX1133) is a key word as it stands
            out.append(tok if len(tok) > 2 and any(c.isdigit() for c in tok) and is_entity(raw) else None)
    return out


def key_words(question: str) -> dict[str, str]:
    """The question's key words, lower case -> as written (framing such as "what is the effect of",
    generic words such as "patients" or "study" and asking words such as "really" left out)."""
    written = {re.sub(r"['’]s$", "", w).lower(): re.sub(r"['’]s$", "", w) for w in _WORD.findall(question)}
    return {w: written.get(w, w) for w in dict.fromkeys(t for t in _key_tokens(question) if t)}


def key_pairs(question: str) -> list[tuple[str, str]]:
    """Adjacent key words of the question ("heart failure")."""
    toks = _key_tokens(question)
    return [(a, b) for a, b in zip(toks, toks[1:]) if a and b and a != b]


# British and American spellings of a word's parts: a word holding one is also looked up with the other.
_SPELLINGS = (("haem", "hem"), ("aemi", "emi"), ("oesoph", "esoph"), ("oedem", "edem"), ("oestr", "estr"),
              ("paed", "ped"), ("anaem", "anem"), ("aetiol", "etiol"), ("rrhoea", "rrhea"), ("foet", "fet"),
              ("isation", "ization"))


def _spellings(word: str) -> list[str]:
    """The word and its other English spelling (tumour/tumor, haemorrhage/hemorrhage, oedema/edema)."""
    ending = re.search(r"(?<=[a-z]{2})(our|or)(s?)$", word)
    if ending:  # tumour(s) / tumor(s)
        return [word, word[:ending.start()] + ("or" if ending[1] == "our" else "our") + ending[2]]
    for british, american in _SPELLINGS:
        if british in word:
            return [word, word.replace(british, american, 1)]
    for british, american in _SPELLINGS:
        if american in word:
            return [word, word.replace(american, british, 1)]
    return [word]


def _match(words: str) -> str:
    """An FTS5 expression for a word or a phrase, in either spelling."""
    parts = [_spellings(w) for w in words.split()]
    forms = dict.fromkeys([" ".join(p[0] for p in parts), " ".join(p[-1] for p in parts)])
    return " OR ".join('"' + f.replace('"', '""') + '"' for f in forms)


def _passages_with(index: Index, words: str, total: int) -> float:
    """How many of the index's `total` passages hold the word (or phrase)."""
    first, last = index.db.execute("SELECT min(id), max(id) FROM chunks").fetchone()
    if first is None:
        return 0.0
    probe = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ?"
    if last - first < _SAMPLE:
        return float(index.db.execute(probe, (_match(words), first, last)).fetchone()[0])
    step, width = (last - first) // _WINDOWS, _SAMPLE // _WINDOWS
    found = sampled = 0
    for lo in range(first, last, step)[:_WINDOWS]:
        span = (lo, lo + width - 1)
        found += index.db.execute(probe, (_match(words), *span)).fetchone()[0]
        sampled += index.db.execute("SELECT count(*) FROM chunks WHERE id BETWEEN ? AND ?", span).fetchone()[0]
    return found * total / max(sampled, 1)


def _anywhere(index: Index, words: str) -> bool:
    """Whether any passage of the index holds the word, or the words as a phrase."""
    return index.db.execute("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (_match(words),)).fetchone() \
        is not None


def _in_paper(index: Index, words: str, doc_id: str, ids: tuple[int, int]) -> bool:
    """Whether a passage of the paper (its text or its title and section line) holds the word or phrase."""
    probe = ("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ? "
             "AND rowid IN (SELECT id FROM chunks WHERE doc_id=?) LIMIT 1")
    return index.db.execute(probe, (_match(words), *ids, doc_id)).fetchone() is not None


def _acronyms(question: str) -> list[tuple[str, tuple[str, ...]]]:
    """Acronyms a run of three to five of the question's words would make ("very low birth weight":
    "vlbw"), with the words; runs hold no stopword."""
    words = [w for w in re.findall(r"[A-Za-z]+", question.replace("-", " "))]
    out = []
    for i in range(len(words)):
        for n in range(3, 6):
            run = words[i:i + n]
            if len(run) == n and not any(w.lower() in STOPWORDS for w in run):
                out.append(("".join(w[0] for w in run).lower(), tuple(w.lower() for w in run)))
    return out


def unindexed_names(index: Index, question: str) -> tuple[str, ...]:
    """The gene, protein, variant and drug names of the question (`query.is_entity`: KCNJ11, S118L,
    GSDMD, pembrolizumab) that no passage of the index holds, as the question spells them."""
    if CJK_RE.search(question):
        return ()
    return tuple(w for k, w in key_words(question).items() if is_entity(w) and not _anywhere(index, k))


def question_coverage(index: Index, question: str, hits: list[Hit]) -> Coverage:
    """The retrieved paper that holds the largest share of the question's key words, weighted by
    rarity (its title and whole stored text count, not only the passages retrieved), with that
    share and what it lacks. A question in Chinese, Japanese or Korean script, or with no key
    word, is not weighed (share 1.0).

    A key word counts when the paper holds it, or when a run of the question's words abbreviates
    to an acronym the paper uses ("very low birth weight": VLBW). Two adjacent key words that name
    something in the index ("heart failure", in at least three passages) but that the paper holds
    only apart count as one word missing, the commoner of the two."""
    words = key_words(question)
    if not words or CJK_RE.search(question) or not hits:
        return Coverage(1.0, hits[0].doc_id if hits else None)
    total = index.count_chunks()
    weight = {w: max(math.log((total + 1) / (_passages_with(index, w, total) + 0.5)), 0.0) for w in words}
    whole = sum(weight.values())
    if whole <= 0:
        return Coverage(1.0, hits[0].doc_id)
    pairs = [(a, b) for a, b in key_pairs(question) if _passages_with(index, f"{a} {b}", total) >= _TERM_PASSAGES]
    acronyms = _acronyms(question)
    best = Coverage(-1.0)
    for doc_id in dict.fromkeys(h.doc_id for h in hits):
        ids = index.db.execute("SELECT min(id), max(id) FROM chunks WHERE doc_id=?", (doc_id,)).fetchone()
        if ids[0] is None:
            continue
        held = {w for w in words if _in_paper(index, w, doc_id, ids)}
        for acronym, run in acronyms:
            if not set(run) <= held and _in_paper(index, acronym, doc_id, ids):
                held |= set(run)
        lacks = {w: words[w] for w in words if w not in held}
        for a, b in pairs:
            if a not in lacks and b not in lacks and not _in_paper(index, f"{a} {b}", doc_id, ids):
                lacks[min((a, b), key=lambda x: weight[x])] = f"{words[a]} {words[b]}"
        share = 1.0 - sum(weight[w] for w in lacks) / whole
        if share > best.share:
            rarest_first = sorted(lacks, key=lambda w: -weight[w])
            best = Coverage(share, doc_id, tuple(dict.fromkeys(lacks[w] for w in rarest_first)))
    return best if best.share >= 0 else Coverage(1.0, hits[0].doc_id)
