"""The citation verifier: verbatim quotes, numbers and names, content-word coverage, negation and
direction, statements about the paper rather than the evidence."""
import pytest

from rag import verify

from rag.verify import (INFERRED, PARTIAL, SUPPORTED, Support, Verifier, coverage, is_meta_statement, missing_terms,
                        not_a_finding, polarity, polarity_conflict, sentence_spans, stem)

HEPARIN = ("Bleeding complicated low molecular weight heparin prophylaxis in 3.9% of injured patients. "
           "Heparin-induced thrombocytopenia occurred in 0.7%.  Inferior vena cava filters migrated in 3 of "
           "45 cases (Fig. 2), i.e. rarely.")
TRIAL = ("Field trial. Compared to usual care, telephone counseling significantly increased "
         "the proportion of women having mammograms on schedule (71% vs 61%). Tailored print materials did not "
         "improve adherence. Costs were similar between the groups.")


# ---- pure: no model ----------------------------------------------------------------------------------
def test_sentence_spans_are_verbatim_and_respect_abbreviations():
    spans = sentence_spans(HEPARIN)
    parts = [HEPARIN[s:e] for s, e in spans]
    assert parts == ["Bleeding complicated low molecular weight heparin prophylaxis in 3.9% of injured patients.",
                     "Heparin-induced thrombocytopenia occurred in 0.7%.",
                     "Inferior vena cava filters migrated in 3 of 45 cases (Fig. 2), i.e. rarely."]
    # a fragment too short to stand alone joins the next sentence
    assert TRIAL[slice(*sentence_spans(TRIAL)[0])].startswith("Field trial. Compared")


def test_a_heading_parted_by_a_blank_line_is_not_joined_to_the_sentence_after_it():
    text = "3. Results\n\nThemes identified from the focus groups included morale.\n\n(Centre A, R6).\n\nThe " \
           "participants were unenthusiastic about it. Field trial. Compared with the others, it won. From the" \
           "\n\nresponses, however, the department is under-resourced.\n\nResults\n\nsiRNA knockdown of TMPRSS2 " \
           "cut replication."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "3. Results", "Themes identified from the focus groups included morale.", "(Centre A, R6).",
        "The participants were unenthusiastic about it.", "Field trial. Compared with the others, it won.",
        "From the\n\nresponses, however, the department is under-resourced.", "Results",
        "siRNA knockdown of TMPRSS2 cut replication."]


def test_stemmer_joins_word_families():
    assert stem("increased") == stem("increases") == stem("increasing") == stem("increase")
    assert stem("association") == stem("associated")
    assert stem("reduction")[:5] == stem("reduced")[:5]
    assert stem("diabetes") == stem("diabetic")
    assert stem("the") == "the" and stem("12") == "12"


def test_numbers_must_match_and_percentages_stay_percentages():
    assert missing_terms("Bleeding occurred in 3.9% of patients", HEPARIN) == ()
    assert missing_terms("Bleeding occurred in 3.90% of patients", HEPARIN) == ()  # same number
    assert missing_terms("Bleeding occurred in 12% of patients", HEPARIN) == ("12",)
    assert missing_terms("Filters migrated in 45% of cases", HEPARIN) == ("45%",)  # 45 is a count there
    assert missing_terms("Filters migrated in three of 45 cases", HEPARIN) == ()
    assert missing_terms("KCNJ11 lies on chromosome 11", "KCNJ11 mutations") == ("11",)
    assert missing_terms("Enoxaparin caused bleeding", HEPARIN) == ("enoxaparin",)
    # a count spelled out must be there too, as a word or in digits; "one" is as often a pronoun
    assert missing_terms("Filters migrated in four of 45 cases", HEPARIN) == ("four",)
    assert missing_terms("Three filters migrated", HEPARIN) == ()
    assert missing_terms("One of the filters migrated", HEPARIN) == ()
    # a residue named in words is the passage's one-letter code ("serine 118" is "S118L"'s position)
    pore = "The Kir6.2-S118L mutation lies at the start of the pore helix."
    assert missing_terms("Serine 118 sits at the start of the pore helix", pore) == ()
    assert missing_terms("118 patients carried the mutation", pore) == ("118",)  # a count is not a position


def test_coverage_counts_stemmed_content_words():
    share, absent = coverage("Heparin prophylaxis complicated by bleeding in injured patients", HEPARIN)
    assert share == 1.0 and absent == ()
    share, absent = coverage("Aspirin prevented strokes in elderly smokers", HEPARIN)
    assert share == 0.0 and set(absent) == {"aspirin", "prevented", "strokes", "elderly", "smokers"}
    share, _ = coverage("Bleeding complicated warfarin therapy", HEPARIN)
    assert 0.3 < share < 1.0


@pytest.mark.parametrize("claim, quote", [
    ("Tailored print materials improved adherence.", "Tailored print materials did not improve adherence."),
    ("Obesity was not associated with mortality.", "Obesity was associated with higher mortality."),
    ("Telephone counseling decreased the share of women screened on schedule.",
     "Telephone counseling increased the share of women screened on schedule."),
    ("Outcomes were worse after early surgery.", "Outcomes were better after early surgery."),
    ("Costs were higher with telephone counseling.", "Costs were similar between the groups."),
    ("Bleeding rates did not differ between the groups.", "Bleeding was more frequent with enoxaparin than heparin."),
    ("Lower BMI predicts knee pain in women.", "Higher BMI predicts knee pain in women."),
    # the same comparison the other way round
    ("The biofilm of A. lwoffii was longer than A. baumannii strains.",
     "A. baumannii strains formed significantly more biofilm on average than the A. lwoffii strains (P < 0.001)."),
    ("Mortality was higher in men than in women.", "Mortality was lower in men than in women."),
])
def test_polarity_conflicts_are_found(claim, quote):
    assert polarity_conflict(claim, quote)


@pytest.mark.parametrize("claim, quote", [
    ("Tailored print materials did not improve adherence.", "Print materials had no effect on adherence."),
    ("Obesity was associated with mortality.", "Obesity was associated with higher mortality in 3 cohorts."),
    ("Mortality was reduced by early surgery.", "Early surgery decreased mortality (p<0.01)."),
    ("Costs did not differ between the groups.", "Costs were similar between the groups."),
    ("Heparin reduced DVT without increasing bleeding.", "Heparin reduced DVT; no patient had major bleeding."),
    ("Survival improved and complications decreased.", "Survival improved while complications decreased."),
    ("There are no statistically apparent motion differences between SUP-CTV and INF-CTV.",
     "No statistically significant differences between INF-CTV and SUP-CTV motion were present."),
    ("Mortality was higher in men than in women.", "Women had lower mortality than men."),
    ("None of the 40 children had a recurrence of gallstones.",
     "Of 40 children, 12 underwent cholecystectomy, and none had a recurrence of gallstones."),
])
def test_agreeing_statements_have_no_conflict(claim, quote):
    assert polarity_conflict(claim, quote) is None


@pytest.mark.parametrize("text", [
    "This study investigated the effect of heparin on bleeding in trauma patients.",
    "The study examined the impact of radiotherapy for primary rectal cancer on outcomes.",
    "In summary, there are several factors that contribute to the risk of bleeding.",
    "Researchers at Kamuzu Central Hospital conducted an audit of the outpatient department.",
    "The authors discuss the barriers to quality improvement in resource-limited settings.",
    "This paper discusses the complications of DVT prophylaxis.",
    "The passages do not mention the cost of treatment.",
    "This summarizes the main points discussed in the report.",
    "The study was published in 2010 in the Journal of Trauma Management.",
    "mentions that the present study was aimed to explore genetic polymorphism in ACE-1 gene as a risk factor.",
    "This study aimed to investigate the effects of a genetic mutation on the KATP channel.",
    "The passage describes the clinical characteristics of oral mucoceles.",
    "describes clinical characteristics of oral mucoceles, focusing on HIV-related salivary gland disease.",
    "The passage reports subjective toxicity to the parotid glands at 0, 3 and 6 months.",
])
def test_meta_statements_are_recognised(text):
    assert is_meta_statement(text)


@pytest.mark.parametrize("text", [
    "This study showed that heparin reduced DVT in trauma patients.",
    "The authors found that telephone counseling increased mammography screening.",
    "Heparin-induced thrombocytopenia occurred in 0.7% of patients.",
    "In summary, low molecular weight heparin reduced DVT without more bleeding.",
    "Our results suggest that anti-TNF pharmacokinetics do not influence synovitis.",
    "Studies of filters report migration in 3% to 8% of cases.",
    "In summary, there is evidence that heparin prophylaxis increases the risk of bleeding.",
    "The study included 77 adult patients with celiac disease.",
    "The study reported that bleeding was rare after heparin prophylaxis.",
    "Reports of filter migration were rare.",
])
def test_findings_are_not_meta_statements(text):
    assert not is_meta_statement(text)


@pytest.mark.parametrize("text, why", [
    ("What is the effect of the tetrapeptide Ac-SDKP on organ fibrosis?", "a question"),
    ("In summary, what questions did the passage answer? ", "a question"),
    ("Staff-related issues:", "a heading or lead-in"),
    ("**The key findings discussed in this passage include:**", "a heading or lead-in"),
    ("Heparin-induced thrombocytopenia occurred in 0.7% of patients.", None),
    ("Costs: similar between the groups.", None),
    ("Keywords: Mitral valve replacement, Mitral artery embolization", "a keyword list"),
])
def test_questions_and_headings_are_not_findings(text, why):
    assert not_a_finding(text) == (f"not a finding: {why}" if why else None)


@pytest.mark.parametrize("text", [
    "We did not find any statistically significant difference between the two groups of patients.",
    "The trial failed to show a significant reduction in mortality.",
    "We found no significant association between birth weight and CMV infection.",
])
def test_null_results_in_their_usual_phrasings(text):
    assert polarity(text).null


def test_support_keeps_its_old_constructor():
    s = Support(0.7, (), "supported")
    assert s.quote == "" and s.reason is None
    assert PARTIAL < SUPPORTED < INFERRED


# ---- with the real embedder ------------------------------------------------------------------------------
def test_quote_is_verbatim_and_the_best_sentence(embedder):
    v = Verifier(embedder)
    s = v.check("Heparin-induced thrombocytopenia was seen in 0.7% of patients.", HEPARIN)
    assert s.quote in HEPARIN and s.quote == "Heparin-induced thrombocytopenia occurred in 0.7%."
    assert s.verdict == "supported" and s.reason is None
    odd = "Filters   migrated\nin 3 of 45 cases.\n\nBleeding complicated   heparin  prophylaxis in 3.9%."
    s = v.check("Bleeding complicated heparin prophylaxis in 3.9%", odd)
    assert s.quote in odd and "Bleeding complicated   heparin" in s.quote


def test_verdicts_and_reasons(embedder):
    v = Verifier(embedder)
    good = v.check("Telephone counseling increased on-schedule mammography compared to usual care (71% vs 61%).",
                   TRIAL)
    assert good.verdict == "supported", good
    number = v.check("Telephone counseling increased on-schedule mammography compared to usual care (75% vs 61%).",
                     TRIAL)
    assert number.verdict != "supported" and number.reason == "missing: 75"
    flipped = v.check("Telephone counseling decreased on-schedule mammography compared to usual care.", TRIAL)
    assert flipped.verdict == "unsupported" and flipped.reason.startswith("polarity")
    negated = v.check("Tailored print materials improved adherence to mammography.", TRIAL)
    assert negated.verdict == "unsupported" and negated.reason.startswith("negation")
    assert "did not improve" in negated.quote
    null = v.check("Costs were higher with telephone counseling than usual care.", TRIAL)
    assert null.verdict == "unsupported" and "similar" in null.reason
    off = v.check("Giraffes prefer acacia leaves.", TRIAL)
    assert off.verdict == "unsupported" and off.reason == "no content-word overlap"
    vague = v.check("Telephone counseling changed how nurses documented smoking cessation advice in clinics.", TRIAL)
    assert vague.verdict != "supported" and vague.reason.startswith(("coverage", "similarity"))
    # "significantly" needs a passage that reports a test; a proportion alone is none
    cases = "A high proportion of cases were unemployed (39.4%, n = 106)."
    assert v.check("Unemployment was significantly associated with being a case (39.4%).", cases).reason \
        == "significance: claim says significant, passage reports no test"
    assert v.check("A high proportion of cases were unemployed (39.4%).", cases).verdict == "supported"
    assert v.check("Telephone counseling significantly increased on-schedule mammography (71% vs 61%).",
                   TRIAL).verdict == "supported"
    # a comparison said the other way round is the same finding; turned round, it is the opposite
    women = "In the cohort, women had lower mortality than men after cardiac surgery."
    assert v.check("Mortality after cardiac surgery was higher in men than in women.", women).verdict == "supported"
    assert v.check("Mortality after cardiac surgery was higher in women than in men.", women).verdict == "unsupported"


def test_an_aim_in_this_paper_is_not_quotable_but_a_finding_is():
    from rag.verify import is_aim
    assert is_aim("AIM: In this paper, we assessed the influence of changes in atmospheric pressure on ruptures.")
    assert is_aim("To evaluate whether heparin reduces thrombosis.")
    assert not is_aim("In this study, we compared two regimens and found that heparin reduced thrombosis.")
    assert not is_aim("Heparin reduced thrombosis in 12% of patients.")


def test_a_structured_abstracts_methods_are_not_quoted_as_findings(embedder):
    abstract = ("BACKGROUND: Gallstones complicate hereditary spherocytosis (HS) in children. METHODS: Children "
                "referred with symptomatic gallstones complicating HS between 1999 and 2009 were prospectively "
                "identified and reviewed retrospectively. RESULTS: Of 40 children, 12 underwent cholecystectomy "
                "with splenectomy, and none had a recurrence of gallstones.")
    v = Verifier(embedder)
    method = v.check("Children referred with symptomatic gallstones complicating HS between 1999 and 2009 were "
                     "prospectively identified and reviewed retrospectively.", abstract)
    assert method.verdict == "unsupported" and method.reason == "not a finding: the passage's methods, restated"
    assert "METHODS" not in method.quote and "prospectively" not in method.quote  # never quoted
    found = v.check("None of the 40 children had a recurrence of gallstones.", abstract)
    assert found.verdict == "supported" and found.quote.startswith("RESULTS: Of 40 children")


def test_results_under_a_label_that_also_names_measurements_are_quotable(embedder):
    abstract = ("DESIGN: Prospective observational study. MEASUREMENTS: Bronchoscopy complications and inappropriate "
                "initial antimicrobial treatments were compared between day and off-hour shifts. The time from "
                "bronchoalveolar lavage to antibiotic administration was recorded for every episode. MEASUREMENTS AND "
                "RESULTS: Of the 152 VAP episodes 66 were diagnosed during off-hours. Neither more bronchoscopy "
                "complications nor more inappropriate initial antimicrobial treatments for patients were observed "
                "between day and off-hour shifts.")
    v = Verifier(embedder)
    null = v.check("No significant differences in bronchoscopy complications or inappropriate initial antimicrobial "
                   "treatments are observed between day and off-hour shifts.", abstract)
    assert null.verdict == "supported" and null.quote.startswith("Neither more bronchoscopy complications")
    # the method itself, said again, is still no finding
    method = v.check("The time from bronchoalveolar lavage to antibiotic administration was recorded for every "
                     "episode.", abstract)
    assert method.reason == "not a finding: the passage's methods, restated"


def test_a_negation_in_the_studys_aim_does_not_confirm_a_negated_claim(embedder):
    aim = ("BACKGROUND: Ischemic preconditioning (IP) is initiated through one or several short bouts of ischemia and "
           "reperfusion which precede a prolonged ischemia. To test whether a reperfusion must precede the prolonged "
           "index ischemia, a series without reperfusion (intraischemic preconditioning: IIP) was compared to "
           "conventional IP.")
    v = Verifier(embedder)
    claim = "Intraischemic preconditioning (IIP) does not require reperfusion."
    said = v.check(claim, aim)  # "a series without reperfusion" describes the design, not a finding
    assert said.verdict != "supported" and said.reason.startswith("negation: claim says 'not require reperfusion'")
    found = aim + " RESULTS: Infarct size was reduced by IIP as much as by conventional IP; no reperfusion was required."
    assert v.check(claim, found).verdict == "supported"


def test_a_procedure_sentence_is_never_the_quote(embedder):
    from rag.verify import is_procedure
    assert is_procedure("Late survival rate, New York Heart Association functional class, and QoL were assessed.")
    assert is_procedure("We retrospectively analyzed 78 patients treated with shock wave lithotripsy.")
    assert not is_procedure("Survival was assessed and was significantly lower with PPM (p = 0.02).")
    assert not is_procedure("Stone-free rates were higher with a short infundibulum than with a long one.")
    # an unstructured abstract: a method sentence is closest in words, but a result is quoted
    abstract = ("We retrospectively reviewed 163 patients who had undergone unilateral ACL reconstruction. "
                "Anterior laxity of the uninjured knee was assessed preoperatively, and anterior laxity of the "
                "reconstructed knee was assessed at twenty-four months postoperatively. Functional outcomes were "
                "assessed with the Lysholm score and the IKDC score. The three groups differed significantly with "
                "respect to the postoperative side-to-side difference in anterior laxity (p = 0.015) and Lysholm "
                "score (p<0.001). Post hoc testing showed that the group with the greatest laxity of the uninjured "
                "knee had significantly greater anterior laxity (p = 0.039) and lower functional scores "
                "(p = 0.001).")
    v = Verifier(embedder)
    found = v.check("Greater anterior laxity of the uninjured knee was associated with poorer stability and "
                    "functional outcomes after ACL reconstruction.", abstract)
    assert "significantly" in found.quote and "was assessed preoperatively" not in found.quote
    # a claim that only restates the procedure reports nothing
    done = v.check("The anterior laxity of the uninjured knee was assessed before the operation and that of the "
                   "reconstructed knee at twenty-four months.", abstract)
    assert done.verdict == "unsupported" and done.reason == "not a finding: the passage's methods, restated"


def test_a_question_or_heading_is_never_supported(embedder):
    v = Verifier(embedder)
    asked = v.check("Did telephone counseling increase the proportion of women having mammograms on schedule?", TRIAL)
    assert asked.verdict == "unsupported" and asked.reason == "not a finding: a question"
    assert "telephone counseling significantly increased" in asked.quote  # still the closest text, for the reader
    said = v.check("Telephone counseling increased the proportion of women having mammograms on schedule.", TRIAL)
    assert said.verdict == "supported"
    assert v.check("Telephone counseling and mammograms:", TRIAL).verdict == "unsupported"


def test_a_claim_of_two_sentences_needs_both(embedder):
    v = Verifier(embedder)
    one = "Telephone counseling increased on-schedule mammography compared to usual care (71% vs 61%)."
    assert v.check(one, TRIAL).verdict == "supported"
    assert v._check(one + " Costs were lower with counseling.", TRIAL).verdict == "supported"  # as a whole
    two = v.check(one + " Costs were lower with counseling.", TRIAL)
    assert two.verdict == "unsupported" and two.reason.startswith("one sentence of the claim: polarity")
    assert two.quote == "Costs were similar between the groups."


def test_a_null_result_given_by_its_p_value_confirms_a_claim_of_no_difference(embedder):
    v = Verifier(embedder)
    passage = ("We enrolled 120 preterm infants, small or appropriate for their gestational age. Retinopathy occurred "
               "in 12% of small and 15% of appropriate infants (p = 0.62). Transfusions were a risk factor for "
               "retinopathy (p < 0.01).")
    same = v.check("Retinopathy did not differ between small and appropriate infants.", passage)
    assert same.verdict == "supported" and same.quote.endswith("(p = 0.62).")
    more = v.check("Retinopathy was more frequent in appropriate than in small infants.", passage)
    assert more.verdict == "unsupported" and more.reason.startswith("direction")
    denied = v.check("Transfusions were not a risk factor for retinopathy.", passage)
    assert denied.verdict == "unsupported" and denied.reason.startswith("negation")


def test_a_number_bound_or_a_body_part_is_no_direction(embedder):
    """"more than 40" bounds a number and "lower limb" names a part of the body; neither says that
    something went down or up, so neither confirms a claimed direction."""
    v = Verifier(embedder)
    passage = ("Twenty-six patients scheduled for elective lower limb surgery were randomized to a tibial or a "
               "peroneal motor response. Patients with a curve of more than 40 degrees were enrolled.")
    lower = v.check("A tibial motor response gives a lower onset time of the block in limb surgery.", passage)
    assert lower.verdict != "supported" and lower.reason.startswith("direction: claim says lower")
    more = v.check("Patients with a curve of more than 40 degrees were enrolled.", passage)
    assert more.verdict == "supported"
    assert verify.polarity("curves of more than 40 degrees in the lower limb").directions == frozenset()
    assert verify.polarity("the curve grew more than the other").directions == {("amount", 1, "more")}
    assert verify.polarity("lower body mass index").directions == {("amount", -1, "lower")}  # no body part


def test_a_passage_s_edges_cut_no_whole_sentence_of_its_own():
    from rag.verify import whole_sentences

    def kept(text):
        return [text[s:e] for s, e in whole_sentences(text)]

    # begun in the passage before: dropped, or cut off where a sentence of its own starts
    assert kept("and the cells died. The next sentence is whole.") == ["The next sentence is whole."]
    assert kept("(Fig. 2B), indicating apoptosis. Notably, the cells lived.") == ["Notably, the cells lived."]
    assert kept("mas. This was the only study with complications. It ended.") == [
        "This was the only study with complications.", "It ended."]
    assert kept("S6E). However, the rest went on as before. Final one.") == [
        "However, the rest went on as before.", "Final one."]
    assert kept("S2D) or on CD4+ T cells after anti-CD3 stimulation (fig. S2E). Next one.")[0].startswith("S2D)")
    # a name in lower case is the start of a sentence, and an abbreviation within it no break
    for whole in ("siRNA knockdown reduced expression.", "p53 was mutated in most samples.",
                  "mTOR inhibition lowered HbA1c vs. DMSO control in all lines.", "scRNA-seq analysis found two groups."):
        assert kept(whole + " The end.")[0] == whole
    # stopped in the middle of one: dropped; a full stop after a single capital, a unit or a citation ends one
    assert kept("This is one whole sentence. Then one cut at (Fig.") == ["This is one whole sentence."]
    assert kept("This is one whole sentence. And one without a stop") == ["This is one whole sentence."]
    for ending in ("Samples were kept at 4°C.", "Doses were raised in group A.", "Tumours shrank in the arm.12,13",
                   "Tumours shrank in the arm. [12]"):
        assert ending.split(" [")[0] in kept("This is one whole sentence. " + ending)
