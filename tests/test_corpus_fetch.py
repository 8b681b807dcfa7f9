"""The fetcher against a local E-utilities serving real captured replies: paging, batches, identity,
rate, retries (429, 5xx, timeouts, cut-short and malformed replies), resumption, and no partial file
that looks complete."""
from __future__ import annotations

import json
import time

import pytest

from rag.corpus import EUtils, Recipe, fetch_corpus, read_ids
from rag.errors import FetchError
from rag.ingest import discover, load

from . import eutils_server as es
from .conftest import ROOT
from .formats import records

REAL = ["11748933", "11700088"]  # the two PMIDs of the captured PubMed XML reply
QUERY = "cryopreservation AND sperm"


@pytest.fixture
def fake():
    fake = es.FakeEUtils(pubmed=es.real_pubmed(), medline=es.real_medline(), pmc=es.real_pmc(),
                         searches={("pubmed", QUERY): list(REAL)}, hang_seconds=1.5)
    server, _ = es.start(fake)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def qa_fake(fake, pubmedqa):
    """The fake server with 300 PubMedQA records beside the captured ones."""
    recs = records(pubmedqa, 300)
    fake.pubmed.update(es.pubmedqa_pubmed(recs))
    fake.medline.update(es.pubmedqa_medline(recs))
    fake.qa_ids = [r["pmid"] for r in recs]
    return fake


def client(fake, **kw) -> EUtils:
    options = dict(retries=3, backoff=0.01, timeout=0.5, min_interval=0.0, email="test@example.org")
    return EUtils(fake.url, **{**options, **kw})


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_query_to_a_folder_index_reads_with_manifest_and_pinned_recipe(fake, tmp_path):
    out = tmp_path / "corpus"
    report = fetch_corpus(Recipe(query=QUERY, max=50), out, client=client(fake))
    assert (report.requested, report.fetched, report.on_disk, report.missing) == (2, 2, 0, [])
    assert report.files == ["pubmed-0001.xml"] and report.requests == 2
    docs, problems = load(out / "pubmed-0001.xml")
    assert [d.pmid for d in docs] == REAL and not problems and docs[0].doi == "10.1006/cryo.2001.2328"
    m = manifest(out)
    assert m["query"] == QUERY and m["search"]["count"] == 2 and m["ids"] == REAL and m["created"]
    batch = m["batches"][0]
    assert batch["file"] == "pubmed-0001.xml" and batch["requested"] == REAL and batch["missing"] == []
    assert batch["records"][0] == {"pmid": "11748933", "doi": "10.1006/cryo.2001.2328"}
    pinned = Recipe.load(out / "recipe.json")
    assert pinned.query == QUERY and pinned.ids == tuple(REAL) and pinned.max == 50
    # What went over the wire: NCBI's identity parameters, the query, the IDs.
    search, efetch = fake.requests()
    assert search.utility == "esearch.fcgi" and search.params["term"] == QUERY and search.params["db"] == "pubmed"
    assert search.params["tool"] == "medrag" and search.params["email"] == "test@example.org"
    assert efetch.params["id"] == ",".join(REAL) and efetch.params["retmode"] == "xml" and efetch.method == "GET"
    assert [p.name for p in discover([out])[0]] == ["pubmed-0001.xml"]  # manifest and recipe are not read


def test_a_second_run_asks_nothing_of_what_is_on_disk(fake, tmp_path):
    out = tmp_path / "c"
    fetch_corpus(Recipe(query=QUERY, max=50), out, client=client(fake))
    fake.log.clear()
    again = fetch_corpus(Recipe(query=QUERY, max=50), out, client=client(fake))
    assert fake.log == [] and again.requests == 0
    assert (again.fetched, again.on_disk, again.files) == (0, 2, ["pubmed-0001.xml"])
    rebuilt = fetch_corpus(Recipe.load(out / "recipe.json"), tmp_path / "copy", client=client(fake))
    assert [r.utility for r in fake.log] == ["efetch.fcgi"] and rebuilt.fetched == 2  # the pinned IDs: no search


def test_api_key_email_and_tool_are_sent_and_the_rate_is_kept(fake, tmp_path):
    keyed = EUtils(fake.url, email="me@example.org", api_key="KEY123", tool="mytool", retries=1)
    assert keyed.min_interval == pytest.approx(0.11)
    for _ in range(3):
        keyed.esearch("pubmed", QUERY)
    plain = EUtils(fake.url, retries=1, tool=None)
    assert plain.min_interval == pytest.approx(0.37)  # NCBI: at most 3 a second without a key
    for _ in range(3):
        plain.esearch("pubmed", QUERY)
    # The server notes when it handles each request; on a loaded machine one may be handled a few ms
    # late, which shortens the next gap as seen there, but not the span of the three.
    times = [r.at for r in fake.log]
    assert times[2] - times[0] >= 2 * 0.11 - 0.03 and min(b - a for a, b in zip(times[:3], times[1:3])) >= 0.08
    assert times[5] - times[3] >= 2 * 0.37 - 0.03 and min(b - a for a, b in zip(times[3:], times[4:])) >= 0.30
    assert {(r.params["tool"], r.params["email"], r.params["api_key"]) for r in fake.log[:3]} == \
        {("mytool", "me@example.org", "KEY123")}
    assert fake.log[3].params["tool"] == "medrag" and "api_key" not in fake.log[3].params


def test_environment_names_the_service_and_the_caller(fake, monkeypatch):
    monkeypatch.setenv("MEDRAG_EUTILS_URL", fake.url)
    monkeypatch.setenv("NCBI_EMAIL", "env@example.org")
    monkeypatch.setenv("NCBI_API_KEY", "ENVKEY")
    c = EUtils(retries=1)
    assert c.base_url == fake.url and c.email == "env@example.org" and c.min_interval == pytest.approx(0.11)
    assert c.esearch("pubmed", QUERY).ids == REAL
    assert fake.log[0].params["api_key"] == "ENVKEY"


def test_a_429_is_retried_after_the_pause_it_asks_for(fake, tmp_path):
    fake.fail("efetch.fcgi", "429", "1")
    started = time.monotonic()
    report = fetch_corpus(Recipe(ids=tuple(REAL)), tmp_path / "c", client=client(fake))
    assert time.monotonic() - started >= 0.95  # Retry-After: 1, not the 0.01 s back-off
    assert report.fetched == 2 and len(fake.requests("efetch.fcgi")) == 2 and report.requests == 2


@pytest.mark.parametrize("fault", ["500", "hang", "truncate", "malformed"])
def test_server_errors_timeouts_and_broken_replies_are_fetched_again(fake, tmp_path, fault):
    fake.fail("efetch.fcgi", fault)
    out = tmp_path / "c"
    report = fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake))
    assert len(fake.requests("efetch.fcgi")) == 2 and report.fetched == 2
    docs, problems = load(out / "pubmed-0001.xml")
    assert [d.pmid for d in docs] == REAL and not problems
    assert not list(out.glob("*.part"))


def test_a_cut_short_medline_reply_is_fetched_again(fake, tmp_path):
    fake.fail("efetch.fcgi", "malformed")  # half the records, the last without its SO line
    ids = tuple(fake.medline)
    report = fetch_corpus(Recipe(ids=ids, format="medline"), tmp_path / "c", client=client(fake))
    assert len(fake.requests("efetch.fcgi")) == 2 and report.fetched == 4
    assert fake.log[-1].params["rettype"] == "medline" and fake.log[-1].params["retmode"] == "text"
    docs, problems = load(tmp_path / "c" / "pubmed-0001.nbib")
    assert [d.pmid for d in docs] == list(ids) and not problems


def test_giving_up_says_what_and_where_in_one_line_and_leaves_nothing_that_looks_complete(fake, tmp_path):
    fake.always["efetch.fcgi"] = "500"
    out = tmp_path / "c"
    with pytest.raises(FetchError) as err:
        fetch_corpus(Recipe(query=QUERY), out, client=client(fake))
    message = str(err.value)
    assert "\n" not in message and "gave up after 3 tries" in message and "HTTP 500" in message
    assert "efetch pubmed IDs 11748933, 11700088" in message and f"{fake.url}efetch.fcgi" in message
    assert len(fake.requests("efetch.fcgi")) == 3
    assert manifest(out)["batches"] == [] and discover([out])[0] == [] and not list(out.glob("*.part"))


def test_a_refused_request_is_not_retried_and_the_key_is_never_shown(fake, tmp_path):
    fake.fail("efetch.fcgi", "400")
    with pytest.raises(FetchError) as err:
        fetch_corpus(Recipe(ids=tuple(REAL)), tmp_path / "c", client=client(fake, api_key="SECRETKEY"))
    assert "HTTP 400" in str(err.value) and "API key invalid" in str(err.value)
    assert "SECRETKEY" not in str(err.value) and len(fake.requests("efetch.fcgi")) == 1
    fake.always["efetch.fcgi"] = "429"
    with pytest.raises(FetchError) as err:
        EUtils(fake.url, api_key="SECRETKEY", retries=2, min_interval=0).efetch("pubmed", REAL)
    assert "HTTP 429" in str(err.value) and "API rate limit exceeded" in str(err.value)
    assert "SECRETKEY" not in str(err.value) and "(API key)" in str(err.value)
    assert "SECRETKEY" not in (tmp_path / "c" / "manifest.json").read_text()


def test_no_server_at_the_address(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(FetchError) as err:
        EUtils(f"http://127.0.0.1:{port}/", retries=2, backoff=0.01, min_interval=0).esearch("pubmed", "x")
    assert "cannot connect" in str(err.value) and "gave up after 2 tries" in str(err.value)
    with pytest.raises(FetchError):
        EUtils("ftp://example.org/")


def test_an_interrupted_fetch_resumes_with_only_what_is_missing(qa_fake, tmp_path):
    ids = qa_fake.qa_ids[:12]
    qa_fake.fail("efetch.fcgi", "ok")
    qa_fake.always["efetch.fcgi"] = "500"  # the first batch arrives, then the service fails for good
    out = tmp_path / "c"
    with pytest.raises(FetchError):
        fetch_corpus(Recipe(ids=tuple(ids)), out, client=client(qa_fake), batch_size=5)
    m = manifest(out)
    assert [b["file"] for b in m["batches"]] == ["pubmed-0001.xml"] and m["batches"][0]["requested"] == ids[:5]
    assert [p.name for p in discover([out])[0]] == ["pubmed-0001.xml"] and not list(out.glob("*.part"))
    qa_fake.always.clear()
    qa_fake.log.clear()
    report = fetch_corpus(Recipe(ids=tuple(ids)), out, client=client(qa_fake), batch_size=5)
    assert qa_fake.fetched_ids() == ids[5:] and (report.on_disk, report.fetched) == (5, 7)
    assert report.files == ["pubmed-0001.xml", "pubmed-0002.xml", "pubmed-0003.xml"]
    docs = [d for f in report.files for d in load(out / f)[0]]
    assert sorted(d.pmid for d in docs) == sorted(ids)


def test_a_kill_while_writing_leaves_a_part_file_that_nothing_reads(fake, tmp_path, monkeypatch):
    import rag.corpus.recipe as recipe_module

    real_replace = recipe_module.os.replace

    def killed(src, dst):
        if str(dst).endswith("pubmed-0001.xml"):
            raise KeyboardInterrupt  # the process dies between writing the batch and renaming it
        return real_replace(src, dst)

    monkeypatch.setattr(recipe_module.os, "replace", killed)
    out = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake))
    assert (out / "pubmed-0001.xml.part").exists() and not (out / "pubmed-0001.xml").exists()
    assert manifest(out)["batches"] == [] and discover([out])[0] == []
    monkeypatch.setattr(recipe_module.os, "replace", real_replace)
    report = fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake))
    assert report.fetched == 2 and not list(out.glob("*.part")) and report.files == ["pubmed-0001.xml"]


def test_a_batch_renamed_before_the_manifest_was_written_is_adopted_not_fetched(fake, tmp_path):
    out = tmp_path / "c"
    fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake))
    m = manifest(out)
    m["batches"] = []  # as if the run was killed after the rename, before the manifest update
    (out / "manifest.json").write_text(json.dumps(m))
    fake.log.clear()
    report = fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake))
    assert fake.log == [] and report.on_disk == 2
    assert manifest(out)["batches"][0]["adopted"] and manifest(out)["batches"][0]["requested"] == REAL


def test_a_batch_file_removed_by_hand_is_fetched_again(fake, tmp_path):
    out = tmp_path / "c"
    fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake), batch_size=1)
    (out / "pubmed-0001.xml").unlink()
    fake.log.clear()
    report = fetch_corpus(Recipe(ids=tuple(REAL)), out, client=client(fake), batch_size=1)
    assert fake.fetched_ids() == REAL[:1] and report.files == ["pubmed-0002.xml", "pubmed-0003.xml"]


def test_long_id_lists_go_in_batches_of_200_by_post(qa_fake, tmp_path):
    ids = qa_fake.qa_ids[:250]
    report = fetch_corpus(Recipe(ids=tuple(ids)), tmp_path / "c", client=client(qa_fake))
    first, second = qa_fake.requests("efetch.fcgi")
    assert (first.method, len(first.params["id"].split(","))) == ("POST", 200)
    assert (second.method, len(second.params["id"].split(","))) == ("GET", 50)
    assert first.params["tool"] == "medrag" and report.fetched == 250 and len(report.files) == 2


def test_a_query_is_paged_and_capped_at_max(qa_fake, tmp_path):
    qa_fake.searches[("pubmed", "pubmedqa")] = qa_fake.qa_ids[:7]
    report = fetch_corpus(Recipe(query="pubmedqa", max=5), tmp_path / "c", client=client(qa_fake), search_page=3)
    pages = [(r.params["retstart"], r.params["retmax"]) for r in qa_fake.requests("esearch.fcgi")]
    assert pages == [("0", "3"), ("3", "2")] and qa_fake.fetched_ids() == qa_fake.qa_ids[:5]
    assert report.requested == 5 and manifest(tmp_path / "c")["search"]["count"] == 7


def test_a_query_that_finds_nothing(fake, tmp_path):
    report = fetch_corpus(Recipe(query="abcXYZ"), tmp_path / "c", client=client(fake))
    assert (report.requested, report.files, report.requests) == (0, [], 1)
    assert manifest(tmp_path / "c")["search"]["warnings"] == ["No items found."]


def test_dois_are_looked_up_and_the_unknown_ones_reported(fake, tmp_path):
    recipe = Recipe(dois=("https://doi.org/10.1006/cryo.2001.2328", "10.9999/not-in-pubmed"))
    report = fetch_corpus(recipe, tmp_path / "c", client=client(fake))
    assert '"10.1006/cryo.2001.2328"[doi] OR "10.9999/not-in-pubmed"[doi]' == fake.log[0].params["term"]
    assert report.fetched == 1 and report.dois_not_found == ["10.9999/not-in-pubmed"]


def test_unknown_ids_are_reported_missing_and_not_fetched_twice(fake, tmp_path):
    out = tmp_path / "c"
    report = fetch_corpus(Recipe(ids=(REAL[0], "99999999")), out, client=client(fake))
    assert report.missing == ["99999999"] and report.fetched == 1
    fake.log.clear()
    assert fetch_corpus(Recipe(ids=(REAL[0], "99999999")), out, client=client(fake)).missing == ["99999999"]
    assert fake.log == []


def test_open_access_full_texts_by_pmcid(fake, tmp_path):
    fake.pmc["2329613"] = es.front_only(fake.pmc["2329613"])  # a publisher that allows the abstract only
    out = tmp_path / "ft"
    recipe = Recipe(database="pmc", ids=("PMC2599765", "pmc2329613", "8435807", "PMC1"))
    report = fetch_corpus(recipe, out, client=client(fake))
    assert fake.log[0].params["db"] == "pmc" and fake.log[0].params["id"] == "2599765,2329613,8435807,1"
    assert report.files == ["pmc-0001.xml"] and report.missing == ["PMC1"]
    assert report.no_full_text == ["PMC2329613"]
    rec = manifest(out)["batches"][0]["records"][0]
    assert rec == {"pmcid": "PMC2599765", "pmid": "19079722", "doi": "10.1289/ehp.11570", "full_text": True}
    docs, problems = load(out / "pmc-0001.xml")
    assert [d.record for d in docs] == ["PMC2599765", "PMC2329613", "PMC8435807"] and not problems
    assert all(d.kind == "jats" for d in docs)
    assert [name for _, name in docs[1].sections] == [None, "Abstract"]  # the abstract is still there


def test_a_pmc_query(fake, tmp_path):
    fake.searches[("pmc", "PBDE-47 AND open access[filter]")] = ["2599765"]
    report = fetch_corpus(Recipe(database="pmc", query="PBDE-47 AND open access[filter]"), tmp_path / "c",
                          client=client(fake))
    assert report.fetched == 1 and manifest(tmp_path / "c")["ids"] == ["PMC2599765"]


def test_a_folder_keeps_one_query(fake, tmp_path):
    out = tmp_path / "c"
    fetch_corpus(Recipe(query=QUERY), out, client=client(fake))
    with pytest.raises(FetchError, match="holds the corpus of the query"):
        fetch_corpus(Recipe(query="something else"), out, client=client(fake))
    with pytest.raises(FetchError, match="holds pubmed records as xml"):
        fetch_corpus(Recipe(ids=tuple(REAL), format="medline"), out, client=client(fake))
    more = fetch_corpus(Recipe(ids=("11748933",)), out, client=client(fake))  # IDs may be added
    assert more.on_disk == 1


def test_recipes_round_trip_and_refuse_what_they_cannot_mean(tmp_path):
    r = Recipe(query="metformin AND ckd", ids=("123", "PMID: 456"), max=20, description="test")
    assert Recipe.load(r.save(tmp_path / "recipe.json")) == r and r.ids == ("123", "456")
    assert json.loads((tmp_path / "recipe.json").read_text())["medrag_recipe"] == 1
    for bad, message in [({"medrag_recipe": 1, "ids": ["12a"]}, "not a PMID"),
                         ({"medrag_recipe": 1}, "needs a query, IDs or DOIs"),
                         ({"medrag_recipe": 1, "query": "x", "colour": 1}, "unknown field"),
                         ({"medrag_recipe": 1, "query": "x", "max": 20000}, "max must be"),
                         ({"medrag_recipe": 1, "database": "pmc", "ids": ["PMC1"], "format": "medline"}, "JATS"),
                         ({"query": "x"}, "not a medrag recipe")]:
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(FetchError, match=message):
            Recipe.load(tmp_path / "bad.json")
    example = Recipe.load(ROOT / "corpora" / "example-metformin-ckd" / "recipe.json")
    assert example.query == "metformin AND chronic kidney disease" and example.max == 200 and not example.ids
    (tmp_path / "ids.txt").write_text("# from the review\n123\n456, 789  # two more\n")
    assert read_ids(str(tmp_path / "ids.txt")) == ["123", "456", "789"] and read_ids("1,2") == ["1", "2"]
