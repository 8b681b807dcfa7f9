"""Chunking in embedder tokens: sizes, overlap, page spans, offsets, sections, CJK."""
import pytest

from rag.chunk import Chunker
from rag.ingest import load
from rag.records import Document, Page

from .conftest import PDFS, need_data


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.count_tokens, chunk_tokens=120, overlap=20)


def test_chunks_fit_the_budget_and_keep_offsets_and_pages(chunker, embedder):
    need_data()
    (doc,), _ = load(PDFS / "datta2010-dvt-prophylaxis-trauma.pdf")
    chunks = chunker.split(doc, "d1")
    assert len(chunks) > 20
    text = doc.text
    for c in chunks:
        assert embedder.count_tokens(c.text) <= 120
        assert text[c.char_start:c.char_end] == c.text
        assert 1 <= c.page_start <= c.page_end <= doc.pages[-1].number
    assert chunks[-1].page_end == doc.pages[-1].number
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    # Starts move forward; inside a long paragraph, neighbours share their overlap.
    assert all(a.char_start < b.char_start for a, b in zip(chunks, chunks[1:]))
    shared = [text[b.char_start:a.char_end] for a, b in zip(chunks, chunks[1:]) if b.char_start < a.char_end]
    assert len(shared) >= 2 and all(0 < embedder.count_tokens(s) <= 20 for s in shared)
    sections = {c.section for c in chunks}
    assert {"Abstract", "Introduction", "Methods", "Conclusions"} <= sections
    assert "Geerts WH" not in text  # its reference list is not a passage


def test_page_span_follows_the_page_breaks(chunker):
    pages = (Page(1, "Alpha beta gamma. " * 8), Page(2, "Delta epsilon zeta. " * 8), Page(3, "Eta theta iota. " * 40))
    chunks = chunker.split(Document(source="x", kind="text", pages=pages), "d")
    assert chunks[0].page_start == 1 and chunks[-1].page_end == 3
    assert any(c.page_start == 1 and c.page_end == 2 for c in chunks)


def test_short_abstract_is_one_chunk(embedder):
    c = Chunker(embedder.count_tokens)
    doc = Document(source="a", kind="abstract", pages=(Page(1, "BACKGROUND: Metformin is safe.\n\nRESULTS: Fine."),))
    (only,) = c.split(doc, "a1")
    assert only.text == doc.text and only.section == "Background"


def test_a_heading_left_alone_is_no_passage():
    words = Chunker(lambda t: len(t.split()), chunk_tokens=16, overlap=0)
    body = " ".join(f"word{i} and more" for i in range(10)) + "."
    text = f"Methods\n\n{body}\n\n12\n\n{body}"
    chunks = words.split(Document(source="m", kind="text", pages=(Page(1, text),)), "m")
    assert [c.text for c in chunks if len(c.text.split()) < 3] == []  # not "Methods", not the page number
    assert all(w in " ".join(c.text for c in chunks) for w in body.split())  # nothing else lost
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    # a document with nothing longer keeps what it has
    (note,) = words.split(Document(source="n", kind="text", pages=(Page(1, "Hi there"),)), "n")
    assert note.text == "Hi there"


def test_text_without_spaces_is_cut_to_size(chunker, embedder):
    chinese = "二甲双胍是治疗二型糖尿病的一线药物。在慢性肾病患者中使用时需要注意乳酸酸中毒的风险。" * 40
    chunks = chunker.split(Document(source="zh", kind="text", pages=(Page(1, chinese),)), "zh")
    assert len(chunks) > 3
    assert all(embedder.count_tokens(c.text) <= 120 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks[:-1])  # cut at sentence ends


def test_bad_sizes_are_refused(embedder):
    with pytest.raises(ValueError, match="overlap"):
        Chunker(embedder.count_tokens, chunk_tokens=100, overlap=100)


def test_back_matter_is_never_in_a_passage_of_the_papers_own_text(chunker):
    need_data()
    (doc,), _ = load(PDFS / "datta2010-dvt-prophylaxis-trauma.pdf")
    chunks = chunker.split(doc, "d1")
    # the PDF text runs "Author details ..." into the Conclusions, one blank line apart
    (details,) = [c for c in chunks if "Author details" in c.text]
    assert details.section == "Author details" and details.text.startswith("Author details")
    assert "University of Calgary" in details.text
    assert "Competing interests" in " ".join(c.text for c in chunks if c.section in ("Author details", "Competing interests"))
    body = [c for c in chunks if c.char_start < details.char_start]
    assert body[-1].section == "Conclusions" and "understanding their potential complications" in body[-1].text
    assert not any("Author details" in c.text or "approved the final manuscript" in c.text for c in body)
    # a text with no back matter is cut as before: one run of passages
    words = Chunker(lambda t: len(t.split()), chunk_tokens=16, overlap=0)
    plain = "\n\n".join(f"Sentence {i} says something about heparin." for i in range(6))
    assert len(words.split(Document(source="p", kind="text", pages=(Page(1, plain),)), "p")) == 3


def test_an_early_footnote_label_is_its_paragraph_alone_and_contributions_stay_back_matter():
    words = Chunker(lambda t: len(t.split()), chunk_tokens=40, overlap=0)
    text = ("Introduction\n\n" + "Venous thrombosis is common after trauma. " * 8 +
            "\n\nAbbreviations: DVT, deep vein thrombosis; LMWH, low molecular weight heparin\n\n" +
            "Prophylaxis with heparin is the rule in trauma care. " * 8 + "\n\nResults\n\n" + "Bleeding was 3%. " * 30 +
            "\n\nAuthor contributions\n\nMethodology: A.B. and C.D. Writing: E.F.\n\nFunding: Grant 123 from the NIH.")
    chunks = words.split(Document(source="f", kind="text", pages=(Page(1, text),)), "f")
    section_of = {c.text.split(".")[0]: c.section for c in chunks}
    # a first-page footnote does not make the rest of the introduction back matter
    assert section_of["Abbreviations: DVT, deep vein thrombosis; LMWH, low molecular weight heparin"] == "Abbreviations"
    assert {c.section for c in chunks if "Prophylaxis with heparin" in c.text} == {"Introduction"}
    # "Methodology: A.B." is a line of the contributions, not the paper's methods
    assert [c.section for c in chunks if "Methodology: A.B" in c.text] == ["Author contributions"]
    assert not any("Bleeding was 3%" in c.text and "A.B." in c.text for c in chunks)
