"""Full retrieval evaluation. PubMedQA: 500 abstracts (conclusions left out) and three query sets,
question, conclusion and MeSH keywords, each scored in every mode. Then the full-text set over the
12 shared PDFs (bench/eval_fulltext.py), beside its naive baseline.

    python bench/eval_retrieval.py [--limit N] [--skip-fulltext]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import eval_fulltext
from common import need_data

from rag import Library
from rag.evaluate import evaluate, pubmedqa_sets, read_queries


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="use only the first N PubMedQA items")
    parser.add_argument("--skip-fulltext", action="store_true", help="PubMedQA only")
    args = parser.parse_args()
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-eval-"))
    sets = pubmedqa_sets(data / "pubmedqa" / "pqal_dev.json", work, args.limit)
    lib = Library(work / "idx")
    lib.index(sets["abstracts"], progress=False)
    print(f"index: {lib.info()['documents']} abstracts, {lib.info()['chunks']} chunks")
    print(f"{'query set':<12} {'mode':<8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR@10':>7} {'nDCG@10':>8}")
    for name in ("questions", "conclusions", "keywords"):
        for s in evaluate(lib, read_queries(sets[name])):
            print(f"{name:<12} {s.mode:<8} {s.recall[1]:>6.3f} {s.recall[5]:>6.3f} {s.recall[10]:>6.3f} "
                  f"{s.mrr10:>7.3f} {s.ndcg10:>8.3f}")
    if not args.skip_fulltext:
        print()
        eval_fulltext.main([])


if __name__ == "__main__":
    main()
