from rag.ingest.cleanup import (clean_pdf_pages, fix_ligatures, heading_name, join_hyphenated, reflow,
                                split_references, strip_running_lines)


def test_ligatures_become_letters():
    assert fix_ligatures("ef\ufb01cacy and \ufb02uid o\ufb00ered") == "efficacy and fluid offered"


def test_words_broken_at_line_ends_are_joined():
    assert join_hyphenated("compli-\ncations occurred") == "complications occurred"
    assert join_hyphenated("num -\nber") == "number"
    # Gene and drug names keep their hyphen.
    assert join_hyphenated("IL-\n6 levels") == "IL-6 levels"
    assert join_hyphenated("COVID-\n19 patients") == "COVID-19 patients"


def test_running_headers_and_page_numbers_are_removed():
    bodies = ["Heparin was given.", "Bleeding occurred.", "Filters migrated.", "Compression helped.", "HIT was rare."]
    pages = [f"Smith et al. Journal of Trauma 2010, 4:{i}\n{b}\n{i}" for i, b in enumerate(bodies, 1)]
    cleaned = strip_running_lines(pages)
    assert all("Journal of Trauma" not in p for p in cleaned)
    assert all(b in p for b, p in zip(bodies, cleaned))
    assert all(not p.strip().endswith(str(i)) for i, p in enumerate(cleaned, 1))


def test_reference_list_is_cut_and_kept():
    body = ["Introduction\nHeparin is used widely.\n" * 20, "Results\nBleeding occurred in 3%.\n" * 20,
            "Discussion\nWe found bleeding.\nReferences\n1. Geerts WH, Code KI: A study. N Engl J Med 1994.\n"
            "2. Knudson MM, Lewis FR: Another. J Trauma 1990.\n"]
    pages, refs = split_references(body)
    assert "Geerts" not in "".join(pages)
    assert len(refs) == 2 and refs[0].startswith("1. Geerts")


def test_reference_list_without_heading_is_found():
    body = ["Results\n" + "Heparin reduced clots.\n" * 30,
            "Conclusion\nLMWH is preferred.\n1. Geerts WH, Code KI, Jay RM: A prospective study. N Engl J Med 1994.\n"
            "2. Knudson MM, Lewis FR: Prevention. J Trauma 1990.\n"]
    pages, refs = split_references(body)
    assert pages[-1].rstrip().endswith("LMWH is preferred.")
    assert len(refs) == 2


def test_reference_heading_early_in_paper_is_ignored():
    body = ["Abstract\nReferences\nThis word appears early.\n" + "text\n" * 50, "Results\n" + "more\n" * 50]
    pages, refs = split_references(body)
    assert refs == [] and pages == body


def test_headings_are_recognised():
    assert heading_name("2. Methods") == "Methods"
    assert heading_name("MATERIALS AND METHODS") == "Methods"
    assert heading_name("RESULTS: Bleeding occurred in 3%") == "Results"
    assert heading_name("Results were mixed across the studies") is None


def test_reflow_joins_lines_into_paragraphs():
    text = ("Heparin is the most common agent used for\nprophylaxis in trauma patients and it has\n"
            "a known risk.\nMethods\nWe searched the literature for all\nstudies of prophylaxis.")
    out = reflow(text)
    assert "used for prophylaxis in trauma" in out
    assert "\n\nMethods\n\n" in out


def test_clean_pdf_pages_end_to_end():
    pages, refs = clean_pdf_pages(["Title\nef\ufb01cacy of hep-\narin\n" * 3] * 2)
    assert "efficacy of heparin" in pages[0]
