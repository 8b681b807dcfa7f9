"""Full-text retrieval evaluation on the 12 shared PDFs: for each question, the share of its key
passages found in the top 1/5/10 passages, per search mode, beside the naive baseline (BM25 over
1,000-character page chunks of the same PDFs) run in the same script.

    python bench/eval_fulltext.py [--index DIR] [--details out.jsonl]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import ROOT, need_data
from naive import NaiveBM25

from rag import Library
from rag.evaluate import first_found, passages_found, read_passage_queries

QUESTIONS = ROOT / "bench" / "data" / "fulltext_questions.jsonl"
KS = (1, 5, 10)


def score(queries, results) -> dict:
    """Mean share of key passages found in the top k, overall and per question type."""
    rows = {}
    for kind in ("all", "focused", "broad"):
        picked = [(q, r) for q, r in zip(queries, results) if kind == "all" or q.kind == kind]
        if picked:
            rows[kind] = {k: statistics.mean(passages_found(q, r, k) for q, r in picked) for k in KS}
            rows[kind]["n"] = len(picked)
    return rows


def run_library(lib: Library, queries, **options) -> tuple[list, list[float]]:
    results, seconds = [], []
    for q in queries:
        t = time.perf_counter()
        hits = lib.search(q.question, k=10, **options)
        seconds.append(time.perf_counter() - t)
        results.append([(h.source, h.text) for h in hits])
    return results, seconds


def configs() -> dict[str, dict]:
    return {"dense": {"mode": "dense"}, "lexical": {"mode": "lexical"}, "hybrid": {"mode": "hybrid"}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, help="an index of the 12 shared PDFs (built in a temp folder if absent)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--details", type=Path, help="write each question's first-found rank per setting here")
    args = parser.parse_args()
    data = need_data()
    pdfs = sorted((data / "pdfs").glob("*.pdf"))
    queries = read_passage_queries(args.questions)
    lib = Library(args.index or Path(tempfile.mkdtemp(prefix="medrag-fulltext-")) / "idx")
    if args.index is None:
        lib.index(data / "pdfs", progress=False)
    info = lib.info()
    print(f"{len(queries)} questions ({sum(q.kind == 'broad' for q in queries)} broad); index: "
          f"{info['documents']} papers, {info['chunks']} passages")
    naive = NaiveBM25(pdfs)
    settings = {"naive BM25 (1,000-char page chunks)": [naive.search(q.question, 10) for q in queries]}
    latency = {}
    for name, options in configs().items():
        settings[name], seconds = run_library(lib, queries, **options)
        latency[name] = seconds
    print(f"{'setting':<38} {'type':<8} {'n':>3} {'@1':>6} {'@5':>6} {'@10':>6}")
    for name, results in settings.items():
        for kind, row in score(queries, results).items():
            print(f"{name:<38} {kind:<8} {row['n']:>3} {row[1]:>6.3f} {row[5]:>6.3f} {row[10]:>6.3f}")
    for name, seconds in latency.items():
        s = sorted(seconds)
        print(f"latency {name:<30} p50 {1000 * statistics.median(s):6.1f} ms   p95 {1000 * s[int(0.95 * (len(s) - 1))]:6.1f} ms")
    if args.details:
        with open(args.details, "w") as f:
            for i, q in enumerate(queries):
                ranks = {name: first_found(q, results[i]) for name, results in settings.items()}
                f.write(json.dumps({"id": q.id, "question": q.question, "kind": q.kind, "ranks": ranks}) + "\n")


if __name__ == "__main__":
    main()
