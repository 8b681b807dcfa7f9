"""Find the passages that answer a query: dense (FAISS) and lexical (FTS5 BM25), fused by RRF."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from .embed import Embedder
from .errors import InvalidQuery
from .ingest.cleanup import BACK_MATTER_SECTIONS
from .pack import Distinct
from .query import cjk_query, dense_query, latin_terms
from .records import Hit
from .rerank import Reranker
from .store import Index

MODES = ("dense", "lexical", "hybrid")
KINDS = ("pdf", "abstract", "text", "jats")
RRF_K = 60  # the constant of Cormack et al. (2009); ranks matter more than raw scores
# BM25 weights of a passage's context line (title and section) and of its own text.
CONTEXT_WEIGHT = 0.5
TEXT_WEIGHT = 1.0
# Adaptive diversity: each further passage from a paper already in the results has its fused score
# multiplied by this, so a paper that clearly dominates keeps contributing and others still get seen.
SAME_PAPER_DECAY = 0.9
# Only papers that bear on the question are spread: one whose closest passage is below this share of
# the closest passage's dense similarity (a heart-failure study for a question on DVT prophylaxis)
# gets no place ahead of the papers that do; its passages follow theirs, in score order.
SPREAD_FLOOR = 0.5
# The second stage rescores the first stage's best RERANK_DEPTH passages; its rank is fused with the
# first stage's by RRF, weighted by RERANK_WEIGHT.
RERANK_DEPTH = 30
RERANK_WEIGHT = 1.0
# No second stage by default: on the full-text set neither reranker that runs in milliseconds on a
# CPU improved the top 10 (see README, "Retrieval"); dense-window did at the top 1 and 5, for seconds.
DEFAULT_RERANKER = None
# A paper's back matter (author details, contributions, funding, declarations, data availability:
# `cleanup.BACK_MATTER_SECTIONS`) follows every passage of the papers' own text, unless the question
# asks about it. An affiliation shares a question's words ("Department of Surgery" for a question on
# surgery) and no finding.
_ASKS_BACK_MATTER = re.compile(
    r"\b(?:who\s+(?:funded|paid\s+for|sponsored)|funded\s+by|fund(?:ing|er|ers)\s+(?:source|of\s+the\s+(?:study|trial|"
    r"research|work|review))|sources?\s+of\s+funding|funding\s+(?:statement|information)|grant\s+(?:numbers?|support)|"
    r"sponsor(?:s|ed|ship)?\s+of\s+the\s+(?:study|trial)|conflicts?\s+of\s+interests?|competing\s+interests?|"
    r"acknowledge?ments?|affiliations?|author\s+(?:details|contributions?)|authors?[’']?\s+contributions?|"
    r"data\s+availab\w*|availability\s+of\s+data|ethic(?:s|al)\s+(?:approval|committee|statement)|"
    r"consent\s+for\s+publication|abbreviations?|supplementa(?:ry|l)\s+(?:materials?|information|files?|data|"
    r"tables?|figures?)|additional\s+files?)\b",
    re.IGNORECASE)
EXACT_SUBSET = 50_000  # filtered searches over at most this many chunks are scored exactly
# FTS5 scores every passage that holds any query term before it sorts, so a common word ("patients",
# "use") makes the lexical search scan a large share of a big corpus. Past PRUNE_FROM passages only
# the passages that hold one of the query's most selective terms are scored (rarest first, while
# they number at most MATCH_BUDGET), still with every term, so common words keep telling those
# passages apart. Below PRUNE_FROM every passage that matches is scored: milliseconds there.
PRUNE_FROM = 20_000
MATCH_BUDGET = 10_000
RESCORE = 4  # a compressed (IVF-PQ) vector index returns this many times the pool, rescored exactly


@dataclass(frozen=True)
class Filters:
    year_from: int | None = None
    year_to: int | None = None
    source: str | None = None  # glob over the file path, e.g. "*oncology*" or "*.pdf"
    kind: str | None = None  # pdf, abstract, text or jats

    def __post_init__(self):
        if self.kind is not None and self.kind not in KINDS:
            raise InvalidQuery(f"document type {self.kind!r} is not one of {', '.join(KINDS)}")

    def active(self) -> bool:
        return any(v is not None for v in (self.year_from, self.year_to, self.source, self.kind))

    def sql(self) -> tuple[str, list]:
        conds, params = [], []
        if self.year_from is not None:
            conds.append("d.year >= ?")
            params.append(self.year_from)
        if self.year_to is not None:
            conds.append("d.year <= ?")
            params.append(self.year_to)
        if self.source:
            pattern = self.source if self.source.startswith(("/", "*")) else "*" + self.source
            conds.append("d.source GLOB ?")
            params.append(pattern)
        if self.kind:
            conds.append("d.kind = ?")
            params.append(self.kind)
        return (" AND ".join(conds) or "1"), params


def search(index: Index, embedder: Embedder, query: str, k: int = 10, *, mode: str = "hybrid",
           max_per_doc: int | None = None, filters: Filters = Filters(), mmr: float | None = None,
           candidates: int = 100, reranker: Reranker | None = DEFAULT_RERANKER) -> list[Hit]:
    """The k best passages for `query`, strongest first.

    `max_per_doc`: None spreads results over papers adaptively (see SAME_PAPER_DECAY), 0 ranks by
    score alone, N caps every paper at N passages. `reranker` takes a second look at the first
    stage's best RERANK_DEPTH passages (None: the first stage alone)."""
    query = check_query(query, k, mode, mmr, max_per_doc)
    if len(index.vectors) == 0:  # not count(*): that scans the whole table
        return []
    k = min(k, len(index.vectors))  # more than the index holds is all of it
    pool = max(candidates, k * 5, (max_per_doc and k * 3) or 0)
    where, params = filters.sql()
    ranked: list[list[int]] = []
    qvec = None
    if mode in ("dense", "hybrid"):
        qvec = embedder.embed_query(dense_query(query))
        ranked.append(_dense(index, qvec, pool, filters, where, params))
    bm25: dict[int, float] = {}
    if mode in ("lexical", "hybrid"):
        for ranking in _lexical(index, query, pool, where, params):
            ranked.append([i for i, _ in ranking])
            for i, s in ranking:
                bm25[i] = max(bm25.get(i, float("-inf")), -s)
    scores = _fuse(ranked) if mode == "hybrid" or len(ranked) > 1 else None
    if mode == "dense":
        order = ranked[0]
    elif scores is not None:
        order = sorted(scores, key=lambda i: -scores[i])
    else:
        order = ranked[0] if ranked else []
    rows = _rows(index, order)
    if qvec is None and order:
        qvec = embedder.embed_query(dense_query(query))  # for the dense_score every hit carries
    ids = np.asarray([i for i in order if i in rows], dtype=np.int64)
    found_ids, matrix = index.all_vectors([int(i) for i in ids])
    vec_of = dict(zip(found_ids.tolist(), matrix))
    cosine = {i: float(vec_of[i] @ qvec) for i in vec_of}
    if mode == "dense":
        score_of = cosine
    elif scores is not None:
        score_of = scores
    else:
        score_of = bm25
    if reranker is not None and len(ids) > 1:
        score_of = _rerank(reranker, query, [int(i) for i in ids], rows, score_of)
        ids = np.asarray(sorted(ids.tolist(), key=lambda i: -score_of[i]), dtype=np.int64)
    order, back_matter = ids.tolist(), []
    if not _ASKS_BACK_MATTER.search(query):
        order, back_matter = ([i for i in order if (rows[i]["section"] in BACK_MATTER_SECTIONS) is back]
                              for back in (False, True))
    repeats = _Repeats(rows)
    spread: dict[int, float] = {}  # the score each passage was chosen on, after the spread over papers
    chosen = _diversify(order, rows, vec_of, cosine, score_of, k, max_per_doc, mmr, repeats, spread)
    for i in back_matter:
        if len(chosen) >= k:
            break
        if (not max_per_doc or sum(rows[j]["doc_id"] == rows[i]["doc_id"] for j in chosen) < max_per_doc) \
                and not repeats(i):
            chosen.append(i)
    return [_hit(rank, rows[i], spread.get(i, score_of.get(i, 0.0)), cosine.get(i)) for rank, i in enumerate(chosen, 1)]


def check_query(query: str, k: int = 10, mode: str = "hybrid", mmr: float | None = None,
                max_per_doc: int | None = None) -> str:
    """The query stripped, or InvalidQuery naming what is wrong with it or its options."""
    query = (query or "").strip()
    if not query.replace("\x00", "").strip():
        raise InvalidQuery("the query is empty")
    if max_per_doc is not None and max_per_doc < 0:
        raise InvalidQuery(f"max_per_doc must be 0 (no cap) or more, not {max_per_doc}")
    if mode not in MODES:
        raise InvalidQuery(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if k < 1:
        raise InvalidQuery(f"k must be at least 1, not {k}")
    if mmr is not None and not 0.0 <= mmr <= 1.0:
        raise InvalidQuery(f"MMR lambda {mmr} must lie between 0 and 1")
    return query


def _dense(index: Index, qvec: np.ndarray, pool: int, filters: Filters, where: str, params: list) -> list[int]:
    if not filters.active():
        if not index.vectors.compressed:
            ids, _ = index.vectors.search(qvec, pool)
            return ids.tolist()
        # PQ codes rank roughly: take RESCORE times the pool and order it by the exact vectors.
        ids, _ = index.vectors.search(qvec, pool * RESCORE)
        found, matrix = index.all_vectors(ids.tolist())
        return found[np.argsort(-(matrix @ qvec))][:pool].tolist()
    allowed = [r[0] for r in index.db.execute(
        f"SELECT c.id FROM chunks c JOIN documents d ON d.doc_id=c.doc_id WHERE {where}", params)]
    if len(allowed) <= EXACT_SUBSET:
        ids, matrix = index.all_vectors(allowed)
        if not len(ids):
            return []
        sims = matrix @ qvec
        top = np.argsort(-sims)[:pool]
        return ids[top].tolist()
    allowed_set = set(allowed)
    ids, _ = index.vectors.search(qvec, pool * 20)
    return [i for i in ids.tolist() if i in allowed_set][:pool]


def selective_terms(index: Index, terms: list[str]) -> list[str]:
    """The query terms worth scoring in a large index: rarest first, while the passages they match
    stay within MATCH_BUDGET (each term's count is bounded, so the probe itself stays cheap). All
    of them when the index is small, or when every term is common or the rare ones match nothing."""
    if len(index.vectors) < PRUNE_FROM or len(terms) < 2:
        return terms
    probe = "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
    matches = {t: index.db.execute(probe, (t, MATCH_BUDGET + 1)).fetchone()[0] for t in dict.fromkeys(terms)}
    kept, total = set(), 0
    for t in sorted(matches, key=lambda t: matches[t]):
        if total + matches[t] > MATCH_BUDGET:
            break
        kept.add(t)
        total += matches[t]
    return [t for t in terms if t in kept] if total else terms


def latin_expression(index: Index, query: str) -> str | None:
    """The FTS5 expression for the query's Latin-script terms: all of them OR-ed; in a large index,
    `(selective terms) AND (all terms)`, which matches only passages holding a selective term but
    scores them with every term (BM25 then counts the selective ones twice, as it does names)."""
    terms = latin_terms(query)
    kept = selective_terms(index, terms)
    if kept == terms:
        return " OR ".join(terms) or None
    return f"({' OR '.join(kept)}) AND ({' OR '.join(terms)})"


def _lexical(index: Index, query: str, pool: int, where: str, params: list) -> list[list[tuple[int, float]]]:
    lists = []
    engine = index.lexical if where == "1" else None
    if engine is not None:
        # Past ENGINE_FROM passages, tantivy: every term scored, only the best kept (rag/lexical.py).
        # Scores are negated to FTS5's convention (lower is better).
        lists.append([(i, -s) for i, s in engine.search(latin_terms(query), pool)])
        latin = None
    else:
        latin = latin_expression(index, query)
    for table, expr in (("chunks_fts", latin), ("chunks_cjk", cjk_query(query))):
        if not expr:
            continue
        rank = f"bm25({table}, {CONTEXT_WEIGHT}, {TEXT_WEIGHT})" if table == "chunks_fts" else f"bm25({table})"
        # CROSS JOIN keeps the full-text match as the outer loop; a plain JOIN lets SQLite scan
        # every chunk and test the match row by row.
        sql = (f"SELECT f.rowid, {rank} FROM {table} f CROSS JOIN chunks c ON c.id=f.rowid "
               f"CROSS JOIN documents d ON d.doc_id=c.doc_id "
               f"WHERE {table} MATCH ? AND {where} ORDER BY {rank} LIMIT ?")
        lists.append([(r[0], float(r[1])) for r in index.db.execute(sql, [expr, *params, pool])])
    return lists


def _rerank(reranker: Reranker, query: str, order: list[int], rows: dict, first: dict) -> dict[int, float]:
    """Fuse the first stage's ranks with the reranker's over the top RERANK_DEPTH, by RRF; the rest
    keep their first-stage rank term alone, so they stay below every reranked passage."""
    top = order[:RERANK_DEPTH]
    second = reranker.score(query, [rows[i]["text"] for i in top])
    by_second = sorted(range(len(top)), key=lambda n: (-second[n], n))
    fused = {i: 1.0 / (RRF_K + rank) for rank, i in enumerate(order, 1)}
    for rank, n in enumerate(by_second, 1):
        fused[top[n]] += RERANK_WEIGHT / (RRF_K + rank)
    return fused


def _fuse(ranked: list[list[int]]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranking in ranked:
        for rank, i in enumerate(ranking, 1):
            scores[i] = scores.get(i, 0.0) + 1.0 / (RRF_K + rank)
    return scores


class _Repeats:
    """Whether a passage repeats one already chosen, nearly word for word: a PDF that prints a page
    twice (a review copy's figure page beside the final one), a caption repeated under two figures,
    the same abstract indexed from two files. The first, better ranked, stands for both."""

    def __init__(self, rows: dict):
        self.rows, self.chosen = rows, Distinct()

    def __call__(self, i: int) -> bool:
        return not self.chosen.admit(self.rows[i]["text"])


def _diversify(order: list[int], rows: dict, vectors: dict, cosine: dict, score_of: dict, k: int,
               max_per_doc: int | None, mmr: float | None, repeats: _Repeats, spread: dict) -> list[int]:
    """Spread passages over papers; with `mmr`, trade relevance against novelty (lambda = relevance weight).
    A passage that repeats a chosen one is passed over. `spread` is given the score each passage of a
    paper that bears on the question was chosen on (its own, times SAME_PAPER_DECAY per passage of
    its paper before it), so the scores shown fall with the rank as the spread ordered them."""
    if max_per_doc is None and mmr is None:
        bearing, aside = _split_by_bearing(order, rows, cosine)
        chosen = _decay_by_paper(bearing, rows, score_of, k, repeats, spread)
        for i in aside:
            if len(chosen) >= k:
                break
            if not repeats(i):
                chosen.append(i)
        return chosen
    per_doc: dict[str, int] = {}
    chosen: list[int] = []
    remaining = list(order)
    while remaining and len(chosen) < k:
        if mmr is None or not chosen:
            pick = remaining[0]
        else:
            def gain(i):
                redundancy = max(float(vectors[i] @ vectors[j]) for j in chosen) if i in vectors else 0.0
                return mmr * cosine.get(i, 0.0) - (1 - mmr) * redundancy
            pick = max(remaining[:100], key=gain)
        remaining.remove(pick)
        doc = rows[pick]["doc_id"]
        if (max_per_doc and per_doc.get(doc, 0) >= max_per_doc) or repeats(pick):
            continue
        per_doc[doc] = per_doc.get(doc, 0) + 1
        chosen.append(pick)
    return chosen


def _split_by_bearing(order: list[int], rows: dict, cosine: dict) -> tuple[list[int], list[int]]:
    """The passages of papers that bear on the question, and those of papers that do not (see
    SPREAD_FLOOR), each in the order given."""
    closest: dict[str, float] = {}
    for i in order:
        if i in cosine:
            doc = rows[i]["doc_id"]
            closest[doc] = max(closest.get(doc, -1.0), cosine[i])
    top = max(closest.values(), default=0.0)
    if top <= 0:
        return order, []
    floor = SPREAD_FLOOR * top
    bearing = [i for i in order if closest.get(rows[i]["doc_id"], top) >= floor]
    return bearing, [i for i in order if closest.get(rows[i]["doc_id"], top) < floor]


def _decay_by_paper(order: list[int], rows: dict, score_of: dict, k: int, repeats: _Repeats,
                    spread: dict) -> list[int]:
    """Greedy: take the best passage, then rescore the rest of its paper by SAME_PAPER_DECAY (the
    score each was taken on goes into `spread`)."""
    remaining = {i: score_of.get(i, 0.0) for i in order}
    position = {i: n for n, i in enumerate(order)}
    per_doc: dict[str, int] = {}
    chosen: list[int] = []

    def decayed(i: int) -> float:
        return remaining[i] * SAME_PAPER_DECAY ** per_doc.get(rows[i]["doc_id"], 0)

    while remaining and len(chosen) < k:
        pick = max(remaining, key=lambda i: (decayed(i), -position[i]))
        score = decayed(pick)
        del remaining[pick]
        if repeats(pick):
            continue
        doc = rows[pick]["doc_id"]
        per_doc[doc] = per_doc.get(doc, 0) + 1
        spread[pick] = score
        chosen.append(pick)
    return chosen


def _rows(index: Index, ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    cols = ["id", "doc_id", "ordinal", "text", "page_start", "page_end", "section", "title", "year", "source", "kind",
            "pmid", "doi", "authors", "journal", "record"]
    for i in range(0, len(ids), 900):
        part = ids[i:i + 900]
        sql = ("SELECT c.id, c.doc_id, c.ordinal, c.text, c.page_start, c.page_end, c.section, d.title, d.year, d.source, "
               "d.kind, d.pmid, d.doi, d.authors, d.journal, d.record FROM chunks c JOIN documents d "
               f"ON d.doc_id=c.doc_id WHERE c.id IN ({','.join('?' * len(part))})")
        for row in index.db.execute(sql, part):
            out[row[0]] = dict(zip(cols, row))
    return out


def _hit(rank: int, r: dict, score: float, cosine: float | None) -> Hit:
    title = r["title"] or (f"PMID {r['pmid']}" if r["pmid"] else r["record"] or r["source"].rsplit("/", 1)[-1])
    return Hit(rank=rank, score=score, doc_id=r["doc_id"], chunk_id=f"{r['doc_id']}:{r['ordinal']}", text=r["text"],
               title=title, year=r["year"], source=r["source"], page_start=r["page_start"], page_end=r["page_end"],
               section=r["section"], kind=r["kind"], pmid=r["pmid"], doi=r["doi"],
               authors=tuple(json.loads(r["authors"] or "[]")), journal=r["journal"], dense_score=cosine)
