"""Summary quality, every summarizer side by side on the same PubMedQA questions: the 500 shared
abstracts are indexed without their conclusions, and each question's expert long answer (the
conclusion) is the reference.

    python bench/eval_summaries.py [--limit 30] [--models extractive,smollm2,/path/model.gguf]
    python bench/eval_summaries.py --limit 6 --models /tmp/qwen15.gguf --earlier-prompt
                                   # each generator with the earlier prompt too, side by side

Per summarizer: ROUGE-L F1 of the findings against the long answer; the share of answers that cite
the question's own abstract; the share of citations the verifier supports; the share of findings
the model cited itself (not attached by the verifier); findings dropped (uncited and unsupported,
or statements about the paper) per question; refusals; fallbacks (replies with no finding that
verifies, whose summaries give the papers' own sentences instead: scored here as no findings); and
seconds per question.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from common import need_data

import rag.summarize
from rag import Library
from rag.evaluate import pubmedqa_sets

# The prompt before the format showed real passage numbers and the reply was begun with "Answer:"
# for the model: the baseline for the share of findings a model cites itself.
EARLIER_PROMPT = """Passages:
{passages}

Question: {question}

Answer the question using only the passages above. Reply in this form:
Answer: <one sentence>
Key findings:
- <finding> [n]
- <finding> [n][m]
End every finding with the numbers of the passages that support it, in square brackets. Write 3 to 7 findings. \
If the passages do not answer the question, reply with exactly: {sentinel}"""

_WORD = re.compile(r"\w+")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased words (longest common subsequence)."""
    a, b = _WORD.findall(candidate.lower()), _WORD.findall(reference.lower())
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def run(lib: Library, model: str, items: list[tuple[str, dict]]) -> dict:
    rows = []
    for pmid, item in items:
        t = time.perf_counter()
        s = lib.summarize(item["QUESTION"], model=model, max_new_tokens=256)
        seconds = time.perf_counter() - t
        # A reply with no finding that verifies is scored as the model wrote it, with no findings, though
        # the summary gives the user the papers' own sentences instead (`Summary.fallback`).
        findings = [] if s.fallback else s.findings
        cites = [c for f in findings for c in f.citations]
        rows.append({
            "refused": s.status != "ok",
            "fallback": bool(s.fallback),
            "rouge_l": rouge_l(" ".join(f.text for f in findings), item["LONG_ANSWER"]) if findings else 0.0,
            "own": any(c.passage.hit.pmid == pmid for c in cites),
            "supported": [c.support.verdict == "supported" for c in cites],
            "self_cited": [not c.inferred for f in findings for c in f.citations[:1]],
            "dropped": s.dropped_findings + s.meta_statements,
            "seconds": seconds,
        })
    answered = [r for r in rows if not r["refused"] and not r["fallback"]]
    flat = lambda key: [x for r in answered for x in r[key]]  # noqa: E731
    mean = lambda xs: statistics.mean(xs) if xs else 0.0  # noqa: E731
    return {"model": model, "n": len(rows), "rouge_l": mean([r["rouge_l"] for r in rows]),
            "cites_own_abstract": mean([r["own"] for r in rows]), "supported": mean(flat("supported")),
            "self_cited": mean(flat("self_cited")), "dropped_per_q": mean([r["dropped"] for r in rows]),
            "refusals": sum(r["refused"] for r in rows), "fallbacks": sum(r["fallback"] for r in rows),
            "s_per_q": mean([r["seconds"] for r in rows])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=30, help="questions (the first N PubMedQA items)")
    parser.add_argument("--models", default="extractive,smollm2", help="comma-separated summarizers")
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("--earlier-prompt", action="store_true",
                        help="run each generator with the earlier prompt as well, as a baseline")
    args = parser.parse_args()
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-summaries-"))
    sets = pubmedqa_sets(data / "pubmedqa" / "pqal_dev.json", work)
    lib = Library(work / "idx")
    lib.index(sets["abstracts"], progress=False)
    items = list(json.loads((data / "pubmedqa" / "pqal_dev.json").read_text()).items())[:args.limit]
    results = []
    for m in [m.strip() for m in args.models.split(",") if m.strip()]:
        if args.earlier_prompt and m != "extractive":
            current = rag.summarize.USER, rag.summarize.PRIMER
            rag.summarize.USER, rag.summarize.PRIMER = EARLIER_PROMPT, ""
            try:
                results.append(run(lib, m, items) | {"label": f"{Path(m).name[:14]} (earlier prompt)"})
            finally:
                rag.summarize.USER, rag.summarize.PRIMER = current
        results.append(run(lib, m, items))
    print(f"{len(items)} PubMedQA questions over {lib.info()['documents']} abstracts (conclusions not indexed)")
    print(f"{'summarizer':<24} {'ROUGE-L':>8} {'own abs':>8} {'supported':>9} {'self-cited':>10} "
          f"{'dropped/q':>9} {'refusals':>8} {'fallback':>8} {'s/q':>6}")
    for r in results:
        print(f"{r.get('label', Path(r['model']).name)[:24]:<24} {r['rouge_l']:>8.3f} {r['cites_own_abstract']:>8.3f} "
              f"{r['supported']:>9.3f} {r['self_cited']:>10.3f} {r['dropped_per_q']:>9.2f} {r['refusals']:>8} "
              f"{r['fallbacks']:>8} {r['s_per_q']:>6.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
