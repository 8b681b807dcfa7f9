"""Answerability: a question whose key words no retrieved paper holds is not answered."""
import json

import pytest
from typer.testing import CliRunner

from rag import Library
from rag.cli import app
from rag.coverage import key_pairs, key_words, question_coverage, unindexed_names

CEFIDEROCOL = "Is cefiderocol effective against carbapenem-resistant Acinetobacter baumannii?"


def test_key_words_leave_out_framing_and_asking_words():
    words = key_words("What is the effect of metformin on mortality in patients with heart failure?")
    assert set(words.values()) == {"metformin", "mortality", "heart", "failure"}
    assert set(key_words("Does aspirin really help after knee replacement?").values()) == {"aspirin", "knee", "replacement"}
    pairs = [p[2] for p in key_pairs("Does metformin reduce mortality in heart failure?")]
    assert pairs == ["metformin reduce", "reduce mortality", "heart failure"]  # "in" parts them


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("coverage_papers")
    (folder / "diabetes.txt").write_text(
        "Metformin and sulfonylureas in type 2 diabetes\n\n"
        "Metformin lowered HbA1c by 1.1% over a year. Treatment failure, a rise of HbA1c above 7%, occurred in "
        "12% of patients; resting heart rate did not change. Hypoglycaemia was rare with metformin alone.")
    (folder / "rehab.txt").write_text(
        "Exercise rehabilitation in chronic heart failure\n\n"
        "Patients with chronic heart failure who completed twelve weeks of exercise rehabilitation walked 40 m "
        "further in six minutes and reported a better quality of life.")
    (folder / "vlbw.txt").write_text(
        "Sepsis in VLBW infants\n\n"
        "Among VLBW infants, late-onset sepsis was more frequent after central venous catheters were placed. "
        "Deep vein thrombosis was found in 3 of 40 catheterised infants.")
    lib = Library(tmp_path_factory.mktemp("coverage_index") / "idx")
    lib.index(folder, progress=False)
    return lib


def test_words_a_paper_holds_apart_or_abbreviated(small_library):
    lib = small_library
    hits = list(lib.search("Does metformin reduce mortality in heart failure?", k=8))
    cover = question_coverage(lib.store, "Does metformin reduce mortality in heart failure?", hits)
    # the diabetes paper has "heart" and "failure", never "heart failure" (the rehabilitation paper has it)
    assert "heart failure" in cover.missing and "mortality" in cover.missing and "metformin" not in cover.missing
    q = "How often does DVT follow central catheters in very low birth weight infants?"
    cover = question_coverage(lib.store, q, list(lib.search(q, k=8)))
    assert cover.missing == () and cover.share == 1.0  # "deep vein thrombosis" spelled out, "VLBW" abbreviated
    assert question_coverage(lib.store, q, []).share == 1.0


def test_a_question_no_retrieved_paper_speaks_of_is_not_answered(pdf_library):
    lib = pdf_library
    summary = lib.summarize(CEFIDEROCOL, model="extractive")
    assert summary.status == "insufficient_evidence" and not summary.findings
    assert "'cefiderocol'" in summary.reason and "Differential development of antibiotic resistance" in summary.reason
    # the passages are close (the paper is about Acinetobacter's resistance): the similarity gate alone lets it through
    assert lib.summarize(CEFIDEROCOL, model="extractive", min_coverage=0).status == "ok"
    result = CliRunner().invoke(app, ["summarize", "--index", str(lib.path), "--query", CEFIDEROCOL,
                                      "--model", "extractive", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "insufficient_evidence"


def test_a_name_no_indexed_paper_holds_is_said(pdf_library):
    q = "Does adding pembrolizumab to sotorasib improve survival in KRAS G12C lung cancer?"
    summary = pdf_library.summarize(q, model="extractive")
    assert summary.status == "ok" and summary.unmatched == ("pembrolizumab",)  # sotorasib and G12C are indexed
    assert "No indexed paper names 'pembrolizumab'" in summary.to_markdown().split("**Key findings**")[0]
    assert "No indexed paper names &#x27;pembrolizumab&#x27;" in summary._repr_html_()
    assert summary.to_dict()["unmatched"] == ["pembrolizumab"]
    assert unindexed_names(pdf_library.store, "Is the KCNJ11 E23K variant linked to type 2 diabetes?") == ("E23K",)
    assert pdf_library.summarize("What complications follow DVT prophylaxis in trauma patients?",
                                 model="extractive").unmatched == ()


@pytest.mark.parametrize("question", [
    "What complications follow DVT prophylaxis in trauma patients?",
    "How often do leg compression pumps used to prevent clots cause bleeding in injured patients?",
    "Which gut bacterium becomes more abundant after Adriamycin treatment in mice with triple-negative breast tumours?",
    "What stopped heart failure patients from keeping up their exercise once the rehab course was over?",
])
def test_questions_the_papers_answer_in_other_words_are_answered(pdf_library, question):
    assert pdf_library.summarize(question, model="extractive").status == "ok"
