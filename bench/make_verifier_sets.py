"""Build the labelled claim/passage sets that bench/eval_verifier.py scores the citation verifier on.

    python bench/make_verifier_sets.py pubmedqa        # bench/data/verifier_pubmedqa.jsonl (labels by construction)
    python bench/make_verifier_sets.py candidates --model smollm2 --out /tmp/cands.jsonl
                                                       # model-written statements, to be labelled by reading
    python bench/make_verifier_sets.py candidates --draw 1 --model smollm2 --out /tmp/cands2.jsonl
                                                       # the same from a disjoint set of questions

1. PubMedQA (`pubmedqa`): each item's conclusion (LONG_ANSWER) is split into sentences; the first
   that states a finding (not advice such as "should be considered", nor a call for more research)
   is the claim. Kinds:
     own        the claim vs its own abstract (the CONTEXTS, conclusion left out)   label true
     other      vs a random other abstract                                          label false
     hard       vs the nearest other abstract by embedding (topically similar)      label false
     negated    the claim negated ("is" -> "is not", "did not", "no" dropped ...)   label false
     direction  a direction word flipped (increased -> decreased, higher -> lower)  label false
     number     a number changed (in the claim, or in another conclusion sentence
                whose numbers the abstract holds)                                   label false
     swap       a drug/gene/acronym name replaced by another one from the corpus    label false
   The `own` label is by construction: conclusions interpret and generalise, and of 12 `own` items
   read by hand about a quarter say more than the abstract states; a strict verifier turns those
   down, which lowers its measured recall. Perturbations are applied to the chosen claims (the `own`
   ones first) and scored against the claim's own abstract. The random generator is seeded and the
   items are taken in the file's order, so the set is reproducible.

   Used for the committed set: `pubmedqa`; `candidates --model smollm2` (12 PubMedQA and 9 PDF
   questions, stopped after 12 had been asked) and `candidates --model /tmp/qwen15.gguf
   --max-new-tokens 200 --pick 1,4,11,6,15,16` then `--pick 8,7,13,17,12,9` (the last not finished).
   Since these questions were then used to design verifier rules, `--draw N` (N > 0) draws a held-out
   set disjoint from draw 0: PubMedQA questions from items 150..299 of pqal_dev.json (draw 0 uses the
   first 150; each draw indexes the abstracts of its own 150) sampled with random.Random(SEED + 1 + N),
   and full-text questions not in PDF_QUESTIONS whose key papers are all in PDFS + PDFS_DRAW, shuffled
   with a generator of the same seed (draws N > 0 may overlap one another). `--draw 0` (the default) is
   the original behaviour exactly. Used for bench/data/verifier_model_findings_2.jsonl:
   `candidates --draw 1 --model smollm2 --pubmedqa 10 --pdf 6` (all 16 asked), and `candidates --draw 1
   --model /tmp/qwen15.gguf --max-new-tokens 200 --pubmedqa 6 --pdf 4` (all 10 asked) then the same
   with `--pubmedqa 10 --pdf 6 --pick 9,11,12,13,14,15` (the smollm2 questions it had not had).
   `--exclude FILE ...` skips questions found in the `question` field of those jsonl files, before the
   limits (the PubMedQA sample is drawn from the rest, so it differs from the same draw without it).
   Used for bench/data/verifier_model_findings_3.jsonl: `candidates --draw 2 --exclude
   bench/data/verifier_model_findings.jsonl bench/data/verifier_model_findings_2.jsonl` with `--model
   smollm2 --pubmedqa 10 --pdf 6` (only 4 full-text questions were left; all 14 asked), then with
   `--model /tmp/qwen15.gguf --max-new-tokens 200 --pubmedqa 5 --pdf 3` (all 8 asked).

2. Model findings (`candidates`): the project's own pipeline is run (index, retrieve, generate,
   parse, verify) on PubMedQA questions over their abstracts and on questions over a few shared PDFs,
   and every statement the model wrote is written out with the passage it cited (or, when it cited
   none or a number outside the evidence, the passage closest to it), whether the pipeline kept it,
   and the verdict the pipeline gave. The labels in bench/data/verifier_model_findings.jsonl were then
   given by reading each statement against its passage.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, ROOT  # noqa: E402

OUT = ROOT / "bench" / "data"
SEED = 20240611
PER_KIND = 300  # items drawn for each kind (fewer for a perturbation that does not apply to enough claims)

# ---- PubMedQA set --------------------------------------------------------------------------------
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_FINDING_HINT = re.compile(r"\b(increas|decreas|reduc|improv|associat|higher|lower|more|less|better|worse|"
                           r"significant|effective|predict|correlat|risk|no\b|not\b|did not|was|were|is|are)",
                           re.IGNORECASE)

DIRECTION_SWAPS = [
    ("increased", "decreased"), ("increase", "decrease"), ("increases", "decreases"), ("increasing", "decreasing"),
    ("higher", "lower"), ("more", "less"), ("improved", "worsened"), ("improves", "worsens"), ("improve", "worsen"),
    ("better", "worse"), ("greater", "smaller"), ("reduced", "increased"), ("reduces", "increases"),
    ("reduce", "increase"), ("reduction", "increase"), ("elevated", "reduced"), ("shorter", "longer"),
    ("positive", "negative"), ("larger", "smaller"), ("superior", "inferior"), ("benefit", "harm"),
    ("beneficial", "harmful"), ("safe", "unsafe"), ("effective", "ineffective"), ("protective", "harmful"),
    ("enhanced", "impaired"), ("lowered", "raised"), ("decline", "rise"), ("favorable", "unfavorable"),
    ("favourable", "unfavourable"), ("high", "low"), ("early", "late"),
]

NEGATIONS = [  # (pattern, replacement) tried in order; the first that matches is applied once
    (r"\bdid not\s+", ""), (r"\bdoes not\s+", ""), (r"\bdo not\s+", ""), (r"\bwas not\b", "was"),
    (r"\bwere not\b", "were"), (r"\bis not\b", "is"), (r"\bare not\b", "are"), (r"\bcannot\b", "can"),
    (r"\bno significant\b", "a significant"), (r"\bnot\s+", ""), (r"\bno\s+", "a "),
    (r"\bis\b", "is not"), (r"\bare\b", "are not"), (r"\bwas\b", "was not"), (r"\bwere\b", "were not"),
    (r"\bcan\b", "cannot"), (r"\bmay\b", "may not"), (r"\bshould\b", "should not"), (r"\bhas\b", "has not"),
    (r"\bhave\b", "have not"), (r"\bmight\b", "might not"), (r"\bcould\b", "could not"),
]

_NUM = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.]*\d)")
_NAME = re.compile(r"\b(?:[A-Z]{2,}[a-z]?\d*|[A-Za-z]*\d+[A-Za-z][A-Za-z0-9]*|\w+(?:mab|nib|parin|statin|pril|sartan|"
                   r"olol|mycin|cillin|azole|formin|gliptin|glutide|prazole|vir|platin|rubicin|taxel|oxetine|"
                   r"dipine|amine|profen|tidine|cycline|floxacin))\b")
_COMMON_CAPS = {"US", "UK", "USA", "EU", "OR", "CI", "AND", "NOT", "THE", "IN", "OF", "II", "III", "IV"}


# Advice and calls for research state no finding: "should be considered", "further studies are needed".
_ADVICE = re.compile(r"\b(?:should|must|need(?:s|ed)?\s+to|needed|recommend\w*|warrant\w*|encourag\w*|"
                     r"(?:further|future|more|additional)\s+(?:\w+\s+)?(?:stud|research|trial|investigation|work))",
                     re.IGNORECASE)


def claim_sentences(long_answer: str) -> list[str]:
    parts = [s.strip() for s in _SENT.split(" ".join(long_answer.split()))]
    return [s for s in parts if 8 <= len(s.split()) <= 60 and not s.lower().startswith("medical subject headings")]


def pick_claim(long_answer: str, rng: random.Random) -> str | None:
    """The first conclusion sentence that states a finding (not advice nor a call for more research)."""
    cands = [s for s in claim_sentences(long_answer) if _FINDING_HINT.search(s) and not _ADVICE.search(s)]
    return cands[0] if cands else None


def _case_like(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def flip_direction(claim: str, rng: random.Random) -> str | None:
    hits = []
    for a, b in DIRECTION_SWAPS:
        for x, y in ((a, b), (b, a)):
            for m in re.finditer(rf"\b{x}\b", claim, re.IGNORECASE):
                hits.append((m.start(), m.end(), _case_like(y, m.group())))
    if not hits:
        return None
    s, e, new = rng.choice(sorted(set(hits)))
    return claim[:s] + new + claim[e:]


def negate(claim: str, rng: random.Random) -> str | None:
    for pattern, replacement in NEGATIONS:
        m = re.search(pattern, claim, re.IGNORECASE)
        if not m:
            continue
        if replacement == "" and pattern.startswith(r"\bd"):
            # "did not improve" -> "improved", "does not appear" -> "appears"; an adverb stays put
            aux = m.group().split()[0].lower()
            rest = claim[m.end():]
            adverb = re.match(r"(\w+ly\s+)", rest)
            lead = adverb.group(1) if adverb else ""
            rest = rest[len(lead):]
            verb = re.match(r"(\w+)", rest)
            if not verb:
                continue
            word = verb.group(1)
            word = _past(word) if aux == "did" else word + "s" if aux == "does" else word
            return " ".join((claim[:m.start()] + lead + word + rest[verb.end():]).split())
        return " ".join((claim[:m.start()] + replacement + claim[m.end():]).split())
    return None


def _past(verb: str) -> str:
    irregular = {"have": "had", "show": "showed", "find": "found", "lead": "led", "make": "made", "seem": "seemed"}
    if verb.lower() in irregular:
        return irregular[verb.lower()]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def change_number(claim: str, rng: random.Random) -> str | None:
    nums = [m for m in _NUM.finditer(claim) if not re.fullmatch(r"(19|20)\d\d", m.group(1))]
    if not nums:
        return None
    m = rng.choice(nums)
    value = m.group(1)
    if "." in value:
        digits = len(value.split(".")[1])
        new = f"{float(value) * rng.choice([0.5, 1.5, 2.0, 0.3]) + 0.1:.{digits}f}"
    else:
        n = int(value)
        new = str(rng.choice([n + rng.randint(2, 9), max(0, n - rng.randint(2, 9)) or n + 11, n * 2 + 3]))
    if new == value:
        new = str(int(float(value)) + 7)
    return claim[:m.start(1)] + new + claim[m.end(1):]


def swap_name(claim: str, names: list[str], rng: random.Random) -> str | None:
    found = [m for m in _NAME.finditer(claim) if m.group() not in _COMMON_CAPS]
    if not found:
        return None
    m = rng.choice(found)
    choices = [n for n in names if n.lower() != m.group().lower() and n[:1].isupper() == m.group()[:1].isupper()]
    if not choices:
        return None
    return claim[:m.start()] + rng.choice(choices) + claim[m.end():]


def build_pubmedqa(out: Path, per_kind: int = PER_KIND) -> None:
    from rag.embed import load_embedder

    rng = random.Random(SEED)
    data = json.loads((DATA / "pubmedqa" / "pqal_dev.json").read_text())
    pmids = list(data)
    abstracts = {p: " ".join(data[p]["CONTEXTS"]) for p in pmids}
    claims = {p: c for p in pmids if (c := pick_claim(data[p]["LONG_ANSWER"], rng))}
    names = sorted({m.group() for t in abstracts.values() for m in _NAME.finditer(t)} - _COMMON_CAPS)
    embedder = load_embedder()
    vectors = embedder.embed([abstracts[p] for p in pmids])
    nearest = {}
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1.0)
    for i, p in enumerate(pmids):
        nearest[p] = pmids[int(np.argmax(sims[i]))]

    rows: list[dict] = []
    chosen = [p for p in pmids if p in claims]
    rng.shuffle(chosen)
    own = chosen[:per_kind]
    for p in own:
        rows.append({"claim": claims[p], "passage": abstracts[p], "label": True, "kind": "own", "pmid": p})
    for p in chosen[:per_kind]:
        q = rng.choice([x for x in pmids if x != p and x != nearest[p]])
        rows.append({"claim": claims[p], "passage": abstracts[q], "label": False, "kind": "other", "pmid": p,
                     "passage_pmid": q})
    for p in chosen[:per_kind]:
        q = nearest[p]
        rows.append({"claim": claims[p], "passage": abstracts[q], "label": False, "kind": "hard", "pmid": p,
                     "passage_pmid": q})
    perturb = {"negated": negate, "direction": flip_direction, "number": change_number,
               "swap": lambda c, r: swap_name(c, names, r)}
    for kind, fn in perturb.items():
        made = 0
        for p in chosen:  # each chosen claim may be perturbed, first to last
            sources = [claims[p]]
            if kind == "number":
                # Few chosen claims hold a number: any conclusion sentence whose numbers the abstract
                # holds serves (it is perturbed and scored against the same abstract).
                sources += [c for c in claim_sentences(data[p]["LONG_ANSWER"]) if c != claims[p]
                            and _NUM.search(c) and all(n in abstracts[p] for n in _NUM.findall(c))]
            for original in sources:
                new = fn(original, rng)
                if new and new != original:
                    rows.append({"claim": new, "passage": abstracts[p], "label": False, "kind": kind, "pmid": p,
                                 "original": original})
                    made += 1
                    break
            if made >= per_kind:
                break
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = {}
    for r in rows:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    print(f"wrote {len(rows)} items to {out}: {counts}")


# ---- model-written statements --------------------------------------------------------------------
PUBMEDQA_QUESTIONS = 12  # PubMedQA questions asked over an index of their abstracts
PDFS = ["datta2010-dvt-prophylaxis-trauma.pdf", "tully2010-heart-failure-programmes.pdf",
        "10.1007_s00125-024-06103-w.pdf", "10.1128_msphere.00109-24.pdf"]
PDF_QUESTIONS = ["A01", "A02", "A05", "A06", "A13", "A14", "B04", "B05", "B06"]
PDFS_DRAW = ["agyemanduah2014-quality-improvement.pdf", "douglas2014-ace-inhibitors.pdf"]  # added for --draw > 0


def pdfs_for(draw: int) -> list[str]:
    return PDFS if draw == 0 else PDFS + PDFS_DRAW


def questions(limit_pubmedqa: int, limit_pdf: int, draw: int = 0,
              exclude: set[str] | None = None) -> tuple[list[dict], list[str]]:
    data = json.loads((DATA / "pubmedqa" / "pqal_dev.json").read_text())
    rng = random.Random(SEED + 1 + draw)
    items = list(data.items())[:150] if draw == 0 else list(data.items())[150:300]
    pool = [(p, r) for p, r in items if r["QUESTION"] not in exclude] if exclude else items  # all still indexed
    asked = rng.sample(pool, limit_pubmedqa)
    pdf_q = {}
    papers = {}
    for line in open(ROOT / "bench" / "data" / "fulltext_questions.jsonl"):
        r = json.loads(line)
        pdf_q[r["id"]] = r["question"]
        papers[r["id"]] = {p["paper"] for p in r["passages"]}
    if draw == 0:
        pdf_ids = PDF_QUESTIONS
    else:  # held out: not asked in draw 0, and answerable from the PDFs indexed
        pdf_ids = [i for i in pdf_q if i not in PDF_QUESTIONS and papers[i] <= set(pdfs_for(draw))]
        random.Random(SEED + 1 + draw).shuffle(pdf_ids)  # own generator: the order does not depend on --pubmedqa
    if exclude:
        pdf_ids = [i for i in pdf_ids if pdf_q[i] not in exclude]
    rows = [{"pmid": p, "abstract": " ".join(f"{lab}: {t}" for lab, t in zip(r["LABELS"], r["CONTEXTS"])),
             "year": r.get("YEAR"), "title": ""} for p, r in items]
    first = [{"where": "pubmedqa", "question": r["QUESTION"], "pmid": p} for p, r in asked]
    second = [{"where": "pdfs", "question": pdf_q[i], "id": i} for i in pdf_ids[:limit_pdf]]
    mixed = [q for pair in zip(first, second) for q in pair] + first[len(second):] + second[len(first):]
    return mixed, rows  # alternating, so a run cut short still has both kinds


def candidates(model: str, out: Path, limit_pubmedqa: int, limit_pdf: int, max_new_tokens: int,
               pick: list[int] | None = None, draw: int = 0, exclude: set[str] | None = None) -> None:
    import shutil

    from rag import Library
    from rag.parse import parse_reply

    asked, abstracts = questions(limit_pubmedqa, limit_pdf, draw, exclude)
    if pick:
        asked = [asked[i] for i in pick]
    done_file = out.with_name(out.name + ".done")  # questions asked by an earlier, interrupted run
    done = set(done_file.read_text().splitlines()) if done_file.exists() else set()
    asked = [q for q in asked if q["question"] not in done]
    work = Path(tempfile.mkdtemp(prefix="medrag-vcands-"))
    with open(work / "abstracts.jsonl", "w") as f:
        for r in abstracts:
            f.write(json.dumps({k: v for k, v in r.items() if v}) + "\n")
    libs = {"pubmedqa": Library(work / "pqa"), "pdfs": Library(work / "pdf")}
    libs["pubmedqa"].index(work / "abstracts.jsonl", progress=False)
    if any(q["where"] == "pdfs" for q in asked):
        folder = work / "pdf_files"
        folder.mkdir()
        for name in pdfs_for(draw):
            shutil.copy(DATA / "pdfs" / name, folder / name)
        libs["pdfs"].index(folder, progress=False)
    embedder = libs["pubmedqa"].embedder
    with open(out, "a") as f:
        for q in asked:
            lib = libs[q["where"]]
            s = lib.summarize(q["question"], model=model, max_new_tokens=max_new_tokens)
            print(f"{q['question'][:70]!r}: {s.status}, {len(s.findings)} findings, "
                  f"{s.timings.get('generate_s', 0):.0f}s", flush=True)
            kept = {fi.text: fi for fi in s.findings}
            by_number = {e.number: e for e in s.evidence}
            base = {"model": model, "question": q["question"], "where": q["where"], "raw": s.raw}
            if not s.raw:
                continue
            parsed = parse_reply(s.raw)
            for pf in parsed.findings:
                if pf.text in kept:
                    for c in kept[pf.text].citations:
                        f.write(json.dumps({**base, "claim": pf.text, "passage": c.passage.text, "kept": True,
                                            "cited": not c.inferred, "pipeline_verdict": c.support.verdict,
                                            "evidence": c.passage.number}) + "\n")
                    continue
                valid = [n for n in pf.numbers if n in by_number]
                if valid:
                    e = by_number[valid[0]]
                elif s.evidence:
                    vecs = embedder.embed([pf.text] + [e.text for e in s.evidence])
                    e = s.evidence[int(np.argmax(vecs[1:] @ vecs[0]))]
                else:
                    continue
                f.write(json.dumps({**base, "claim": pf.text, "passage": e.text, "kept": False,
                                    "cited": bool(valid), "pipeline_verdict": None, "evidence": e.number}) + "\n")
            f.flush()
            with open(done_file, "a") as d:
                d.write(q["question"] + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pubmedqa")
    p.add_argument("--out", type=Path, default=OUT / "verifier_pubmedqa.jsonl")
    p.add_argument("--per-kind", type=int, default=PER_KIND)
    c = sub.add_parser("candidates")
    c.add_argument("--model", default="smollm2")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--pubmedqa", type=int, default=PUBMEDQA_QUESTIONS)
    c.add_argument("--pdf", type=int, default=len(PDF_QUESTIONS))
    c.add_argument("--max-new-tokens", type=int, default=384)
    c.add_argument("--pick", help="comma-separated positions in the question list (for a slow model)")
    c.add_argument("--draw", type=int, default=0,
                   help="0: the questions of the committed set; N > 0: a disjoint, held-out draw")
    c.add_argument("--exclude", nargs="+", type=Path, default=[], metavar="FILE",
                   help="jsonl files whose `question` fields are not asked (skipped before the limits)")
    args = ap.parse_args()
    if args.cmd == "pubmedqa":
        build_pubmedqa(args.out, args.per_kind)
    else:
        pick = [int(i) for i in args.pick.split(",")] if args.pick else None
        exclude = {json.loads(line)["question"] for path in args.exclude for line in open(path) if line.strip()}
        candidates(args.model, args.out, args.pubmedqa, args.pdf, args.max_new_tokens, pick, args.draw, exclude)


if __name__ == "__main__":
    main()
