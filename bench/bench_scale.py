"""Search latency and recall as the index grows to a million passages, lexical side included.

The corpus is real text recombined: the 500 PubMedQA abstracts are indexed as they are (they are
what the questions ask for), and the rest of the passages are made of 3 to 7 sentences drawn at
random from those abstracts, so that term statistics (common words in most passages, names in few)
look like a real biomedical corpus. Embedding a million passages would take about eleven hours
here, so each made passage's vector is the normalised mean of its sentences' vectors (each sentence
is embedded once, with the real model). Passages go through `Index.add_file`, as `medrag index`
writes them: SQLite rows, FTS5 and the vector index.

At each size it runs the PubMedQA questions through `Library.search` (query embedding included) in
dense, lexical and hybrid mode, and reports p50/p95 latency and recall@10 of the question's own
abstract; lexical and hybrid are run with each lexical plan side by side: FTS5 scoring every passage
that holds any query term, FTS5 scoring only those holding the most selective terms, and the tantivy
engine (rag/lexical.py) that indexes past 20,000 passages have beside SQLite.

    python bench/bench_scale.py [--sizes 10000,100000,1000000] [--queries 200] [--work DIR] [--plans ...]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DATA, peak_rss_mb

from rag import Library, retrieve
from rag.retrieve import PRUNE_FROM
from rag.evaluate import pubmedqa_sets
from rag.records import Chunk, Document, Page
from rag.verify import sentence_spans

BATCH = 5000  # passages per stored "file"


def percentiles(xs):
    a = np.asarray(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def sentence_bank(lib: Library, data: dict, work: Path) -> tuple[list[str], np.ndarray]:
    cache = work / "sentences.npz"  # a rerun over the same --work folder reuses the embeddings
    if cache.exists():
        saved = np.load(cache, allow_pickle=False)
        return saved["texts"].tolist(), saved["vectors"]
    sentences = []
    for r in data.values():
        for text in r["CONTEXTS"]:
            sentences += [text[s:e] for s, e in sentence_spans(text) if e - s > 30]
    sentences = list(dict.fromkeys(sentences))
    vectors = lib.embedder.embed(sentences).astype(np.float32)
    np.savez(cache, texts=np.array(sentences), vectors=vectors)
    return sentences, vectors


def grow(lib: Library, target: int, sentences: list[str], vectors: np.ndarray, rng: np.random.Generator,
         made: int) -> int:
    """Add made passages until the index holds `target`; returns how many made passages exist."""
    index = lib.store
    while index.count_chunks() < target:
        n = min(BATCH, target - index.count_chunks())
        chunks, rows, docs = [], [], []
        for j in range(n):
            picks = rng.choice(len(sentences), rng.integers(3, 8), replace=False)
            text = " ".join(sentences[i] for i in picks)
            v = vectors[picks].sum(axis=0)
            doc_id = f"made{made + j}"
            docs.append((doc_id, Document(source="made", kind="abstract", pages=(Page(1, text),),
                                          title=f"Made passage {made + j}")))
            chunks.append(Chunk(doc_id, 0, text, 1, 1, None, 0, len(text)))
            rows.append(v / np.linalg.norm(v))
        key = hashlib.sha256(f"made-{made}".encode()).hexdigest()
        index.add_file(f"made/{made}", key, 0, 0, docs, chunks, np.stack(rows))
        made += n
    index.save()
    return made


def measure(lib: Library, questions: list[dict], plans: list[str]) -> list[tuple]:
    """Each mode over the questions; lexical and hybrid once per lexical plan: "fts5 full" (every
    term, every matching passage scored), "fts5 selective" (PRUNE_FROM, MATCH_BUDGET) and "tantivy"
    (the engine of rag/lexical.py, which the index has past lexical.ENGINE_FROM passages)."""
    index = lib.store
    out = []
    for mode in ("dense", "lexical", "hybrid"):
        for plan in plans:
            if mode == "dense" and plan != plans[-1]:
                continue
            retrieve.PRUNE_FROM = float("inf") if plan == "fts5 full" else PRUNE_FROM
            times, found = [], 0
            for q in questions:
                index._lexical = False if plan == "tantivy" else None  # None: FTS5
                t = time.perf_counter()
                hits = lib.search(q["query"], k=10, mode=mode)
                times.append(time.perf_counter() - t)
                found += any(h.pmid in q["relevant"] for h in hits)
            p50, p95 = percentiles(times)
            out.append((mode, plan if mode != "dense" else "-", p50, p95, found / len(questions)))
    retrieve.PRUNE_FROM = PRUNE_FROM
    index._lexical = False
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--plans", default="fts5 full,fts5 selective,tantivy",
                    help="lexical plans to compare (fts5 full is slow at 1M: leave it out there)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the indexes [a temporary one]")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="medrag-scale-"))
    data = json.loads((DATA / "pubmedqa" / "pqal_dev.json").read_text())
    sets = pubmedqa_sets(DATA / "pubmedqa" / "pqal_dev.json", work)
    questions = [json.loads(line) for line in open(sets["questions"])][:args.queries]
    lib = Library(work / "idx")
    lib.index(sets["abstracts"], progress=False)
    t = time.perf_counter()
    sentences, vectors = sentence_bank(lib, data, work)
    print(f"{len(sentences)} sentences of the shared abstracts embedded in {time.perf_counter() - t:.0f} s; "
          f"work folder {work}", flush=True)
    rng = np.random.default_rng(0)
    plans = [p for p in args.plans.split(",") if p]
    made = sum(1 for _ in lib.store.db.execute("SELECT 1 FROM documents WHERE doc_id LIKE 'made%'"))
    print(f"{'passages':>9} {'mode':<8} {'lexical plan':<12} {'p50 ms':>7} {'p95 ms':>7} {'R@10':>6}", flush=True)
    for size in [int(s) for s in args.sizes.split(",")]:
        t = time.perf_counter()
        made = grow(lib, size, sentences, vectors, rng, made)
        lib = Library(work / "idx")  # reopened, as a new `medrag search` would find it
        lib.search("warm up the embedder", k=1)
        grown = time.perf_counter() - t
        for mode, plan, p50, p95, recall in measure(lib, questions, plans):
            print(f"{size:>9} {mode:<8} {plan:<12} {p50:>7.1f} {p95:>7.1f} {recall:>6.3f}", flush=True)
        size_mb = sum(f.stat().st_size for f in (work / "idx").iterdir() if f.is_file()) / 1e6
        print(f"{size:>9} grown in {grown:.0f} s, index folder {size_mb:.0f} MB, "
              f"vector index {lib.store.vectors.index_type}, peak RSS {peak_rss_mb():.0f} MB", flush=True)


if __name__ == "__main__":
    main()
