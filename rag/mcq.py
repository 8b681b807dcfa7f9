"""Multiple-choice medical question answering: how good a model is at medical questions, with and
without retrieval.

Three formats are read into one `McqItem`:
- MedQA JSONL: {"question", "options": {"A": ..., "B": ...}, "answer_idx": "B"} (English and Chinese);
- MedMCQA JSONL: {"question", "opa".."opd", "cop": 1-4, "subject_name"};
- PubMedQA: a JSON object keyed by PMID, each {"QUESTION", "CONTEXTS", "final_decision": yes/no/maybe}
  (or the same fields one object a line), asked as three options A. yes, B. no, C. maybe.

Two scorings, both deterministic:
- "letter-probs": the model's next-token log-probability of each option letter after the prompt and a
  begun reply ("Answer:"); the most probable letter is the prediction, so there is always one;
- "generated": the greedy reply, read for the first option letter it names; a reply naming no valid
  option has no prediction (null) and counts as wrong.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import MedragError, ParseError

SCORINGS = ("letter-probs", "generated")
LETTERS = "ABCDEFGHIJ"
PUBMEDQA_OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
PRIMER = "Answer:"
Z95 = 1.959963984540054

SYSTEM = "You are a medical expert. Answer multiple-choice medical questions with the letter of the correct option."
PASSAGE = "[{number}] {text}"


@dataclass(frozen=True)
class McqItem:
    id: str
    question: str
    options: dict[str, str]  # letter -> option text, in order
    answer: str  # the correct letter
    subject: str | None = None
    context: str | None = None  # PubMedQA's abstract; in the prompt only when asked for


@dataclass(frozen=True)
class McqResult:
    """One question asked once: what the model chose and what it was given."""

    id: str
    setting: str  # "rag" (passages in the prompt) or "no_rag"
    answer: str
    prediction: str | None  # None: a generated reply that named no valid option
    correct: bool
    scoring: str
    model: str
    subject: str | None = None
    reply: str | None = None  # the generated reply ("generated" scoring)
    letter_logprobs: dict[str, float] | None = None  # ("letter-probs" scoring)
    passages: list[dict] = field(default_factory=list)  # the retrieved passages put in the prompt
    prompt: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Accuracy:
    correct: int
    n: int
    ci_low: float
    ci_high: float
    unanswered: int = 0  # generated replies that named no valid option (counted wrong)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def to_dict(self) -> dict:
        return {"accuracy": round(self.accuracy, 4), "n": self.n, "correct": self.correct,
                "ci_low": round(self.ci_low, 4), "ci_high": round(self.ci_high, 4), "unanswered": self.unanswered}


@dataclass
class McqSummary:
    data: str
    model: str
    scoring: str
    overall: Accuracy
    per_subject: dict[str, Accuracy]
    index: str | None = None
    k: int | None = None
    no_rag: Accuracy | None = None  # the same questions without retrieval (--compare-no-rag)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        out = {**self.overall.to_dict(), "data": self.data, "model": self.model, "scoring": self.scoring,
               "index": self.index, "k": self.k,
               "per_subject": {s: a.to_dict() for s, a in sorted(self.per_subject.items())}}
        if self.no_rag is not None:
            out["no_rag"] = self.no_rag.to_dict()
            out["retrieval_gain"] = round(self.overall.accuracy - self.no_rag.accuracy, 4)
        out["seconds"] = round(self.seconds, 1)
        return out


# ---- reading ------------------------------------------------------------------------------------

def _medqa(row: dict, n: int) -> McqItem:
    options = row["options"]
    if isinstance(options, list):  # some copies list the options in order
        options = dict(zip(LETTERS, options))
    options = {str(k).strip().upper(): str(v) for k, v in options.items()}
    answer = str(row["answer_idx"]).strip().upper()
    if answer not in options:
        raise ValueError(f"answer_idx {answer!r} is not one of the options {', '.join(options)}")
    subject = row.get("subject") or row.get("meta_info")
    return McqItem(str(row.get("id", n)), str(row["question"]), options, answer,
                   str(subject) if subject else None)


def _medmcqa(row: dict, n: int) -> McqItem:
    options = {letter: str(row[key]) for letter, key in zip("ABCD", ("opa", "opb", "opc", "opd"))}
    cop = int(row["cop"])
    if not 1 <= cop <= 4:
        raise ValueError(f"cop {cop} is not 1-4")
    return McqItem(str(row.get("id", n)), str(row["question"]), options, "ABCD"[cop - 1],
                   row.get("subject_name") or None)


def _pubmedqa(pmid: str, row: dict) -> McqItem:
    decision = str(row["final_decision"]).strip().lower()
    answer = {v: k for k, v in PUBMEDQA_OPTIONS.items()}.get(decision)
    if answer is None:
        raise ValueError(f"final_decision {decision!r} is not yes, no or maybe")
    contexts = row.get("CONTEXTS") or []
    labels = row.get("LABELS") or [None] * len(contexts)
    context = " ".join(f"{label}: {text}" if label else text for label, text in zip(labels, contexts)) or None
    return McqItem(str(pmid), str(row["QUESTION"]), dict(PUBMEDQA_OPTIONS), answer, None, context)


def item_from_row(row: dict, n: int) -> McqItem:
    """One question from a row of any of the three formats (n: its line, the id when it has none)."""
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    if "answer_idx" in row or "options" in row:
        return _medqa(row, n)
    if "cop" in row or "opa" in row:
        return _medmcqa(row, n)
    if "final_decision" in row or "QUESTION" in row:
        return _pubmedqa(str(row.get("pmid") or row.get("PMID") or row.get("id") or n), row)
    raise ValueError("not MedQA (question, options, answer_idx), MedMCQA (question, opa..opd, cop) or "
                     "PubMedQA (QUESTION, final_decision)")


def read_items(path: str | Path, limit: int | None = None) -> list[McqItem]:
    """Questions from a MedQA or MedMCQA JSONL file, or a PubMedQA JSON (object keyed by PMID) or JSONL file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, f"cannot read questions ({getattr(exc, 'strerror', None) or exc})") from None
    items: list[McqItem] = []
    try:
        data = json.loads(text)  # a whole-file JSON object: PubMedQA keyed by PMID
    except ValueError:
        data = None  # JSONL (or broken JSON, reported line by line below)
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        for pmid, row in data.items():
            try:
                items.append(_pubmedqa(pmid, row))
            except (ValueError, KeyError, TypeError) as exc:
                raise ParseError(f"{path}, item {pmid}", f"not a PubMedQA item ({_why(exc)})") from None
            if limit and len(items) >= limit:
                break
        return items
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(item_from_row(json.loads(line), n))
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"{path}, line {n}", _why(exc)) from None
        if limit and len(items) >= limit:
            break
    if not items:
        raise ParseError(path, "holds no questions")
    return items


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg})"
    return str(exc).splitlines()[0]


# ---- prompts ------------------------------------------------------------------------------------

def option_list(options: dict[str, str]) -> str:
    letters = list(options)
    return ", ".join(letters[:-1]) + f" or {letters[-1]}" if len(letters) > 1 else letters[0]


def user_prompt(item: McqItem, passages: Iterable[str] = (), *, with_context: bool = False) -> str:
    parts = []
    passages = list(passages)
    if passages:
        parts.append("Passages:\n" + "\n\n".join(PASSAGE.format(number=i, text=" ".join(p.split()))
                                                   for i, p in enumerate(passages, 1)))
    if with_context and item.context:
        parts.append(f"Abstract:\n{item.context}")
    parts.append(f"Question: {item.question.strip()}")
    parts.append("Options:\n" + "\n".join(f"{k}. {v}" for k, v in item.options.items()))
    source = " Use the passages above where they help." if passages else ""
    parts.append(f"Reply with the letter of the correct option only ({option_list(item.options)}).{source}")
    return "\n\n".join(parts)


def messages(item: McqItem, passages: Iterable[str] = (), *, with_context: bool = False) -> list[dict]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": user_prompt(item, passages, with_context=with_context)}]


def target_reply(item: McqItem) -> str:
    """The reply a fine-tuned model learns to give: the primer and the letter."""
    return f"{PRIMER} {item.answer}"


# ---- scoring ------------------------------------------------------------------------------------

_LEAD = re.compile(r"^[\s*_`\"'“”]*(?:(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)(?:\s+is)?|答案(?:是|为)?)?"
                   r"\s*[:：]?\s*[\(\[（]?([A-Z])(?![A-Za-z])", re.IGNORECASE)
_PHRASE = re.compile(r"(?:answer|option|choice)(?:\s+is)?\s*[:：]?\s*[\(\[（]?([A-Z])(?![A-Za-z])|答案(?:是|为)?\s*[:：]?\s*([A-Z])",
                     re.IGNORECASE)


def parse_answer(reply: str, options: dict[str, str]) -> str | None:
    """The option a generated reply names, or None when it names no valid option.

    Read in order: a letter opening the reply ("B", "B.", "(B)", "Answer: B", "答案：B"); a letter after
    "answer", "option" or "choice" anywhere; a reply that opens with one option's text ("Yes, ...").
    A letter that is not among the options does not count."""
    text = reply.strip()
    m = _LEAD.match(text)
    if m:
        letter = m.group(1)
        # A lone lower-case "a" opening a sentence is an article, not an option.
        if (letter.isupper() or "answer" in m.group(0).lower()) and letter.upper() in options:
            return letter.upper()
    for m in _PHRASE.finditer(text):
        letter = (m.group(1) or m.group(2) or "").upper()
        if letter in options:
            return letter
    low = text.lower()
    starts = [k for k, v in options.items() if v and re.match(re.escape(v.strip().lower()) + r"(?!\w)", low)]
    return starts[0] if len(starts) == 1 else None


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 0) for no trials."""
    if n == 0:
        return 0.0, 0.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (0.0 if correct == 0 else max(0.0, centre - half)), (1.0 if correct == n else min(1.0, centre + half))


def accuracy(results: Iterable[McqResult]) -> Accuracy:
    results = list(results)
    correct = sum(r.correct for r in results)
    low, high = wilson(correct, len(results))
    return Accuracy(correct, len(results), low, high, sum(r.prediction is None for r in results))


def per_subject(results: Iterable[McqResult]) -> dict[str, Accuracy]:
    groups: dict[str, list[McqResult]] = {}
    for r in results:
        if r.subject:
            groups.setdefault(r.subject, []).append(r)
    return {s: accuracy(rs) for s, rs in groups.items()}


def grade(item: McqItem, prediction: str | None) -> bool:
    return prediction is not None and prediction == item.answer


class LetterScorer:
    """Next-token log-probabilities of option letters for a loaded TransformersGenerator."""

    def __init__(self, generator):
        self.generator = generator
        self._ids: dict[str, list[int]] = {}

    def letter_ids(self, letter: str) -> list[int]:
        """The token ids that write `letter` as the next token: with and without a leading space (BPE
        tokenizers keep " A" and "A" apart; SentencePiece ones mark the space)."""
        if letter not in self._ids:
            tok = self.generator.tokenizer
            ids = []
            for text in (f" {letter}", letter):
                encoded = tok.encode(text, add_special_tokens=False)
                if len(encoded) == 1:
                    ids.append(encoded[0])
                elif len(encoded) == 2 and tok.decode(encoded[:1]).strip() == "":
                    ids.append(encoded[1])  # a lone space token, then the letter
            if not ids:
                raise MedragError(f"the tokenizer of {self.generator.name} writes option {letter!r} as several tokens")
            self._ids[letter] = list(dict.fromkeys(ids))
        return self._ids[letter]

    def logprobs(self, inputs, letters: Iterable[str]) -> dict[str, float]:
        """`inputs`: the tokenized prompt, its reply begun with PRIMER (see `primed`)."""
        import torch

        with torch.inference_mode():
            logits = self.generator.model(**inputs).logits[0, -1].float()
        logp = torch.log_softmax(logits, dim=-1)
        return {letter: float(torch.logsumexp(logp[self.letter_ids(letter)], dim=0)) for letter in letters}


def primed(msgs: list[dict]) -> list[dict]:
    """The messages with the reply begun by PRIMER, as letter-probability scoring reads them."""
    return [*msgs, {"role": "assistant", "content": PRIMER}]


def ask(generator, item: McqItem, *, scoring: str = "letter-probs", passages: list | None = None,
        with_context: bool = False, scorer: LetterScorer | None = None, max_new_tokens: int = 16) -> McqResult:
    """Ask one question; `passages` are retrieved Hits (or None for the setting without retrieval)."""
    hits = passages or []
    msgs = messages(item, [h.text for h in hits], with_context=with_context)
    letters = list(item.options)
    reply = logprobs = None
    if scoring == "letter-probs":
        inputs = generator.prompt_ids(primed(msgs))
        logprobs = (scorer or LetterScorer(generator)).logprobs(inputs, letters)
        prediction = max(letters, key=lambda x: logprobs[x])  # ties go to the earlier letter
        logprobs = {k: round(v, 4) for k, v in logprobs.items()}
    elif scoring == "generated":
        inputs = generator.prompt_ids(msgs)
        reply = generator.generate(msgs, max_new_tokens=max_new_tokens, temperature=0.0).text
        prediction = parse_answer(reply, item.options)
    else:
        raise MedragError(f"unknown scoring {scoring!r}; use {' or '.join(SCORINGS)}")
    prompt = generator.tokenizer.decode(inputs["input_ids"][0])  # exactly as the model read it
    return McqResult(item.id, "rag" if passages is not None else "no_rag", item.answer, prediction,
                     grade(item, prediction), scoring, generator.name, item.subject, reply, logprobs,
                     [{"rank": i, "doc_id": h.doc_id, "chunk_id": h.chunk_id, "pmid": h.pmid, "score": round(h.score, 4)}
                      for i, h in enumerate(hits, 1)],
                     prompt)


def retrieve(library, item: McqItem, k: int, *, exclude_own: bool = False) -> list:
    """The top k passages for the question; with exclude_own, none from the document whose PMID or doc id
    is the item's id (PubMedQA's own abstract)."""
    hits = library.search(item.question, k + (20 if exclude_own else 0))
    if exclude_own:
        hits = [h for h in hits if item.id not in (h.pmid, h.doc_id)]
    return list(hits)[:k]


# ---- results file (resumable) -------------------------------------------------------------------

def read_results(path: str | Path) -> list[McqResult]:
    path = Path(path)
    if not path.exists():
        return []
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(McqResult(**json.loads(line)))
        except (ValueError, TypeError) as exc:
            if n == len(lines):  # the last line, cut short by an interruption: asked again
                break
            raise ParseError(f"{path}, line {n}", f"not a result of medrag eval mcq ({_why(exc)})") from None
    return out


def evaluate_mcq(generator, items: list[McqItem], *, scoring: str = "letter-probs", library=None, k: int = 3,
                 exclude_own: bool = False, compare_no_rag: bool = False, with_context: bool = False,
                 out: str | Path | None = None, data: str = "", progress: bool = False,
                 on_result: Callable[[McqResult], None] | None = None) -> McqSummary:
    """Ask every question (with retrieval when `library` is given, and also without it when
    `compare_no_rag`), append each result to `out` as it comes, and summarise.

    Rerun with the same `out`, questions already answered there are not asked again."""
    if scoring not in SCORINGS:
        raise MedragError(f"unknown scoring {scoring!r}; use {' or '.join(SCORINGS)}")
    settings = (["rag"] if library is not None else []) + (["no_rag"] if library is None or compare_no_rag else [])
    done: dict[tuple[str, str], McqResult] = {}
    if out is not None:
        for r in read_results(out):
            if r.model != generator.name or r.scoring != scoring:
                raise MedragError(f"{out} holds results of another run ({r.model}, {r.scoring} scoring); "
                                  "pass another --out, or delete it to start again")
            done[(r.setting, r.id)] = r
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        _trim_partial_line(Path(out))
    todo = [(s, item) for s in settings for item in items if (s, item.id) not in done]
    scorer = LetterScorer(generator) if scoring == "letter-probs" else None
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="questions", unit="q", leave=False)
    sink = open(out, "a", encoding="utf-8") if out is not None else None
    try:
        for setting, item in todo:
            hits = retrieve(library, item, k, exclude_own=exclude_own) if setting == "rag" else None
            result = ask(generator, item, scoring=scoring, passages=hits, with_context=with_context, scorer=scorer)
            done[(setting, item.id)] = result
            if sink is not None:
                sink.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                sink.flush()
            if on_result:
                on_result(result)
            if bar is not None:
                bar.update(1)
    finally:
        if sink is not None:
            sink.close()
        if bar is not None:
            bar.close()
    main = settings[0]
    results = [done[(main, item.id)] for item in items]
    no_rag = accuracy(done[("no_rag", item.id)] for item in items) if main == "rag" and compare_no_rag else None
    return McqSummary(data, generator.name, scoring, accuracy(results), per_subject(results),
                      str(library.path) if library is not None else None,
                      k if library is not None else None, no_rag, time.perf_counter() - started)


def _trim_partial_line(path: Path) -> None:
    """Drop a last line an interruption cut short, so appending starts on a line of its own."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
