"""The reply parser on the ways small models break the format."""
import pytest

from rag.parse import citations_in, parse_reply


def test_the_asked_for_format():
    p = parse_reply("Answer: LMWH is the preferred prophylaxis [1].\nKey findings:\n"
                    "- Bleeding occurred in 3.9% of patients [1]\n- HIT occurred in 0.7% [2][3]\n")
    assert p.answer == "LMWH is the preferred prophylaxis."
    assert [(f.text, f.numbers) for f in p.findings] == [("Bleeding occurred in 3.9% of patients", (1,)),
                                                         ("HIT occurred in 0.7%", (2, 3))]
    assert not p.insufficient


@pytest.mark.parametrize("mark,numbers", [
    ("[1, 3]", (1, 3)), ("[2-4]", (2, 3, 4)), ("[2–3]", (2, 3)), ("(Passage 2)", (2,)), ("[Passage 5]", (5,)),
    ("[1][1][2]", (1, 2)), ("[1; 2]", (1, 2)), ("(source 4)", (4,)), ("passages 1 and 3", (1, 3)),
])
def test_citation_styles(mark, numbers):
    text, got = citations_in(f"Filters migrated in 3% of cases {mark}.")
    assert got == numbers and text == "Filters migrated in 3% of cases."


def test_numbered_lists_bold_headings_and_citations_on_the_next_line():
    p = parse_reply("**Summary:** Heparin is safe.\n\n**Key Findings:**\n1. Heparin caused bleeding in 3%\n[2]\n"
                    "2) Filters migrated (passage 3)\n* Compression devices injured skin [4]")
    assert p.answer == "Heparin is safe."
    assert [f.numbers for f in p.findings] == [(2,), (3,), (4,)]


def test_repeated_lines_and_trailing_junk_are_dropped():
    reply = ("Answer: IVC filters have complications.\n- Filters migrate [1]\n- Filters migrate [1]\n- ok\n"
             "References\n1. Smith J. Filters. 2010.\n- Not a finding [2]")
    p = parse_reply(reply)
    assert [f.text for f in p.findings] == ["Filters migrate"]


def test_prose_without_bullets_becomes_one_finding_per_sentence():
    reply = ("Heparin prophylaxis is standard in trauma. " * 1 + "Bleeding was the most frequent complication of "
             "heparin in the pooled studies, at 3.9 percent overall. Heparin induced thrombocytopenia was rare, "
             "affecting 0.7 percent of patients. Filters migrated in a few cases and occluded the vena cava.")
    p = parse_reply(reply)
    assert len(p.findings) == 3 and p.findings[1].text.startswith("Heparin induced")


@pytest.mark.parametrize("reply", ["INSUFFICIENT EVIDENCE", "insufficient evidence.",
                                   "The passages do not say. INSUFFICIENT EVIDENCE", ""])
def test_sentinel_and_empty_replies(reply):
    assert parse_reply(reply).insufficient


def test_echoed_question_gives_no_findings():
    p = parse_reply("What complications follow DVT prophylaxis in trauma patients?")
    assert p.findings == ()


def test_placeholders_header_echoes_and_a_late_sentinel_are_not_findings():
    reply = """Answer: <one sentence>
Key findings:
<three sentences>
Patient Experiences of Structured Heart Failure Programmes (2010), p. 2, Results
- Radiotherapy before surgery lowered local recurrence [2].
- <level two evidence supporting the use of heparin>
Insufficient evidence."""
    parsed = parse_reply(reply)
    assert [f.text for f in parsed.findings] == ["Radiotherapy before surgery lowered local recurrence."]
    assert parsed.findings[0].numbers == (2,)
    assert parsed.answer == "Radiotherapy before surgery lowered local recurrence."
    assert not parsed.insufficient


def test_a_passage_as_the_subject_keeps_the_sentence_whole():
    p = parse_reply("Answer: Heparin is safe.\nKey findings:\n"
                    "- Passage 2 shows that heparin reduced DVT in trauma patients.\n"
                    "- Passages 1 and 4 indicate that bleeding occurred in 3.9% of patients\n"
                    "- Passage 3 describes the clinical characteristics of oral mucoceles.\n"
                    "- In passage 5, the authors found lower rates of HIT.\n"
                    "- mRNA levels rose after treatment [6]")
    assert [(f.text, f.numbers) for f in p.findings] == [
        ("Heparin reduced DVT in trauma patients.", (2,)),  # the finding, cited to its passage
        ("Bleeding occurred in 3.9% of patients", (1, 4)),
        ("The passage describes the clinical characteristics of oral mucoceles.", (3,)),  # about the passage
        ("The authors found lower rates of HIT.", (5,)),
        ("mRNA levels rose after treatment", (6,)),
    ]


def test_the_prompts_instructions_echoed_are_not_findings():
    p = parse_reply("Answer: Heparin is safe [1].\nKey findings:\n- Bleeding occurred in 3.9% of patients [1]\n"
                    "- End every finding with the numbers of the passages it comes from, in square brackets, like [1].\n"
                    "- Answer the question using only the passages above.\n"
                    "- The passages do not answer the question about outside knowledge.")
    assert [f.text for f in p.findings] == ["Bleeding occurred in 3.9% of patients"]
