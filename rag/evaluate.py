"""Retrieval evaluation: Recall@k, MRR@10 and nDCG@10 per mode over a JSONL file of queries.

Each line: {"query": "...", "relevant": ["doc id, PMID or DOI", ...]}. Ranks are counted over
distinct documents, so a paper found three times counts once.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import ParseError

KS = (1, 5, 10)


@dataclass(frozen=True)
class EvalQuery:
    query: str
    relevant: frozenset[str]


@dataclass
class ModeScores:
    mode: str
    queries: int
    recall: dict[int, float]
    mrr10: float
    ndcg10: float

    def to_dict(self) -> dict:
        return {"mode": self.mode, "queries": self.queries,
                **{f"recall@{k}": round(v, 4) for k, v in self.recall.items()},
                "mrr@10": round(self.mrr10, 4), "ndcg@10": round(self.ndcg10, 4)}


def read_queries(path: str | Path, limit: int | None = None) -> list[EvalQuery]:
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, f"cannot read queries ({getattr(exc, 'strerror', None) or exc})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(EvalQuery(str(row["query"]), frozenset(str(r) for r in row["relevant"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"{path}#{n}", f"needs {{\"query\": ..., \"relevant\": [...]}} ({exc})") from None
        if limit and len(out) >= limit:
            break
    return out


def _ranks(hits, relevant: frozenset[str]) -> list[bool]:
    """One flag per distinct document in rank order: is it relevant?"""
    seen, flags = set(), []
    for h in hits:
        if h.doc_id in seen:
            continue
        seen.add(h.doc_id)
        flags.append(bool({h.doc_id, h.pmid, h.doi} & relevant))
    return flags


def score(flags_per_query: list[list[bool]], totals: list[int], mode: str) -> ModeScores:
    n = len(flags_per_query)
    recall = {k: 0.0 for k in KS}
    mrr = ndcg = 0.0
    for flags, total in zip(flags_per_query, totals):
        total = max(total, 1)
        for k in KS:
            recall[k] += sum(flags[:k]) / total
        first = next((i for i, f in enumerate(flags[:10]) if f), None)
        mrr += 0.0 if first is None else 1.0 / (first + 1)
        dcg = sum(1.0 / math.log2(i + 2) for i, f in enumerate(flags[:10]) if f)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(total, 10)))
        ndcg += dcg / ideal
    return ModeScores(mode, n, {k: v / max(n, 1) for k, v in recall.items()}, mrr / max(n, 1), ndcg / max(n, 1))


def evaluate(library, queries: list[EvalQuery], modes=("dense", "lexical", "hybrid")) -> list[ModeScores]:
    """Search every query in every mode and score the document rankings."""
    results = []
    for mode in modes:
        flags = [_ranks(library.search(q.query, k=10, mode=mode, max_per_doc=1), q.relevant) for q in queries]
        results.append(score(flags, [len(q.relevant) for q in queries], mode))
    return results


def pubmedqa_sets(pqal_json: str | Path, out_dir: str | Path, limit: int | None = None) -> dict[str, Path]:
    """Write the PubMedQA evaluation material: the abstracts to index (conclusions left out) and two
    query files: question -> its abstract, conclusion (never indexed) -> its abstract, and the
    hardest, four MeSH keywords -> the abstract they were assigned to."""
    data = json.loads(Path(pqal_json).read_text(encoding="utf-8"))
    items = list(data.items())[:limit] if limit else list(data.items())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"abstracts": out / "pubmedqa_abstracts.jsonl", "questions": out / "pubmedqa_questions.jsonl",
             "conclusions": out / "pubmedqa_conclusions.jsonl", "keywords": out / "pubmedqa_keywords.jsonl"}
    with open(paths["abstracts"], "w") as a, open(paths["questions"], "w") as q, \
            open(paths["conclusions"], "w") as c, open(paths["keywords"], "w") as m:
        for pmid, r in items:
            abstract = " ".join(f"{label}: {text}" for label, text in zip(r["LABELS"], r["CONTEXTS"]))
            # No title: PubMedQA questions are often the title reworded, which would make the test trivial.
            a.write(json.dumps({"pmid": pmid, "abstract": abstract, "year": r.get("YEAR")}) + "\n")
            q.write(json.dumps({"query": r["QUESTION"], "relevant": [pmid]}) + "\n")
            c.write(json.dumps({"query": r["LONG_ANSWER"], "relevant": [pmid]}) + "\n")
            if r.get("MESHES"):
                m.write(json.dumps({"query": ", ".join(r["MESHES"][:4]), "relevant": [pmid]}) + "\n")
    return paths


# ---- passage-level evaluation (full text) -------------------------------------------------------
# A question is answered by one key passage per paper (a broad question has several). A key passage
# counts as found when at least FOUND_SHARE of its words lie in one returned passage of that paper.
FOUND_SHARE = 0.7
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class KeyPassage:
    paper: str  # the file name of the paper (matched against the end of a hit's source path)
    text: str
    page: int | None = None


@dataclass(frozen=True)
class PassageQuery:
    id: str
    question: str
    kind: str  # "focused" (one paper) or "broad" (several)
    passages: tuple[KeyPassage, ...]


def read_passage_queries(path: str | Path) -> list[PassageQuery]:
    """Read a JSONL file of {"id", "question", "type", "passages": [{"paper", "text", "page"}]}."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, f"cannot read questions ({getattr(exc, 'strerror', None) or exc})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            keys = tuple(KeyPassage(str(p["paper"]), str(p["text"]), p.get("page")) for p in row["passages"])
            if not keys:
                raise ValueError("no passages")
            out.append(PassageQuery(str(row.get("id", n)), str(row["question"]), str(row.get("type", "focused")), keys))
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"{path}#{n}", 'needs {"question": ..., "passages": [{"paper": ..., "text": ...}]} '
                                            f"({exc})") from None
    return out


def words(text: str) -> list[str]:
    # NFKC folds the ligatures (ﬁ, ﬂ) that raw PDF text keeps and the index's cleanup removes.
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def contains(key: KeyPassage, source: str, passage: str, share: float = FOUND_SHARE) -> bool:
    """Does `passage` (from the file `source`) hold at least `share` of the key passage's words?"""
    if not source.endswith(key.paper):
        return False
    key_words = words(key.text)
    present = set(words(passage))
    return bool(key_words) and sum(w in present for w in key_words) / len(key_words) >= share


def passages_found(query: PassageQuery, returned: list[tuple[str, str]], k: int) -> float:
    """The share of the query's key passages found among the first k (source, text) passages."""
    top = returned[:k]
    return sum(any(contains(key, src, txt) for src, txt in top) for key in query.passages) / len(query.passages)


def first_found(query: PassageQuery, returned: list[tuple[str, str]]) -> int | None:
    """1-based rank of the first returned passage that holds any key passage (None if none does)."""
    for rank, (src, txt) in enumerate(returned, 1):
        if any(contains(key, src, txt) for key in query.passages):
            return rank
    return None
