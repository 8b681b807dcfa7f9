from rag.ingest.cleanup import (clean_pdf_pages, fix_ligatures, heading_name, join_hyphenated, reflow,
                                split_references, strip_running_lines)
from rag.ingest import load

from .conftest import PDFS, need_data


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


def test_running_heads_of_facing_pages_and_mid_page_footers_are_removed():
    groups = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
    heads = ("Cancers 2022, 14, 4849 {} of 19",  # three heads take turns: each on a third of the pages
             "OPEN ACCESS Report", "中华医学杂志 2020年 第{}期")
    pages = []
    for i, g in enumerate(groups, 1):
        head = heads[i % 3].format(i)
        if i % 3 == 1 and i > 1:
            head = "Report OPEN ACCESS"  # facing pages swap the words
        foot = f"Li et al., Science 376, eabi{9590 + i} (2022) 15 April 2022 {i} of 13"
        body = [f"In the {g} group {w} were counted." for w in ("bleeds", "filters", "pumps", "stockings")]
        # the footer stands at the page's end on three pages, beside a figure in mid-page on the rest
        lines = [head, f"Heparin was given to the {g} group."] + body + [f"e{i}"]
        lines.insert(len(lines) if i <= 3 else 4, foot)
        pages.append("\n".join(lines))
    pages[4] = pages[4].replace("In the fifth group pumps", "Cancers 2022, 14, x FOR PEER REVIEW 8 of 19\n"
                                                           "In the fifth group pumps")
    pages[5] = pages[5].replace("In the sixth group pumps", "Open access report\nIn the sixth group pumps")
    cleaned = strip_running_lines(pages)
    for g, page in zip(groups, cleaned):
        assert f"Heparin was given to the {g} group." in page and f"{g} group pumps were counted." in page
        for furniture in ("Cancers", "OPEN ACCESS", "Science 376", "中华医学杂志"):
            assert furniture not in page
        assert not any(line.strip().startswith("e") and line.strip()[1:].isdigit() for line in page.splitlines())
    # In mid-page, a line of the running head's words and no number is the paper's own heading.
    assert "Open access report" in cleaned[5]


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


def test_author_year_reference_list_is_cut_after_the_first_fifth():
    body = ["Results\n" + "KRAS G12C inhibition raised MHC-I presentation.\n" * 40,
            "Discussion\nHaptenated peptides were targetable.\nREFERENCES\n"
            "Adams, P.D., Afonine, P.V., Bunkoczi, G., Chen, V.B., Davis, I.W., Echols, N.,\n"
            "Headd, J.J., et al. (2010). PHENIX. Acta Crystallogr. D 66, 213-221.\n"
            "Awad, M.M., Liu, S., Rybkin, I.I., et al. (2021). Acquired resistance. N. Engl. J. Med. 384, 2382.\n",
            "Zhang, Z., Shokat, K.M. (2019). Bifunctional inhibitors. Cell 178, 1.\n" * 30]
    pages, refs = split_references(body)
    assert "Adams, P.D." not in "".join(pages) and "Haptenated peptides" in pages[1] and pages[2] == ""
    assert refs[0].startswith("Adams, P.D.") and refs[0].endswith("213-221.")
    assert refs[1].startswith("Awad, M.M.")


def test_sections_after_the_reference_list_are_kept_in_place():
    body = ["Results\n" + "Inhibition raised presentation.\n" * 40,
            "Discussion\nPeptides were targetable.\nREFERENCES\nAdams, P.D., Afonine, P.V. (2010). PHENIX. D 66, 213.\n",
            "Awad, M.M., Liu, S. (2021). Resistance. N. Engl. J. Med. 384, 2382.\n" * 10,
            "Zhang, Z. (2019). Inhibitors. Cell 178, 1.\nSTAR+METHODS\nCell lines were cultured in DMEM.\n",
            "METHOD DETAILS\nMice were dosed daily.\n"]
    pages, refs = split_references(body)
    assert len(pages) == 5 and pages[2] == ""
    assert pages[3].startswith("STAR+METHODS") and "cultured in DMEM" in pages[3]
    assert pages[4] == body[4] and "Peptides were targetable" in pages[1]
    assert len(refs) == 12 and refs[-1].startswith("Zhang, Z.")


def test_back_matter_labels_open_their_sections_late_in_a_paper():
    from rag.ingest.cleanup import BACK_MATTER_SECTIONS, back_matter_label, section_opened_by

    # run into their text without a colon, as the PDFs of BMC, Springer and Cell journals print them
    assert section_opened_by("Author details Department of Surgery, University of Calgary, Calgary, Canada.",
                             late=True) == "Author details"
    assert section_opened_by("Authors’ contributions ID - Study design, data analysis.", late=True) == "Author contributions"
    assert section_opened_by("Acknowledgements We thank the patient for her participation.", late=True) == "Acknowledgements"
    assert section_opened_by("Availability of data and materials The FASTQ files are at GEO.", late=True) == "Data availability"
    assert section_opened_by("Data Availability Statement: The data are in the article.", late=True) == "Data availability"
    # early in a paper the same words open a sentence of its methods, not a section
    assert section_opened_by("Ethics approval was obtained from the review board.", late=False) is None
    assert section_opened_by("Ethics approval was obtained from the review board.", late=True) is None
    assert section_opened_by("Funding of health services in Malawi is scarce.", late=True) is None
    assert section_opened_by("Funding NV and FMA are supported by UKRI.", late=True) == "Funding"
    assert section_opened_by("Funding, staffing and training were the main barriers.", late=True) is None
    assert section_opened_by("Additional file 7. DNA oligonucleotides harboring G4 motifs.", late=True) == \
        "Supplementary material"
    # alone on its line a label is a heading wherever it stands
    assert heading_name("Author details") == "Author details" and heading_name("Competing interests") in BACK_MATTER_SECTIONS
    assert back_matter_label("Fundamental differences were found.") is None
    assert back_matter_label("Results were mixed") is None
    # a heading in capitals run into its text (Cell's STAR Methods) is a section of the paper itself
    assert section_opened_by("STAR+METHODS KEY RESOURCES TABLE REAGENT or RESOURCE SOURCE", late=True) == "Methods"
    assert section_opened_by("EXPERIMENTAL MODEL AND SUBJECT DETAILS Cell lines NCI-H358", late=True) == "Methods"
    assert section_opened_by("BC D E FG A Figure 4. Bispecific antibodies", late=True) is None


def test_the_open_access_licence_is_no_part_of_the_text():
    from rag.ingest.cleanup import drop_licence

    page = ("outcomes of trauma patients.\n© 2010 Datta et al; licensee BioMed Central Ltd. This is an Open Access "
            "article distributed under the terms of the Creative Commons Attribution License (http://creativecommons."
            "org/licenses/by/2.0), which permits unrestricted use, distribution, and reproduction in any medium, "
            "provided the original work is properly cited.\nBackground Venous thromboembolism is common.")
    kept = drop_licence(page)
    assert "Creative Commons" not in kept and "licensee" not in kept and "properly cited" not in kept
    assert kept.startswith("outcomes of trauma patients.") and kept.endswith("Venous thromboembolism is common.")
    springer = ("Open Access This article is licensed under a Creative Commons Attribution 4.0 International License, "
                "which permits use ... To view a copy of this licence, visit http://creativecommons.org/licenses/by/4.0/. "
                "The Creative Commons Public Domain Dedication waiver (http://creativecommons.org/publicdomain/zero/1.0/) "
                "applies to the data made available in this article, unless otherwise stated in a credit line to the data. "
                "Background The G-quadruplex")
    assert drop_licence(springer).strip() == "Background The G-quadruplex"
    plos = ("This is an open access article distributed under the terms of the Creative Commons Attribution "
            "License, which permits unrestricted use, distribution, and reproduction in any medium, provided the "
            "original author and source are credited.\n\nIntroduction Sepsis is common. It was properly cited.")
    assert drop_licence(plos).strip() == "Introduction Sepsis is common. It was properly cited."
    # a licence whose end is not known stops at its paragraph's end, taking nothing of the paper
    odd = "This article is licensed under terms of its own.\n\nResults Bleeding was rare, properly cited."
    assert "Results Bleeding was rare" in drop_licence(odd)
    # a sentence of a paper that only starts alike is kept
    assert drop_licence("This is an open question in trauma care.") == "This is an open question in trauma care."
    need_data()
    for pdf, first_page_words in (("datta2010-dvt-prophylaxis-trauma.pdf", "sorted according to their prophylactic"),
                                  ("tully2010-heart-failure-programmes.pdf", "Focus groups were conducted with fifteen participants")):
        (doc,), _ = load(PDFS / pdf)
        assert "permits unrestricted use" not in doc.text and "Creative Commons" not in doc.text
        assert first_page_words in doc.pages[0].text
