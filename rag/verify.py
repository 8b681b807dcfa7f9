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
COVERAGE = 0.55
TOP_SENTENCES = 3
# A claim its best quote does not confirm may be confirmed by one of the next best units, this close.
ALTERNATIVES = 6
ALT_CLOSE = 0.15
# A claim this close to a methods or procedure sentence of its passage says that sentence again.
RESTATED = 0.85
CLOSE = 0.15

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
_BREAK = re.compile(r"[.!?。！？]+[\"')\]]*\s+|\n{2,}|(?<=[a-z)][.])(?=[A-Z]{3,}[A-Z ]*:)")
_ABBREVIATION = re.compile(r"(?:\bal|\be\.g|\bi\.e|\bvs|\bfig|\bfigs|\bref|\bno|\bapprox|\bca|\bdr|\bst|\bcf|\bresp|"
                           r"\bsp|\bspp|\bet|\bincl|\bnos|\bequ|\bvol|\bpp|\b[A-Z])\.[\"')\]]*\s+$", re.IGNORECASE)
_MIN_SENTENCE = 20
_GOES_ON = re.compile(r"[a-z]+\b")  # a word all in lower case


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
    # A fragment too short to stand alone ("Three-year trial.") joins the sentence after it, unless a
    # paragraph break parts them: then it is a heading or the tail of a citation ("3. Results",
    # "(Centre A, R6).") and stands alone, unless what follows goes on with a word in lower case (a
    # sentence broken across a page: "From the\n\nresponses, however, ..."; not "siRNA", not a number).
    merged: list[tuple[int, int]] = []
    for s, e in out:
        if merged and merged[-1][1] - merged[-1][0] <= _MIN_SENTENCE \
                and ("\n\n" not in text[merged[-1][1]:s] or _GOES_ON.match(text, s)):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def whole_sentences(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each sentence of a passage less those the passage's edges cut: the first when
    the passage begins in the middle of a sentence (with a common word in lower case, or a figure
    reference's or a clause's tail, "(Fig. 2B), indicating ..."; not "siRNA", "p53" or "mTOR"), and the
    last when it stops in the middle of one (no full stop, or one after "Fig.", "et al.", "e.g.", "vs."
    ...). The passage before or after overlaps it and mostly holds such a sentence whole. A short
    fragment that the first sentence took in ("mas. This was the only study ...") is cut off and the
    sentence kept."""
    spans = sentence_spans(text)
    if spans and (_CUT_WORD.match(text, spans[0][0]) or _CONTINUES.match(text, spans[0][0])
                  or _REFERENCE_TAIL.match(text, spans[0][0])):
        s, e = spans[0]
        cut = next((m for m in _BREAK.finditer(text, s, e) if _ends_sentence_at(text, s, m)), None)
        if cut:
            spans[0] = (cut.end(), e)
        elif not _REFERENCE_TAIL.match(text, s):  # "S2D) or on the proliferation ...": what it says stays
            spans = spans[1:]
    if spans:
        last = text[spans[-1][0]:spans[-1][1]]
        if not _ENDS_SENTENCE.search(last) or _CUT_AT.search(last):
            spans = spans[:-1]
    return spans


def _ends_sentence_at(text: str, start: int, m: re.Match) -> bool:
    """Whether a break `m` found by _BREAK ends a sentence, as sentence_spans decides it."""
    nxt = text[m.end():m.end() + 1]
    return bool(nxt) and nxt.isupper() and not _ABBREVIATION.search(text[max(start, m.start() - 8):m.end()])


_CUT_WORD = re.compile(r"[a-z]+\b(?![\w-])")  # a common word in lower case ("and", "the"), not "siRNA", "p53"
# The tail of a clause the passage before began: "), indicating", "(Fig. 2B), indicating"; and of a
# figure reference, "S6E). However, ...", cut off where a sentence follows it and kept where none does.
_CONTINUES = re.compile(r"[),;:\]]|\((?:figs?|figures?|tables?|refs?|see)\b", re.IGNORECASE)
_REFERENCE_TAIL = re.compile(r"[^\s(\[]{1,15}[)\]]")
# A full stop that ends a sentence: after it perhaps quotes or brackets, and a citation's superscript
# numbers ("... arm.12,13") or brackets ("... arm. [12]").
_ENDS_SENTENCE = re.compile(r"[.!?\u3002\uff01\uff1f][\"'\u2019\u201d)\]]*(?:\s*\[\d+(?:[,\u2013-]\s*\d+)*\]|"
                            r"\d+(?:[,\u2013-]\d+)*)?$")
# A full stop that does not: after an abbreviation a sentence goes on from ("(Fig.", "et al.", "vs.").
_CUT_AT = re.compile(r"\b(?:figs?|et al|e\.g|i\.e|vs|refs?|cf|approx|ca|nos?|eqs?|suppl)\.$", re.IGNORECASE)


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
study studies result results finding findings data conclusion conclusions suggest suggests suggested
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
    "sign": (r"positively", r"negatively|inverse|inversely"),
}
_DIRECTION_RE = {fam: (re.compile(rf"^(?:{up})$"), re.compile(rf"^(?:{down})$")) for fam, (up, down) in _DIRECTION.items()}
_NEGATION = re.compile(r"^(?:no|not|never|neither|nor|none|cannot|without|non|absence|absent|lack|lacks|lacking|"
                       r"lacked|fail|fails|failed|unable|unrelated|unaffected|unchanged|insignificant|nonsignificant|"
                       r"\w+n't)$")
_SCOPE_END = {",", ".", ";", ":", "!", "?", "(", ")", "[", "]", "but", "whereas", "while", "although", "though",
              "however", "and", "or", "than", "because", "which", "who", "whereby"}
_NULL = re.compile(r"\bno (?:statistically )?significant(?:ly)? (?:differen|chang|effect|associat|correlat|improv|"
                   r"increas|decreas|reduc|benefit)|\b(?:did|does|do|could|failed to|fail to) (?:not )?(?:find|show|"
                   r"detect|observe|demonstrate|reveal|identify) (?:any |a )?(?:statistically )?significant (?:\w+ )?"
                   r"(?:differen|chang|effect|associat|correlat|improv|increas|decreas|reduc|benefit|relation)|"
                   r"\b(?:did|do|does|was|were|is|are) not (?:significantly )?"
                   r"(?:differ|change|vary|affect)|\bnot (?:statistically )?significantly (?:differen|chang|associat|"
                   r"correlat|affect|alter|improv|increas|decreas|reduc|higher|lower)|\bno (?:differen|chang)|"
                   r"\b(?:similar|comparable|equivalent|equal)(?:ly)?\s+(?:between|in\s+(?:both|all|the\s+two)|across|among|for\s+(?:both|all))\b|"
                   r"\bwithout\s+(?:\w+\s+){0,2}differences?\b|\b(?:unchanged|unaffected)\b|\bnon-?significant|"
                   r"\binsignificant", re.IGNORECASE)
_P_NULL = re.compile(r"\bp\s*(?:=|>|≥|>=)\s*0?\.(?:0[5-9]|[1-9])\d*|\bp\s*(?:=|>)\s*(?:ns|n\.s\.)|\(ns\)",
                     re.IGNORECASE)
_P_SIGNIFICANT = re.compile(r"\bp\s*(?:<|≤|<=)\s*0?\.0|\bp\s*=\s*0?\.0[0-4]", re.IGNORECASE)
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
# "no", "without", "non-" deny a thing ("no LOC", "programs without fellowships") more often than a
# finding, so a conflict on one of them needs two of its words in the other text; "not" and its
# kin deny a predicate ("was not associated") and one word suffices when that is all the scope has.
_WEAK_NEGATION = {"no", "none", "without", "non", "absence", "absent", "lack", "lacks", "lacking", "lacked"}


@dataclass(frozen=True)
class Polarity:
    negated: tuple[tuple[str, frozenset[str], bool], ...]  # (negation as written, stems in its scope, strong)
    affirmed: frozenset[str]  # content stems outside any negation's scope
    directions: frozenset[tuple[str, int, str]]  # (family, +1/-1, word) outside any negation's scope
    null: str | None  # "no significant difference" and the like, as written
    denied: frozenset[tuple[str, int, str]] = frozenset()  # directions inside a negation's scope
    # each direction outside a negation's scope with the content stems next to it (two before, three after)
    contexts: tuple[tuple[str, int, str, frozenset[str]], ...] = ()
    # a null result given by its p-value alone ("(p = 0.41)"): it confirms a claim of no effect, but
    # is not taken to contradict a claimed difference (the p-value may belong to another comparison)
    p_null: str | None = None

    @property
    def negated_stems(self) -> frozenset[str]:
        return frozenset().union(*[s for _, s, _ in self.negated]) if self.negated else frozenset()

    def signs(self, family: str) -> set[int]:
        return {s for f, s, _ in self.directions if f == family}


def _direction(tok: str) -> tuple[str, int] | None:
    for fam, (up, down) in _DIRECTION_RE.items():
        if up.match(tok):
            return fam, 1
        if down.match(tok):
            return fam, -1
    return None


# Direction words that can bound a number instead ("more than 40", "up to 10", "exceeding 65").
_BOUND = {"more", "less", "greater", "fewer", "higher", "lower", "longer", "shorter", "larger", "smaller", "up",
          "exceed", "exceeding", "exceeded", "exceeds"}
_FIXED_AFTER = re.compile(r"^(?:limbs?|extremit\w*|lobes?|abdomen|abdominal|back|quadrants?|urinary|gastrointestinal|gi|"
                          r"airways?|respiratory|jaw|lips?|eyelids?|poles?|borders?|segments?|arm|arms|leg|legs|"
                          r"esophag\w*|oesophag\w*|tract)$")


def _direction_at(toks: list[str], i: int) -> tuple[str, int] | None:
    """The direction of toks[i], unless it bounds a number ("more than 40", "exceeding 65", "up to
    10") or names a part of the body ("lower limb", "low back")."""
    t = toks[i]
    if t in _BOUND:
        nxt = toks[i + 1:i + 3]
        if nxt and (nxt[0][:1].isdigit() or (nxt[0] in ("than", "to") and len(nxt) > 1 and
                                            (nxt[1][:1].isdigit() or nxt[1] in _NUMBER_WORDS))):
            return None
    if i + 1 < len(toks) and _FIXED_AFTER.match(toks[i + 1]) and t in ("lower", "low", "high"):
        return None
    return _direction(t)


def polarity(text: str) -> Polarity:
    toks = tokens(text)
    negated, in_scope = [], set()
    for i, t in enumerate(toks):
        if not _NEGATION.match(t) or (t == "not" and i and toks[i - 1] == "or"):
            continue  # "whether or not" denies nothing
        scope, j = [], i + 1
        while j < len(toks) and j <= i + 6 and toks[j] not in _SCOPE_END:
            if _is_content(toks[j]) or _direction(toks[j]):
                scope.append(stem(toks[j]))
            in_scope.add(j)
            j += 1
        negated.append((" ".join(toks[i:j]), frozenset(scope), t not in _WEAK_NEGATION))
    direction_at = [_direction_at(toks, i) for i in range(len(toks))]
    affirmed, directions, denied = set(), set(), set()
    for i, t in enumerate(toks):
        d = direction_at[i]
        if i in in_scope:
            if d:
                denied.add((d[0], d[1], t))
            continue
        if _NEGATION.match(t):
            continue
        if _is_content(t):
            affirmed.add(stem(t))
        if d:
            directions.add((d[0], d[1], t))
    contexts = []
    for i, t in enumerate(toks):
        d = direction_at[i] if i not in in_scope else None
        if not d:
            continue
        before = [stem(w) for w in toks[max(0, i - 4):i] if _is_content(w) and not _direction(w)][-2:]
        after = [stem(w) for w in toks[i + 1:i + 7] if _is_content(w) and not _direction(w)][:3]
        contexts.append((d[0], d[1], t, frozenset(before + after)))
    m = _NULL.search(text)
    # A null result given as numbers alone: "(p = 0.779)", "P>0.05", with no significant p beside it.
    p = _P_NULL.search(text)
    p_null = p.group() if p and not _P_SIGNIFICANT.search(text) else None
    return Polarity(tuple(negated), frozenset(affirmed), frozenset(directions), m.group() if m else None,
                    frozenset(denied), tuple(contexts), p_null)


def _needed(scope: frozenset[str], strong: bool) -> int:
    return min(2, len(scope)) if strong else 2


def polarity_conflict(claim: str, quote: str, context: str | None = None) -> str | None:
    """Why the quote says the opposite of the claim, or None when it does not. `context` (the
    sentences of the passage nearly as close to the claim as the quote) may hold the negation that
    a negated claim needs; it defaults to the quote."""
    c, q = polarity(claim), polarity(quote)
    x = polarity(context) if context and context != quote else q
    c_denies = any(strong for _, _, strong in c.negated) or bool(c.null)
    # The claim negates what the quote affirms ("X was not associated with Y" vs "X was associated with Y").
    for phrase, scope, strong in c.negated:
        if scope and len(scope & q.affirmed) >= _needed(scope, strong) and not (scope & x.negated_stems) \
                and not q.null and not x.null:
            return f"negation: claim says '{phrase}', passage does not"
    # The quote negates what the claim affirms.
    if not c_denies:
        c_heads = {p.split()[0] for p, _, _ in c.negated}
        for phrase, scope, strong in q.negated:
            # the same negation in the claim, further from its words ("None of the 40 children had a
            # recurrence" against "none had a recurrence") is no conflict
            if phrase.split()[0] in c_heads:
                continue
            if scope and len(scope & c.affirmed) >= _needed(scope, strong) and not (scope & c.negated_stems):
                return f"negation: passage says '{phrase}', claim does not"
        # A direction the claim asserts and the quote denies ("increased risk" vs "no increase in risk").
        for fam, sign, word in sorted(c.directions):
            if fam != "sign" and sign not in q.signs(fam) and any(f == fam and s == sign for f, s, _ in q.denied):
                other = next(w for f, s, w in sorted(q.denied) if f == fam and s == sign)
                return f"negation: claim says {word}, passage says not {other}"
    # A relation the claim asserts ("affects", "is associated with") against a null result or a
    # denied relation in the quote, and the reverse.
    c_rel, q_rel = _relations(claim, c), _relations(quote, q)
    if not c_denies and c_rel["affirmed"] and (q.null or q_rel["denied"]) and not q_rel["affirmed"]:
        return f"negation: claim says {c_rel['affirmed'][0]}, passage says {q.null or 'not ' + q_rel['denied'][0]}"
    if (c.null or c_rel["denied"]) and not c_rel["affirmed"] and q_rel["affirmed"] and not q.null and not q.negated \
            and _SIGNIFICANT.search(quote):
        return f"negation: claim says {c.null or 'not ' + c_rel['denied'][0]}, passage says {q_rel['affirmed'][0]}"
    compared = compare_comparisons(claim, quote)
    if compared == "reversed":
        return "polarity: the claim compares the other way round from the passage"
    # The same words around a negation in one text and none in the other ("there was no evidence
    # of" vs "there was evidence of").
    minimal = _minimal_pair(claim, quote, "claim", "passage") or _minimal_pair(quote, claim, "passage", "claim")
    if minimal:
        return minimal
    # Word by word, a direction whose neighbours ("lower ... mortality") the quote gives the other
    # way only; or the claim goes one way only and the quote only the other way. Not when the quote
    # says the same the other way round ("higher in men than in women", "lower in women than in men").
    for fam, sign, word, ctx in (c.contexts if compared != "converse" else ()):
        if fam == "sign" or not ctx:
            continue
        same = [w for f, s, w, k in q.contexts if f == fam and s == sign and k & ctx]
        other = [w for f, s, w, k in q.contexts if f == fam and s == -sign and len(k & ctx) >= min(2, len(ctx))]
        if other and not same:
            return f"polarity: claim says {word}, passage says {other[0]}"
    for fam, sign, word in (sorted(c.directions) if compared != "converse" else ()):
        if c.signs(fam) == {sign} and q.signs(fam) == {-sign}:
            other = next(w for f, s, w in sorted(q.directions) if f == fam and s == -sign)
            return f"polarity: claim says {word}, passage says {other}"
    # A claimed difference against a null result, and the reverse.
    if q.null and not c_denies:
        changed = [w for f, s, w in sorted(c.directions) if f != "sign" and s not in q.signs(f)]
        if changed:
            return f"polarity: claim says {changed[0]}, passage says {q.null.lower()}"
    if c.null and not q.null and not q.negated:
        changed = [w for f, s, w in sorted(q.directions) if f != "sign" and s not in c.signs(f)]
        if changed:
            return f"polarity: claim says {c.null.lower()}, passage says {changed[0]}"
    return None


_CLAUSE_END = {",", ";", ":", "(", ")", "[", "]", ".", "!", "?", "whereas", "while", "but", "although", "though"}


def comparisons(text: str) -> list[tuple[str, int, frozenset[str], frozenset[str]]]:
    """Each comparison the text makes ("A formed more biofilm than B"): the direction's family and
    sign, the content stems of what is compared (A: from the start of the clause to "than") and of
    what it is compared with (B: the few words after "than")."""
    # A full stop after a single letter ("A. baumannii") or an abbreviation ends no clause.
    raw = tokens(text)
    toks = [t for i, t in enumerate(raw) if not (t == "." and i and raw[i - 1].isalpha() and len(raw[i - 1]) <= 2)]
    out = []
    for i, t in enumerate(toks):
        d = _direction_at(toks, i)
        if not d or d[0] == "sign":
            continue
        than = next((j for j in range(i + 1, min(i + 6, len(toks))) if toks[j] == "than"), None)
        if than is None or any(toks[j] in _CLAUSE_END for j in range(i + 1, than)):
            continue
        start = i
        while start > 0 and i - start < 12 and toks[start - 1] not in _CLAUSE_END:
            start -= 1
        end = than + 1
        while end < len(toks) and end - than <= 5 and toks[end] not in _CLAUSE_END and toks[end] not in _SCOPE_END:
            end += 1
        left = frozenset(stem(w) for w in toks[start:than] if _is_content(w) and not _direction(w))
        right = frozenset(stem(w) for w in toks[than + 1:end] if _is_content(w) and not _direction(w))
        if left and right:
            out.append((d[0], d[1], left, right))
    return out


def compare_comparisons(claim: str, quote: str) -> str | None:
    """"reversed" when the claim and the quote compare the same two things the opposite way ("A
    more than B" against "B more than A", or against "A less than B"); "converse" when they say
    the same the other way round ("A more than B" against "B less than A"); otherwise None."""
    converse = None
    for fam, sign, cl, cr in comparisons(claim):
        a, b = cl - cr, cr - cl
        if not a or not b:
            continue
        for f, s, ql, qr in comparisons(quote):
            if f != fam:
                continue
            x, y = ql - qr, qr - ql
            kept, crossed = len(a & x) + len(b & y), len(a & y) + len(b & x)
            swapped = bool(a & y and b & x) and crossed > kept
            same = bool(a & x and b & y) and kept > crossed
            if (s == sign and swapped) or (s == -sign and same):
                return "reversed"
            if s == -sign and swapped:
                converse = "converse"
    return converse


_RELATION = re.compile(r"^(?:associat\w*|relat\w*|link\w*|correlat\w*|effect|effects|impact\w*|affect\w*|"
                       r"influenc\w*|predict\w*|differ\w*|benefit\w*|depend\w*|chang\w*|alter\w*|improv\w*|"
                       r"increas\w*|decreas\w*|reduc\w*|useful|valuable|reliable|effective|accurate\w*|"
                       r"significant\w*|superior|inferior|risk)$")
_SIGNIFICANT = re.compile(r"\bsignificant(?:ly)?\b|\bp\s*[<=≤]\s*0?\.0|\b(?:odds|hazard|risk) ratio|\bOR\b|\bHR\b|"
                          r"\b95\s*%\s*CI", re.IGNORECASE)


def _relations(text: str, pol: Polarity) -> dict[str, list[str]]:
    """Relation words ("associated", "affects", "predicts") the text affirms, and those it denies."""
    toks = tokens(text)
    denied_words = {w for phrase, _, strong in pol.negated if strong for w in phrase.split()[1:]}
    affirmed, denied = [], []
    for t in toks:
        if _RELATION.match(t):
            (denied if t in denied_words else affirmed).append(t)
    return {"affirmed": affirmed, "denied": denied}


def _minimal_pair(a: str, b: str, name_a: str, name_b: str) -> str | None:
    """A negation in `a`, none in `b`, and the words around it (three on each side, small words
    included) all in `b`: the two say the same thing but for the negation."""
    ta = [t for t in tokens(a) if t.isalnum()]
    tb = [t for t in tokens(b) if t.isalnum()]
    if any(_NEGATION.match(t) and not (t == "not" and i and tb[i - 1] == "or") for i, t in enumerate(tb)):
        return None
    words_b = set(tb)
    for i, t in enumerate(ta):
        if not _NEGATION.match(t) or t in ("without", "non") or (t == "not" and i and ta[i - 1] == "or"):
            continue
        around = [w for w in ta[max(0, i - 3):i] + ta[i + 1:i + 4] if w not in ("a", "an", "the", "any")]
        if len(around) >= 4 and sum(w in words_b for w in around) >= len(around) - 1:
            said = " ".join(ta[max(0, i - 2):i + 3])
            return f"negation: {name_a} says '{said}', {name_b} does not"
    return None


# A claim of statistical significance ("a significant risk factor", "significantly lower") needs a
# passage that reports a test: "significant", a p-value, a ratio or a confidence interval.
_STATISTICAL_CLAIM = re.compile(r"\bsignificantly\b|\bstatistically\s+significant|\bsignificant\s+(?:\w+\s+)?"
                                r"(?:factors?|predictors?|associations?|correlat\w*|differen\w*|effects?|impact|"
                                r"increases?|decreases?|reductions?|improvements?|risks?|relationships?|changes?|"
                                r"benefits?|determinants?|indicators?)\b", re.IGNORECASE)
_TEST = re.compile(r"\bsignificant(?:ly)?\b|\bp\s*[<=≤>≥]\s*0?\.\d|\b(?:odds|hazard|risk)\s+ratio|\b(?:OR|HR|RR|CI)\b|"
                   r"\b95\s*%|confidence\s+interval", re.IGNORECASE)


def unconfirmed(claim: str, quote: str, passage: str) -> str | None:
    """A negation or direction the claim asserts that neither the quote nor the passage states:
    a claim that says 'did not improve' needs a passage that denies something about it, one that
    says 'increased' needs the quote to go up too, and one that says 'significantly' needs a
    passage that reports a test."""
    c, q, p = polarity(claim), polarity(quote), polarity(passage)
    if not c.null and _STATISTICAL_CLAIM.search(claim) and not _TEST.search(passage):
        return "significance: claim says significant, passage reports no test"
    for phrase, scope, strong in c.negated:
        if strong and not (scope & (q.negated_stems | p.negated_stems)) and not q.null and not p.null \
                and not q.p_null:
            return f"negation: claim says '{phrase}', passage does not say so"
    if c.null and not (q.null or p.null or q.negated or p.negated or q.p_null):
        return f"negation: claim says '{c.null.lower()}', passage does not say so"
    if compare_comparisons(claim, quote) == "converse":
        return None  # "higher in men than in women" is confirmed by "lower in women than in men"
    for fam, sign, word in sorted(c.directions):
        if fam != "sign" and c.signs(fam) == {sign} and sign not in q.signs(fam) and sign not in p.signs(fam):
            return f"direction: claim says {word}, passage does not"
    return None


def _confirms(claim: str, text: str) -> bool:
    """Does `text` state the claim's own negation or direction, about the same things? A claim
    that negates ("did not reduce mortality") needs a negation or a null result whose scope shares
    a word with the claim's; one that asserts a direction ("lower mortality") needs the same
    direction next to a word of the claim's."""
    c, q = polarity(claim), polarity(text)
    c_negated = [scope for _, scope, strong in c.negated if strong]
    if c_negated or c.null:
        null = q.null or q.p_null
        if not (null or any(strong for _, _, strong in q.negated)):
            return False
        want = frozenset().union(*c_negated) if c_negated else frozenset()
        return bool(want & q.negated_stems) or bool(null and (c.null or want & q.affirmed))
    directions = [(f, s, ctx) for f, s, _, ctx in c.contexts if f != "sign"]
    if not directions:
        return False
    return all(any(f == g and s == t and (not ctx or ctx & k) for g, t, _, k in q.contexts)
               for f, s, ctx in directions)


# ---- statements about the paper, not the evidence ---------------------------------------------------
_META_SUBJECT = (r"(?:(?:this|the|our|the present|the current|these|both|each|all|a|an)\s+(?:\w+\s+){0,2}?"
                 r"(?:study|studies|paper|papers|article|articles|review|reviews|report|work|analysis|trial|research|"
                 r"authors?|researchers?|investigators?|team|passages?|abstracts?|texts?|sources?|literature|document)|"
                 r"(?:the\s+)?(?:authors?|researchers?|investigators?|scientists?)|we|it)")
_META_VERB = (r"(?:investigat|examin|explor|discuss|describ|aim|address|focus|evaluat|assess|review|present|provid|"
              r"look|consider|propos|seek|sought|set out|conduct|perform|compar|analy[sz]|studi|test|highlight|"
              r"outlin|summari[sz]|mention|cover|emphasi[sz]|do(?:es)? not|did not|is|are|was|were|has|have|"
              r"offer|give|focus|attempt|report|"
              r"want|tri|help|can|will|would|should|might|may)\w*")
_FINDING = re.compile(r"\b(?:found|find|finds|show|shows|showed|shown|demonstrat\w*|suggest\w*|indicat\w*|reveal\w*|"
                      r"conclud\w*|confirm\w*|observ\w*|establish\w*|identif\w*|report\w*|support\w*)\s+(?:that|a|an|"
                      r"no|the|significant|higher|lower|increased|decreased|reduced|improved)\b", re.IGNORECASE)
_META = [
    re.compile(rf"^\W*(?:in\s+(?:this|the|our)\s+(?:\w+\s+)?(?:study|paper|article|review|trial|work),?\s+)?"
               rf"{_META_SUBJECT}\s+(?:\w+\s+){{0,2}}?{_META_VERB}\b", re.IGNORECASE),
    re.compile(r"^\W*in\s+(?:summary|conclusion|short|brief|sum|general|total),?\s+(?:there\s+(?:are|is|were|was)\s+)?"
               r"(?:(?:several|many|various|some|a\s+number\s+of|multiple|numerous)\b|" + _META_SUBJECT + r"\b)",
               re.IGNORECASE),
    re.compile(r"^\W*(?:researchers?|scientists?|investigators?|authors?|a\s+team|teams?)\s+(?:at|from|in|of)\b",
               re.IGNORECASE),
    # the same with its subject lost ("describes the clinical characteristics of ..."): lower case
    re.compile(r"^\W*(?:also\s+)?(?:describes|examines|investigates|explores|discusses|highlights|focuses|"
               r"presents|provides|outlines|summari[sz]es|mentions|aims|addresses|reviews|evaluates|assesses|"
               r"compares|analy[sz]es|reports)\b"),
    re.compile(r"^\W*there\s+(?:are|is|were|was)\s+(?:several|many|various|some|a\s+number\s+of|multiple|numerous)\s+"
               r"(?:studies|papers|articles|reports|reviews|sources|passages|factors|ways|things|aspects|points|"
               r"issues|reasons|findings)\b", re.IGNORECASE),
    re.compile(r"^\W*(?:this|it|that)\s+(?:\w+\s+)?(?:summari[sz]\w*|conclud\w*|ends?|provid\w*|offer\w*|present\w*|"
               r"describ\w*|discuss\w*|outlin\w*|cover\w*|gives?)\b.*\b(?:report|paper|study|article|review|passages?|"
               r"points|details|information|summary|overview|discussion)\b", re.IGNORECASE),
    # what the paper offers rather than what it found ("In conclusion, the information provided here provides
    # some perspectives from patients ...")
    re.compile(r"^\W*(?:in\s+(?:summary|conclusion|short|sum),?\s+)?(?:the\s+)?(?:information|data|evidence|work|"
               r"material)\s+(?:provided|presented|reported|described|gathered)\s+(?:here|herein|in\s+this\s+"
               r"(?:paper|study|article|review|report))\b", re.IGNORECASE),
    re.compile(r"\b(?:was|were|is|are|has been)\s+(?:published|funded|sponsored|supported by (?:a|the) grant)|"
               r"\b(?:doi|pmid|et al\.?)\s*[:\d]|\bthe (?:passages?|abstracts?|texts?|sources?) (?:do|does|did) not\b",
               re.IGNORECASE),
]


def is_meta_statement(text: str) -> bool:
    """Is `text` about the paper or its authors ("This study investigated ...", "The authors
    discuss ...", "Researchers at ...", "In summary, there are several ...", "The present study
    was aimed to ...") rather than about the evidence? A sentence that reports a finding ("This
    study showed that X reduced Y") is not."""
    t = " ".join(text.split())
    if not t:
        return False
    if is_aim(t):
        return True
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


# A count the claim spells out ("three participants") must be in the passage too, as a word or in
# digits; "one" is left out: it is as often a pronoun ("one of the", "no one") as a count.
_COUNT_WORD = re.compile(r"\b(" + "|".join(w for w in _NUMBER_WORDS if w not in ("zero", "one")) + r")\b(?![-\u2010-])",
                         re.IGNORECASE)


# A residue or mutation written in one-letter code ("S118", "S118L", "G12C") holds its position.
_AMINO_ACID = re.compile(r"\b(?i:alanine|arginine|asparagine|aspartate|aspartic acid|cysteine|glutamate|glutamic acid|"
                         r"glutamine|glycine|histidine|isoleucine|leucine|lysine|methionine|phenylalanine|proline|"
                         r"serine|threonine|tryptophan|tyrosine|valine|residues?|codons?)\b|\b(?:"
                         r"Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val)\b")
_RESIDUE = re.compile(r"(?<![A-Za-z0-9])[ACDEFGHIKLMNPQRSTVWY](\d{1,4})[ACDEFGHIKLMNPQRSTVWY]?(?![A-Za-z0-9])")


def missing_terms(claim: str, passage: str) -> tuple[str, ...]:
    """Numbers and names in the claim that the passage does not contain as whole words. A number
    the claim gives as a percentage must be a percentage in the passage too; a count it spells out
    ("three") must be in the passage as a word or in digits."""
    numbers = {_norm_number(n) for n in _NUMBER.findall(passage)}
    if _AMINO_ACID.search(claim):  # "serine 118" is the passage's "S118" (or "S118L")
        numbers |= set(_RESIDUE.findall(passage))
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
    for word in dict.fromkeys(w.lower() for w in _COUNT_WORD.findall(claim)):
        if _NUMBER_WORDS[word] not in numbers:
            missing.append(word)
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


_AIM = re.compile(
    r"^\W*(?:[A-Z][A-Za-z ]{2,30}:\s*)?(?:(?:\w+\s+){0,3}?(?:mentions?|states?|notes?|says?|explains?)\s+that\s+)?"
    r"(?:to\s+(?:\w+\s+)?(?:evaluate|assess|determine|investigate|examine|compare|test|"
    r"study|analy[sz]e|identify|describe|explore|report|establish|estimate|measure|review|characteri[sz]e|clarify|"
    r"define|quantify|ascertain|elucidate|validate|develop|address|answer|verify|understand|document|know|see)\b|"
    r"(?:the|our|this|a|an|one)\s+(?:\w+\s+){0,3}?(?:aims?|purpose|objectives?|goals?|intent)\s+(?:of|was|is|were|are)\b|"
    r"(?:this|the\s+present|the\s+current|our|the)\s+(?:\w+\s+)?(?:study|trial|analysis|review|work|paper|"
    r"investigation|survey)\s+(?:aims?|aimed|sought|seeks|looks?\s+(?:for|at|into)|(?:was|is)\s+to\b|"
    r"(?:was|is)\s+aimed\s+(?:to|at)\b|"
    r"was\s+designed|is\s+designed|was\s+undertaken|"
    r"was\s+conducted\s+to|investigat\w*\s+(?:whether|if|the)|examin\w*\s+(?:whether|if|the)|evaluat\w*|assess\w*|"
    r"explor\w*|compar\w*)|we\s+(?:aimed|sought|hypothesi[sz]ed|wished|set\s+out|wanted|intended|"
    r"(?:investigated|examined|asked|evaluated|assessed|tested|studied|determined)\s+(?:whether|if|how)\b)|"
    r"(?:the\s+)?hypothes[ie]s\s+(?:that|was|were)\b|(?:it\s+was\s+|we\s+)hypothesi[sz]ed\b|"
    r"(?:determine|evaluate|assess|investigate|examine|compare|test|identify|describe|explore|estimate|measure)\s+"
    r"(?:whether|if|how|the|which|what)\b|"
    r"(?:we\s+)?conducted\s+(?:this|the|a|our)\s+(?:\w+\s+)?(?:study|trial|analysis|survey|review)\s+to\b|"
    r"(?:it\s+)?(?:is|remains|was)\s+(?:still\s+)?(?:unknown|unclear|not\s+known|uncertain|controversial)\s+"
    r"(?:whether|if|how)\b|"
    r"in\s+(?:this|the\s+present|the\s+current|our)\s+(?:\w+\s+)?(?:study|paper|article|work|trial|analysis|"
    r"report|investigation|survey),?\s+we\s+(?:therefore\s+|thus\s+|hence\s+|here\s+|now\s+|further\s+|also\s+|"
    r"first\s+)?(?:assess|evaluat|investigat|examin|stud|compar|analy[sz]|explor|"
    r"determin|describ|report|present|review|measur|test)\w*\b)", re.IGNORECASE)


# The reason a claim gets when it is no finding at all, whatever its passage says.
NOT_A_FINDING = "not a finding"
_KEYWORDS = re.compile(r"^\W*(?:key\s*words?|keywords?|mesh\s+terms?|abbreviations?)\s*:", re.IGNORECASE)


def not_a_finding(text: str) -> str | None:
    """Why `text` cannot be a finding whatever the passage says, or None: a question ("What is the
    effect of ...?"), a heading or lead-in ("Staff-related issues:", "The answer is:") or a keyword
    list ("Keywords: mitral valve, ..."). Small models write them; no passage can support them."""
    t = " ".join(text.split()).rstrip(" )\"'*_")
    if t.endswith("?"):
        return f"{NOT_A_FINDING}: a question"
    if t.endswith(":"):
        return f"{NOT_A_FINDING}: a heading or lead-in"
    if _KEYWORDS.match(t):
        return f"{NOT_A_FINDING}: a keyword list"
    return None


# A structured abstract's labels ("METHODS:", "PATIENTS AND METHODS:", "RESULTS:"); the text after a
# methods label, up to the next label, says how the study was done, not what it found.
_LABEL = re.compile(r"(?<![\w-])([A-Z][A-Z]+(?:[ &]+[A-Z]+){0,3})\s*:")
_METHODS_LABEL = re.compile(r"METHOD|DESIGN|SETTING|PARTICIPANTS|PATIENTS|SUBJECTS|MATERIALS|INTERVENTIONS?|"
                            r"MEASUREMENTS?|PROCEDURES?")
_RESULTS_LABEL = re.compile(r"RESULT|FINDING|CONCLUSION|OUTCOME")


def _methods_segments(passage: str) -> list[tuple[int, int]]:
    """The (start, end) of each part of `passage` under a methods label of a structured abstract, up
    to the next label ("MEASUREMENTS AND RESULTS:" holds results, whatever else it names)."""
    labels = list(_LABEL.finditer(passage))
    return [(m.start(), labels[i + 1].start() if i + 1 < len(labels) else len(passage))
            for i, m in enumerate(labels)
            if _METHODS_LABEL.search(m.group(1)) and not _RESULTS_LABEL.search(m.group(1))]


# A sentence that says what was done, not what was found: "Late survival rate and QoL were assessed",
# "We retrospectively analyzed 78 patients", with no result in it (no test, comparison or direction).
_PROCEDURE = re.compile(
    r"\b(?:we|(?:was|were|been)(?:\s+(?:then|also|retrospectively|prospectively|further|randomly|independently|"
    r"subsequently|routinely|each|all))?)\s+(?:retrospectively\s+|prospectively\s+|then\s+|also\s+|next\s+|"
    r"further\s+|first\s+|additionally\s+)?"
    r"(?:assessed|measured|evaluated|recorded|compared|analy[sz]ed|performed|obtained|collected|reviewed|examined|"
    r"calculated|enrolled|included|randomi[sz]ed|allocated|assigned|divided|selected|administered|surveyed|"
    r"interviewed|recruited|quantified|tested|studied|screened|sampled|scored|categori[sz]ed|classified|"
    r"stratified|matched|extracted|conducted|carried\s+out|used|applied|investigated|explored|estimated|"
    r"monitored|followed\s+up|defined|identified|determined|documented|registered|approached|invited|asked)\b",
    re.IGNORECASE)
_RESULT_MARK = re.compile(r"\bsignificant\w*|\bp\s*[<=>≤≥]|%|\bthan\b|\b(?:found|showed|shown|revealed|demonstrated|"
                          r"associated|correlated|differ\w*|no\s+|not\s+|none|higher|lower|more|less|greater|fewer|"
                          r"increas\w*|decreas\w*|reduc\w*|improv\w*|odds|hazard|ratio|risk|mean|median|"
                          r"rate\s+of\s+\d|\d+\s*(?:of|out\s+of)\s+\d)", re.IGNORECASE)


def is_procedure(sentence: str) -> bool:
    """Does a sentence of a passage say how the study was done rather than what it found?"""
    return bool(_PROCEDURE.search(sentence)) and not _RESULT_MARK.search(sentence)


def is_aim(sentence: str) -> bool:
    """Does a sentence of a passage state an aim or a question rather than something found or known?"""
    if sentence.rstrip(" )\"'").endswith("?"):
        return True
    return bool(_AIM.search(sentence)) and not _FINDING.search(sentence)


class Verifier:
    """Scores claims against passages, embedding each sentence once."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}
        self._units: dict[str, tuple[list[tuple[int, int]], np.ndarray, int]] = {}
        # each passage's methods sentences' vectors, and its other procedure sentences' (see units)
        self._methods: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _vectors(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo)):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dimension))

    def units(self, passage: str) -> tuple[list[tuple[int, int]], np.ndarray, int]:
        """The passage's quotable units, as spans: each sentence and each two adjacent sentences,
        leaving out those that only state an aim or a question ("To evaluate whether ..."), those
        under a structured abstract's methods label ("METHODS: ...") and those that only say what was
        done ("Survival and QoL were assessed") unless the passage has nothing else; and their
        vectors. A pair's vector is the normalised mean of its two sentences' vectors, which costs no
        model call. Sentences come first; the count of them is returned too."""
        if passage not in self._units:
            spans = sentence_spans(passage) or [(0, len(passage))]
            vectors = self._vectors([passage[s:e] for s, e in spans])
            segments = _methods_segments(passage)
            methods = [any(a <= s < b for a, b in segments) for s, _ in spans]
            procedures = [is_procedure(passage[s:e]) for s, e in spans]
            self._methods[passage] = (vectors[[i for i, m in enumerate(methods) if m]],
                                      vectors[[i for i, p in enumerate(procedures) if p and not methods[i]]])
            asserts = [not is_aim(passage[s:e]) and not m and not p
                       for (s, e), m, p in zip(spans, methods, procedures)]
            if not any(asserts):
                asserts = [True] * len(spans)
            units, rows = [], []
            for i, span in enumerate(spans):
                if asserts[i]:
                    units.append(span)
                    rows.append(vectors[i])
            singles = len(units)
            for i in range(len(spans) - 1):
                if asserts[i] and asserts[i + 1]:
                    units.append((spans[i][0], spans[i + 1][1]))
                    v = vectors[i] + vectors[i + 1]
                    rows.append(v / max(float(np.linalg.norm(v)), 1e-9))
            self._units[passage] = (units, np.stack(rows), singles)
        return self._units[passage]

    def _restates_methods(self, claim: str, passage: str) -> bool:
        """Is the claim a sentence of the passage's methods said again ("Children referred with
        gallstones were prospectively identified and reviewed")? Those sentences are not quotable,
        but a claim that copies one is a method, not a finding; so is one that copies a procedure
        sentence elsewhere ("were randomly allocated") while reporting nothing itself (no test, share,
        comparison or relation). A claim that states a result (a negation, a direction, a test: "no
        significant differences were observed between shifts") is never taken for a method, however
        closely it follows a methods sentence's words."""
        pol = polarity(claim)
        if pol.negated or pol.null or pol.directions or _TEST.search(claim):
            return False
        self.units(passage)
        methods, procedures = self._methods[passage]
        if not _RESULT_MARK.search(claim) and not any(_RELATION.match(t) for t in tokens(claim)):
            methods = np.concatenate([methods, procedures])
        return len(methods) > 0 and float(np.max(methods @ self._vectors([claim])[0])) >= RESTATED

    def similarity(self, claim: str, passage: str) -> float:
        _, vectors, _ = self.units(passage)
        return float(np.max(vectors @ self._vectors([claim])[0]))

    def check(self, claim: str, passage: str) -> Support:
        """The verdict on `claim` against `passage`. A claim of several sentences is supported only
        when each of its sentences is: a quote of one or two sentences cannot vouch for more."""
        whole = self._check(claim, passage)
        why_not = not_a_finding(claim)
        if why_not:
            return Support(whole.score, whole.missing, "unsupported", whole.quote, why_not, whole.coverage)
        parts = [claim[s:e] for s, e in sentence_spans(claim)]
        if len(parts) < 2 or whole.verdict != "supported":
            return whole
        order = {"supported": 0, "partial": 1, "unsupported": 2}
        worst = max((self._check(part, passage) for part in parts), key=lambda v: order[v.verdict])
        if worst.verdict == "supported":
            return whole
        return Support(whole.score, worst.missing, worst.verdict, worst.quote,
                       f"one sentence of the claim: {worst.reason}", worst.coverage)

    def _confirming_unit(self, claim, passage, units, sims, score, values) -> int | None:
        for i in sorted(range(len(units)), key=lambda k: -values[k])[:ALTERNATIVES]:
            if sims[i] < score - ALT_CLOSE:
                continue
            text = passage[slice(*units[i])]
            if _confirms(claim, text) and not polarity_conflict(claim, text) and not unconfirmed(claim, text, text):
                return i
        return None

    def _check(self, claim: str, passage: str) -> Support:
        units, vectors, singles = self.units(passage)
        sims = vectors @ self._vectors([claim])[0]
        score = float(np.max(sims))
        # The quote: the sentence, or two adjacent sentences, closest in meaning and in words; a
        # pair must do clearly better than its best sentence.
        values = [float(sims[i]) + 0.3 * coverage(claim, passage[s:e])[0] - (0.04 if i >= singles else 0.0)
                  for i, (s, e) in enumerate(units)]
        best = int(np.argmax(values))
        quote = passage[slice(*units[best])]
        missing = missing_terms(claim, passage)
        cover, absent = coverage(claim, passage)
        # The claim must not contradict the quote, nor the other sentences nearly as close to it.
        close = [i for i in np.argsort(-sims[:singles])[:TOP_SENTENCES] if sims[i] >= score - CLOSE]
        context = " ".join([quote] + [passage[slice(*units[i])] for i in close])
        conflict = polarity_conflict(claim, quote, context)
        for i in close:
            if conflict:
                break
            conflict = polarity_conflict(claim, passage[slice(*units[i])], context)
        # A quote that merely mentions what the claim negates ("risk factors were determined" for
        # "X was not a risk factor") is no contradiction: only that it does not confirm the claim.
        contradicted = conflict is not None and not conflict.endswith("passage does not")
        if not conflict:
            # what the passage asserts: not its aims, methods or procedures ("a series without reperfusion
            # was compared" does not say that reperfusion is not required)
            conflict = unconfirmed(claim, quote, " ".join(passage[s:e] for s, e in units[:singles]))
        if conflict and not contradicted:
            # The quote does not contradict the claim but does not state its negation or direction
            # either: another sentence of the passage, nearly as close, may state just what the
            # claim says ("X did not reduce Y" against "X did not significantly reduce Y (p = 0.4)"),
            # and it becomes the quote. A contradiction is never outvoted.
            alternative = self._confirming_unit(claim, passage, units[:singles], sims, score, values)
            if alternative is not None:
                quote, conflict = passage[slice(*units[alternative])], None
        if not conflict and self._restates_methods(claim, passage):
            conflict = f"{NOT_A_FINDING}: the passage's methods, restated"
        verdict, reason = verdict_for(score, missing, cover, conflict, absent)
        return Support(round(score, 4), missing, verdict, quote, reason, round(cover, 4))


def sentence_support(embedder: Embedder, claim: str, passage: str) -> float:
    return Verifier(embedder).similarity(claim, passage)
