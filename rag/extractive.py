"""The extractive summarizer: findings are the evidence's own sentences that best answer the question.

No generator at all: each finding is a sentence of a retrieved passage, verbatim, chosen by its
similarity to the question and kept diverse by maximal marginal relevance (MMR), so every finding
is its own quote. It answers in about a second on any laptop, and it is the floor that a generated
summary must beat.
"""
from __future__ import annotations

import re

import numpy as np

from .embed import Embedder
from .ingest.cleanup import BACK_MATTER_SECTIONS
from .pack import Evidence
from .query import dense_query
from .verify import Support, content_stems, is_aim, is_meta_statement, is_procedure, whole_sentences

MAX_FINDINGS = 5
MMR_LAMBDA = 0.7  # weight of relevance against novelty
MIN_SIMILARITY = 0.30  # a sentence further than this from the question is not a finding
# Sentences that report what was found, and the sections where findings live, are preferred a little
# over method descriptions and background of the same relevance.
RESULT_BONUS = 0.05
_RESULT = re.compile(r"\d|%|\b(?:found|showed|shown|increas\w*|decreas\w*|reduc\w*|associated|higher|lower|"
                     r"improv\w*|risk|rate|significant\w*|caused|led to|resulted|compared|than)\b", re.IGNORECASE)
# A sentence that cites other papers ("[10]", "[2,3,7-9]", "(Smith et al., 2005)") reports earlier work,
# usually background, rather than what this paper found; it gives way to one of the same relevance
# that cites nothing (bench/eval_fulltext.py: key sentence among the findings 0.595 -> 0.686).
OTHER_WORK_PENALTY = 0.05
_CITES_OTHERS = re.compile(r"\[\d+(?:\s*[,\u2013\-]\s*\d+)*\]|\(\s*[A-Z][A-Za-z-]+(?: et al\.?| and [A-Z][A-Za-z-]+)?,?\s+"
                           r"(?:19|20)\d\d[a-z]?\s*\)")
# A sentence that holds the question's own words, the rarer ones above all, answers it more often
# than one that only shares its topic: relevance gains this much times the IDF-weighted share of the
# question's content words (stemmed) that the sentence holds, IDF taken over the candidate sentences.
LEXICAL_WEIGHT = 0.2
# A sentence's relevance loses this much per unit its paper's closest passage lies below the closest
# passage of all: the paper that answers the question gives its results before another paper's
# sentence on a neighbouring topic, and a broad question still hears from every paper close to it.
PAPER_WEIGHT = 0.5
# A sentence close to what all the candidate sentences say together restates the topic that brought
# them ("DVT prophylaxis is essential to the management of trauma patients") rather than answering;
# relevance loses this much times how much closer than the average candidate it lies to their
# centroid (and a sentence further than the average gains as much, though only a sentence that
# passes MIN_SIMILARITY without it is chosen). bench/eval_fulltext.py: key sentence among the
# findings 0.644 -> 0.697; PubMedQA ROUGE-L unchanged; the broad questions cite as many papers.
TYPICAL_WEIGHT = 0.3
# A sentence's relevance loses this much for each place its passage lies below the first in the
# search results (up to PASSAGE_RANK_CAP - 1 places; summarize searches for 8): the search ranks a whole
# passage by its words and its meaning together, which a sentence's own similarity does not see. It
# counts before the MIN_SIMILARITY cut, so a marginal sentence of a low-ranked passage is no finding
# (PubMedQA: 4.46 -> 4.36 findings a question, from the question's own abstract 0.762 -> 0.776, no
# question left without one; counted after the cut instead: 4.46, 0.761). Full-text key sentence among
# the findings, with the blank-line fix of verify.sentence_spans: 0.731 -> 0.746 on the questions the
# rules were tuned on, 0.562 -> 0.637 on 40 later ones (bench/data/fulltext_questions_2.jsonl; the fix
# alone: 0.708, 0.562); PubMedQA ROUGE-L 0.149 either way. (Measured when it came in; bench/README.md
# has the figures since.)
PASSAGE_RANK_WEIGHT = 0.01
PASSAGE_RANK_CAP = 8
_METHOD_SECTIONS = re.compile(r"method|material|procedure|introduction|background|statistic", re.IGNORECASE)
_HEADING_PREFIX = re.compile(r"^(?:abstract|background|introduction|methods?|results?|discussion|conclusions?|"
                             r"findings|summary|objectives?|aims?)\s*[:.]?\s+(?=[A-Z])", re.IGNORECASE)
# A structured abstract's label of several words, in capitals, before the sentence it labels ("PATIENTS AND
# METHODS: Forty-four patients ...", "MAIN OUTCOME MEASURE: ..."): words of a label only, so a gene named
# before a colon ("GSDMC: In hypoxia ...") stays.
_LABEL_WORDS = ("AND|OF|THE|MAIN|BACKGROUNDS?|AIMS?|OBJECTIVES?|OBJECT|PURPOSE|CONTEXT|INTRODUCTION|DESIGN|"
                "SETTINGS?|PARTICIPANTS|PATIENTS|SUBJECTS|POPULATION|SAMPLE|MATERIALS?|METHODS?|METHODOLOGY|"
                "INTERVENTIONS?|EXPOSURES?|MEASUREMENTS?|MEASURES?|MEASURED|OUTCOMES?|END|POINTS?|RESULTS?|FINDINGS|"
                "OBSERVATIONS|CASES?|REPORTS?|PRESENTATION|CONCLUSIONS?|INTERPRETATION|DISCUSSION|STUDY|SUMMARY|"
                "HYPOTHESIS|RATIONALE|LIMITATIONS|IMPLICATIONS|SIGNIFICANCE|RELEVANCE|CLINICAL|KEY|PRINCIPAL|PRIMARY|"
                "SECONDARY|EVIDENCE|DATA|SOURCES?|SELECTION|EXTRACTION|SYNTHESIS|ANALYSIS|TYPE|PROCEDURES?|TRIAL|"
                "REGISTRATION|UNLABELLED")
_LABEL_PREFIX = re.compile(rf"^(?:(?:{_LABEL_WORDS})(?:[ ,&/]+(?=[A-Z])|(?=:)))+:\s+(?=\S)")
_NOT_A_FINDING = re.compile(r"^(?:fig(?:ure)?s?\.?|table|supplementary|abbreviations|copyright|©|doi|http|"
                            r"funding|acknowledg|received|accepted|references?\s+(?:\d|\[))", re.IGNORECASE)
# A figure's legend: a panel's ("(A) Representative images of ...", "(c) Detail of two adjacent
# subunits") or its significance key ("*P < 0.05; **P < 0.01; Friedman test ...").
_LEGEND = re.compile(r"^(?:\([A-Ha-h]\)\s+[A-Z]|\*+\s*[Pp]\s*[<>=≤≥])")
# The labels of a figure or the cells of a table, which PDF text runs into the page as if they were a
# sentence ("Referred cases (36%) Self-Referrals (64%) OPD II HOME OTHERS Referrals SHORT STAY ...",
# "No CD8 KIR CD8 KIR+CD8 Tetramer+ cells per 1 106 CD4+ T"): a run of FIGURE_RUN words or more, none
# of them lower-case prose and none closing with a comma (numbers neither count nor break the run), in
# a sentence where fewer than FIGURE_FUNCTION of the words are function words. Of the 4,250 sentences
# in the evidence of the 45 full-text and 200 PubMedQA questions, it takes 9, none a finding: figure
# and table text, a title page, a labelled line of methods. A result full of measures ("Hazard Ratio
# (HR) 1.9 (Confidence Interval (CI) 1.237, 2.987)") keeps its function words; a list of names in
# prose has its commas ("Elevated IL-6, CRP, PCT, LDH, D-dimer and ferritin predicted ...").
FIGURE_RUN = 6
FIGURE_FUNCTION = 0.12
_FUNCTION_WORDS = frozenset("the a an of in on to and or for with by from at as is are was were be been that this "
                            "these those which who it its their than not no we our".split())
_PROSE_WORD = re.compile(r"[a-z][a-z'\-\u2013]*")
_WRAPPING = "()[],.;:'\"\u201c\u201d\u2018\u2019"
# A paper's back matter, which the PDF text runs into its last section: author details and
# affiliations, who did what, competing interests, approvals ("Author details Department of Surgery,
# University of Calgary", "SMH - Data analysis, manuscript writing & editing").
_BACK_MATTER = re.compile(
    r"^(?:\d+\s+)?(?:author\s+details|authors?[’'`]?\s+contributions?|competing\s+interests?|conflicts?\s+of\s+"
    r"interests?|declarations?\b|availability\s+of\s+data|data\s+availability|ethics\s+approval|consent\s+for\s+"
    r"publication|pre-?publication\s+history|cite\s+this\s+article|ethics\s+statements?|ethical\s+(?:approval|"
    r"considerations?|statement)|(?:department|division|faculty|school|institute|"
    r"centre|center|laboratory|unit)\s+of\b)|^[A-Z]{2,4}\s+[-–]\s+\w|\bread\s+and\s+approved\s+the\s+final\s+"
    r"manuscript|\bdeclare\s+that\s+they\s+have\s+no\s+competing|\bopen\s+access\s+article\b|\bcreative\s+commons\b|"
    r"\binstitutional\s+review\s+board\b",
    re.IGNORECASE)
# A page's footnote that the PDF text ran into a sentence: an address for correspondence, an e-mail.
_CONTACT = re.compile(r"\bcorrespond(?:ence|ing\s+authors?)(?:\s+to)?\s*:|\bcorrespondence\s+should\s+be\s+"
                      r"addressed|[\w.+-]+@[\w-]+\.[\w.]+", re.IGNORECASE)
# How a review found and chose its studies, not what it found: search strategies, eligibility, data
# handling (a sentence that only says what was done in any study: verify.is_procedure, below).
_SEARCH_AND_SELECTION = re.compile(
    r"^(?:(?:the\s+)?search\s+(?:terms?|strateg\w*|string)|(?:key\s*words?|mesh\s+terms)\b|"
    r"(?:the\s+)?(?:following\s+)?databases?\b|we\s+searched|(?:the\s+)?(?:inclusion|exclusion|"
    r"eligibility)\s+criteria|data\s+(?:were|was)\s+(?:extracted|collected|abstracted)|"
    r"statistical\s+analys[ie]s\b)|\b(?:PRISMA|MOOSE|STROBE|CONSORT)\b|"
    r"\b(?:PubMed|EMBASE|MEDLINE|Cochrane\s+Library|CINAHL|Scopus|Web\s+of\s+Science)\b|"
    r"\b(?:manuscripts|articles|publications|papers|records|abstracts|citations)\s+(?:were|was)\s+"
    r"(?:identified|reviewed|screened|selected|sorted|retrieved|included|excluded)\b", re.IGNORECASE)


def sentence_candidates(evidence: list[Evidence]) -> list[tuple[Evidence, str]]:
    """Each evidence passage's sentences, verbatim (less a leading section heading), that could
    stand as a finding: not captions, front matter or statements about the paper itself."""
    out = []
    for e in evidence:
        if e.hit.section in BACK_MATTER_SECTIONS:
            continue
        for start, end in whole_sentences(e.text):
            sentence = e.text[start:end].strip()
            for prefix in (_HEADING_PREFIX, _LABEL_PREFIX):  # "BACKGROUND AND PURPOSE: ..." is both
                heading = prefix.match(sentence)
                if heading:
                    sentence = sentence[heading.end():]
            words = sentence.split()
            if _front_matter(sentence, e.hit.title):
                continue
            if _BACK_MATTER.search(sentence):
                continue
            if 8 <= len(words) <= 80 and not _NOT_A_FINDING.match(sentence) \
                    and not _LEGEND.match(sentence) and not figure_text(sentence) \
                    and not _SEARCH_AND_SELECTION.search(sentence) \
                    and not _CONTACT.search(sentence) \
                    and not is_meta_statement(sentence) and not is_aim(sentence) \
                    and sum(c.isalpha() for c in sentence) > 0.6 * len(sentence):
                out.append((e, sentence))
    # A sentence that only says what was done ("Survival and QoL were assessed in 84 patients") is no
    # finding either; it stands only when the evidence holds nothing else (read blind on 30 PubMedQA
    # questions whose findings changed: better without them 7, worse 2, alike 21;
    # bench/data/extractive_procedure_choice.jsonl).
    results = [(e, sentence) for e, sentence in out if not is_procedure(sentence)]
    return results or out


def figure_text(sentence: str) -> bool:
    """Whether `sentence` is a figure's labels or a table's cells run into the text (see FIGURE_RUN)."""
    words = [t for t in sentence.split() if re.search(r"[A-Za-z]", t)]
    function = sum(w.strip(_WRAPPING).lower() in _FUNCTION_WORDS for w in words)
    if function >= FIGURE_FUNCTION * max(1, len(words)):
        return False
    run = longest = 0
    for word in words:  # only words with letters: numbers neither count nor break the run
        run = 0 if _PROSE_WORD.fullmatch(word.strip(_WRAPPING)) else run + 1
        longest = max(longest, run)
        if word.rstrip(")]\"\u201d").endswith(","):
            run = 0
    return longest >= FIGURE_RUN


def _front_matter(sentence: str, title: str) -> bool:
    """A title, author or banner line that the PDF text ran into a sentence."""
    words = sentence.lower().split()
    title_words = set(title.lower().split())
    if len(title_words) >= 4 and len(title_words & set(words)) >= 0.8 * len(title_words):
        return True
    return sum(len(w) == 1 and w.isalpha() for w in words) >= 4  # "R E V I E W"


def _prior(e: Evidence, sentence: str) -> float:
    bonus = RESULT_BONUS if _RESULT.search(sentence) else 0.0
    if e.hit.section and _METHOD_SECTIONS.search(e.hit.section):
        bonus -= RESULT_BONUS
    if _CITES_OTHERS.search(sentence):
        bonus -= OTHER_WORK_PENALTY
    return bonus


def question_word_share(query: str, sentences: list[str]) -> np.ndarray:
    """For each sentence, the share of the question's content words (stemmed) it holds, each word
    weighted by its inverse document frequency over `sentences`: a word that every sentence holds
    counts for little, a word that few hold for much."""
    wanted = content_stems(query)
    if not wanted or not sentences:
        return np.zeros(len(sentences), dtype=np.float32)
    held = [content_stems(s) & wanted for s in sentences]
    n = len(sentences)
    idf = {w: float(np.log((n + 1) / (sum(w in h for h in held) + 0.5))) for w in wanted}
    total = sum(idf.values())
    return np.asarray([sum(idf[w] for w in h) / total for h in held], dtype=np.float32)


def paper_distance(candidates: list[tuple[Evidence, str]]) -> np.ndarray:
    """For each candidate, how far its paper's closest passage (cosine to the question) lies below
    the closest passage of all; 0 for a paper whose passages came from the lexical search alone."""
    best: dict[str, float] = {}
    for e, _ in candidates:
        if e.hit.dense_score is not None:
            best[e.hit.doc_id] = max(best.get(e.hit.doc_id, -1.0), e.hit.dense_score)
    top = max(best.values(), default=0.0)
    return np.asarray([top - best.get(e.hit.doc_id, top) for e, _ in candidates], dtype=np.float32)


def passage_places(candidates: list[tuple[Evidence, str]]) -> np.ndarray:
    """For each candidate, how many places its passage lies below the first in the search results
    (at most PASSAGE_RANK_CAP - 1)."""
    return np.asarray([min(max(1, e.hit.rank or 1), PASSAGE_RANK_CAP) - 1 for e, _ in candidates], dtype=np.float32)


def typicality(vectors: np.ndarray) -> np.ndarray:
    """For each sentence vector, its cosine to the centroid of all of them, less the mean of those
    cosines: above 0 for the sentences most like the rest, below 0 for the most particular."""
    centroid = vectors.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    closeness = vectors @ centroid
    return closeness - closeness.mean()


def extract(embedder: Embedder, query: str, evidence: list[Evidence],
            max_findings: int = MAX_FINDINGS) -> list[tuple[Evidence, str, Support]]:
    """Up to `max_findings` (passage, sentence, support) triples, best first, no two alike."""
    candidates = sentence_candidates(evidence)
    if not candidates:
        return []
    texts = [sentence for _, sentence in candidates]
    q = embedder.embed_query(dense_query(query))
    vectors = embedder.embed(texts)
    relevance = vectors @ q + np.asarray([_prior(e, sentence) for e, sentence in candidates], dtype=np.float32) \
        + LEXICAL_WEIGHT * question_word_share(query, texts) - PAPER_WEIGHT * paper_distance(candidates)
    relevance = relevance - PASSAGE_RANK_WEIGHT * passage_places(candidates)
    close_enough = relevance >= MIN_SIMILARITY  # typicality orders the sentences; it lifts none past the cut
    relevance = relevance - TYPICAL_WEIGHT * typicality(vectors)
    chosen: list[int] = []
    remaining = [i for i in np.argsort(-relevance).tolist() if close_enough[i]]
    while remaining and len(chosen) < max_findings:
        def gain(i: int) -> float:
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            return MMR_LAMBDA * float(relevance[i]) - (1 - MMR_LAMBDA) * redundancy
        pick = max(remaining, key=gain)
        remaining.remove(pick)
        if chosen and max(float(vectors[pick] @ vectors[j]) for j in chosen) > 0.9:
            continue  # the same sentence again (overlapping passages)
        chosen.append(pick)
    return [(candidates[i][0], candidates[i][1],
             Support(1.0, (), "supported", quote=candidates[i][1])) for i in chosen]
