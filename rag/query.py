"""What a question is really asking for: boilerplate dropped, rare biomedical terms given weight.

Questions carry words that say nothing about the answer ("Which of the following ...", "What is
the effect of ..."); they dilute both the embedding and the BM25 query. Gene, protein and drug names,
variants and numbers with units are what a passage must share with the question, so the lexical
query also matches them as phrases and counts them twice.
"""
from __future__ import annotations

import re

from .store import CJK_RE

# Leading phrases that frame a question without adding to it; removed before embedding.
_LEAD = re.compile(
    r"^\s*(?:(?:which|what) of the following(?: (?:statements?|options?|is|are|best describes?|describes?|"
    r"is true(?: of| about)?|are true(?: of| about)?))*|(?:according to|based on|in) (?:the|this|these) "
    r"(?:stud(?:y|ies)|papers?|articles?|literature|evidence)[, ]*|(?:what|which) (?:is|are|was|were) "
    r"(?:the )?(?:effects?|impacts?|roles?|influences?) of|what (?:is|are) known about|"
    r"is there (?:any )?evidence (?:that|of|for)|(?:please )?(?:describe|explain|summari[sz]e)(?: how| what| the)?)"
    r"[\s,:]*", re.IGNORECASE)

STOPWORDS = frozenset("""a an and are as at be been being by can could did do does doing for from had has have
how i if in into is it its may might more most no nor not of on or our over should so such than that the their
them then there these they this those through to under up was we were what when where which while who whom
why will with within would you your versus vs""".split())
# Words that frame a question in the literature but rarely tell passages apart.
QUESTION_WORDS = frozenset("""following best describe describes described true statement statements option
options effect effects impact role known regarding concerning according study studies paper papers article
articles literature evidence report reported reports finding findings shown show shows""".split())
MAX_TERMS = 64

_WORD = re.compile(r"\w+", re.UNICODE)
_CJK_RUN = re.compile(CJK_RE.pattern + "+")
_TOKEN = re.compile(r"\S+")
# A gene, protein, variant or drug code: letters and digits mixed (KCNJ11, S118L, G12C, ARS1620), an
# upper-case acronym (GSDMD, TNBC), or a word with a drug-name ending (or a cephalosporin's "cef-"; a
# class named for its drugs, "carbapenem", counts too).
_ENTITY = re.compile(r"^(?:[A-Za-z]+\d+[A-Za-z0-9]*|\d+[A-Za-z]+[A-Za-z0-9]*|[A-Z][A-Z0-9]{2,}[a-z]?)$")
_DRUG = re.compile(r"(?:mab|nib|parin|statin|pril|sartan|olol|mycin|cillin|azole|formin|gliptin|glutide|prazole|"
                   r"vir|platin|rubicin|taxel|rasib|floxacin|cycline|xaban|gatran|penem)$|^cef[a-z]{4,}",
                   re.IGNORECASE)
_UNIT = re.compile(r"^(?:%|mg|g|kg|ml|l|mm|cm|nm|µm|um|mmol|mol|mm|µg|ug|ng|iu|u|h|hr|hrs|days?|weeks?|months?|"
                   r"years?|fold)$", re.IGNORECASE)


def dense_query(question: str) -> str:
    """The question with its framing phrase removed (unchanged if nothing would be left)."""
    stripped = _LEAD.sub("", question, count=1).strip()
    return stripped if len(stripped) >= 3 else question.strip()


def rare_terms(question: str) -> list[list[str]]:
    """Multi-part names ("K-Ras(G12C)", "HLA-A*02:01", "Kir6.2") and numbers with units ("10 mg"),
    each as the word sequence the full-text index stores them as."""
    tokens = _TOKEN.findall(CJK_RE.sub(" ", question))
    phrases = []
    for i, tok in enumerate(tokens):
        parts = _WORD.findall(tok.lower())
        if len(parts) > 1 and any(c.isdigit() for c in tok) or (len(parts) > 1 and any(p.isupper() for p in
                                                                                        _WORD.findall(tok))):
            phrases.append(parts)
        elif len(parts) == 1 and parts[0].replace(".", "").isdigit() and i + 1 < len(tokens):
            unit = _WORD.findall(tokens[i + 1].lower())
            if unit and _UNIT.match(unit[0]):
                phrases.append([parts[0], unit[0]])
    return phrases


def is_entity(word: str) -> bool:
    return bool(_ENTITY.match(word) or _DRUG.search(word))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def latin_query(text: str) -> str | None:
    """An FTS5 expression OR-ing the query's words (stopwords and question framing dropped), with rare
    names matched twice and multi-part names also as phrases; None if no word is left."""
    return " OR ".join(latin_terms(text)) or None


def latin_terms(text: str) -> list[str]:
    """The quoted FTS5 terms and phrases that `latin_query` ORs together, in order."""
    terms: list[str] = []
    for word in _WORD.findall(CJK_RE.sub(" ", text)):
        w = word.lower()
        if w in STOPWORDS or w in QUESTION_WORDS or w in terms or (len(w) < 2 and not w.isdigit()):
            continue
        terms.append(w)
        if is_entity(word):
            terms.append(w)  # bm25() sums over the query's phrases: a repeated term counts twice
        if len(terms) >= MAX_TERMS:
            break
    if not terms:  # a question made only of framing words still searches for them
        terms = [w.lower() for w in _WORD.findall(CJK_RE.sub(" ", text)) if w.lower() not in STOPWORDS][:MAX_TERMS]
    phrases = [" ".join(p) for p in rare_terms(text)][:8]
    return [_quote(t) for t in terms + phrases]


def cjk_query(text: str) -> str | None:
    """An expression for the trigram table: the query's CJK runs cut into overlapping trigrams."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        pieces = [run] if len(run) <= 3 else [run[i:i + 3] for i in range(len(run) - 2)]
        for g in pieces:
            if len(g) >= 3 and g not in grams:
                grams.append(g)
    return " OR ".join(_quote(g) for g in grams[:MAX_TERMS]) or None
