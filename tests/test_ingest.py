"""Readers: every abstract format built from real PubMedQA records, the real PDFs, and bad files."""

import pytest

from rag.errors import ParseError
from rag.ingest import Limits, discover, load

from .conftest import PDFS, need_data
from .formats import WRITERS, medline, records


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_abstract_format_keeps_pmid_doi_and_reports_the_broken_record(name, tmp_path, pubmedqa):
    recs = records(pubmedqa, 6)
    path = tmp_path / name
    path.write_text(WRITERS[name](recs))
    docs, problems = load(path)
    assert [d.pmid for d in docs] == [r["pmid"] for r in recs]
    assert [d.doi for d in docs] == [r["doi"] for r in recs]
    assert all(d.kind == "abstract" and d.title == r["title"] for d, r in zip(docs, recs))
    assert docs[0].year == int(recs[0]["year"])
    assert docs[0].authors and "Doe" in docs[0].authors[0]
    # The abstract text itself, with its structure labels on their own paragraphs.
    first_label = recs[0]["abstract"].split(":")[0]
    assert f"\n\n{first_label}:" in docs[0].text or docs[0].pages[0].text.split("\n\n")[1].startswith(first_label)
    assert len(problems) == 1 and str(path) in problems[0].path


def test_medline_in_a_txt_file_is_recognised(tmp_path, pubmedqa):
    path = tmp_path / "export.txt"
    path.write_text(medline(records(pubmedqa, 3), broken=False))
    docs, problems = load(path)
    assert len(docs) == 3 and docs[0].kind == "abstract" and not problems


def test_plain_text_and_markdown_are_documents(tmp_path):
    (tmp_path / "note.md").write_text("# Metformin notes\n\nMetformin rarely causes lactic acidosis.\n")
    (docs,), _ = load(tmp_path / "note.md")
    assert docs.title == "Metformin notes" and docs.kind == "text"


@pytest.mark.parametrize("name,content,reason", [
    ("empty.pdf", b"", "empty file"),
    ("random.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40, "not a readable PDF"),
    ("latin1.txt", "Caf\u00e9 au lait spots in NF1".encode("latin-1"), "not UTF-8"),
    ("blank.txt", b"   \n\n", "no text"),
    ("empty.jsonl", b"", "empty file"),
    ("other.xml", b"<html><body>hi</body></html>", "not a PubMed export"),
    ("noabstract.csv", b"title,year\nA,2001\n", "no 'abstract' column"),
])
def test_bad_files_raise_one_clear_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ParseError) as err:
        load(path)
    assert reason in err.value.reason and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_encrypted_and_image_only_pdfs(tmp_path):
    need_data()
    import pypdf

    real = (PDFS / "datta2010-dvt-prophylaxis-trauma.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(real[: len(real) // 3])
    writer = pypdf.PdfWriter(clone_from=str(PDFS / "datta2010-dvt-prophylaxis-trauma.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with open(tmp_path / "encrypted.pdf", "wb") as f:
        writer.write(f)
    blank = pypdf.PdfWriter()
    for _ in range(3):
        blank.add_blank_page(width=612, height=792)
    with open(tmp_path / "scanned.pdf", "wb") as f:
        blank.write(f)
    reasons = {}
    for name in ("truncated.pdf", "encrypted.pdf", "scanned.pdf"):
        with pytest.raises(ParseError) as err:
            load(tmp_path / name)
        reasons[name] = err.value.reason
    assert "encrypted" in reasons["encrypted.pdf"]
    assert "no text layer" in reasons["scanned.pdf"]
    assert "PDF" in reasons["truncated.pdf"] or "text layer" in reasons["truncated.pdf"]


def test_limits_are_reported(tmp_path):
    need_data()
    with pytest.raises(ParseError, match="over the limit of 2"):
        load(PDFS / "datta2010-dvt-prophylaxis-trauma.pdf", Limits(max_pages=2))
    with pytest.raises(ParseError, match="MB is over the limit"):
        load(PDFS / "datta2010-dvt-prophylaxis-trauma.pdf", Limits(max_file_mb=0.01))


def test_pdf_has_pages_title_doi_and_no_reference_list():
    need_data()
    (doc,), _ = load(PDFS / "10.1007_s00125-024-06103-w.pdf")
    assert "KCNJ11" in doc.title and doc.doi == "10.1007/s00125-024-06103-w" and doc.page_count == 12
    assert [p.number for p in doc.pages][:3] == [1, 2, 3]
    assert len(doc.references) > 20
    assert "Rorsman P, Ashcroft FM" not in doc.text  # the first reference stays out of the passages
    assert "\ufb01" not in doc.text


def test_discover_recurses_and_reports_missing_paths(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.ris").write_text("TY  - JOUR\nER  - \n")
    (tmp_path / "a" / "skip.docx").write_text("x")
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / ".hidden" / "y.txt").write_text("y")
    found, problems = discover([tmp_path / "a", tmp_path / "nope.pdf"])
    assert found == [tmp_path / "a" / "b" / "x.ris"]
    assert problems[0].reason == "no such file or folder"


def test_pdfium_page_text_reads_like_pypdf_and_keeps_word_spaces_pypdf_loses(monkeypatch):
    need_data()
    from rag.ingest.pdf import read_pdf

    def both(name):
        monkeypatch.setenv("MEDRAG_PDF_TEXT", "pypdf")
        slow = read_pdf(PDFS / name, 500)
        monkeypatch.setenv("MEDRAG_PDF_TEXT", "pdfium")
        return slow, read_pdf(PDFS / name, 500)

    slow, fast = both("datta2010-dvt-prophylaxis-trauma.pdf")
    assert (fast.title, fast.year, fast.doi, len(fast.pages)) == (slow.title, slow.year, slow.doi, len(slow.pages))
    text = " ".join(p.text for p in fast.pages)
    assert "\r" not in text and "\ufffe" not in text and "\x02" not in text
    assert "permanent retrievable filters" in " ".join(text.split())  # "perma-" at a line end, joined
    words, slow_words = text.split(), " ".join(p.text for p in slow.pages).split()
    assert len(set(words) & set(slow_words)) / len(set(slow_words)) > 0.95

    slow, fast = both("10.1126_science.abi9591.pdf")  # pypdf runs this paper's words together
    assert "can suppress myelin oligodendrocyte glycoprotein" in " ".join(" ".join(p.text for p in fast.pages).split())
    assert "cansuppressmyelin" in "".join(p.text for p in slow.pages)
