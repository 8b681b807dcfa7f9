"""Check each finding against the passage it cites, in meaning and in letter.

A claim is `supported` by a passage only when all of these hold:
- meaning: the claim is close (cosine similarity) to the passage or to one or two of its sentences;
- letter: the numbers (with their % sign), gene, drug and acronym names the claim quotes appear in
  the passage;
- coverage: most of the claim's content words (stemmed) appear in the passage;
- polarity: the sentence or two that best support the claim (the quote) do not say the opposite:
  no negation the other does not share ("not associated" vs "associated"), no flipped direction
  ("increased" vs "decreased", "better" vs "worse"), no "no significant difference" against a
  claimed difference (or the reverse).
The quote is returned verbatim (an exact substring of the passage) so a reader can check it.

Thresholds are calibrated with bench/eval_verifier.py on bench/data/verifier_pubmedqa.jsonl
(PubMedQA conclusions against their own abstract, other abstracts, and perturbed copies).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .embed import Embedder

# Cosine similarity (all-MiniLM-L6-v2) of the claim to its best unit of the passage.
SUPPORTED = 0.50
PARTIAL = 0.40
# A citation medrag attaches itself, to a finding the model left uncited, must clear a higher bar.
INFERRED = 0.60
# Share of the claim's content words the passage must hold (stemmed) for `supported`.
COVERAGE = 0.60

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?=%|\b)")
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)?)\s*(?:%|per\s*cent\b|percent\b)", re.IGNORECASE)
_ENTITY = re.compile(r"\b(?:[A-Za-z]*\d+[A-Za-z][A-Za-z0-9]*|[A-Z][A-Za-z]*\d+[A-Za-z0-9]*|[A-Z]{2,}[a-z]?)\b")
_DRUG = re.compile(r"\b\w+(?:mab|nib|parin|statin|pril|sartan|olol|mycin|cillin|azole|formin|gliptin|glutide|"
                   r"prazole|vir|platin|rubicin|taxel|urea|ide)\b", re.IGNORECASE)
_IGNORE = {"AND", "OR", "NOT", "THE", "IN", "OF"}
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}

# ---- sentences and quotes ------------------------------------------------------------------------
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n{2,}")
_BREAK = re.compile(r"[.!?。！？]+[\"')\]]*\s+|\n{2,}")
_ABBREVIATION = re.compile(r"(?:\bal|\be\.g|\bi\.e|\bvs|\bfig|\bfigs|\bref|\bno|\bapprox|\bca|\bdr|\bst|\bcf|\bresp|"
                           r"\bsp|\bspp|\bet|\bincl|\bnos|\bequ|\bvol|\bpp|\b[A-Z])\.[\"')\]]*\s+$", re.IGNORECASE)
_MIN_SENTENCE = 20


def sentences(text: str) -> list[str]:
    parts = [" ".join(s.split()) for s in _SENTENCE.split(text)]
    return [s for s in parts if len(s) > _MIN_SENTENCE]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, so that text[start:end] is the sentence verbatim.
    A full stop after a common abbreviation ("et al.", "e.g.", "Fig.") or before a lower-case word
    does not end a sentence."""
    spans, start = [], 0
    for m in _BREAK.finditer(text):
        if "\n\n" not in m.group():
            nxt = text[m.end():m.end() + 1]
            if (nxt and nxt.islower()) or _ABBREVIATION.search(text[max(start, m.start() - 8):m.end()]):
                continue
        end = m.end()
        while end > m.start() and text[end - 1].isspace():
            end -= 1
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    # A fragment too short to stand alone ("Three-year trial.") joins the sentence after it.
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and merged[-1][1] - merged[-1][0] <= _MIN_SENTENCE:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


# ---- words ---------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+)?|[,.;:!?()\[\]]")
_STOP = set("""
a about above after again against all also although am among an and any are as at be because been before being
below between both but by can could did do does doing down during each either etc few for from further had has
have having he her here hers him his how i if in into is it its itself just may me might more most much must my
neither nor of off on once only or other our ours out over own per same shall she should since so some such than
that the their them then there these they this those through thus to too under until up upon very via was we were
what when where whether which while who whom whose why will with within would yet you your
however therefore moreover furthermore hence overall addition additionally whereas although though
study studies result results finding findings data evidence conclusion conclusions suggest suggests suggested
show shows showed shown indicate indicates indicated demonstrate demonstrates demonstrated reveal revealed
present presented current report reported observed found find seem seems appear appears likely possible
possibly probably potentially potential important importantly particularly especially well use used using
based among one two three four five six seven eight nine ten first second third new several many various
clinical clinically role data analysis group groups patient patients subject subjects case cases
""".split())
_DIRECTION = {  # family -> (words that say up, words that say down), as regexes on lower-case words
    "amount": (r"increas\w*|higher|highest|more|greater|greatest|elevat\w*|rais(?:e|ed|es|ing)|ris(?:e|es|ing)|rose|"
               r"enhanc\w*|larger|augment\w*|boost\w*|upregulat\w*|up|high|exceed\w*|gain\w*|accelerat\w*|"
               r"longer|prolong\w*",
               r"decreas\w*|lower|lowest|less|least|fewer|reduc\w*|declin\w*|diminish\w*|smaller|smallest|drop\w*|"
               r"fell|fall\w*|attenuat\w*|downregulat\w*|down|low|shorter|shorten\w*|lessen\w*|loss|lost"),
    "quality": (r"improv\w*|better|best|benefit\w*|beneficial|superior|favou?rabl[ey]|effective|effectively|"
                r"efficacious|protect\w*|safe|safer|success\w*",
                r"worsen\w*|worse|worst|harm\w*|inferior|unfavou?rabl[ey]|ineffective|detriment\w*|deteriorat\w*|"
                r"unsafe|impair\w*"),
    "sign": (r"positive|positively", r"negative|negatively|inverse|inversely"),
}
_DIRECTION_RE = {fam: (re.compile(rf"^(?:{up})$"), re.compile(rf"^(?:{down})$")) for fam, (up, down) in _DIRECTION.items()}
_NEGATION = re.compile(r"^(?:no|not|never|neither|nor|none|cannot|without|non|absence|absent|lack|lacks|lacking|"
                       r"lacked|fail|fails|failed|unable|unrelated|unaffected|unchanged|insignificant|nonsignificant|"
                       r"\w+n't)$")
_SCOPE_END = {",", ".", ";", ":", "!", "?", "(", ")", "[", "]", "but", "whereas", "while", "although", "though",
              "however", "and", "or", "than", "because", "which", "who", "whereby"}
_NULL = re.compile(r"\bno (?:statistically )?significant(?:ly)? (?:differen|chang|effect|associat|correlat|improv|"
                   r"increas|decreas|reduc|benefit)|\b(?:did|do|does|was|were|is|are) not (?:significantly )?"
                   r"(?:differ|change|vary|affect)|\bnot (?:statistically )?significantly (?:differen|chang|associat|"
                   r"correlat|affect|alter|improv|increas|decreas|reduc|higher|lower)|\bno (?:differen|chang)|"
                   r"\b(?:similar|comparable|equivalent|unchanged|unaffected|equal)\b|\bnon-?significant|"
                   r"\binsignificant", re.IGNORECASE)
_SUFFIXES = sorted("""ational izations ization fulness iveness ousness ements ements ments ement ment ations ation
ities ility ically ical ings ing edly ied ies ions ion ness able ible ally ful ous ive ity ism ists ist ants ant ance
ence ents ent ers er ed ly es s al ic e y""".split(), key=len, reverse=True)


def stem(word: str) -> str:
    """A small suffix-stripping stemmer: 'increased', 'increases', 'increasing' -> 'increa';
    'association', 'associated' -> 'associ'. Stems are cut to six letters, so families meet."""
    w = word.lower()
    if len(w) <= 4 or not w.isalpha():
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    return w[:6]


def tokens(text: str) -> list[str]:
    """Lower-case words and punctuation; hyphenated words are split ('non-diabetic' -> 'non', 'diabetic')."""
    return [t.lower() for t in _TOKEN.findall(text.replace("-", " "))]


def _is_content(tok: str) -> bool:
    return tok.isalpha() and len(tok) > 2 and tok not in _STOP and not _NEGATION.match(tok)


def content_stems(text: str) -> set[str]:
    return {stem(t) for t in tokens(text) if _is_content(t)}


def coverage(claim: str, text: str) -> tuple[float, tuple[str, ...]]:
    """Share of the claim's content words (stemmed) that `text` holds, and the claim words it lacks.
    A claim word counts as held when a passage word shares its stem, or its first five letters."""
    words = [t for t in tokens(claim) if _is_content(t)]
    if not words:
        return 1.0, ()
    have = content_stems(text)
    prefixes = {s[:5] for s in have}
    absent = [w for w in dict.fromkeys(words) if stem(w) not in have and stem(w)[:5] not in prefixes]
    held = sum(1 for w in words if stem(w) in have or stem(w)[:5] in prefixes)
    return held / len(words), tuple(absent)


# ---- polarity ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Polarity:
    negated: tuple[tuple[str, frozenset[str]], ...]  # (the negation as written, stems in its scope)
    affirmed: frozenset[str]  # content stems outside any negation's scope
    directions: frozenset[tuple[str, int, str]]  # (family, +1/-1, word) outside any negation's scope
    null: str | None  # "no significant difference" and the like, as written

    @property
    def negated_stems(self) -> frozenset[str]:
        return frozenset().union(*[s for _, s in self.negated]) if self.negated else frozenset()


def _direction(tok: str) -> tuple[str, int] | None:
    for fam, (up, down) in _DIRECTION_RE.items():
        if up.match(tok):
            return fam, 1
        if down.match(tok):
            return fam, -1
    return None


def polarity(text: str) -> Polarity:
    toks = tokens(text)
    negated, in_scope = [], set()
    for i, t in enumerate(toks):
        if not _NEGATION.match(t):
            continue
        scope, j = [], i + 1
        while j < len(toks) and j <= i + 6 and toks[j] not in _SCOPE_END:
            if _is_content(toks[j]) or _direction(toks[j]):
                scope.append(stem(toks[j]))
            in_scope.add(j)
            j += 1
        phrase = " ".join(toks[i:j])
        negated.append((phrase, frozenset(scope)))
    affirmed, directions = set(), set()
    for i, t in enumerate(toks):
        if i in in_scope or _NEGATION.match(t):
            continue
        if _is_content(t):
            affirmed.add(stem(t))
        d = _direction(t)
        if d:
            directions.add((d[0], d[1], t))
    m = _NULL.search(text)
    return Polarity(tuple(negated), frozenset(affirmed), frozenset(directions), m.group() if m else None)


def polarity_conflict(claim: str, quote: str) -> str | None:
    """Why the quote says the opposite of the claim, or None when it does not."""
    c, q = polarity(claim), polarity(quote)
    # The claim negates what the quote affirms ("X was not associated with Y" vs "X was associated with Y").
    for phrase, scope in c.negated:
        if scope and not q.negated and not q.null:
            if len(scope & q.affirmed) >= min(2, len(scope)):
                return f"negation: claim says '{phrase}', passage does not negate it"
    # The quote negates what the claim affirms.
    if not c.negated and not c.null:
        for phrase, scope in q.negated:
            if scope and len(scope & c.affirmed) >= min(2, len(scope)):
                return f"negation: passage says '{phrase}', claim does not"
    # A flipped direction, or a claimed difference against a null result (and the reverse).
    claim_dirs = {(f, s) for f, s, _ in c.directions}
    quote_dirs = {(f, s) for f, s, _ in q.directions}
    for fam, sign, word in sorted(c.directions):
        if (fam, -sign) in quote_dirs and (fam, sign) not in quote_dirs:
            other = next(w for f, s, w in sorted(q.directions) if f == fam and s == -sign)
            return f"polarity: claim says {word}, passage says {other}"
    if q.null and not c.null and not c.negated:
        changed = [w for f, s, w in sorted(c.directions) if f != "sign" and (f, s) not in quote_dirs]
        if changed:
            return f"polarity: claim says {changed[0]}, passage says {q.null.lower()}"
    if c.null and not q.null and not q.negated:
        changed = [w for f, s, w in sorted(q.directions) if f != "sign" and (f, s) not in claim_dirs]
        if changed:
            return f"polarity: claim says {c.null.lower()}, passage says {changed[0]}"
    return None


# ---- statements about the paper, not the evidence ---------------------------------------------------
_META_SUBJECT = (r"(?:(?:this|the|our|the present|the current|these|both|each|all|a|an)\s+(?:\w+\s+){0,2}?"
                 r"(?:study|studies|paper|papers|article|articles|review|reviews|report|work|analysis|trial|research|"
                 r"authors?|researchers?|investigators?|team|passages?|abstracts?|texts?|sources?|literature|document)|"
                 r"(?:the\s+)?(?:authors?|researchers?|investigators?|scientists?)|we|it)")
_META_VERB = (r"(?:investigat|examin|explor|discuss|describ|aim|address|focus|evaluat|assess|review|present|provid|"
              r"look|consider|propos|seek|sought|set out|conduct|perform|compar|analy[sz]|studi|test|highlight|"
              r"outlin|summari[sz]|mention|cover|emphasi[sz]|do(?:es)? not|did not|is|are|was|were|has|have|"
              r"includ|contain|offer|give|report|measur|enrol|recruit|collect|used|use|design|focus|attempt|"
              r"want|tri|help|can|will|would|should|might|may)\w*")
_FINDING = re.compile(r"\b(?:found|find|finds|show|shows|showed|shown|demonstrat\w*|suggest\w*|indicat\w*|reveal\w*|"
                      r"conclud\w*|confirm\w*|observ\w*|establish\w*|identif\w*|report\w*|support\w*)\s+(?:that|a|an|"
                      r"no|the|significant|higher|lower|increased|decreased|reduced|improved)\b", re.IGNORECASE)
_META = [
    re.compile(rf"^\W*(?:in\s+(?:this|the|our)\s+(?:\w+\s+)?(?:study|paper|article|review|trial|work),?\s+)?"
               rf"{_META_SUBJECT}\s+(?:\w+\s+){{0,2}}?{_META_VERB}\b", re.IGNORECASE),
    re.compile(r"^\W*in\s+(?:summary|conclusion|short|brief|sum|general|total),?\s+(?:there\s+(?:are|is|were|was)|"
               r"(?:several|many|various|some|a\s+number|multiple)\b|" + _META_SUBJECT + r"\b)", re.IGNORECASE),
    re.compile(r"^\W*(?:researchers?|scientists?|investigators?|authors?|a\s+team|teams?)\s+(?:at|from|in|of)\b",
               re.IGNORECASE),
    re.compile(r"^\W*there\s+(?:are|is|were|was)\s+(?:several|many|various|some|a\s+number\s+of|multiple|numerous)\s+"
               r"(?:studies|papers|articles|reports|reviews|sources|passages|factors|ways|things|aspects|points|"
               r"issues|reasons|findings)\b", re.IGNORECASE),
    re.compile(r"^\W*(?:this|it|that)\s+(?:\w+\s+)?(?:summari[sz]\w*|conclud\w*|ends?|provid\w*|offer\w*|present\w*|"
               r"describ\w*|discuss\w*|outlin\w*|cover\w*|gives?)\b.*\b(?:report|paper|study|article|review|passages?|"
               r"points|details|information|summary|overview|discussion)\b", re.IGNORECASE),
    re.compile(r"\b(?:was|were|is|are|has been)\s+(?:published|funded|sponsored|supported by (?:a|the) grant)|"
               r"\b(?:doi|pmid|et al\.?)\s*[:\d]|\bthe (?:passages?|abstracts?|texts?|sources?) (?:do|does|did) not\b",
               re.IGNORECASE),
]


def is_meta_statement(text: str) -> bool:
    """Is `text` about the paper or its authors ("This study investigated ...", "The authors
    discuss ...", "Researchers at ...", "In summary, there are several ...") rather than about
    the evidence? A sentence that reports a finding ("This study showed that X reduced Y") is not."""
    t = " ".join(text.split())
    if not t:
        return False
    if not any(p.search(t) for p in _META):
        return False
    if re.search(r"\b(?:was|were|is|are|has been)\s+(?:published|funded|sponsored)", t, re.IGNORECASE):
        return True
    return not _FINDING.search(t)


# ---- the letter: numbers and names ---------------------------------------------------------------
def _norm_number(n: str) -> str:
    n = n.replace(",", ".")
    if "." in n:
        n = n.rstrip("0").rstrip(".") or "0"
    return n


def key_terms(text: str) -> set[str]:
    numbers = {n.replace(",", ".") for n in _NUMBER.findall(text) if not (len(n) == 4 and n.startswith(("19", "20")))}
    names = {m for m in _ENTITY.findall(text) if m not in _IGNORE} | {m.lower() for m in _DRUG.findall(text)}
    return {t for t in numbers | names if len(t) > 1 or t.isdigit()}


def missing_terms(claim: str, passage: str) -> tuple[str, ...]:
    """Numbers and names in the claim that the passage does not contain as whole words. A number
    the claim gives as a percentage must be a percentage in the passage too."""
    numbers = {_norm_number(n) for n in _NUMBER.findall(passage)}
    lowered = passage.lower()
    numbers |= {d for w, d in _NUMBER_WORDS.items() if re.search(rf"\b{w}\b", lowered)}
    percents = {_norm_number(n) for n in _PERCENT.findall(passage)}
    claim_percents = {_norm_number(n) for n in _PERCENT.findall(claim)}
    words = {w.lower() for w in re.findall(r"[\w-]+", passage)} | {w.lower() for w in re.findall(r"\w+", passage)}
    missing = []
    for t in key_terms(claim):
        if t[0].isdigit():
            n = _norm_number(t)
            if n not in numbers:
                missing.append(t)
            elif n in claim_percents and n not in percents:
                missing.append(f"{t}%")
        elif t.lower() not in words:
            missing.append(t)
    return tuple(sorted(missing))


# ---- verdicts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Support:
    score: float  # best cosine similarity of the claim to the passage or one or two of its sentences
    missing: tuple[str, ...]  # numbers and names in the claim that the passage never mentions
    verdict: str  # "supported", "partial" or "unsupported"
    quote: str = ""  # the sentence or two of the passage that best support the claim, verbatim
    reason: str | None = None  # why the verdict is not "supported"
    coverage: float = 1.0  # share of the claim's content words the passage holds


def verdict_for(score: float, missing: tuple[str, ...], cover: float = 1.0, conflict: str | None = None,
                absent: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """The verdict and, when it is not `supported`, the reason."""
    if conflict:
        return "unsupported", conflict
    if cover == 0.0:
        return "unsupported", "no content-word overlap"
    weak = "partial" if score >= PARTIAL else "unsupported"
    if missing:
        return weak, "missing: " + ", ".join(missing)
    if cover < COVERAGE:
        return weak, f"coverage: {cover:.0%} of the claim's content words (absent: {', '.join(absent[:5])})"
    if score >= SUPPORTED:
        return "supported", None
    return weak, f"similarity {score:.2f} below {SUPPORTED:.2f}"


class Verifier:
    """Scores claims against passages, embedding each sentence once."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._units: dict[str, tuple[list[tuple[int, int]], np.ndarray, int]] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo)):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dimension))

    def units(self, passage: str) -> tuple[list[tuple[int, int]], np.ndarray, int]:
        """The passage's quotable units (each sentence, and each two adjacent sentences, as spans)
        and their vectors; the whole passage comes first. A pair's vector is the normalised mean of
        its two sentences' vectors, which costs no model call. Also returns the number of sentences."""
        if passage not in self._units:
            spans = sentence_spans(passage)
            singles = [passage[s:e] for s, e in spans]
            vectors = self._vectors([passage] + singles)
            units = [(0, len(passage))] + spans
            rows = [vectors[0]] + list(vectors[1:])
            for i in range(len(spans) - 1):
                units.append((spans[i][0], spans[i + 1][1]))
                v = vectors[1 + i] + vectors[2 + i]
                rows.append(v / max(float(np.linalg.norm(v)), 1e-9))
            self._units[passage] = (units, np.stack(rows), len(spans))
        return self._units[passage]

    def similarity(self, claim: str, passage: str) -> float:
        _, vectors, _ = self.units(passage)
        return float(np.max(vectors @ self._vectors([claim])[0]))

    def check(self, claim: str, passage: str) -> Support:
        units, vectors, n = self.units(passage)
        sims = vectors @ self._vectors([claim])[0]
        score = float(np.max(sims))
        # The quote: the sentence, or two adjacent sentences, closest in meaning and in words.
        best, best_value = 0, -9.0
        for i, (s, e) in enumerate(units):
            if i == 0 and len(units) > 1:
                continue  # the whole passage is not a quote unless it is one sentence
            value = float(sims[i]) + 0.3 * coverage(claim, passage[s:e])[0] - (0.04 if i > n else 0.0)
            if value > best_value:
                best, best_value = i, value
        s, e = units[best]
        quote = passage[s:e]
        missing = missing_terms(claim, passage)
        cover, absent = coverage(claim, passage)
        conflict = polarity_conflict(claim, quote)
        verdict, reason = verdict_for(score, missing, cover, conflict, absent)
        return Support(round(score, 4), missing, verdict, quote, reason, round(cover, 4))


def sentence_support(embedder: Embedder, claim: str, passage: str) -> float:
    return Verifier(embedder).similarity(claim, passage)
