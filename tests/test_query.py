"""Question handling: framing dropped, rare names weighted, phrases for multi-part names, and the
second-stage rerankers."""
import pytest

from rag.query import cjk_query, dense_query, latin_query, rare_terms
from rag.rerank import SentenceWindowReranker, load_reranker, stem
from rag import InvalidQuery


def test_question_framing_is_dropped_for_the_embedding():
    assert dense_query("Which of the following best describes admissions to the short stay ward?") == \
        "admissions to the short stay ward?"
    assert dense_query("What is the effect of Ac-SDKP on fibrosis?") == "Ac-SDKP on fibrosis?"
    assert dense_query("KCNJ11 S118L sulfonylurea") == "KCNJ11 S118L sulfonylurea"
    assert dense_query("Which of the following?") == "Which of the following?"  # nothing would be left


def test_lexical_query_weights_names_and_drops_framing_words():
    expr = latin_query("Which of the following is the effect of KCNJ11 S118L on Kir6.2 channels?")
    terms = expr.split(" OR ")
    assert '"following"' not in terms and '"effect"' not in terms and '"which"' not in terms
    assert terms.count('"kcnj11"') == 2 and terms.count('"s118l"') == 2 and terms.count('"channels"') == 1
    assert '"kir6 2"' in terms  # Kir6.2 as the phrase the index stores


def test_multi_part_names_and_numbers_with_units_become_phrases():
    assert rare_terms("Does K-Ras(G12C) bind HLA-A*02:01 at 10 mg?") == [["k", "ras", "g12c"], ["hla", "a", "02", "01"],
                                                                          ["10", "mg"]]
    assert rare_terms("heart failure in older adults") == []


@pytest.mark.parametrize("text", ['"', "OR", "))((", "-", "NEAR(", "a" * 5000, "*"])
def test_any_text_gives_a_safe_expression_or_none(text):
    expr = latin_query(text)
    assert expr is None or all(t.startswith('"') and t.endswith('"') for t in expr.split(" OR "))


def test_cjk_runs_become_trigrams():
    assert cjk_query("深静脉血栓") == '"深静脉" OR "静脉血" OR "脉血栓"'


def test_sentence_window_prefers_the_passage_whose_terms_sit_together():
    together = ("Unrelated opening sentence about methods. Heparin caused bleeding in trauma patients. "
                "Another unrelated sentence follows here.")
    apart = ("Heparin was given to all. Many unrelated words follow in this sentence. And more of them here. "
             "Bleeding was rare. Further text about logistics. Trauma centres took part.")
    scores = SentenceWindowReranker(window=1).score("heparin bleeding trauma", [apart, together])
    assert scores[1] > scores[0]
    assert SentenceWindowReranker().score("the of", [together]) == [0.0]
    assert stem("mutations") == stem("mutation") and stem("treated") == "treat"


def test_rerankers_by_name():
    assert load_reranker("none") is None
    assert load_reranker("sentence-window").name == "sentence-window"
    with pytest.raises(InvalidQuery, match="reranker 'magic'"):
        load_reranker("magic")
