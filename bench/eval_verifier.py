"""Precision and recall of the citation verifier's `supported` verdict, old vs new.

    python bench/eval_verifier.py              # the table: each part of each set, old and new verifier
    python bench/eval_verifier.py --calibrate  # also search the thresholds on the calibration half
    python bench/eval_verifier.py --errors 20  # also print the new verifier's mistakes on each set

Sets (bench/data, built by bench/make_verifier_sets.py):
- verifier_pubmedqa.jsonl: PubMedQA conclusions vs their own abstract (label true), vs another
  abstract and vs the nearest other abstract (false), and perturbed copies of the true claims
  (negated, direction flipped, number changed, name swapped: false). Thresholds are calibrated on
  the items whose PMID is even (the calibration half) and reported on both halves.
- verifier_model_findings.jsonl: statements SmolLM2 and a 1.5B model wrote through medrag's own
  pipeline, labelled by reading each against its passage. Never used for calibration, but its
  errors were read to design the count, comparison and significance checks, so it is no longer
  held out.
- verifier_model_findings_2.jsonl: more such statements, on other questions, labelled by reading
  without the verifier's verdicts, after those checks were written; held out until its errors
  were read to add the question/heading and residue-position checks.
- verifier_model_findings_3.jsonl: more such statements, on questions in neither set, labelled by
  reading without the verifier's verdicts, after all the checks above were written; scored once
  held out (P 0.50, R 0.89), then its errors were read to add the keyword-list and
  restated-methods checks and to recognise statements about the paper that lost their subject
  ("describes ...").
- verifier_model_findings_4.jsonl: 43 more (the 1.5B model 21, SmolLM2 22) on 7 questions in none of
  the sets above (`make_verifier_sets.py candidates --draw 3 --exclude` sets 1-3), labelled by
  reading without the verifier's verdicts after every check above was written; scored once held
  out (P 0.33, R 0.75), then its errors were read: a results label that also names measurements
  ("MEASUREMENTS AND RESULTS:") had been taken for a methods label, and a negation in the study's
  design ("a series without reperfusion") had confirmed a negated claim. Its reader counted a claim
  that copies an abstract's background ("Current guidelines recommend ...") as no finding, where
  the readers of sets 2 and 3 counted such claims as supported.

A positive is an item labelled true; the verifier predicts positive when its verdict is
"supported". A part with only negatives has no precision of its own, so each negative part is
also scored together with the positives (`own + part`), and every set as a whole (`all`: about
one positive to five negatives here) and `balanced`: as if positives and negatives were equally
many, the negatives drawn evenly from every negative part.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402

from rag import verify  # noqa: E402
from rag.embed import load_embedder  # noqa: E402

SETS = ROOT / "bench" / "data"
PUBMEDQA = SETS / "verifier_pubmedqa.jsonl"
MODEL = SETS / "verifier_model_findings.jsonl"
MODEL2 = SETS / "verifier_model_findings_2.jsonl"
MODEL3 = SETS / "verifier_model_findings_3.jsonl"
MODEL4 = SETS / "verifier_model_findings_4.jsonl"
# The `own` items read one by one against their abstract: "supported", "partly" (the claim adds
# something material the abstract does not state) or "not_supported". By construction every `own`
# item is true; read, many are conclusions that go beyond their abstract.
READ = SETS / "verifier_pubmedqa_own_read.jsonl"
# Quotes for `own` claims that changed when sentences that only say what was done ("Survival and QoL
# were assessed") stopped being quotable: the quote before and after, read blind in random order
# (which lets a clinician check the claim at a glance: "before", "after" or "tie").
QUOTES = SETS / "verifier_quote_choice.jsonl"
KINDS = ["own", "other", "hard", "negated", "direction", "number", "swap"]


# ---- the verifier as it was before the stricter checks (rag/verify.py at 8780cfa), the baseline ----
class OldVerifier:
    SUPPORTED, PARTIAL = 0.50, 0.40
    _SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n{2,}")
    _NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?=%|\b)")
    _ENTITY = re.compile(r"\b(?:[A-Za-z]*\d+[A-Za-z][A-Za-z0-9]*|[A-Z][A-Za-z]*\d+[A-Za-z0-9]*|[A-Z]{2,}[a-z]?)\b")
    _DRUG = re.compile(r"\b\w+(?:mab|nib|parin|statin|pril|sartan|olol|mycin|cillin|azole|formin|gliptin|glutide|"
                       r"prazole|vir|platin|rubicin|taxel|urea|ide)\b", re.IGNORECASE)
    _IGNORE = {"AND", "OR", "NOT", "THE", "IN", "OF"}

    def __init__(self, embedder):
        self.embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, v in zip(todo, self.embedder.embed(todo)):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts])

    def sentences(self, text):
        parts = [" ".join(s.split()) for s in self._SENTENCE.split(text)]
        return [s for s in parts if len(s) > 20]

    def key_terms(self, text):
        numbers = {n.replace(",", ".") for n in self._NUMBER.findall(text)
                   if not (len(n) == 4 and n.startswith(("19", "20")))}
        names = {m for m in self._ENTITY.findall(text) if m not in self._IGNORE} | \
                {m.lower() for m in self._DRUG.findall(text)}
        return {t for t in numbers | names if len(t) > 1 or t.isdigit()}

    def missing_terms(self, claim, passage):
        numbers = {n.replace(",", ".") for n in self._NUMBER.findall(passage)}
        words = {w.lower() for w in re.findall(r"[\w-]+", passage)} | {w.lower() for w in re.findall(r"\w+", passage)}
        return tuple(sorted(t for t in self.key_terms(claim)
                            if not (t in numbers if t[0].isdigit() else t.lower() in words)))

    def check(self, claim, passage):
        units = [" ".join(passage.split())] + self.sentences(passage)
        units += [f"{a} {b}" for a, b in zip(units[1:], units[2:])]
        vectors = self._vectors([claim] + units)
        score = float(np.max(vectors[1:] @ vectors[0]))
        missing = self.missing_terms(claim, passage)
        verdict = ("supported" if score >= self.SUPPORTED and not missing else
                   "partial" if score >= self.PARTIAL else "unsupported")
        return verify.Support(round(score, 4), missing, verdict)


# ---- scoring ------------------------------------------------------------------------------------------
@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, label: bool, predicted: bool):
        if label and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1

    def __add__(self, other):
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def n(self):
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self):
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self):
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def supported_rate(self):
        return (self.tp + self.fp) / self.n if self.n else None


def fmt(x):
    return "   -" if x is None else f"{x:4.2f}"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in open(path) if line.strip()] if path.exists() else []


class MemoEmbedder:
    """The embedder with every vector kept, so both verifiers and every set embed each text once
    (in large batches); the speed figures are measured separately, without it."""

    def __init__(self, inner):
        self.inner, self.dimension, self.memo = inner, inner.dimension, {}

    def prefill(self, texts):
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.inner.embed(todo)))

    def embed(self, texts):
        texts = list(texts)
        self.prefill(texts)
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


def unit_texts(rows) -> list[str]:
    """Every text either verifier will embed for these rows."""
    out, old = [], OldVerifier(None)
    for passage in dict.fromkeys(r["passage"] for r in rows):
        out += [passage] + [passage[s:e] for s, e in verify.sentence_spans(passage)]
        units = [" ".join(passage.split())] + old.sentences(passage)
        out += units + [f"{a} {b}" for a, b in zip(units[1:], units[2:])]
    return out + [r["claim"] for r in rows]


def run(verifier, rows) -> list:
    return [verifier.check(r["claim"], r["passage"]) for r in rows]


def speed(make, rows) -> tuple[float, float]:
    """ms per check: cold (a fresh verifier per check, so every sentence is embedded) and as
    summarize uses it (one verifier for several claims against the same passages)."""
    t = time.perf_counter()
    for r in rows:
        make().check(r["claim"], r["passage"])
    cold = (time.perf_counter() - t) / len(rows) * 1000
    v = make()
    t = time.perf_counter()
    for r in rows:
        v.check(r["claim"], r["passage"])
        v.check(r["claim"] + " in these patients", r["passage"])  # a second claim on the same passage
    shared = (time.perf_counter() - t) / (2 * len(rows)) * 1000
    return cold, shared


def table(title: str, rows: list[dict], old: list, new: list, part_key: str, parts: list[str],
          positives: str | None) -> None:
    print(f"\n{title}")
    print(f"  {'part':<24}{'n':>5}{'true':>6}   {'old P':>6}{'old R':>6}{'old sup':>8}   "
          f"{'new P':>6}{'new R':>6}{'new sup':>8}")
    counts = {}
    for name in parts:
        idx = [i for i, r in enumerate(rows) if r[part_key] == name]
        if not idx:
            continue
        c_old, c_new = Counts(), Counts()
        for i in idx:
            c_old.add(rows[i]["label"], old[i].verdict == "supported")
            c_new.add(rows[i]["label"], new[i].verdict == "supported")
        counts[name] = (c_old, c_new)
        line(name, c_old, c_new)
    if positives and positives in counts:
        for name in parts:
            if name != positives and name in counts:
                o = counts[positives][0] + counts[name][0]
                n = counts[positives][1] + counts[name][1]
                line(f"{positives} + {name}", o, n)
    total_old = sum((c[0] for c in counts.values()), Counts())
    total_new = sum((c[1] for c in counts.values()), Counts())
    line("all", total_old, total_new)
    if positives and positives in counts:
        negatives = [name for name in counts if name != positives]
        o, n = (balanced(counts[positives][k], [counts[x][k] for x in negatives]) for k in (0, 1))
        print(f"  {'balanced (see above)':<24}{'':>11}   {fmt(o[0]):>6}{fmt(o[1]):>6}{'':>8}   "
              f"{fmt(n[0]):>6}{fmt(n[1]):>6}")


def balanced(pos: Counts, negs: list[Counts]) -> tuple[float | None, float | None]:
    """Precision and recall were positives and negatives equally many, the negatives drawn evenly
    from each negative part: recall / (recall + the mean share of each negative part judged supported)."""
    r = pos.recall
    fp = float(np.mean([c.fp / c.n for c in negs if c.n])) if negs else 0.0
    return (r / (r + fp) if r is not None and r + fp else None), r


def line(name, o: Counts, n: Counts):
    print(f"  {name:<24}{o.n:>5}{o.tp + o.fn:>6}   {fmt(o.precision):>6}{fmt(o.recall):>6}{fmt(o.supported_rate):>8}   "
          f"{fmt(n.precision):>6}{fmt(n.recall):>6}{fmt(n.supported_rate):>8}")


def calibrate(rows, new):
    """Precision and recall on the calibration half over a grid of the two thresholds. A claim
    turned down for low coverage or similarity alone may pass a lower threshold; one turned down
    for a missing number or name, or a polarity conflict, never does."""
    half = [i for i, r in enumerate(rows) if int(r["pmid"]) % 2 == 0]
    print("\nthreshold search on the calibration half (even PMIDs)")
    print(f"  {'similarity':>10}{'coverage':>10}{'pooled P':>10}{'balanced P':>12}{'R':>7}")
    for s in np.arange(0.40, 0.66, 0.05):
        for c in np.arange(0.40, 0.86, 0.05):
            by_kind: dict[str, Counts] = {}
            for i in half:
                sup = new[i]
                ok = sup.verdict == "supported" or (sup.reason or "").startswith(("coverage", "similarity"))
                by_kind.setdefault(rows[i]["kind"], Counts()).add(rows[i]["label"], ok and sup.score >= s
                                                                    and sup.coverage >= c)
            pooled = sum(by_kind.values(), Counts())
            bp, r = balanced(by_kind["own"], [v for k, v in by_kind.items() if k != "own"])
            if abs(s - verify.SUPPORTED) < 1e-6 or abs(c - verify.COVERAGE) < 1e-6:
                print(f"  {s:10.2f}{c:10.2f}{fmt(pooled.precision):>10}{fmt(bp):>12}{fmt(r):>7}")


def errors(rows, new, limit):
    print("\nmistakes of the new verifier")
    for label in (False, True):
        wrong = [(r, s) for r, s in zip(rows, new) if r["label"] == label and (s.verdict == "supported") != label]
        print(f"  {'false supported' if not label else 'true not supported'}: {len(wrong)}")
        for r, s in wrong[:limit]:
            print(f"    [{r.get('kind') or r.get('model')}] {s.score:.2f} cov {s.coverage:.2f} {s.reason}")
            print(f"      claim: {r['claim'][:200]}")
            print(f"      quote: {s.quote[:200]}")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def quote_choice(embedder) -> None:
    """Which of the two read quotes today's verifier picks, against which the reader preferred."""
    rows = read(QUOTES)
    if not rows:
        return
    v, picks = verify.Verifier(embedder), Counter()
    for r in rows:
        quote = v.check(r["claim"], r["passage"]).quote
        picks[(r["read"], "after" if quote == r["quote_after"] else "before" if quote == r["quote_before"]
               else "another")] += 1
    print(f"\nquote choice ({QUOTES.name}): {len(rows)} claims whose quote changed when procedure sentences "
          f"stopped being quotable, both quotes read blind")
    for read_as in ("after", "before", "tie"):
        n = sum(c for (r, _), c in picks.items() if r == read_as)
        print(f"  read better: {read_as:<7} {n:>3}   quoted now: " +
              ", ".join(f"{k} {picks[(read_as, k)]}" for k in ("after", "before", "another")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--errors", type=int, default=0)
    ap.add_argument("--speed-checks", type=int, default=60, help="claims timed for the speed figures")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    raw = load_embedder()
    raw.embed(["warm up"])
    pqa, model = read(PUBMEDQA), read(MODEL) + read(MODEL2) + read(MODEL3) + read(MODEL4)
    if not pqa:
        sys.exit(f"{PUBMEDQA} not found: run python bench/make_verifier_sets.py pubmedqa")
    embedder = MemoEmbedder(raw)
    embedder.prefill(unit_texts(pqa + model))
    old, new = run(OldVerifier(embedder), pqa), run(verify.Verifier(embedder), pqa)
    for r in pqa:
        r["half"] = "calibration (even PMID)" if int(r["pmid"]) % 2 == 0 else "test (odd PMID)"
    print(f"citation verifier, `supported` as the positive prediction; P precision, R recall, sup: share "
          f"judged supported\nthresholds: similarity >= {verify.SUPPORTED}, coverage >= {verify.COVERAGE}, "
          f"partial >= {verify.PARTIAL}")
    table(f"PubMedQA set ({len(pqa)} items)", pqa, old, new, "kind", KINDS, "own")
    table("PubMedQA set by half", pqa, old, new, "half", ["calibration (even PMID)", "test (odd PMID)"], None)
    readings = {(r["pmid"], r["claim"]): r["read"] for r in read(READ)}
    if readings:
        relabelled = []
        for r in pqa:
            r = dict(r)
            if r["kind"] == "own":
                verdict = readings.get((r["pmid"], r["claim"]), "unread")
                r["kind"], r["label"] = f"own, read: {verdict}", verdict == "supported"
            relabelled.append(r)
        kinds = ["own, read: supported", "own, read: partly", "own, read: not_supported"] + KINDS[1:]
        table(f"PubMedQA set with the own items labelled by reading ({READ.name}): positives are the own "
              f"items read as supported; those read as partly or not supported are negatives", relabelled,
              old, new, "kind", kinds, "own, read: supported")
    scored = []
    for path, title in ((MODEL, f"model findings, set 1 ({MODEL.name}), labelled by reading; used to design "
                                "the count, comparison and significance checks"),
                        (MODEL2, f"model findings, set 2 ({MODEL2.name}), labelled by reading; its errors "
                                 "were read to design the question/heading and residue checks"),
                        (MODEL3, f"model findings, set 3 ({MODEL3.name}), labelled by reading; held out until "
                                 "scored once (P 0.50, R 0.89), then its errors were read for the keyword-list, "
                                 "lost-subject and restated-methods checks"),
                        (MODEL4, f"model findings, set 4 ({MODEL4.name}), labelled by reading; held out until "
                                 "scored once (P 0.33, R 0.75), then its errors were read for the results-label "
                                 "and asserted-negation fixes")):
        rows = read(path)
        if not rows:
            continue
        mold, mnew = run(OldVerifier(embedder), rows), run(verify.Verifier(embedder), rows)
        scored.append((rows, mnew))
        models = list(dict.fromkeys(r["model"] for r in rows))
        table(f"{title} ({len(rows)} items)", rows, mold, mnew, "model", models, None)
        for r in rows:
            r["source"] = "kept by the pipeline" if r.get("kept") else "dropped by the pipeline"
        table("same, by what the pipeline did with them", rows, mold, mnew, "source",
              ["kept by the pipeline", "dropped by the pipeline"], None)
        meta = [r for r in rows if verify.is_meta_statement(r["claim"])]
        print(f"\n  is_meta_statement flags {len(meta)} of {len(rows)} model statements "
              f"({sum(r['label'] for r in meta)} of them labelled supported)")
        # What a reader of the summary sees marked supported: summarize drops the statements about
        # the paper before verifying, so these are the findings shown with a supported citation.
        shown = Counts()
        for r, v in zip(rows, mnew):
            shown.add(r["label"], v.verdict == "supported" and not any(r is m for m in meta))
        print(f"  shown as supported by summarize (not about the paper, and supported): "
              f"P {fmt(shown.precision)} R {fmt(shown.recall)}")
    quote_choice(embedder)
    if not args.no_speed:
        sample = pqa[::max(1, len(pqa) // args.speed_checks)][:args.speed_checks]
        old_cold, old_shared = speed(lambda: OldVerifier(raw), sample)
        new_cold, new_shared = speed(lambda: verify.Verifier(raw), sample)
        print(f"\nspeed on CPU, ms per check ({len(sample)} claims vs PubMedQA abstracts, "
              f"{torch_threads()} torch threads):")
        print(f"  {'':<5}{'cold':>8}{'passage seen':>14}")
        print(f"  {'old':<5}{old_cold:>8.1f}{old_shared:>14.1f}")
        print(f"  {'new':<5}{new_cold:>8.1f}{new_shared:>14.1f}")
    if args.calibrate:
        calibrate(pqa, new)
    if args.errors:
        errors(pqa, new, args.errors)
        for rows, mnew in scored:
            errors(rows, mnew, args.errors)


if __name__ == "__main__":
    main()
