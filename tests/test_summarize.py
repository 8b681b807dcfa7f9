"""Summaries: packing, verification, citation handling, and the real offline model end to end."""
import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from rag import ModelUnavailable
from rag.cli import app
from rag.generate import Generation, Generator
from rag.pack import cut_to_budget, pack
from rag.records import Hit
from rag.prompts import PRIMER
from rag.summarize import summarize
from rag.verify import Verifier, missing_terms

DVT = "What complications follow DVT prophylaxis in trauma patients?"


def _hit(i, text, doc="d1"):
    return Hit(rank=i, score=1.0 / i, doc_id=doc, chunk_id=f"{doc}:{i}", text=text, title=f"Paper {doc}", year=2010,
               source=f"/p/{doc}.pdf", page_start=i, page_end=i, section="Results", kind="pdf", dense_score=0.8)


def test_pack_respects_budget_cuts_at_sentences_and_drops_duplicates():
    words = lambda t: len(t.split())  # noqa: E731
    a = "Heparin caused bleeding in 3.9% of patients. HIT occurred in 0.7%. " * 10
    hits = [_hit(1, a), _hit(2, a + " "), _hit(3, "Filters migrated in 3% of cases. " * 40, "d2")]
    ev = pack(hits, words, budget=260, min_tokens=10)
    assert [e.hit.chunk_id for e in ev] == ["d1:1", "d2:3"]  # the near-duplicate is gone
    assert ev[1].truncated and ev[1].text.endswith("cases.")
    assert sum(words(e.text) for e in ev) <= 260
    assert cut_to_budget("One two three. Four five six.", 4, words) == "One two three."
    # verbatim: the passage's own line breaks are kept, so what is quoted from it is the paper's text
    assert cut_to_budget("One two three.\n\nFour five six. Seven eight.", 7, words) == "One two three.\n\nFour five six."


def test_verifier_checks_numbers_and_names(embedder):
    passage = "Bleeding complicated low molecular weight heparin prophylaxis in 3.9% of injured patients."
    v = Verifier(embedder)
    good = v.check("Bleeding occurred in 3.9% of injured patients on heparin prophylaxis.", passage)
    acronym = v.check("Bleeding occurred in 3.9% of trauma patients given LMW heparin.", passage)
    wrong = v.check("Bleeding occurred in 12% of injured patients on heparin prophylaxis.", passage)
    off = v.check("KIR+CD8+ T cells suppress pathogenic T cells in COVID-19.", passage)
    assert good.verdict == "supported" and wrong.missing == ("12",) and wrong.verdict != "supported"
    assert acronym.missing == ("LMW",) and acronym.verdict == "partial"
    assert off.verdict == "unsupported" and off.score < good.score
    assert missing_terms("KCNJ11 lies on chromosome 11", "KCNJ11 mutations") == ("11",)


class ScriptedGenerator(Generator):
    """A stand-in generator for testing the code around the model (the real one is tested below)."""

    name = "scripted"

    def __init__(self, reply):
        self.reply = reply
        self.calls = 0

    def count_tokens(self, text):
        return len(text.split())

    def generate(self, messages, **kwargs):
        self.calls += 1
        user = next(m["content"] for m in messages if m["role"] == "user")
        assert "Passages:" in user and DVT in user
        assert messages[-1] == {"role": "assistant", "content": PRIMER}  # the reply is begun for the model
        return Generation(self.reply, 20, 100, 0.1, 0.01)


def test_citations_outside_the_evidence_are_removed_and_uncited_findings_dropped(pdf_library):
    reply = ("Answer: Heparin prophylaxis carries a bleeding risk.\nKey findings:\n"
             "- The risks of heparin include bleeding and heparin induced thrombocytopenia [1][42]\n"
             "- Giraffes prefer acacia leaves\n- Inferior vena cava filters migrate and penetrate the vessel wall [99]")
    gen = ScriptedGenerator(reply)
    s = summarize(pdf_library.store, pdf_library.embedder, lambda: gen, DVT)
    assert s.status == "ok" and gen.calls == 1
    assert s.removed_citations == 2 and s.dropped_findings >= 1
    numbers = {e.number for e in s.evidence}
    for c in s.citations:
        assert c.passage in s.evidence and c.passage.number in numbers
    assert not any("Giraffes" in f.text for f in s.findings)


def test_a_reply_with_no_finding_that_verifies_gives_the_papers_own_sentences(pdf_library):
    # what SmolLM2 writes for the README's question: the reply's format, copied
    template = "Answer: <one sentence>\nKey findings:\n- [1]\n- [2][3]"
    s = summarize(pdf_library.store, pdf_library.embedder, lambda: ScriptedGenerator(template), DVT)
    assert s.status == "ok" and s.model == "scripted" and s.raw.startswith("Answer: <one sentence>")
    assert s.fallback and "scripted wrote no finding that its passages support" in s.fallback
    assert 1 <= len(s.findings) <= 5 and s.answer == ""
    for f in s.findings:
        (c,) = f.citations
        assert c.quote == f.text and f.text in " ".join(c.passage.text.split()) and c.passage in s.evidence
    md = s.to_markdown()
    assert "wrote no finding that its passages support" in md and "Model: scripted, findings extractive" in md
    assert s.to_dict()["fallback"] == s.fallback and "wrote no finding" in s._repr_html_()
    # a model that says the passages do not answer is taken at its word
    refused = summarize(pdf_library.store, pdf_library.embedder,
                        lambda: ScriptedGenerator("Answer: INSUFFICIENT EVIDENCE"), DVT)
    assert refused.status == "insufficient_evidence" and not refused.findings and refused.fallback is None
    # ... wherever in the reply it says so
    said_later = summarize(pdf_library.store, pdf_library.embedder, lambda: ScriptedGenerator(
        "Answer: No passage reports the outcome asked about.\nKey findings:\n- INSUFFICIENT EVIDENCE\n" + "- x\n" * 200),
        DVT)
    assert not said_later.findings and said_later.fallback is None
    # findings that verify are the model's own: no fallback
    own = summarize(pdf_library.store, pdf_library.embedder, lambda: ScriptedGenerator(
        "Answer: Heparin carries a bleeding risk.\nKey findings:\n"
        "- The risks of heparin include bleeding and heparin induced thrombocytopenia [1]"), DVT)
    assert own.findings and own.fallback is None


def test_off_topic_question_is_refused_without_loading_a_model(pdf_library):
    def no_model():
        raise AssertionError("the model must not be loaded")

    s = summarize(pdf_library.store, pdf_library.embedder, no_model, "Who won the football world cup final?")
    assert s.status == "insufficient_evidence" and "threshold" in s.reason
    assert "does not answer" in s.to_markdown()


def test_unloadable_model_gives_one_clear_line(pdf_library, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as err:
        pdf_library.generator("meta-llama/Llama-3.2-1B-Instruct")
    message = str(err.value)
    assert "\n" not in message and "--model smollm2" in message


@pytest.mark.slow
def test_end_to_end_with_the_offline_model(pdf_library):
    """Real PDFs, real embedder, real SmolLM2: every citation points into the evidence, every
    reference is an indexed document, and the same question gives the same answer."""
    s = pdf_library.summarize(DVT, model="smollm2", max_new_tokens=160)
    assert s.model == "smollm2" and s.evidence and s.raw
    indexed = {d["doc_id"] for d in pdf_library.documents()}
    chunk_texts = {h.chunk_id: h.text for h in pdf_library.search(DVT, k=50, max_per_doc=None)}
    for e in s.evidence:
        assert e.hit.doc_id in indexed and e.text in chunk_texts.get(e.hit.chunk_id, e.hit.text)
    for c in s.citations:
        assert c.passage in s.evidence
    assert all(r.passage.hit.doc_id in indexed for r in s.references)
    assert {c.reference for c in s.citations} == {r.number for r in s.references}
    assert len({r.passage.hit.doc_id for r in s.references}) == len(s.references)
    assert s.evidence[0].hit.title.startswith("Complications related to deep venous thrombosis")
    again = pdf_library.summarize(DVT, model="smollm2", max_new_tokens=160)
    assert again.raw == s.raw  # greedy decoding: reproducible
    assert s.status == "ok"  # the model's findings, or when none verifies the papers' own sentences
    if s.fallback:
        assert all(c.quote == f.text for f in s.findings for c in f.citations)

    out = CliRunner().invoke(app, ["summarize", "--query", DVT, "--model", "smollm2", "--json", "--max-new-tokens",
                                   "160", "--index", str(pdf_library.path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    for key in ("query", "status", "findings", "evidence", "references", "model", "timings"):
        assert key in data
    assert data["raw"] == s.raw
    for f in data["findings"]:
        for c in f["citations"]:
            assert 1 <= c["evidence"] <= len(data["evidence"]) and c["verdict"] in ("supported", "partial", "unsupported")


def test_answer_line_is_checked_and_flagged_when_unsupported(pdf_library):
    reply = ("Answer: Giraffes are the tallest mammals on the savanna.\nKey findings:\n"
             "- The risks of heparin include bleeding and heparin induced thrombocytopenia [1]")
    s = summarize(pdf_library.store, pdf_library.embedder, lambda: ScriptedGenerator(reply), DVT)
    assert s.answer_support.verdict == "unsupported"
    assert "not clearly supported" in s.to_markdown()
    assert s.to_dict()["answer_support"]["verdict"] == "unsupported"
    bib, ris = s.to_bibtex(), s.to_ris()
    assert bib.startswith("@article{") and "doi = {10.1186/1752-2897-4-1}" in bib
    assert ris.startswith("TY  - JOUR") and "DO  - 10.1186/1752-2897-4-1" in ris and ris.count("ER  - ") == 1
    assert 'href="#medrag-ref-1"' in s._repr_html_()


def test_one_reference_per_paper_and_each_citation_carries_its_page_and_quote(pdf_library):
    reply = ("Answer: Heparin prophylaxis carries a bleeding risk.\nKey findings:\n"
             "- The risks of heparin include bleeding and heparin induced thrombocytopenia [1][2][3]\n"
             "- Inferior vena cava filters can migrate and cause caval occlusion [1][2][3]\n"
             "- This study investigated complications of prophylaxis in trauma [1]\n"
             "- Heparin-related complications: [1]\n"
             "- What complications follow heparin prophylaxis in trauma patients? [2]")
    s = summarize(pdf_library.store, pdf_library.embedder, lambda: ScriptedGenerator(reply), DVT)
    papers = [r.passage.hit.doc_id for r in s.references]
    assert len(papers) == len(set(papers))  # one reference per paper, however many passages are cited
    by_number = {r.number: r.passage.hit.doc_id for r in s.references}
    for c in s.citations:
        assert by_number[c.reference] == c.passage.hit.doc_id
        assert c.quote and " ".join(c.passage.text.split()).find(c.quote) >= 0  # verbatim text of the paper
        assert c.page == c.passage.hit.pages
    assert s.meta_statements == 3 and not any("This study investigated" in f.text for f in s.findings)
    assert not any(f.text.endswith(("?", ":")) for f in s.findings)  # a question or a heading is no finding
    md = s.to_markdown()
    assert "  > [1" in md and "“" in md
    for line in md.splitlines():
        if line.startswith("1. "):
            assert "p. " not in line  # pages belong to citations, not to the paper's reference
    cited = s.to_dict()["findings"][0]["citations"][0]
    assert {"quote", "page", "section", "verdict", "reason"} <= set(cited)
    assert "<details" in s._repr_html_() and "<blockquote>" in s._repr_html_()
    assert not s.verbatim and "citations supported (" in md.rstrip().splitlines()[-1]  # the verifier's count


def test_extractive_summary_needs_no_generator(pdf_library):
    from rag.library import choose_model
    from rag.generate import llama_on_machine

    s = pdf_library.summarize("How does the KCNJ11 S118L mutation change KATP channel ATP sensitivity?",
                              model="extractive")
    assert s.status == "ok" and s.model == "extractive" and 1 <= len(s.findings) <= 5
    for f in s.findings:
        (c,) = f.citations
        assert c.quote == f.text and f.text in " ".join(c.passage.text.split())
        assert c.support.verdict == "supported" and not c.inferred
    assert {r.passage.hit.doc_id for r in s.references} == {c.passage.hit.doc_id for c in s.citations}
    assert any("S118L" in f.text for f in s.findings)
    texts = [f.text for f in s.findings]
    assert len(texts) == len(set(texts))
    # a sentence quoted from its own passage cannot fail verification: the footer counts no
    # "supported" citations for it, and says what the findings are instead
    footer = s.to_markdown().rstrip().splitlines()[-1]
    assert s.verbatim and "citations supported" not in footer and "quoted verbatim" in footer
    assert "does not prove that it answers it" in footer and "citations supported" not in s._repr_html_()
    from rag.verify import is_aim
    dvt = pdf_library.summarize("Does heparin prophylaxis prevent deep vein thrombosis in trauma patients?",
                                model="extractive")
    assert dvt.findings and not any("Search terms" in f.text or "PRISMA" in f.text or is_aim(f.text)
                                    for f in dvt.findings)  # how the review was done is not a finding
    assert pdf_library.summarize("Who won the football world cup final?", model="extractive").status == \
        "insufficient_evidence"
    name, note = choose_model("auto")
    if not llama_on_machine():
        assert name == "extractive" and "huggingface-cli download" in note
    out = CliRunner().invoke(app, ["summarize", "-q", "KCNJ11 S118L ATP sensitivity", "--model", "extractive",
                                   "--json", "--index", str(pdf_library.path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["model"] == "extractive" and data["findings"][0]["citations"][0]["quote"] and data["verbatim"]


def test_several_questions_come_back_in_their_order(pdf_library, tmp_path):
    questions = ["How does the KCNJ11 S118L mutation change KATP channel ATP sensitivity?",
                 "Who won the football world cup final?", DVT]
    many = pdf_library.summarize_many(questions, model="extractive", k=6)
    one_by_one = [pdf_library.summarize(q, model="extractive", k=6) for q in questions]
    assert [s.query for s in many] == questions
    assert [s.status for s in many] == ["ok", "insufficient_evidence", "ok"]
    assert [[f.text for f in s.findings] for s in many] == [[f.text for f in s.findings] for s in one_by_one]

    file = tmp_path / "questions.txt"
    file.write_text(f"# questions for the review\n{questions[0]}\n\n{questions[1]}\n{questions[2]}\n")
    out = CliRunner().invoke(app, ["summarize", "--queries-file", str(file), "--model", "extractive", "-k", "6",
                                   "--json", "--index", str(pdf_library.path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [d["query"] for d in data] == questions and [d["status"] for d in data] == [s.status for s in many]
    md = CliRunner().invoke(app, ["summarize", "--queries-file", str(file), "--model", "extractive", "-k", "6",
                                  "--index", str(pdf_library.path)])
    assert md.exit_code == 0 and [line[3:] for line in md.stdout.splitlines() if line.startswith("## ")] == questions

    for args, said in [(["--query", DVT, "--queries-file", str(file)], "one of the two"), ([], "one of the two"),
                       (["--queries-file", str(tmp_path / "none.txt")], "none.txt: cannot read")]:
        bad = CliRunner().invoke(app, ["summarize", "--model", "extractive", "--index", str(pdf_library.path), *args])
        assert bad.exit_code != 0 and said in bad.output


@pytest.mark.parametrize("sentence, finding", [
    ("PubMed, EMBASE and the Cochrane Library were searched from 1966 to 2009 for trauma studies.", False),
    ("Thirty-one manuscripts were identified and reviewed in full for complications of prophylaxis.", False),
    ("Major bleeding followed low molecular weight heparin prophylaxis in 3% of trauma patients.", True),
    ("This review included all * Correspondence: ball.chad@gmail.com Department of Surgery, University of "
     "Calgary, Calgary, Canada studies of trauma patients.", False),
    ("Bleeding corresponded to 3% of all complications after heparin prophylaxis in trauma patients.", True),
    ("Correspondence between duplex ultrasound and venography was high for proximal thrombi in trauma.", True),
    ("Correspondence to: Dr A. Smith, Department of Surgery, University Hospital, Calgary, Canada, T2N 2T9.", False),
    # back matter that the PDF text ran into the last section
    ("Author details Department of Surgery, University of Calgary, Calgary, Canada.", False),
    ("2 Department of Surgery, University of British Columbia, Vancouver, Canada.", False),
    ("Authors’ contributions ID - Study design, data analysis, manuscript writing & editing.", False),
    ("SMH - Data analysis, manuscript writing & editing of the trauma review.", False),
    ("All authors read and approved the final manuscript on prophylaxis in trauma.", False),
    ("This is an Open Access article distributed under the terms of the Creative Commons Attribution License.", False),
    ("The department of surgery recorded major bleeding in 3% of trauma patients given heparin.", True),
])
def test_search_procedure_sentences_are_not_findings(sentence, finding):
    from rag.extractive import sentence_candidates
    from rag.pack import Evidence
    from rag.records import Hit

    hit = Hit(rank=1, score=1.0, doc_id="d", chunk_id="1", text=sentence, title="Prophylaxis in trauma", year=2010,
              source="p.pdf", page_start=2, page_end=2, section="Results", kind="pdf")
    assert bool(sentence_candidates([Evidence(1, hit, sentence)])) is finding


def test_a_sentence_that_holds_the_questions_rarer_words_answers_it():
    from rag.extractive import question_word_share

    question = "How many patients took part in the focus groups, and how were they split between rural and urban hospitals?"
    sentences = ["Heart failure rehabilitation in hospitals supports patients after discharge.",
                 "Each programme was based in an acute general hospital.",
                 "Fifteen took part, seven from the rural hospital and eight from the urban hospital.",
                 "Patients valued the programme."]
    share = question_word_share(question, sentences)
    assert share[2] == max(share) and share[2] > 2 * share[1] and share[3] < share[0]
    # a word every sentence holds tells them apart less than one only a few hold
    assert question_word_share("hospital rural", ["rural hospital", "a hospital", "the hospital"])[0] > 0.5
    assert list(question_word_share("?", sentences)) == [0.0] * 4


def test_the_sentence_that_answers_a_counting_question_is_a_finding(pdf_library):
    s = pdf_library.summarize("How many patients took part in the focus groups on heart failure rehabilitation, and "
                              "how were they split between the rural and urban hospitals?", model="extractive")
    assert any(f.text.startswith("Fifteen participants took part, seven from the rural hospital") for f in s.findings)


def test_sentences_that_only_say_what_was_done_stand_only_when_nothing_else_does():
    from rag.extractive import sentence_candidates
    from rag.pack import Evidence
    from rag.records import Hit

    def evidence(text):
        hit = Hit(rank=1, score=1.0, doc_id="d", chunk_id="1", text=text, title="Prophylaxis in trauma", year=2010,
                  source="p.pdf", page_start=2, page_end=2, section="Results", kind="pdf")
        return [Evidence(1, hit, text)]

    done = "Bleeding and heparin-induced thrombocytopenia were recorded for each trauma patient in the registry."
    found = "Major bleeding followed low molecular weight heparin prophylaxis in 3% of trauma patients."
    assert [s for _, s in sentence_candidates(evidence(done + " " + found))] == [found]
    assert [s for _, s in sentence_candidates(evidence(done))] == [done]  # nothing else to offer


def test_sentences_citing_other_papers_give_way_to_the_papers_own():
    from rag.extractive import _prior
    from rag.pack import Evidence
    from rag.records import Hit

    own = "Major bleeding occurred in 3.9% of patients given enoxaparin."
    hit = Hit(rank=1, score=1.0, doc_id="d", chunk_id="1", text=own, title="Prophylaxis in trauma", year=2010,
              source="p.pdf", page_start=2, page_end=2, section="Results", kind="pdf")
    e = Evidence(1, hit, own)
    for cited in ("Major bleeding occurred in 3.1% of patients given enoxaparin [9].",
                  "Major bleeding occurred in 3.1% of patients given enoxaparin [2,3,7-9].",
                  "Major bleeding occurred in 3.1% of patients given enoxaparin (Geerts et al., 2004)."):
        assert _prior(e, cited) < _prior(e, own)
    assert _prior(e, "Bleeding occurred in 3.9% [95% CI 2.1-5.0] of patients.") == _prior(e, own)


def test_a_finding_that_restates_the_methods_is_dropped_and_counted(tmp_path):
    from rag import Library

    abstract = ("BACKGROUND: Gallstones complicate hereditary spherocytosis (HS) in children. METHODS: Children "
                "referred with symptomatic gallstones complicating HS between 1999 and 2009 were prospectively "
                "identified and reviewed retrospectively. RESULTS: Of 40 children, 12 underwent cholecystectomy "
                "with splenectomy, and none had a recurrence of gallstones during follow-up.")
    (tmp_path / "abstracts.jsonl").write_text(json.dumps(
        {"title": "Gallstones in hereditary spherocytosis", "abstract": abstract, "pmid": "1", "year": 2011}) + "\n")
    lib = Library(tmp_path / "idx")
    lib.index(tmp_path / "abstracts.jsonl", progress=False)
    reply = ("Answer: Gallstones did not recur after cholecystectomy.\nKey findings:\n"
             "- Children referred with symptomatic gallstones complicating HS between 1999 and 2009 were "
             "prospectively identified and reviewed retrospectively [1]\n"
             "- None of the 40 children had a recurrence of gallstones during follow-up [1]")
    class Replies(ScriptedGenerator):
        def generate(self, messages, **kwargs):
            return Generation(self.reply, 10, 100, 0.1, 0.1)

    s = summarize(lib.store, lib.embedder, lambda: Replies(reply),
                  "Do gallstones recur after cholecystectomy in children with hereditary spherocytosis?")
    assert [f.text for f in s.findings] == ["None of the 40 children had a recurrence of gallstones during follow-up"]
    assert s.meta_statements == 1
    assert s.findings[0].citations[0].support.verdict == "supported"
    assert s.findings[0].citations[0].quote.startswith("RESULTS: Of 40 children")


def test_a_reply_cut_off_by_its_budget_loses_its_unfinished_finding(pdf_library):
    reply = ("Answer: Heparin prophylaxis carries a bleeding risk.\nKey findings:\n"
             "- The risks of heparin include bleeding and heparin induced thrombocytopenia [1]\n"
             "- Inferior vena cava filters can migrate and cause caval occlusion")

    class AtBudget(ScriptedGenerator):
        def generate(self, messages, **kwargs):
            return Generation(self.reply, kwargs["max_new_tokens"], 100, 0.1, 0.01)

    cut = summarize(pdf_library.store, pdf_library.embedder, lambda: AtBudget(reply), DVT)
    assert [f.text for f in cut.findings] == ["The risks of heparin include bleeding and heparin induced "
                                              "thrombocytopenia"]
    assert cut.stopped == "budget" and "unfinished finding was dropped" in cut.to_markdown()
    # the same reply within its budget is whole: its last line is a finding like the others
    whole = summarize(pdf_library.store, pdf_library.embedder, lambda: ScriptedGenerator(reply), DVT)
    assert len(whole.findings) == 2 and whole.stopped is None


def test_extractive_findings_come_first_from_the_paper_closest_to_the_question(embedder, pubmedqa, monkeypatch):
    import rag.extractive as extractive
    from rag.pack import Evidence

    def passages(pmid, dense, doc):
        r = pubmedqa[pmid]
        texts = [f"{label}: {text}" for label, text in zip(r["LABELS"], r["CONTEXTS"])]
        return [Evidence(0, replace(_hit(i + 1, t, doc), dense_score=dense - 0.1 * i), t) for i, t in enumerate(texts)]

    question = pubmedqa["23228527"]["QUESTION"]  # "Does music influence stress in mechanically ventilated patients?"
    # the ICU trial's own abstract, and a study of musical messages (its closest passage far less close)
    own, other = passages("23228527", 0.79, "icu"), passages("25691513", 0.48, "music")
    result = pubmedqa["23228527"]["CONTEXTS"][-1].split(".")[0]  # "Controlling for illness severity, ... in UFC ..."
    picked = [(e.hit.doc_id, s) for e, s, _ in extractive.extract(embedder, question, own + other, max_findings=3)]
    assert [doc for doc, _ in picked] == ["icu"] * 3 and any(s.startswith(result) for _, s in picked)
    monkeypatch.setattr(extractive, "PAPER_WEIGHT", 0.0)  # without it, the other paper's sentences about music
    picked = [(e.hit.doc_id, s) for e, s, _ in extractive.extract(embedder, question, own + other, max_findings=3)]
    assert [doc for doc, _ in picked] == ["icu", "music", "icu"] and not any(s.startswith(result) for _, s in picked)


def test_every_passage_of_a_paper_close_to_the_question_is_evidence(monkeypatch):
    import rag.summarize as summarize_module
    from rag.coverage import Coverage
    from rag.summarize import retrieve_for_summary

    scores = [("trial", 0.79), ("other", 0.48), ("third", 0.41), ("fourth", 0.38), ("trial", 0.37), ("fourth", 0.30)]
    hits = [replace(_hit(i + 1, f"Passage {i + 1}.", doc), dense_score=s) for i, (doc, s) in enumerate(scores)]
    monkeypatch.setattr(summarize_module, "search", lambda *args, **kwargs: hits)
    monkeypatch.setattr(summarize_module, "question_coverage", lambda *args: Coverage(1.0, "trial"))
    kept, reason = retrieve_for_summary(None, None, "Does music influence stress in ventilated patients?")
    # the first three, and the trial's Results passage (0.37) since its paper has one above 0.42; not the fourth paper
    assert reason is None and [h.rank for h in kept] == [1, 2, 3, 5]


def test_extractive_findings_prefer_a_result_to_a_restatement_of_the_topic(pdf_library):
    import numpy as np
    from rag.extractive import typicality

    # four sentences along one direction and one apart: the apart one is the most particular
    vectors = np.asarray([[1, 0], [1, 0], [1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    t = typicality(vectors)
    assert abs(float(t.mean())) < 1e-6 and t[4] == t.min() < 0 < t[0] == t[1] == t[2]
    assert not typicality(vectors[:1]).any()  # one sentence is as typical as the average
    question = ("What rates of bleeding and heparin-induced thrombocytopenia are seen with low molecular weight "
                "heparin thromboprophylaxis in injured patients?")
    result = "In this review we calculated the risk of bleeding and HIT to be 3.9% and 0.7% respectively."
    assert result in [f.text for f in pdf_library.summarize(question, model="extractive").findings]


def test_extractive_findings_leave_out_a_structured_abstracts_labels():
    from rag.extractive import _LABEL_PREFIX, sentence_candidates
    from rag.pack import Evidence

    text = ("Background AND PURPOSE: In prevention trials, statins have lowered the rate of stroke in older adults. "
            "PATIENTS AND METHODS: Forty-four patients with carotid stenosis were followed for two years. "
            "MAIN OUTCOME MEASURE: Stroke or death within two years of the first visit to the clinic. "
            "GSDMC: In hypoxia, STAT3 and PD-L1 migrated to the nucleus, enhancing GSDMC expression.")
    sentences = [s for _, s in sentence_candidates([Evidence(0, _hit(1, text), text)])]
    assert sentences[:3] == ["In prevention trials, statins have lowered the rate of stroke in older adults.",
                             "Forty-four patients with carotid stenosis were followed for two years.",
                             "Stroke or death within two years of the first visit to the clinic."]
    assert sentences[3].startswith("GSDMC: In hypoxia")  # a gene named before a colon is no label
    assert not _LABEL_PREFIX.match("OR: 1.5 (95% CI 1.1-2.0) for stroke")  # nor an odds ratio
    assert all(s in text for s in sentences)  # still the passage's own words, verbatim


def test_extractive_findings_leave_out_figure_text_and_legends():
    from rag.extractive import figure_text, sentence_candidates
    from rag.pack import Evidence

    # Sentences as the shared PDFs' text runs them together (Agyeman-Duah 2014, Li 2022, Bawaneh 2022).
    residue = ["This challenge emanated Referred cases (36%) Self-Referrals (64%) OPD II HOME OTHERS Referrals "
               "SHORT STAY HOME HOME OTHERS (Internal) Referrals WARDS Male / female Figure 1 Patient flow.",
               "No CD8 KIR CD8 KIR+CD8 Tetramer+ cells per 1 106 CD4+ T +250 µg/ml Deamidated Gluten Unstim.",
               "(A) Representative images of In Vivo Imaging System (IVIS) of mice after each dose of doxorubicin.",
               "*P < 0.05; **P < 0.01; Friedman test followed by multiple comparisons test."]
    result = "In this survey, 64% of the 95 respondents indicated that they are self-referrals to the department."
    text = " ".join(residue[:2] + [result] + residue[2:])
    assert [s for _, s in sentence_candidates([Evidence(0, _hit(1, text), text)])] == [result]
    # Results dense with measures are prose all the same.
    for kept in ("Malay ethnicity had delayed TPT compared to the Chinese; Hazard Ratio (HR) 1.9 (Confidence "
                 "Interval (CI) 1.237, 2.987).",
                 "Both had long current episode duration (4.8 [SD = 2.4], 3.2 [SD = 2.3]years) and low lifetime "
                 "use of any mood stabilizer (23.6%, 30.4%).",
                 "Contrast-enhanced renal ultrasound strongly suggested bilateral renal infarction.",
                 "Elevated IL-6, CRP, PCT, LDH, D-dimer and ferritin predicted ICU admission (AUC 0.81).",
                 "Hypertension, Diabetes, Dyslipidemia, Smoking, Obesity, CKD predicted MACE."):
        assert not figure_text(kept)


def test_extractive_findings_prefer_the_passage_the_search_ranked_higher(embedder, monkeypatch):
    import rag.extractive as extractive
    from rag.pack import Evidence

    question = "How often does heparin prophylaxis cause bleeding in injured patients?"
    first = "Heparin prophylaxis caused bleeding in 3.9% of the injured patients we reviewed."
    closer = "Heparin prophylaxis caused major bleeding in 3.9% of injured patients."  # a little closer alone
    evidence = [Evidence(1, _hit(1, first, "a"), first), Evidence(2, _hit(4, closer, "b"), closer)]
    picked = [s for _, s, _ in extractive.extract(embedder, question, evidence, max_findings=1)]
    assert picked == [first]
    monkeypatch.setattr(extractive, "PASSAGE_RANK_WEIGHT", 0.0)
    assert [s for _, s, _ in extractive.extract(embedder, question, evidence, max_findings=1)] == [closer]
