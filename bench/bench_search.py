"""Query latency at 10k, 100k and 1M chunks, exact (flat) against approximate (HNSW) and compressed
(IVF-PQ, its candidates rescored exactly as retrieval does), with recall@10 against the exact
result and the index size per million vectors; and the cost of embedding the query itself.

Vectors are synthetic for the large sizes, but shaped like real ones: each is a blend of two real
passage embeddings (the shared PDFs and PubMedQA abstracts) plus noise, so they keep the low
intrinsic dimension of text embeddings. (Isotropic Gaussian vectors are the worst case for any
graph index and say little about real corpora; `--gaussian` measures that case too.) The
query-embedding time and a full `Library.search` are measured on the real model and PDFs.

    python bench/bench_search.py [--sizes 10000,100000,1000000] [--queries 200] [--kinds flat,hnsw,ivfpq]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import torch
from common import DATA

from rag.embed import load_embedder
from rag.retrieve import RESCORE
from rag.vectors import VectorIndex


POOL = 100  # passages the first stage of Library.search draws from each side (retrieve.search's candidates)


def percentiles(xs):
    a = np.asarray(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq", help="vector index types (flat always runs: "
                        "it is the exact baseline)")
    parser.add_argument("--gaussian", action="store_true", help="isotropic Gaussian vectors instead")
    args = parser.parse_args()
    embedder = load_embedder()
    questions = [f"What is the effect of drug {i} on kidney function in diabetes?" for i in range(args.queries)]
    # The query as search embeds it (one CPU thread) beside the same call on all the process's threads.
    embed_times, all_threads = [], []
    for q in questions[:50]:
        t = time.perf_counter()
        embedder.embed_query(q)
        embed_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        embedder.embed_batch([q], query=True)
        all_threads.append(time.perf_counter() - t)
    e50, e95 = percentiles(embed_times)
    a50, a95 = percentiles(all_threads)
    print(f"query embedding ({embedder.name}, cpu): p50 {e50:.1f} ms, p95 {e95:.1f} ms on one thread; "
          f"p50 {a50:.1f} ms, p95 {a95:.1f} ms on {torch.get_num_threads()} threads")
    rng = np.random.default_rng(0)
    dim = embedder.dimension
    bases = None
    lib = None
    if (DATA / "pdfs").is_dir() and not args.gaussian:
        from rag import Library
        from rag.evaluate import pubmedqa_sets

        work = Path(tempfile.mkdtemp())
        lib = Library(work / "idx")
        lib.index(DATA / "pdfs", pubmedqa_sets(DATA / "pubmedqa" / "pqal_dev.json", work)["abstracts"], progress=False)
        bases = lib.store.all_vectors()[1]
        print(f"synthetic vectors blended from {len(bases)} real passage embeddings")
    print(f"{'chunks':>9} {'index':<6} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p50+emb':>8} {'p95+emb':>8} "
          f"{'recall@10':>9} {'speedup':>8} {'MiB per 1M':>9}")
    for n in [int(s) for s in args.sizes.split(",")]:
        if bases is None:
            vectors = rng.standard_normal((n, dim), dtype=np.float32)
        else:
            a, b = rng.integers(0, len(bases), n), rng.integers(0, len(bases), n)
            vectors = bases[a] + rng.uniform(0, 0.6, (n, 1)).astype(np.float32) * bases[b]
            vectors += 0.3 * rng.standard_normal((n, dim), dtype=np.float32) / np.sqrt(dim)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = np.arange(n, dtype=np.int64)
        # Queries near stored vectors, as real queries sit near their passages.
        picks = rng.integers(0, n, args.queries)
        queries = vectors[picks] + 0.5 * rng.standard_normal((args.queries, dim), dtype=np.float32) / np.sqrt(dim)
        exact_results, flat_p50 = None, None
        for kind in ["flat"] + [k for k in args.kinds.split(",") if k != "flat"]:
            index = VectorIndex(dim, kind)
            t = time.perf_counter()
            index.add(ids, vectors)
            build = time.perf_counter() - t
            times, results = [], []
            for q in queries:
                t = time.perf_counter()
                if index.compressed:  # as retrieval does: RESCORE x its pool, rescored exactly
                    got, _ = index.search(q, POOL * RESCORE)
                    got = got[np.argsort(-(vectors[got] @ q))][:10]
                else:
                    got, _ = index.search(q, 10)
                times.append(time.perf_counter() - t)
                results.append(set(got.tolist()))
            p50, p95 = percentiles(times)
            if kind == "flat":
                exact_results, flat_p50 = results, p50
            recall = np.mean([len(a & b) / 10 for a, b in zip(results, exact_results)])
            size = faiss.serialize_index(index.index).nbytes / n * 1e6 / 2**20
            print(f"{n:>9} {kind:<6} {build:>8.1f} {p50:>7.2f} {p95:>7.2f} {p50 + e50:>8.2f} {p95 + e95:>8.2f} "
                  f"{recall:>9.3f} {flat_p50 / p50:>7.1f}x {size:>9.0f}", flush=True)
            del index
    if lib is not None:
        for mode in ("dense", "lexical", "hybrid"):
            times = []
            for q in questions[:50]:
                t = time.perf_counter()
                lib.search(q, k=10, mode=mode)
                times.append(time.perf_counter() - t)
            p50, p95 = percentiles(times)
            print(f"Library.search, 12 PDFs + 500 abstracts ({lib.info()['chunks']} chunks), {mode:<7}: "
                  f"p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
