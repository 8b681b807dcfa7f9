"""Calibrate the two thresholds `summarize` uses, from real data.

1. Evidence threshold: the best passage's cosine similarity to the query, for questions the index
   answers (PubMedQA questions over their 500 abstracts) and for questions it does not (off-topic
   questions, and MedMCQA exam questions over the 12 shared PDFs).
2. Support threshold: similarity of a claim to the best sentence of a passage, for true claims
   (each PubMedQA conclusion against its own abstract) and false pairings (against another abstract).

    python bench/calibrate_thresholds.py            # prints the distributions and the chosen cut-offs
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag import Library  # noqa: E402
from rag.evaluate import pubmedqa_sets  # noqa: E402
from rag.verify import sentence_support  # noqa: E402

DATA = Path(os.environ.get("MEDRAG_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
OFF_TOPIC = [
    "Who won the football world cup final?", "How do I bake sourdough bread?", "What is the offside rule in soccer?",
    "Best way to learn the guitar", "How does a car engine work?", "What is the capital of Australia?",
    "Stock market forecast for next year", "How to train a puppy to sit", "Rules of cricket test matches",
    "Which programming language is fastest?", "History of the Roman empire", "How to grow tomatoes on a balcony",
    "Tips for a job interview", "What are black holes made of?", "Recipe for chocolate chip cookies",
    "How do airplanes stay in the air?", "Football transfer window rumours", "How to change a bicycle tyre",
    "Explain the offside trap tactics", "Who painted the Mona Lisa?",
]


def pct(a, q):
    return float(np.percentile(np.asarray(a), q))


def main():
    work = Path(tempfile.mkdtemp(prefix="medrag-calibrate-"))
    sets = pubmedqa_sets(DATA / "pubmedqa" / "pqal_dev.json", work)
    abstracts = Library(work / "pqa")
    abstracts.index(sets["abstracts"], progress=False)
    pdfs = Library(work / "pdfs")
    pdfs.index(DATA / "pdfs", progress=False)

    def top(lib, q):
        hits = lib.search(q, k=5)
        return max((h.dense_score for h in hits), default=0.0)

    answered = [top(abstracts, json.loads(line)["query"]) for line in open(sets["questions"])]
    off_topic = [top(abstracts, q) for q in OFF_TOPIC] + [top(pdfs, q) for q in OFF_TOPIC]
    exam = [top(pdfs, json.loads(line)["question"]) for line in list(open(DATA / "medmcqa" / "dev_1000.jsonl"))[:200]]
    print("best-passage similarity to the query")
    for name, xs in (("answered (PubMedQA)", answered), ("off-topic", off_topic), ("MedMCQA over PDFs", exam)):
        print(f"  {name:<22} n={len(xs):>4}  p5={pct(xs, 5):.3f}  p50={pct(xs, 50):.3f}  p95={pct(xs, 95):.3f}  max={max(xs):.3f}")
    cut = pct(answered, 2)
    print(f"  evidence threshold at the 2nd percentile of answered questions: {cut:.3f}; "
          f"off-topic above it: {np.mean(np.asarray(off_topic) >= cut):.1%}; MedMCQA above it: {np.mean(np.asarray(exam) >= cut):.1%}")

    data = json.loads((DATA / "pubmedqa" / "pqal_dev.json").read_text())
    items = list(data.values())[:200]
    true_pairs, false_pairs = [], []
    for i, r in enumerate(items):
        claim = r["LONG_ANSWER"]
        own = " ".join(r["CONTEXTS"])
        other = " ".join(items[(i + 7) % len(items)]["CONTEXTS"])
        true_pairs.append(sentence_support(abstracts.embedder, claim, own))
        false_pairs.append(sentence_support(abstracts.embedder, claim, other))
    print("claim-to-passage support (best sentence)")
    for name, xs in (("claim vs own abstract", true_pairs), ("claim vs other abstract", false_pairs)):
        print(f"  {name:<24} p5={pct(xs, 5):.3f}  p10={pct(xs, 10):.3f}  p50={pct(xs, 50):.3f}  p95={pct(xs, 95):.3f}")
    for t in (0.4, 0.45, 0.5, 0.55, 0.6):
        print(f"  threshold {t:.2f}: true kept {np.mean(np.asarray(true_pairs) >= t):.1%}, "
              f"false kept {np.mean(np.asarray(false_pairs) >= t):.1%}")


if __name__ == "__main__":
    main()
