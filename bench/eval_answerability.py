"""Does `summarize` say so when the indexed literature does not answer? Each question goes through
the gates `summarize` applies before any finding is written (rag/summarize.py: the best passage's
similarity, then the share of the question's key words one retrieved paper holds, rag/coverage.py),
and the share that passes is reported for questions the index answers and for questions it does not:

- PubMedQA: the 500 questions over their 500 abstracts (answered), and the same questions with
  their own abstract taken out of the results (not answered: the index then holds only other
  studies, often on the same organ, drug or operation). The search runs with k=30 and the
  question's own abstract is removed before the first 8 are kept, as an index without it would
  return them (the rarity of the question's words is still counted with it: an approximation).
- The 12 shared PDFs: `bench/data/answerability_questions.jsonl` (48 questions on the papers'
  topics that none of them answers, 36 answered by one sentence but asked in other words), the
  44 full-text questions of `bench/data/fulltext_questions.jsonl` and the 40 held-out ones of
  `bench/data/fulltext_questions_2.jsonl` (answered).

    python bench/eval_answerability.py [--index PDF_INDEX] [--pubmedqa-index DIR]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import ROOT, need_data

from rag import Library
from rag.coverage import Coverage, papers_naming, question_coverage
from rag.evaluate import pubmedqa_sets
from rag.summarize import MIN_COVERAGE, MIN_EVIDENCE, NAMED_COVERAGE

PDF_QUESTIONS = ROOT / "bench" / "data" / "answerability_questions.jsonl"
FULLTEXT = ROOT / "bench" / "data" / "fulltext_questions.jsonl"
HELD_OUT = ROOT / "bench" / "data" / "fulltext_questions_2.jsonl"
K = 8
CUTS = (0.0, 0.25, 0.30, MIN_COVERAGE, 0.40, 0.45, 0.50)


def gate(lib: Library, question: str, hits) -> tuple[float, Coverage, bool]:
    """The best passage's similarity, the coverage, and whether a retrieved paper names the question's
    gene, variant or drug, for the first K hits."""
    hits = list(hits)[:K]
    best = max((h.dense_score or 0.0 for h in hits), default=0.0)
    named = papers_naming(lib.store, question, hits)
    passes_on_name = bool(named) and question_coverage(
        lib.store, question, [h for h in hits if h.doc_id in named]).share >= NAMED_COVERAGE
    return best, question_coverage(lib.store, question, hits), passes_on_name


def passed(rows: list[tuple[float, float, bool]], cut: float, named: bool = True) -> float:
    """The share that passes as rag/summarize.py's retrieve_for_summary lets it: a passage close enough,
    or (`named`) a retrieved paper naming the question's drug or gene that holds NAMED_COVERAGE of its
    words; then the coverage cut."""
    return sum((s >= MIN_EVIDENCE or (named and n)) and c >= cut for s, c, n in rows) / len(rows)


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, help="an index of the 12 shared PDFs (built in a temp folder if absent)")
    parser.add_argument("--pubmedqa-index", type=Path, help="an index of the 500 PubMedQA abstracts (built if absent)")
    parser.add_argument("--details", type=Path, help="write each question's similarity, share and missing words here")
    args = parser.parse_args(argv)
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-answerability-"))
    sets = pubmedqa_sets(data / "pubmedqa" / "pqal_dev.json", work)
    pqa = Library(args.pubmedqa_index or work / "pqa")
    if args.pubmedqa_index is None:
        pqa.index(sets["abstracts"], progress=False)
    pdfs = Library(args.index or work / "pdfs")
    if args.index is None:
        pdfs.index(data / "pdfs", progress=False)

    groups: dict[str, list] = {"PubMedQA, own abstract in the index (answered)": [],
                               "PubMedQA, own abstract out (not answered)": [],
                               "PDFs, full-text questions (answered)": [],
                               "PDFs, held-out full-text questions (answered)": [],
                               "PDFs, asked in other words (answered)": [],
                               "PDFs, on their topics, not answered": []}
    details = []
    for line in open(sets["questions"]):
        q = json.loads(line)
        hits = list(pqa.search(q["query"], k=30))
        own = set(q["relevant"])
        for name, kept in (("PubMedQA, own abstract in the index (answered)", hits),
                           ("PubMedQA, own abstract out (not answered)", [h for h in hits if h.pmid not in own])):
            similarity, cover, named = gate(pqa, q["query"], kept)
            groups[name].append((similarity, cover.share, named))
            details.append({"set": name, "question": q["query"], "similarity": similarity, "share": cover.share,
                            "missing": cover.missing})
    questions = [(json.loads(line)["question"], "PDFs, full-text questions (answered)") for line in open(FULLTEXT)]
    questions += [(json.loads(line)["question"], "PDFs, held-out full-text questions (answered)")
                  for line in open(HELD_OUT)]
    for r in map(json.loads, open(PDF_QUESTIONS)):
        questions.append((r["question"], "PDFs, asked in other words (answered)" if r["answerable"]
                          else "PDFs, on their topics, not answered"))
    for question, name in questions:
        similarity, cover, named = gate(pdfs, question, pdfs.search(question, k=K))
        groups[name].append((similarity, cover.share, named))
        details.append({"set": name, "question": question, "similarity": similarity, "share": cover.share,
                        "missing": cover.missing})

    print(f"share of questions that pass to the summarizer (similarity >= {MIN_EVIDENCE}, or a retrieved paper naming "
          f"the question's drug or gene holds >= {NAMED_COVERAGE} of its key words; and coverage >= the cut; the default "
          f"cut is {MIN_COVERAGE}); the last column: the default without the named-drug exception")
    print(f"{'set':<50} {'n':>4} " + " ".join(f"{'sim only' if c == 0 else f'>={c:.2f}':>9}" for c in CUTS)
          + f"{'no names':>10}")
    for name, rows in groups.items():
        print(f"{name:<50} {len(rows):>4} " + " ".join(f"{passed(rows, c):>9.3f}" for c in CUTS)
              + f"{passed(rows, MIN_COVERAGE, named=False):>10.3f}")
    if args.details:
        with open(args.details, "w") as f:
            for d in details:
                f.write(json.dumps(d) + "\n")


if __name__ == "__main__":
    main()
