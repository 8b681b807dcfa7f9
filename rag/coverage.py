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

from .query import QUESTION_WORDS, STOPWORDS, _quote, dense_query, is_entity
from .records import Hit
from .store import CJK_RE, Index
from .verify import _is_content

# A word's passages are counted up to this many; a word past it is common, and weighs little.
_COUNT_LIMIT = 50_000
# Two adjacent key words name something ("heart failure") when at least this many passages hold them together.
_TERM_PASSAGES = 3
# Words a question uses to ask, not to name what it asks about (matched as written, not stemmed).
_ASKING = frozenset("""happen happens happened make makes made making help helps helped work works worked get gets
go goes going need needs needed really still always often usually ever actually matter matters differ differs
different change changes changed affect affects affected influence influences better worse good bad best worth
useful necessary true way ways kind kinds type types mean means""".split()) | QUESTION_WORDS
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|[^\w\s]")  # words in any script ("Sjögren's"), and marks


@dataclass(frozen=True)
class Coverage:
    """How much of the question the retrieved paper that holds most of its key words speaks of."""
    share: float  # IDF-weighted share of the question's key words that paper holds (1.0: all, or none to weigh)
    doc_id: str | None = None  # that paper
    missing: tuple[str, ...] = ()  # the question's words it lacks, as the question spells them, rarest first


def _bare(word: str) -> str:
    """The word without a possessive ending ("Crohn's" -> "Crohn")."""
    return re.sub(r"['’]s$", "", word)


def _key_tokens(question: str) -> list[str | None]:
    """Each word and mark of the question: the word (lower case) if it is a key word, else None."""
    out: list[str | None] = []
    for raw in _WORD.findall(dense_query(question).replace("-", " ")):
        tok = _bare(raw).lower()
        if _is_content(tok):
            out.append(None if tok in _ASKING else tok)
        else:  # a name with digits (KCNJ11, E23K, MRTX1133) is a key word as it stands
            out.append(tok if len(tok) > 2 and any(c.isdigit() for c in tok) and is_entity(raw) else None)
    return out


def key_words(question: str) -> dict[str, str]:
    """The question's key words, lower case -> as written (framing such as "what is the effect of",
    generic words such as "patients" or "study" and asking words such as "really" left out)."""
    written = {_bare(w).lower(): _bare(w) for w in _WORD.findall(question)}
    return {w: written.get(w, w) for w in dict.fromkeys(t for t in _key_tokens(question) if t)}


def key_pairs(question: str) -> list[tuple[str, str]]:
    """Adjacent key words of the question ("heart failure")."""
    toks = _key_tokens(question)
    return [(a, b) for a, b in zip(toks, toks[1:]) if a and b and a != b]


# British spellings -> American, and back: (pattern, replacement) pairs applied in turn.
_NOUNS = "tumo|behavio|colo|favo|odo|labo|hono|vapo|humo"
_TO_AMERICAN = ((rf"^({_NOUNS})ur", r"\1r"), ("^haem", "hem"), ("aemi(a|c)", r"emi\1"), ("^oesoph", "esoph"),
                ("^oedem", "edem"), ("^oestr", "estr"), ("^(ortho|)paed", r"\1ped"), ("^anaesth", "anesth"),
                ("^aetiol", "etiol"), ("rrhoea", "rrhea"), ("^foet", "fet"), ("^gynaec", "gynec"), ("^caesar", "cesar"),
                ("^faec", "fec"), ("is(e|es|ed|er|ers|ing|ation|ations)$", r"iz\1"), ("ys(e|es|ed|er|ers|ing)$", r"yz\1"))
_TO_BRITISH = ((rf"^({_NOUNS})r", r"\1ur"), ("^hem", "haem"), ("(?<=[a-z])emi(a|c)", r"aemi\1"), ("^esoph", "oesoph"),
               ("^edem", "oedem"), ("^estr", "oestr"), ("^(ortho|)ped", r"\1paed"), ("^anesth", "anaesth"),
               ("^etiol", "aetiol"), ("rrhea", "rrhoea"), ("^fet(?=al|us)", "foet"), ("^gynec", "gynaec"),
               ("^cesar", "caesar"), ("^fec", "faec"), ("iz(e|es|ed|er|ers|ing|ation|ations)$", r"is\1"),
               ("yz(e|es|ed|er|ers|ing)$", r"ys\1"))


def _respell(word: str, rules: tuple[tuple[str, str], ...]) -> str:
    for pattern, replacement in rules:
        word = re.sub(pattern, replacement, word)
    return word


def _spellings(word: str) -> list[str]:
    """The word and its other English spelling (tumour/tumor, haemorrhage/hemorrhage, randomised/randomized)."""
    other = _respell(word, _TO_AMERICAN)
    if other == word:
        other = _respell(word, _TO_BRITISH)
    return [word] if other == word else [word, other]


def _match(words: str) -> str:
    """An FTS5 expression for a word or a phrase, in either spelling."""
    parts = [_spellings(w) for w in words.split()]
    forms = dict.fromkeys([" ".join(p[0] for p in parts), " ".join(p[-1] for p in parts)])
    return " OR ".join(_quote(f) for f in forms)


def _passages_with(index: Index, words: str) -> int:
    """How many passages hold the word (or phrase), counted up to _COUNT_LIMIT."""
    probe = "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
    return index.db.execute(probe, (_match(words), _COUNT_LIMIT)).fetchone()[0]


def _anywhere(index: Index, words: str) -> bool:
    """Whether any passage of the index holds the word, or the words as a phrase."""
    found = index.db.execute("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (_match(words),)).fetchone()
    return found is not None


def _in_paper(index: Index, words: str, doc_id: str, ids: tuple[int, int]) -> bool:
    """Whether a passage of the paper (its text or its title and section line) holds the word or phrase
    (`ids`, the paper's first and last passage id, only narrow the search)."""
    probe = ("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid BETWEEN ? AND ? "
             "AND rowid IN (SELECT id FROM chunks WHERE doc_id=?) LIMIT 1")
    return index.db.execute(probe, (_match(words), *ids, doc_id)).fetchone() is not None


def _acronyms(question: str) -> list[tuple[str, tuple[str, ...]]]:
    """Acronyms a run of three to five of the question's words would make ("very low birth weight":
    "VLBW"), with the words; a run holds no stopword and no word shorter than two letters."""
    words = re.findall(r"[^\W\d_]+", question.replace("-", " "))
    out = []
    for i in range(len(words)):
        for n in range(3, 6):
            run = words[i:i + n]
            if len(run) == n and not any(w.lower() in STOPWORDS or len(w) < 2 for w in run):
                out.append(("".join(w[0] for w in run).upper(), tuple(w.lower() for w in run)))
    return out


def _uses_acronym(index: Index, acronym: str, doc_id: str, ids: tuple[int, int]) -> bool:
    """Whether the paper writes the acronym in capitals ("VLBW", not the word "arm")."""
    probe = ("SELECT coalesce(c.context, '') || ' ' || c.text FROM chunks_fts f CROSS JOIN chunks c ON c.id=f.rowid "
             "WHERE chunks_fts MATCH ? AND f.rowid BETWEEN ? AND ? AND c.doc_id=? LIMIT 20")
    pattern = re.compile(rf"\b{re.escape(acronym)}s?\b")
    return any(pattern.search(text) for text, in index.db.execute(probe, (_quote(acronym.lower()), *ids, doc_id)))


def _names(question: str) -> dict[str, str]:
    """The question's gene, variant and drug names (`query.is_entity`), lower case -> as written."""
    return {k: w for k, w in key_words(question).items() if is_entity(w)}


def unindexed_names(index: Index, question: str) -> tuple[str, ...]:
    """The gene, protein, variant and drug names of the question (`query.is_entity`: KCNJ11, S118L,
    GSDMD, pembrolizumab) that no passage of the index holds, as the question spells them."""
    if CJK_RE.search(question):
        return ()
    return tuple(w for k, w in _names(question).items() if not _anywhere(index, k))


def papers_naming(index: Index, question: str, hits: list[Hit]) -> set[str]:
    """The retrieved papers that name one of the question's genes, variants or drugs (`query.is_entity`);
    none for a question in Chinese, Japanese or Korean script, whose words are not weighed."""
    if CJK_RE.search(question):
        return set()
    names = _names(question)
    named = set()
    for doc_id in dict.fromkeys(h.doc_id for h in hits) if names else ():
        ids = index.db.execute("SELECT min(id), max(id) FROM chunks WHERE doc_id=?", (doc_id,)).fetchone()
        if ids[0] is not None and any(_in_paper(index, n, doc_id, ids) for n in names):
            named.add(doc_id)
    return named


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
    weight = {w: max(math.log((total + 1) / (_passages_with(index, w) + 0.5)), 0.0) for w in words}
    whole = sum(weight.values())
    if whole <= 0:
        return Coverage(1.0, hits[0].doc_id)
    pairs = [(a, b) for a, b in key_pairs(question) if _passages_with(index, f"{a} {b}") >= _TERM_PASSAGES]
    acronyms = _acronyms(question)
    best = Coverage(-1.0)
    for doc_id in dict.fromkeys(h.doc_id for h in hits):
        ids = index.db.execute("SELECT min(id), max(id) FROM chunks WHERE doc_id=?", (doc_id,)).fetchone()
        if ids[0] is None:
            continue
        held = {w for w in words if _in_paper(index, w, doc_id, ids)}
        for acronym, run in acronyms:
            if not set(run) <= held and _uses_acronym(index, acronym, doc_id, ids):
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
