"""Answerability: a question whose key words no retrieved paper holds is not answered."""
import json

import pytest
from typer.testing import CliRunner

from rag import InvalidQuery, Library
from rag.cli import app
from rag.coverage import _spellings, key_pairs, key_words, question_coverage, unindexed_names

# PubMedQA: "Do follow-up recommendations for abnormal Papanicolaou smears influence patient adherence?"
PAP = "10575390"


def test_key_words_leave_out_framing_and_asking_words():
    words = key_words("What is the effect of metformin on mortality in patients with heart failure?")
    assert list(words) == ["metformin", "mortality", "heart", "failure"]
    assert list(key_words("Does aspirin really help after knee replacement?")) == ["aspirin", "knee", "replacement"]
    # whole words, not stems: "workers" and "lead" are no asking words; a name keeps its digits
    assert list(key_words("Is blood lead linked to Crohn's disease in KCNJ11 workers?")) == [
        "blood", "lead", "linked", "crohn", "disease", "kcnj11", "workers"]
    assert list(key_words("Is fatigue in Sjögren's syndrome worse than in Ménière's disease?")) == [
        "fatigue", "sjögren", "syndrome", "ménière", "disease"]
    assert key_pairs("Does metformin reduce mortality in heart failure?") == [
        ("metformin", "reduce"), ("reduce", "mortality"), ("heart", "failure")]  # "in" parts them


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("coverage_papers")
    (folder / "diabetes.txt").write_text(
        "Metformin and sulfonylureas in type 2 diabetes\n\n"
        "Metformin lowered HbA1c by 1.1% over a year. Treatment failure, a rise of HbA1c above 7%, occurred in "
        "12% of patients; resting heart rate did not change. Hypoglycaemia was rare with metformin alone. "
        "Immunofluorescence showed no islet autoantibodies.")
    (folder / "rehab.txt").write_text(
        "Exercise rehabilitation in chronic heart failure\n\n"
        "Patients with chronic heart failure who completed twelve weeks of exercise rehabilitation walked 40 m "
        "further in six minutes than those in the usual-care arm and reported a better quality of life. "
        "Heart failure admissions fell, and heart failure symptoms eased.")
    for i, finding in enumerate(("Nurse-led clinics cut heart failure readmissions by a third.",
                                 "Loop diuretics eased congestion in acute heart failure.")):
        (folder / f"heart{i}.txt").write_text(f"Heart failure care {i}\n\n{finding}")
    (folder / "vlbw.txt").write_text(
        "Sepsis in VLBW infants\n\n"
        "Among VLBW infants, late-onset sepsis was more frequent after central venous catheters were placed. "
        "Tumors of the liver were not seen.")
    lib = Library(tmp_path_factory.mktemp("coverage_index") / "idx")
    lib.index(folder, progress=False)
    return lib


def test_british_and_american_spellings_of_a_word_are_one_word():
    assert _spellings("tumours") == ["tumours", "tumors"] and _spellings("haemorrhage") == ["haemorrhage", "hemorrhage"]
    # agent nouns too: "G-quadruplex stabilisers" finds a paper on "stabilizers"
    assert _spellings("stabilisers") == ["stabilisers", "stabilizers"] and _spellings("sensitizer") == ["sensitizer",
                                                                                                       "sensitiser"]
    assert _spellings("dialysers") == ["dialysers", "dialyzers"] and _spellings("heart") == ["heart"]


def test_words_a_paper_holds_apart_abbreviated_or_spelled_otherwise(small_library):
    lib = small_library
    q = "Does metformin reduce mortality in heart failure?"
    cover = question_coverage(lib.store, q, list(lib.search(q, k=8)))
    # the diabetes paper has "heart" and "failure", never "heart failure" (the rehabilitation paper has it)
    assert {"mortality", "heart failure"} <= set(cover.missing) and "metformin" not in cover.missing
    q = "Are liver tumours seen after central catheters in very low birth weight infants?"
    cover = question_coverage(lib.store, q, list(lib.search(q, k=8)))
    assert cover.missing == () and cover.share == 1.0  # "VLBW" abbreviates them; "tumours" is "Tumors"
    q = "Does exercise rehabilitation help age related macular degeneration in heart failure?"
    cover = question_coverage(lib.store, q, list(lib.search(q, k=8)))
    assert {"macular", "degeneration", "related"} <= set(cover.missing)  # "arm" in lower case is no acronym for them
    q = "Does immunotherapy help type 2 diabetes?"
    cover = question_coverage(lib.store, q, list(lib.search(q, k=8)))
    assert cover.missing == ("immunotherapy",)  # not "immunofluorescence": words are matched whole
    assert question_coverage(lib.store, q, []).share == 1.0


def test_a_question_whose_own_study_is_not_indexed_is_not_answered(tmp_path, embedder, pubmedqa):
    items = list(pubmedqa.items())[:40]
    question = pubmedqa[PAP]["QUESTION"]

    def write(name, keep):
        path = tmp_path / name
        rows = ({"pmid": pmid, "abstract": " ".join(r["CONTEXTS"]), "year": r.get("YEAR")}
                for pmid, r in items if keep(pmid))
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return path

    lib = Library(tmp_path / "idx")
    lib.index(write("others.jsonl", lambda pmid: pmid != PAP), progress=False)
    summary = lib.summarize(question, model="extractive")
    # the passages are close enough (other screening and adherence studies): the similarity gate lets them through
    assert lib.summarize(question, model="extractive", min_coverage=0).status == "ok"
    assert summary.status == "insufficient_evidence" and not summary.findings
    assert "never mentions " in summary.reason and "'Papanicolaou'" in summary.reason
    assert "the model was not run" in summary.reason
    result = CliRunner().invoke(app, ["summarize", "--index", str(lib.path), "--query", question,
                                      "--model", "extractive", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "insufficient_evidence"
    lib.index(write("own.jsonl", lambda pmid: pmid == PAP), progress=False)  # its own abstract arrives
    summary = lib.summarize(question, model="extractive")
    assert summary.status == "ok" and summary.findings[0].citations[0].passage.hit.pmid == PAP
    with pytest.raises(InvalidQuery, match="min_coverage 1.5"):
        lib.summarize(question, model="extractive", min_coverage=1.5)


def test_a_name_no_indexed_paper_holds_is_said(pdf_library):
    q = "Does adding pembrolizumab to sotorasib improve survival in KRAS G12C lung cancer?"
    summary = pdf_library.summarize(q, model="extractive")
    assert summary.status == "ok" and summary.unmatched == ("pembrolizumab",)  # sotorasib and G12C are indexed
    assert "No indexed paper names 'pembrolizumab'" in summary.to_markdown().split("**Key findings**")[0]
    assert "No indexed paper names &#x27;pembrolizumab&#x27;" in summary._repr_html_()
    assert summary.to_dict()["unmatched"] == ["pembrolizumab"]
    assert unindexed_names(pdf_library.store, "Is the KCNJ11 E23K variant linked to type 2 diabetes?") == ("E23K",)
    # drug classes by their endings and a cephalosporin by its "cef-" (meropenem is in the A. baumannii paper)
    assert unindexed_names(pdf_library.store, "Is rivaroxaban or dabigatran safer than heparin after trauma?") == (
        "rivaroxaban", "dabigatran")
    assert unindexed_names(pdf_library.store, "Does cefiderocol or meropenem kill carbapenem-resistant "
                                              "Acinetobacter baumannii?") == ("cefiderocol", "carbapenem")
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


def test_a_short_question_naming_a_drug_a_paper_names_passes_the_similarity_gate(pdf_library):
    from rag.query import is_entity
    from rag.summarize import SummarizeOptions, retrieve_for_summary

    q = "Does sotorasib induce MHC class I presentation?"  # best passage similarity 0.39, below the gate
    assert is_entity("sotorasib") and is_entity("adagrasib")  # KRAS inhibitors by their ending
    assert max(h.dense_score or 0.0 for h in pdf_library.search(q, k=8)) < SummarizeOptions().min_score
    summary = pdf_library.summarize(q, model="extractive")
    assert summary.status == "ok" and any("sotorasib" in f.text for f in summary.findings)
    assert {c.passage.hit.title for c in summary.citations} == {
        next(h.title for h in pdf_library.search(q, k=8) if "K-Ras" in h.title)}

    def refused(question):
        hits, reason = retrieve_for_summary(pdf_library.store, pdf_library.query_embedder, question)
        return not hits and "close enough" in reason

    # the paper that names the gene must hold most of the question's words itself: here it holds 0.22
    assert refused("Does KCNJ11 cost less in rural trauma pharmacies?")
    # ... and the evidence is that paper's passages, not another's ("programmes", "experiences" are the
    # heart-failure paper's words)
    hits, _ = retrieve_for_summary(pdf_library.store, pdf_library.query_embedder, "KCNJ11 programmes experiences?")
    assert all("KCNJ11" in h.title for h in hits)
    assert refused("KCNJ11 与 心力衰竭 项目 的 体验?")  # a question whose words are not weighed gets no exception
