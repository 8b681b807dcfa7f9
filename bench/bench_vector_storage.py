"""What keeping vectors in SQLite as float16 costs: the dense top 10 from the stored (float16-rounded)
vectors against the top 10 from float32 vectors of the same passages, over the 500 PubMedQA abstracts,
for the question and conclusion query sets: recall@10 of the right abstract with each, the share of the
top 10 that is the same, and bytes per passage.

    python bench/bench_vector_storage.py [--limit N]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from common import need_data

from rag import Library
from rag.context import embedding_text
from rag.evaluate import pubmedqa_sets
from rag.query import dense_query


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N PubMedQA items")
    args = parser.parse_args()
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-vectors-"))
    sets = pubmedqa_sets(data / "pubmedqa" / "pqal_dev.json", work, args.limit)
    lib = Library(work / "idx")
    lib.index(sets["abstracts"], progress=False)
    store = lib.store
    rows = store.db.execute("SELECT c.id, c.context, c.text, d.pmid, length(c.vector) FROM chunks c "
                            "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.id").fetchall()
    ids, stored = store.all_vectors()
    assert ids.tolist() == [r[0] for r in rows]
    exact = lib.embedder.embed([embedding_text(context, text) for _, context, text, _, _ in rows])
    pmids = np.asarray([r[3] for r in rows])
    print(f"{len(rows)} passages; {rows[0][4]} bytes per stored vector (float32: {4 * store.dimension}); "
          f"largest difference from float32 {np.abs(stored - exact).max():.1e}\n")
    print("| queries | n | recall@10 float32 | recall@10 float16 | same top 10 |")
    print("|---|---|---|---|---|")
    for name in ("questions", "conclusions"):
        queries = [json.loads(line) for line in sets[name].read_text().splitlines()]
        q = np.stack([lib.embedder.embed_query(dense_query(x["query"])) for x in queries])
        top = {}
        for label, matrix in (("float32", exact), ("float16", stored)):
            top[label] = np.argsort(-(q @ matrix.T), axis=1)[:, :10]
        recall = {label: np.mean([x["relevant"][0] in set(pmids[t]) for x, t in zip(queries, top[label])])
                  for label in top}
        same = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top["float32"], top["float16"])])
        print(f"| {name} | {len(queries)} | {recall['float32']:.3f} | {recall['float16']:.3f} | {same:.4f} |")


if __name__ == "__main__":
    main()
