"""`medrag corpus fetch` through the CLI, and the three commands from a PubMed query (or PMC full
texts) to a cited summary, against the local E-utilities and the real offline embedder."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rag.cli import app

from . import eutils_server as es
from .formats import records

runner = CliRunner()


@pytest.fixture
def fake(pubmedqa):
    recs = records(pubmedqa, 5)
    fake = es.FakeEUtils(pubmed={**es.real_pubmed(), **es.pubmedqa_pubmed(recs)}, pmc=es.real_pmc())
    fake.qa = recs
    fake.searches[("pubmed", "pubmedqa sample")] = [r["pmid"] for r in recs]
    server, _ = es.start(fake)
    yield fake
    server.shutdown()
    server.server_close()


def fetch(fake, *args):
    # An API key lets the client go at 10 requests a second; NCBI_EMAIL comes from the environment.
    return runner.invoke(app, ["corpus", "fetch", *args, "--eutils-url", fake.url, "--api-key", "k", "--retries", "2",
                               "--timeout", "5"], env={"NCBI_EMAIL": "cli@example.org"})


def test_fetch_by_pmid_file_reports_as_json_and_as_text(fake, tmp_path):
    (tmp_path / "pmids.txt").write_text("11748933\n11700088\n99999999\n")
    out = tmp_path / "review"
    result = fetch(fake, "--pmids", str(tmp_path / "pmids.txt"), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["fetched"], report["missing"], report["files"]) == (2, ["99999999"], ["pubmed-0001.xml"])
    assert fake.log[0].params["email"] == "cli@example.org" and fake.log[0].params["api_key"] == "k"
    again = fetch(fake, "--pmids", "11748933,11700088", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert "already on disk     2" in again.stdout and f"next: medrag index {out}" in again.stdout


def test_one_source_at_a_time_and_errors_in_one_line(fake, tmp_path):
    both = fetch(fake, "--pubmed", "x", "--pmids", "1", "--out", str(tmp_path / "a"))
    assert both.exit_code == 2 and "give one of --pubmed" in both.stderr and "--pubmed and --pmids" in both.stderr
    nowhere = fetch(fake, "--pmids", "1")
    assert nowhere.exit_code == 2 and "--out" in nowhere.stderr
    bad = fetch(fake, "--pmids", "12x", "--out", str(tmp_path / "a"))
    assert bad.exit_code == 1 and bad.stderr.strip() == "medrag: error: '12x' is not a PMID (digits only)"
    fake.always["efetch.fcgi"] = "500"
    failed = fetch(fake, "--pmids", "11748933", "--out", str(tmp_path / "b"))
    assert failed.exit_code == 1 and len(failed.stderr.strip().splitlines()) == 1
    assert failed.stderr.startswith("medrag: error: efetch pubmed IDs 11748933: gave up after 2 tries")


def test_a_folder_rebuilt_from_its_recipe_alone(fake, tmp_path):
    first = tmp_path / "corpora" / "sample"
    assert fetch(fake, "--pubmed", "pubmedqa sample", "--max", "3", "--out", str(first)).exit_code == 0
    recipe = json.loads((first / "recipe.json").read_text())
    assert recipe["query"] == "pubmedqa sample" and recipe["ids"] == [r["pmid"] for r in fake.qa[:3]]
    # Someone with only the committed recipe.json rebuilds the folder: the same records, no new search.
    clone = tmp_path / "clone" / "sample"
    clone.mkdir(parents=True)
    (clone / "recipe.json").write_text(json.dumps(recipe))
    fake.log.clear()
    result = fetch(fake, "--recipe", str(clone / "recipe.json"), "--json")
    assert result.exit_code == 0, result.output
    assert [r.utility for r in fake.log] == ["efetch.fcgi"] and json.loads(result.stdout)["fetched"] == 3
    assert (clone / "pubmed-0001.xml").read_bytes() == (first / "pubmed-0001.xml").read_bytes()


def test_three_commands_from_a_query_to_a_cited_summary(fake, tmp_path):
    abstracts, fulltext, index = tmp_path / "metformin", tmp_path / "fulltext", str(tmp_path / "idx")
    assert fetch(fake, "--pubmed", "pubmedqa sample", "--max", "5", "--out", str(abstracts)).exit_code == 0
    assert fetch(fake, "--pmc-oa", "PMC2599765,PMC2329613", "--out", str(fulltext)).exit_code == 0
    indexed = runner.invoke(app, ["index", str(abstracts), str(fulltext), "--index", index, "--json"])
    assert indexed.exit_code == 0, indexed.output
    assert json.loads(indexed.stdout)["indexed"] == 2

    info = json.loads(runner.invoke(app, ["info", "--index", index, "--documents", "--json"]).stdout)
    pmids = {d["pmid"] for d in info["document_list"]}
    assert pmids == {r["pmid"] for r in fake.qa} | {"19079722", "18405359"}
    assert info["kinds"] == {"abstract": 5, "jats": 2}

    question = fake.qa[0]["title"]  # a PubMedQA question, answered by its own abstract
    summary = runner.invoke(app, ["summarize", "--query", question, "--index", index, "--model", "extractive"])
    assert summary.exit_code == 0, summary.output
    assert f"PMID {fake.qa[0]['pmid']}" in summary.stdout and "**Key findings**" in summary.stdout

    hits = json.loads(runner.invoke(app, ["search", "--query", "dietary PBDE-47 plasma thyroxine in minnows",
                                          "--index", index, "--kind", "jats", "--json"]).stdout)["hits"]
    assert hits[0]["pmid"] == "19079722" and hits[0]["pages"] == "" and hits[0]["section"]
    full = runner.invoke(app, ["summarize", "--query", "Does dietary PBDE-47 lower plasma thyroxine in fathead "
                               "minnows?", "--index", index, "--model", "extractive", "--kind", "jats", "--json"])
    assert full.exit_code == 0, full.output
    cited = [c for f in json.loads(full.stdout)["findings"] for c in f["citations"]]
    assert cited and all(c["page"] == "" and c["section"] for c in cited)
    markdown = runner.invoke(app, ["summarize", "--query", "Does dietary PBDE-47 lower plasma thyroxine in fathead "
                                   "minnows?", "--index", index, "--model", "extractive", "--kind", "jats"]).stdout
    assert "p. 1" not in markdown and f"> [1] {cited[0]['section']}" in markdown.replace("†", "")
