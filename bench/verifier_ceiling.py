"""Where the citation verifier's precision/recall trade-off on the PubMedQA set comes from, and what
two stricter or learned alternatives would give, side by side in one run.

    python bench/verifier_ceiling.py

1. The ceiling of the set's own labels: the `own` items are true by construction, but read one by one
   (bench/data/verifier_pubmedqa_own_read.jsonl) only some are supported by their abstract; a verifier
   that never erred would have that share as its recall on the constructed labels.
2. Strict confirmation: a claim that asserts a direction, a relation or a negation is supported only
   when a sentence of the passage states it (rag.verify._confirms), not merely when none contradicts it.
3. A learned combination: logistic regression and gradient-boosted trees over the verifier's own
   signals (similarities, coverage, missing names and numbers, each kind of polarity conflict, negations,
   null results, hedges), fitted on the calibration half (even PMIDs, every kind weighted equally) and
   scored on the test half (odd PMIDs) and on the held-out model findings, at several thresholds.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_verifier import MODEL, PUBMEDQA, READ, MemoEmbedder, read, unit_texts  # noqa: E402

from rag import verify as V  # noqa: E402
from rag.embed import load_embedder  # noqa: E402

NEGATIVE_KINDS = ["other", "hard", "negated", "direction", "number", "swap"]
HEDGE = re.compile(r"\b(may|might|could|suggest\w*|possibl\w*|potential\w*|likely|appear\w*|seem\w*)\b", re.I)
CONFLICTS = ["negation: claim says '", "negation: passage says '", "negation: claim says", "polarity: claim says"]


def features(v: V.Verifier, claim: str, passage: str, support: V.Support) -> list[float]:
    units, vectors, singles = v.units(passage)
    sims = vectors @ v._vectors([claim])[0]
    c, q, p = V.polarity(claim), V.polarity(support.quote), V.polarity(passage)
    reason = support.reason or ""
    best = units[:singles]
    return [
        support.score, float(np.sort(sims)[-2]) if len(sims) > 1 else support.score, support.coverage,
        V.coverage(claim, support.quote)[0], float(bool(support.missing)),
        float(any(s for _, _, s in c.negated)), float(any(not s for _, _, s in c.negated)), float(bool(c.null)),
        min(len([d for d in c.directions if d[0] != "sign"]), 3) / 3,
        float(bool(q.negated)), float(bool(p.negated)), float(bool(q.null)), float(bool(p.null or p.p_null)),
        float(bool(V._SIGNIFICANT.search(passage))), float(V._confirms(claim, support.quote)),
        float(any(V._confirms(claim, passage[s:e]) for s, e in best)), float(bool(HEDGE.search(claim))),
        min(len(V.content_stems(claim)), 40) / 40, float(bool(V._relations(claim, c)["affirmed"])),
        float(reason.startswith("direction:")), float(reason.endswith("does not say so")),
        *[float(reason.startswith(prefix)) for prefix in CONFLICTS],
    ]


def needs_confirmation(claim: str) -> bool:
    c = V.polarity(claim)
    return (any(s for _, _, s in c.negated) or bool(c.null) or any(f != "sign" for f, _, _ in c.directions)
            or bool(V._relations(claim, c)["affirmed"]))


def balanced(supported: np.ndarray, kind: np.ndarray, positive: str = "own", extra=()) -> tuple[float, float, list]:
    recall = supported[kind == positive].mean()
    rates = [supported[kind == k].mean() for k in [*NEGATIVE_KINDS, *extra] if (kind == k).any()]
    fp = float(np.mean(rates))
    return recall / (recall + fp) if recall + fp else float("nan"), recall, rates


def line(name: str, supported: np.ndarray, kind: np.ndarray, mask: np.ndarray | None = None):
    m = np.ones(len(kind), bool) if mask is None else mask
    p, r, rates = balanced(supported[m], kind[m])
    pooled = supported[m][kind[m] == "own"].sum() / max(supported[m].sum(), 1)
    print(f"  {name:<44} R {r:.3f}  balanced P {p:.3f}  pooled P {pooled:.3f}  judged supported: "
          + " ".join(f"{k} {x:.2f}" for k, x in zip(NEGATIVE_KINDS, rates)))


def main():
    pqa, model = read(PUBMEDQA), read(MODEL)
    readings = {(r["pmid"], r["claim"]): r["read"] for r in read(READ)}
    embedder = MemoEmbedder(load_embedder())
    embedder.prefill(unit_texts(pqa + model))
    v = V.Verifier(embedder)
    kind = np.array([r["kind"] for r in pqa])
    support = [v.check(r["claim"], r["passage"]) for r in pqa]
    sup = np.array([s.verdict == "supported" for s in support])

    own_read = [readings.get((r["pmid"], r["claim"])) for r in pqa if r["kind"] == "own"]
    counts = {x: own_read.count(x) for x in ("supported", "partly", "not_supported")}
    print(f"1. the `own` items read one by one: {counts}; a verifier that never erred would have recall "
          f"{counts['supported'] / len(own_read):.3f} on the constructed labels")

    print("\n2. strict confirmation, whole PubMedQA set")
    line("current verifier", sup, kind)
    strict = sup.copy()
    for i, r in enumerate(pqa):
        if strict[i] and needs_confirmation(r["claim"]):
            units, _, singles = v.units(r["passage"])
            strict[i] = any(V._confirms(r["claim"], r["passage"][s:e]) for s, e in units[:singles])
    line("strict confirmation", strict, kind)

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    X = np.array([features(v, r["claim"], r["passage"], s) for r, s in zip(pqa, support)])
    y = np.array([r["label"] for r in pqa])
    even = np.array([int(r["pmid"]) % 2 == 0 for r in pqa])
    weight = np.ones(len(y))
    for k in set(kind):
        weight[kind == k] = 1.0 / (kind == k).sum()
    weight /= weight.mean()
    msupport = [v.check(r["claim"], r["passage"]) for r in model]
    XM = np.array([features(v, r["claim"], r["passage"], s) for r, s in zip(model, msupport)])
    yM = np.array([r["label"] for r in model])
    missing, missingM = X[:, 4] > 0, XM[:, 4] > 0
    print("\n3. learned combinations, fitted on the calibration half; test half (odd PMIDs) and model findings")
    line("current verifier, test half", sup, kind, ~even)
    mine = np.array([s.verdict == "supported" for s in msupport])
    print(f"  {'current verifier, model findings':<44} P {(mine & yM).sum() / max(mine.sum(), 1):.3f}  "
          f"R {(mine & yM).sum() / yM.sum():.3f}")
    learners = {"logistic regression": LogisticRegression(C=1.0, max_iter=5000),
                "gradient-boosted trees": HistGradientBoostingClassifier(max_depth=3, max_iter=200,
                                                                         learning_rate=0.05, random_state=0)}
    for name, learner in learners.items():
        learner.fit(X[even], y[even], sample_weight=weight[even])
        proba, probaM = learner.predict_proba(X)[:, 1], learner.predict_proba(XM)[:, 1]
        for t in (0.3, 0.4, 0.5, 0.6):
            pred, predM = (proba >= t) & ~missing, (probaM >= t) & ~missingM
            line(f"{name}, threshold {t}, test half", pred, kind, ~even)
            print(f"  {'':<44} model findings P {(predM & yM).sum() / max(predM.sum(), 1):.3f}  "
                  f"R {(predM & yM).sum() / yM.sum():.3f}")


if __name__ == "__main__":
    main()
