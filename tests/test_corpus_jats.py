"""JATS full texts (real PMC open-access articles): metadata, sections carried into passages,
references kept apart, and citations that name the section instead of a page."""
from __future__ import annotations

import re

import pytest

from rag.chunk import Chunker
from rag.errors import ParseError
from rag.ingest import discover, load
from rag.pack import Evidence, render_passage
from rag.records import Hit
from rag.summary import Citation, Finding, Reference, Summary
from rag.verify import Support

from .eutils_server import EUTILS, JATS, real_pmc

EHP = JATS / "ehp-116-1694.nxml"
OHIP = JATS / "1472-6831-8-11.nxml"


def test_front_matter_becomes_the_documents_metadata():
    (ehp,), problems = load(EHP)
    assert not problems and ehp.kind == "jats" and ehp.record == "PMC2599765"
    assert ehp.title.startswith("Dietary Exposure to 2,2′,4,4′-Tetrabromodiphenyl Ether (PBDE-47) Alters Thyroid")
    assert ehp.authors[:2] == ("Sean C. Lema", "Jon T. Dickey") and len(ehp.authors) == 4
    assert (ehp.year, ehp.pmid, ehp.doi) == (2008, "19079722", "10.1289/ehp.11570")
    assert ehp.journal == "Environmental Health Perspectives"
    (ohip,), _ = load(OHIP)  # the older NLM archiving DTD (2.3): journal-title outside a title group
    assert (ohip.journal, ohip.year, ohip.pmid, ohip.record) == ("BMC Oral Health", 2008, "18405359", "PMC2329613")
    assert ohip.authors[0] == "Marylee J van der Meulen"


def test_sections_are_kept_in_reading_order_with_their_paths():
    (ehp,), _ = load(EHP)
    names = [name for _, name in ehp.sections]
    # The title, the abstract, the untitled opening of the body, then the titled sections.
    assert names[:4] == [None, "Abstract", None, "Materials and Methods / Animals and housing"]
    assert "Materials and Methods / T4 and T3 radioimmunoassays" in names  # T<sub>4</sub> read as T4
    assert names.index("Results / Plasma thyroid hormones") < names.index("Discussion") < \
        names.index("Figures and tables")
    offsets = [o for o, _ in ehp.sections]
    assert offsets == sorted(offsets) and ehp.text[:offsets[1]].strip() == ehp.title
    start = dict((n, o) for o, n in ehp.sections)["Results / Plasma thyroid hormones"]
    assert ehp.text[start:].startswith("We observed decreased plasma T4 levels in both sexes")
    abstract = dict((n, o) for o, n in ehp.sections)["Abstract"]
    assert ehp.text[abstract:].startswith("Background: Polybrominated diphenyl ether (PBDE) flame retardants")
    assert "\n\nResults: Minnows exposed to PBDE-47 had depressed plasma thyroxine" in ehp.text


def test_captions_are_text_and_tables_are_not():
    (ehp,), _ = load(EHP)
    assert "Figure 1. Exposure to PBDE-47 depressed circulating concentrations of total T4" in ehp.text
    assert "compared with control. Figure 2." in ehp.text.replace("\n\n", " ")  # caption paragraphs kept apart
    (ohip,), _ = load(OHIP)
    assert "Table 1. Mean total scores and mean item scores of the total OHIP-NL" in ohip.text
    assert "Functional limitation (9)" not in ohip.text  # a table cell
    assert "Cronbach's alpha" in ohip.text and not re.search(r"</?[a-z-]+[\s>/]", ohip.text)  # no markup left


def test_references_are_kept_apart_from_the_text():
    (ehp,), _ = load(EHP)
    assert len(ehp.references) == 58
    assert ehp.references[1] == ("Ankley GT, Villeneuve DL. The fathead minnow in aquatic toxicology: past, present "
                                 "and future. Aquat Toxicol. 2006;78:91-102. PMID 16494955.")
    assert any(r.startswith("National Center for Biotechnology Information. GenBank Overview. 2008") for r in
               ehp.references)
    assert "Ankley GT" not in ehp.text
    (ohip,), _ = load(OHIP)
    assert len(ohip.references) == 31 and ohip.references[0].startswith("Locker D. Measuring oral health")


def test_passages_carry_their_section_and_the_one_page_of_a_pageless_text():
    (ehp,), _ = load(EHP)
    chunks = Chunker(lambda t: len(t.split()), chunk_tokens=120, overlap=20).split(ehp, "ehp")
    assert all(c.page_start == c.page_end == 1 for c in chunks)
    sections = [c.section for c in chunks]
    assert "Results / Plasma thyroid hormones" in sections and "Abstract" in sections
    plasma = next(c for c in chunks if c.text.startswith("We observed decreased plasma T4"))
    assert plasma.section == "Results / Plasma thyroid hormones"
    assert chunks[-1].section == "Figures and tables"


def test_an_article_set_gives_one_document_per_article(tmp_path):
    header = (EUTILS / "efetch_pmc.xml").read_text().split("<pmc-articleset>")[0]
    path = tmp_path / "set.xml"
    path.write_text(header + "<pmc-articleset>" + "\n".join(real_pmc().values()) + "</pmc-articleset>")
    docs, problems = load(path)
    assert [d.record for d in docs] == ["PMC8435807", "PMC2599765", "PMC2329613"] and not problems
    assert docs[0].sections == ((0, None),) and "corrected to −15.1%" in docs[0].text  # body without sections
    assert [p.name for p in discover([tmp_path])[0]] == ["set.xml"]


def test_nxml_files_are_found_and_bad_xml_is_one_clear_reason(tmp_path):
    (tmp_path / "a.nxml").write_text(OHIP.read_text())
    assert [p.name for p in discover([tmp_path])[0]] == ["a.nxml"]
    (tmp_path / "broken.xml").write_text(OHIP.read_text()[:5000])
    with pytest.raises(ParseError, match="malformed XML"):
        load(tmp_path / "broken.xml")
    (tmp_path / "page.xml").write_text("<html><body>not an article</body></html>")
    with pytest.raises(ParseError, match="not a PubMed export .* nor a JATS article"):
        load(tmp_path / "page.xml")
    (tmp_path / "empty.xml").write_text('<?xml version="1.0"?><article><front><article-meta/></front></article>')
    docs, problems = load(tmp_path / "empty.xml")
    assert docs == [] and "has neither body text nor an abstract" in problems[0].reason


def _hit(kind: str, section: str | None, page: int = 1) -> Hit:
    return Hit(rank=1, score=1.0, doc_id="d", chunk_id="d:0", text="Plasma T4 fell after exposure.", title="Paper",
               year=2008, source="x", page_start=page, page_end=page, section=section, kind=kind, pmid="19079722")


def test_citations_to_a_pageless_text_name_the_section_not_a_page():
    jats = _hit("jats", "Results / Plasma thyroid hormones")
    assert (jats.pages, jats.where) == ("", "Results / Plasma thyroid hormones")
    assert ", Results / Plasma thyroid hormones\n" in render_passage(1, jats, jats.text)
    assert "(2008), full text\n" in render_passage(1, _hit("jats", None), "x")
    pdf = _hit("pdf", "Methods", page=3)
    assert (pdf.pages, pdf.where) == ("p. 3", "p. 3, Methods")
    assert "(2008), p. 3, Methods\n" in render_passage(1, pdf, pdf.text)

    def summary(hit):
        ev = Evidence(1, hit, hit.text)
        c = Citation(1, ev, Support(0.9, (), "supported", quote=hit.text))
        return Summary("q", "ok", findings=[Finding("Plasma T4 fell.", (c,))], evidence=[ev],
                       references=[Reference(1, ev)])

    md = summary(jats).to_markdown()
    assert "> [1] Results / Plasma thyroid hormones: “Plasma T4 fell after exposure.”" in md and "p. 1" not in md
    assert "cited Results / Plasma thyroid hormones" in summary(jats).to_ris()
    assert "> [1] p. 3, Methods: “" in summary(pdf).to_markdown()
    assert "p. 1" not in summary(jats)._repr_html_()
