"""Question in, cited key findings out: retrieve, pack, generate, parse, verify."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

from .coverage import papers_naming, question_coverage, unindexed_names
from .embed import Embedder
from .errors import InvalidQuery
from .extractive import extract
from .generate import Generator
from .pack import Evidence, pack, passages_block
from .parse import parse_reply
from .prompts import PRIMER, SENTINEL, SYSTEM, USER
from .records import Hit
from .rerank import Reranker
from .retrieve import Filters, search
from .store import Index
from .summary import EXTRACTIVE, Citation, Finding, Reference, Summary, _clip
from .verify import INFERRED, NOT_A_FINDING, Verifier, is_meta_statement, not_a_finding

MAX_FINDINGS = 7

# Best-passage cosine similarity below which the index is taken not to answer the question.
# Calibrated with bench/calibrate_thresholds.py for all-MiniLM-L6-v2 (see README); other embedders
# score on other scales, so set min_score for them.
MIN_EVIDENCE = 0.42
# Least share of the question's key words (weighted by rarity) that one retrieved paper must hold
# (rag/coverage.py); calibrated in bench/eval_answerability.py (see README).
MIN_COVERAGE = 0.35
# A question that names a gene, variant or drug ("Does sotorasib induce MHC class I presentation?") can be
# answered by a paper that names it although no passage is close enough in meaning (short questions embed
# poorly): below MIN_EVIDENCE it still passes when a retrieved paper that names it holds this share of the
# question's key words (bench/eval_answerability.py; bench/README.md, "Answerability").
NAMED_COVERAGE = 0.6


@dataclass(frozen=True)
class SummarizeOptions:
    k: int = 8
    mode: str = "hybrid"
    max_per_doc: int | None = None  # None: adaptive diversity over papers (see retrieve.SAME_PAPER_DECAY)
    filters: Filters = Filters()
    reranker: Reranker | None = None
    min_score: float = MIN_EVIDENCE
    min_coverage: float = MIN_COVERAGE
    context_tokens: int = 1536  # budget for the passages in the prompt, in the generator's tokens
    max_new_tokens: int = 384
    temperature: float = 0.0  # 0: greedy, the same answer every time
    seed: int | None = None

    def __post_init__(self):
        if not 0.0 <= self.min_coverage <= 1.0:
            raise InvalidQuery(f"min_coverage {self.min_coverage} must lie between 0 and 1")
        if not -1.0 <= self.min_score <= 1.0:
            raise InvalidQuery(f"min_score {self.min_score} must lie between -1 and 1 (a cosine similarity)")
        for name in ("context_tokens", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise InvalidQuery(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.temperature >= 0.0 or self.temperature == float("inf"):
            raise InvalidQuery(f"temperature {self.temperature} must be 0 (greedy) or more")


def messages_for(query: str, passages: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(question=query, passages=passages, sentinel=SENTINEL)}]


def retrieve_for_summary(index: Index, embedder: Embedder, query: str,
                         options: SummarizeOptions = SummarizeOptions()) -> tuple[list[Hit], str | None]:
    """The passages worth showing the generator, or none and the reason the index cannot answer."""
    hits = search(index, embedder, query, options.k, mode=options.mode, max_per_doc=options.max_per_doc,
                  filters=options.filters, reranker=options.reranker)
    best = max((h.dense_score or 0.0 for h in hits), default=0.0)
    if best < options.min_score:
        # passed on a name or not at all: then the evidence is the passages of the papers that name it
        named = papers_naming(index, query, hits)
        named_hits = [h for h in hits if h.doc_id in named]
        if named_hits and question_coverage(index, query, named_hits).share >= max(NAMED_COVERAGE,
                                                                                      options.min_coverage):
            return named_hits, None
        return [], ((f"No passage is close enough to the question (best similarity {best:.2f}, "
                     f"threshold {options.min_score:.2f}); the model was not run.") if hits else "The index is empty.")
    cover = question_coverage(index, query, hits) if options.min_coverage > 0 else None
    if cover and cover.share < options.min_coverage:
        title = next(h.title for h in hits if h.doc_id == cover.doc_id) or "untitled"
        return [], (f"No paper retrieved speaks of the whole question: the one that holds most of its key words, "
                    f"\"{_clip(title, 80)}\", holds {cover.share:.0%} of them weighted by rarity (threshold "
                    f"{options.min_coverage:.0%}) and never mentions {_listed(cover.missing)}; the model was not run.")
    # Weak passages distract a small model; keep those above the threshold, the top three whatever
    # their score (a lexical match on a gene or drug name can score low densely), and every passage
    # of a paper that has one above the threshold (its results are less like the question than its
    # aims, and are what answers it).
    close = {h.doc_id for h in hits if (h.dense_score or 0.0) >= options.min_score}
    return [h for i, h in enumerate(hits) if i < 3 or h.doc_id in close], None


def _listed(words: tuple[str, ...], most: int = 4) -> str:
    more = len(words) - most
    quoted = [f"'{w}'" for w in words[:most]] + ([f"{more} more word{'s' if more > 1 else ''}"] if more > 0 else [])
    if len(quoted) < 2:
        return quoted[0] if quoted else "nothing"
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


@dataclass
class _Prepared:
    """A question ready for the generator: its evidence and prompt, or the summary that needs none."""
    query: str
    timings: dict
    done: Summary | None = None
    evidence: list[Evidence] | None = None
    messages: list[dict] | None = None
    unmatched: tuple[str, ...] = ()


def _prepare(index: Index, embedder: Embedder, load_generator: Callable[[], Generator], query: str,
             options: SummarizeOptions) -> _Prepared:
    timings: dict[str, float] = {}
    t = time.perf_counter()
    hits, reason = retrieve_for_summary(index, embedder, query, options)
    timings["retrieve_s"] = time.perf_counter() - t
    if reason:
        return _Prepared(query, timings, done=Summary(query, "insufficient_evidence", reason=reason,
                                                      timings=_round(timings)))
    t = time.perf_counter()
    generator = load_generator()
    timings["load_s"] = time.perf_counter() - t
    evidence = pack(hits, generator.count_tokens, options.context_tokens)
    messages = messages_for(query, passages_block(evidence))
    if PRIMER:
        messages.append({"role": "assistant", "content": PRIMER})  # the reply begins with it
    return _Prepared(query, timings, evidence=evidence, messages=messages, unmatched=unindexed_names(index, query))


def summarize(index: Index, embedder: Embedder, load_generator: Callable[[], Generator], query: str,
              options: SummarizeOptions = SummarizeOptions(),
              on_text: Callable[[str], None] | None = None) -> Summary:
    """Summarize what the index says about `query`. The generator is loaded only when there is
    evidence enough to give it."""
    prepared = _prepare(index, embedder, load_generator, query, options)
    if prepared.done:
        return prepared.done
    generator = load_generator()
    gen = generator.generate(prepared.messages, max_new_tokens=options.max_new_tokens,
                             temperature=options.temperature, seed=options.seed, on_text=on_text)
    return _finish(prepared, generator, gen, embedder, options.max_new_tokens)


def summarize_many(index: Index, embedder: Embedder, load_generator: Callable[[], Generator], queries: list[str],
                   options: SummarizeOptions = SummarizeOptions()) -> list[Summary]:
    """Summaries of several questions, in their order; the generator writes the replies of those with
    evidence together (`Generator.generate_many`: batched on a GPU)."""
    prepared = [_prepare(index, embedder, load_generator, q, options) for q in queries]
    todo = [p for p in prepared if p.done is None]
    if todo:
        generator = load_generator()
        gens = generator.generate_many([p.messages for p in todo], max_new_tokens=options.max_new_tokens,
                                       temperature=options.temperature, seed=options.seed)
        for p, gen in zip(todo, gens):
            p.done = _finish(p, generator, gen, embedder, options.max_new_tokens)
    return [p.done for p in prepared]


def _finish(prepared: _Prepared, generator: Generator, gen, embedder: Embedder, budget: int) -> Summary:
    """Parse the reply, verify each citation against its passage, and quote the papers. A reply
    that used its whole token budget and ends mid-sentence loses its last, unfinished finding."""
    query, evidence, timings = prepared.query, prepared.evidence, prepared.timings
    timings.update(generate_s=gen.seconds, first_token_s=gen.first_token_seconds or 0.0,
                   tokens_per_s=gen.tokens_per_second, prompt_tokens=gen.prompt_tokens, new_tokens=gen.new_tokens)
    said = gen.text.lstrip()
    reply = said if said[:len(PRIMER)].lower() == PRIMER.lower() else f"{PRIMER} {said}".strip()
    summary = Summary(query, "ok", evidence=evidence, model=generator.name, note=generator.note, raw=reply,
                      stopped=getattr(gen, "stopped", None), unmatched=prepared.unmatched)

    t = time.perf_counter()
    parsed = parse_reply(reply)
    if gen.new_tokens >= budget and not summary.stopped and parsed.findings and _unfinished(reply):
        parsed = replace(parsed, findings=parsed.findings[:-1])
        summary.stopped = "budget"
    if parsed.insufficient:
        summary.status = "insufficient_evidence"
        summary.reason = "The model found no answer in the passages retrieved."
    else:
        verifier = Verifier(embedder)
        _attach_citations(summary, parsed, verifier)
        summary.answer = parsed.answer
        if parsed.answer and evidence:
            # The answer line is checked like a finding, against its best passage.
            summary.answer_support = max((verifier.check(parsed.answer, e.text) for e in evidence),
                                         key=lambda sup: sup.score)
        if not summary.findings:
            # The evidence answers closely enough to be given to the model, but nothing the model
            # wrote verifies (a small model copies the reply's format, or loops): the papers' own
            # sentences are findings that cannot misquote them, and the summary says whose they are.
            # A reply that says the passages do not answer, anywhere in it, is taken at its word.
            if SENTINEL.lower() not in reply.lower():
                _add_extractive_findings(summary, embedder, query)
            if summary.findings:
                summary.answer, summary.answer_support = "", None
                summary.fallback = (f"{generator.name} wrote no finding that its passages support; these findings "
                                    f"are the papers' own sentences closest to the question, chosen without it")
            else:
                summary.status = "insufficient_evidence"
                summary.reason = "None of the model's statements could be tied to a passage that supports it."
    timings["verify_s"] = time.perf_counter() - t
    summary.timings = _round(timings)
    return summary


def summarize_extractive(index: Index, embedder: Embedder, query: str,
                         options: SummarizeOptions = SummarizeOptions(), note: str | None = None) -> Summary:
    """Key findings with no generator: the evidence sentences that best answer the question."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    hits, reason = retrieve_for_summary(index, embedder, query, options)
    timings["retrieve_s"] = time.perf_counter() - t
    if reason:
        return Summary(query, "insufficient_evidence", reason=reason, model=EXTRACTIVE, note=note,
                       timings=_round(timings))
    t = time.perf_counter()
    evidence = pack(hits, embedder.count_tokens, options.context_tokens)
    summary = Summary(query, "ok", evidence=evidence, model=EXTRACTIVE, note=note,
                      unmatched=unindexed_names(index, query))
    _add_extractive_findings(summary, embedder, query)
    if not summary.findings:
        summary.status = "insufficient_evidence"
        summary.reason = "No sentence of the passages retrieved is close enough to the question."
    timings["extract_s"] = time.perf_counter() - t
    summary.timings = _round(timings)
    return summary


def _add_extractive_findings(summary: Summary, embedder: Embedder, query: str) -> None:
    """The evidence sentences that best answer the question, each its own quote, as findings."""
    reference = _reference_list(summary)
    for e, sentence, support in extract(embedder, query, summary.evidence):
        summary.findings.append(Finding(" ".join(sentence.split()), (Citation(reference(e), e, support),)))


def _attach_citations(summary: Summary, parsed, verifier: Verifier) -> None:
    evidence = summary.evidence
    by_number = {e.number: e for e in evidence}
    reference = _reference_list(summary)

    kept: list[set[str]] = []
    for finding in parsed.findings:
        if len(summary.findings) >= MAX_FINDINGS:
            break
        if is_meta_statement(finding.text) or not_a_finding(finding.text):
            # about the paper or its authors, a question or a heading: not about the evidence
            summary.meta_statements += 1
            continue
        words = set(finding.text.lower().split())
        if any(len(words & k) / max(1, len(words | k)) > 0.7 for k in kept):
            continue  # small models repeat themselves
        valid = [n for n in finding.numbers if n in by_number]
        summary.removed_citations += len(finding.numbers) - len(valid)
        citations = []
        for n in valid:
            support = verifier.check(finding.text, by_number[n].text)
            citations.append((by_number[n], support, False))
        if not citations:
            scored = [(e, verifier.check(finding.text, e.text)) for e in evidence]
            e, support = max(scored, key=lambda pair: pair[1].score) if scored else (None, None)
            if e is None or support.verdict != "supported" or support.score < INFERRED:
                summary.dropped_findings += 1
                continue
            citations.append((e, support, True))
        if all((support.reason or "").startswith(NOT_A_FINDING) for _, support, _ in citations):
            summary.meta_statements += 1  # e.g. a sentence of the passage's methods said again
            continue
        kept.append(words)
        summary.findings.append(Finding(finding.text, tuple(
            Citation(reference(e), e, support, inferred) for e, support, inferred in citations)))


def _unfinished(reply: str) -> bool:
    """Does the reply stop in the middle of a sentence ("... for primary tumor classification in
    kidney")? A finished finding ends in a full stop, a citation mark or a closing bracket."""
    return not reply.rstrip().rstrip("*").endswith((".", "!", "?", "]", ")", '"', "”", "%"))


def _reference_list(summary: Summary) -> Callable[[Evidence], int]:
    """A function giving a cited passage's paper its number in the summary's reference list (one
    reference per paper, numbered in order of first citation), adding the paper when it is new."""
    number_of: dict[str, int] = {}

    def reference(e: Evidence) -> int:
        doc = e.hit.doc_id
        if doc not in number_of:
            number_of[doc] = len(number_of) + 1
            summary.references.append(Reference(number_of[doc], e))
        return number_of[doc]

    return reference


def _round(timings: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in timings.items()}
