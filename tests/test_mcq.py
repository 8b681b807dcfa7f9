"""Multiple-choice evaluation (`medrag eval mcq`): the three formats, both scorings, the interval,
resuming, retrieval with and without the question's own abstract, and the CLI."""
import json

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.errors import MedragError, ParseError
from rag.mcq import (McqItem, accuracy, ask, evaluate_mcq, messages, parse_answer, read_items, read_results,
                     user_prompt, wilson)

from .conftest import DATA, PUBMEDQA

MEDMCQA = DATA / "medmcqa" / "dev_1000.jsonl"

MEDQA_ROWS = [
    {"question": "A 23-year-old woman has a fever and a stiff neck. Which test confirms the diagnosis?",
     "options": {"A": "Lumbar puncture", "B": "Chest X-ray", "C": "Urinalysis", "D": "ECG", "E": "Skin biopsy"},
     "answer": "Lumbar puncture", "answer_idx": "A", "meta_info": "step2&3"},
    {"question": "患者，男，65岁。反复咳嗽、咳痰20年，气短5年。最可能的诊断是",
     "options": {"A": "慢性阻塞性肺疾病", "B": "支气管哮喘", "C": "肺结核", "D": "肺癌", "E": "支气管扩张"},
     "answer": "慢性阻塞性肺疾病", "answer_idx": "A", "meta_info": "第一部分"},
    {"question": "下列哪項是維生素B12缺乏的表現？",
     "options": {"A": "小細胞性貧血", "B": "巨幼細胞性貧血", "C": "溶血性貧血", "D": "再生障礙性貧血"},
     "answer_idx": "B"},
]


def need_medmcqa():
    if not MEDMCQA.is_file():
        pytest.skip(f"shared MedMCQA questions not found at {MEDMCQA} (set MEDRAG_TEST_DATA)")


def need_pubmedqa():
    if not PUBMEDQA.is_file():
        pytest.skip(f"shared PubMedQA questions not found at {PUBMEDQA} (set MEDRAG_TEST_DATA)")


@pytest.fixture
def medqa_file(tmp_path):
    path = tmp_path / "medqa.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in MEDQA_ROWS), encoding="utf-8")
    return path


# ---- formats --------------------------------------------------------------------------------------

def test_medqa_english_and_chinese(medqa_file):
    items = read_items(medqa_file)
    assert [i.answer for i in items] == ["A", "A", "B"]
    assert list(items[0].options) == list("ABCDE") and items[0].subject == "step2&3"
    assert items[1].options["A"] == "慢性阻塞性肺疾病" and items[2].subject is None
    prompt = user_prompt(items[2])
    assert "維生素B12" in prompt and "B. 巨幼細胞性貧血" in prompt and "(A, B, C or D)" in prompt
    assert items[0].id == "1" and items[2].id == "3"  # the line number when a row has no id


def test_medmcqa_shared(tmp_path):
    need_medmcqa()
    items = read_items(MEDMCQA, limit=50)
    assert len(items) == 50 and all(list(i.options) == list("ABCD") for i in items)
    first = json.loads(MEDMCQA.read_text().splitlines()[0])
    assert items[0].answer == "ABCD"[first["cop"] - 1] and items[0].subject == first["subject_name"]
    assert items[0].options["C"] == first["opc"] and items[0].id == first["id"]


def test_pubmedqa_shared_and_its_abstract(tmp_path):
    need_pubmedqa()
    data = json.loads(PUBMEDQA.read_text())
    items = read_items(PUBMEDQA, limit=20)
    pmid, row = next(iter(data.items()))
    assert items[0].id == pmid and items[0].options == {"A": "yes", "B": "no", "C": "maybe"}
    assert {"yes": "A", "no": "B", "maybe": "C"}[row["final_decision"]] == items[0].answer
    assert row["CONTEXTS"][0][:40] in items[0].context
    # The question alone unless the abstract is asked for.
    assert row["CONTEXTS"][0][:40] not in user_prompt(items[0])
    assert row["CONTEXTS"][0][:40] in user_prompt(items[0], with_context=True)
    lines = tmp_path / "pqa.jsonl"  # the same items one a line
    lines.write_text("".join(json.dumps({"pmid": p, **r}) + "\n" for p, r in list(data.items())[:3]))
    assert read_items(lines) == items[:3]


def test_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(MEDQA_ROWS[0]) + "\n" + '{"question": "no options at all"}\n')
    with pytest.raises(ParseError, match=r"bad\.jsonl, line 2"):
        read_items(bad)
    out = CliRunner().invoke(app, ["eval", "mcq", "--data", str(bad), "--model", "smollm2"])
    assert out.exit_code == 1
    err = out.stderr.strip()
    assert len(err.splitlines()) == 1 and "bad.jsonl, line 2" in err and "not MedQA" in err
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(MEDQA_ROWS[0]) + "\n" + '{"question": "cut\n')
    out = CliRunner().invoke(app, ["eval", "mcq", "--data", str(broken), "--model", "smollm2"])
    assert out.exit_code == 1 and "broken.jsonl, line 2: not JSON" in out.stderr


# ---- scoring arithmetic ---------------------------------------------------------------------------

OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
ABCD = dict(zip("ABCD", ("Aspirin", "Heparin", "Warfarin", "Vitamin D")))


@pytest.mark.parametrize("reply, expected", [
    ("B", "B"), ("B.", "B"), ("(C) Warfarin", "C"), ("Answer: D", "D"), ("The correct answer is C. Warfarin", "C"),
    ("答案：B", "B"), ("I think option b is right", "B"), ("Heparin, because it acts at once", "B"),
    # names no valid option:
    ("E", None), ("The answer is E.", None), ("I am not sure.", None), ("a patient with a fever", None), ("", None),
])
def test_parse_answer(reply, expected):
    assert parse_answer(reply, ABCD) == expected


def test_parse_answer_pubmedqa_words():
    assert parse_answer("Yes, it does.", OPTIONS) == "A" and parse_answer("maybe", OPTIONS) == "C"
    assert parse_answer("D", OPTIONS) is None


def test_wilson_interval():
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 0) == (0.0, 0.0)


# ---- with the real offline model ------------------------------------------------------------------

@pytest.fixture(scope="module")
def smollm2():
    from rag.generate import load_generator

    return load_generator("smollm2", backend="transformers")  # the process-wide cache: the CLI tests below reuse it


@pytest.mark.slow
def test_letter_probs_always_answer_and_repeat(smollm2, medqa_file):
    need_medmcqa()
    items = read_items(MEDMCQA, limit=1) + read_items(medqa_file)[1:]  # English, simplified and traditional Chinese
    for item in items:
        r = ask(smollm2, item)
        assert r.prediction in item.options and set(r.letter_logprobs) == set(item.options)
        assert r.prediction == max(r.letter_logprobs, key=r.letter_logprobs.get)
        assert r.correct == (r.prediction == item.answer)
        assert r.prompt.rstrip().endswith("Answer:") and item.question[:20] in r.prompt
    again = ask(smollm2, items[-1])
    assert again.letter_logprobs == r.letter_logprobs  # deterministic


@pytest.mark.slow
def test_generated_reply_and_one_naming_no_option(smollm2, tmp_path):
    need_medmcqa()
    item = read_items(MEDMCQA, limit=1)[0]
    r = ask(smollm2, item, scoring="generated", max_new_tokens=8)
    assert r.reply and r.prediction == parse_answer(r.reply, item.options)
    # One token is not enough for smollm2 to reach a letter ("The correct answer is ..."): the model's
    # reply names no valid option, so there is no prediction and the question counts as wrong.
    cut = ask(smollm2, item, scoring="generated", max_new_tokens=1)
    assert cut.prediction is None and cut.correct is False, cut.reply
    assert json.loads(json.dumps(cut.to_dict()))["prediction"] is None
    score = accuracy([r, cut])
    assert score.n == 2 and score.unanswered == 1 and score.correct == int(r.correct)


@pytest.mark.slow
def test_resume_asks_only_the_rest(smollm2, medqa_file, tmp_path):
    items = read_items(medqa_file)
    out = tmp_path / "results.jsonl"
    first = evaluate_mcq(smollm2, items[:2], out=out)
    assert first.overall.n == 2 and len(read_results(out)) == 2
    # An interruption while the third answer was written: a cut-short last line.
    out.write_text(out.read_text() + '{"id": "3", "setting": "no_')
    asked = []
    second = evaluate_mcq(smollm2, items, out=out, on_result=asked.append)
    assert [r.id for r in asked] == ["3"] and second.overall.n == 3
    assert [r.id for r in read_results(out)] == ["1", "2", "3"]
    assert set(second.per_subject) == {"step2&3", "第一部分"}
    with pytest.raises(MedragError, match="another run"):
        evaluate_mcq(smollm2, items, out=out, scoring="generated")


@pytest.fixture(scope="module")
def abstracts_index(tmp_path_factory):
    """The first 20 shared PubMedQA abstracts, indexed without their conclusions."""
    need_pubmedqa()
    from rag import Library
    from rag.evaluate import pubmedqa_sets

    folder = tmp_path_factory.mktemp("pqa")
    sets = pubmedqa_sets(PUBMEDQA, folder, limit=20)
    lib = Library(folder / "idx")
    lib.index(sets["abstracts"], progress=False)
    return folder / "idx"


@pytest.mark.slow
def test_cli_json_with_retrieval_own_abstract_left_out(smollm2, abstracts_index, tmp_path):
    out = tmp_path / "rag.jsonl"
    args = ["eval", "mcq", "--data", str(PUBMEDQA), "--model", "smollm2", "--index", str(abstracts_index),
            "--limit", "2", "-k", "2", "--out", str(out), "--json"]
    run = CliRunner().invoke(app, [*args, "--exclude-own", "--compare-no-rag"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    assert summary["n"] == 2 and 0 <= summary["ci_low"] <= summary["accuracy"] <= summary["ci_high"] <= 1
    assert summary["no_rag"]["n"] == 2 and summary["per_subject"] == {}
    rows = read_results(out)
    assert sorted(r.setting for r in rows) == ["no_rag"] * 2 + ["rag"] * 2
    for r in rows:
        if r.setting == "rag":
            assert len(r.passages) == 2 and r.id not in {p["pmid"] for p in r.passages}
            assert "Passages:\n[1]" in r.prompt
        else:
            assert r.passages == [] and "Passages:" not in r.prompt
    # With the own abstract in the index, the question finds it.
    out_in = tmp_path / "rag_in.jsonl"
    run = CliRunner().invoke(app, [*args[:-3], "--out", str(out_in), "--json"])
    assert run.exit_code == 0, run.output
    rows = [r for r in read_results(out_in) if r.setting == "rag"]
    assert len(rows) == 2 and sum(r.id in {p["pmid"] for p in r.passages} for r in rows) >= 1


def test_compare_needs_an_index():
    run = CliRunner().invoke(app, ["eval", "mcq", "--data", "x.jsonl", "--model", "smollm2", "--compare-no-rag"])
    assert run.exit_code == 2 and "--compare-no-rag needs --index" in run.stderr


def test_messages_shape():
    item = McqItem("1", "Q?", dict(OPTIONS), "A")
    msgs = messages(item, ["first passage", "second"])
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"].startswith("Passages:\n[1] first passage\n\n[2] second")
