"""The retrieval evaluation: metric arithmetic, and a real run on a slice of PubMedQA."""
import json

import pytest
from typer.testing import CliRunner

from rag import Library, ParseError
from rag.cli import app
from rag.evaluate import evaluate, pubmedqa_sets, read_queries, score

from .conftest import PUBMEDQA


def test_metrics_by_hand():
    # Query 1: relevant at rank 1; query 2: at rank 3; query 3: not in the top 10.
    s = score([[True, False], [False, False, True], [False] * 10], [1, 1, 1], "x")
    assert s.recall[1] == pytest.approx(1 / 3) and s.recall[5] == pytest.approx(2 / 3)
    assert s.mrr10 == pytest.approx((1 + 1 / 3) / 3)
    assert s.ndcg10 == pytest.approx((1 + 1 / 2) / 3)  # 1/log2(4) = 1/2


def test_bad_query_file_names_the_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"query": "x", "relevant": ["1"]}\n{"query": "no relevant"}\n')
    with pytest.raises(ParseError, match="q.jsonl#2"):
        read_queries(bad)


def test_pubmedqa_slice_in_every_mode(tmp_path, pubmedqa):
    sets = pubmedqa_sets(PUBMEDQA, tmp_path, limit=40)
    lib = Library(tmp_path / "idx")
    report = lib.index(sets["abstracts"], progress=False)
    assert report.indexed == 1 and lib.info()["documents"] == 40
    results = {s.mode: s for s in evaluate(lib, read_queries(sets["questions"]))}
    assert set(results) == {"dense", "lexical", "hybrid"}
    assert all(s.queries == 40 for s in results.values())
    assert results["hybrid"].recall[10] >= 0.95 and results["hybrid"].mrr10 >= 0.85
    hard = {s.mode: s for s in evaluate(lib, read_queries(sets["keywords"]))}
    assert hard["hybrid"].mrr10 < results["hybrid"].mrr10  # keywords are the harder set
    out = CliRunner().invoke(app, ["eval", "retrieval", str(sets["conclusions"]), "--index", str(tmp_path / "idx"), "--json",
                                   "--modes", "hybrid"])
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)
    assert row["mode"] == "hybrid" and 0 <= row["ndcg@10"] <= 1 and row["queries"] == 40
