"""`medrag serve`: the JSON API against a real server with the real offline models, its traffic rules
(queue, limits, files by id only), new documents seen without a restart, and the CLI's --server."""
import asyncio
import json
import shutil
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from typer.testing import CliRunner

from rag import Library
from rag.cli import app as cli
from rag.server import GenerationQueue, QueueFull

from .conftest import PDFS, SMALL_PDFS
from .serving import running_server

QUESTION = "Does heparin prophylaxis prevent deep vein thrombosis in trauma patients?"
OFF_TOPIC = "What is the best recipe for sourdough bread with a crisp crust?"


@pytest.fixture(scope="module")
def server(pdf_library):
    with running_server(pdf_library, model="extractive", queue_size=4) as url:
        yield url


def events(response) -> list[tuple[str, object]]:
    out, event = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            out.append((event, json.loads(line[6:])))
    return out


def test_info_and_documents_are_the_cli_json(server, pdf_library):
    info = httpx.get(f"{server}/api/info").json()
    assert info["documents"] == 12 and info["embedder"] == pdf_library.info()["embedder"]
    assert info["server"]["default_model"] == "extractive"
    docs = httpx.get(f"{server}/api/documents").json()
    assert [d["doc_id"] for d in docs] == [d["doc_id"] for d in pdf_library.documents()]
    assert "references" not in docs[0] and {"title", "year", "source", "kind"} <= set(docs[0])
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "/static/app.js" in page.text and "http" not in page.text.split("<body>")[1]


def test_search_answers_what_the_library_answers(server, pdf_library):
    body = {"query": "sulfonylurea response in KCNJ11 diabetes", "k": 5, "year_from": 2000}
    got = httpx.post(f"{server}/api/search", json=body).json()
    assert got == json.loads(pdf_library.search(body["query"], 5, year_from=2000).to_json())
    assert "KCNJ11" in got["hits"][0]["title"]


def test_summarize_json_and_stream_with_the_extractive_summarizer(server, pdf_library):
    expected = pdf_library.summarize(QUESTION, model="extractive")
    got = httpx.post(f"{server}/api/summarize", json={"query": QUESTION}, timeout=120).json()
    assert got["status"] == "ok" and got["model"] == "extractive"
    strip = lambda d: {k: v for k, v in d.items() if k != "timings"}  # noqa: E731
    assert strip(got) == strip(json.loads(expected.to_json()))
    assert all(c["verdict"] in ("supported", "partial", "unsupported") for f in got["findings"] for c in f["citations"])

    with httpx.stream("POST", f"{server}/api/summarize", json={"query": QUESTION, "stream": True}, timeout=120) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        seen = events(r)
    names = [e for e, _ in seen]
    assert names == ["queued", "started", "summary", "exports"]
    summary, exports = seen[2][1], seen[3][1]
    assert strip(summary) == strip(got)
    assert exports["markdown"] == expected.to_markdown()
    assert exports["bibtex"] == expected.to_bibtex() and exports["ris"] == expected.to_ris()
    md = httpx.post(f"{server}/api/summarize?format=markdown", json={"query": QUESTION}, timeout=120)
    assert md.text == expected.to_markdown()


def test_off_topic_question_says_why_it_cannot_answer(server):
    got = httpx.post(f"{server}/api/summarize", json={"query": OFF_TOPIC}, timeout=120).json()
    assert got["status"] == "insufficient_evidence" and "threshold" in got["reason"]


@pytest.mark.slow
def test_smollm2_streams_its_text_as_it_writes(server):
    body = {"query": QUESTION, "model": "smollm2", "stream": True, "max_new_tokens": 24, "context_tokens": 512}
    with httpx.stream("POST", f"{server}/api/summarize", json=body, timeout=300) as r:
        seen = events(r)
    tokens = [d for e, d in seen if e == "token"]
    summary = next(d for e, d in seen if e == "summary")
    assert len(tokens) > 3 and summary["model"] and summary["model"] != "extractive"
    assert "".join(tokens).strip()[:20] in summary["raw"]


def test_files_only_by_document_id(server, pdf_library):
    doc = next(d for d in pdf_library.documents() if d["kind"] == "pdf")
    got = httpx.get(f"{server}/api/documents/{doc['doc_id']}/file")
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.content == open(doc["source"], "rb").read()
    for attempt in ["/api/documents/..%2F..%2F..%2Fetc%2Fpasswd/file", "/api/documents/%2Fetc%2Fpasswd/file",
                    f"/api/documents/{doc['doc_id']}%2F..%2F..%2Fpyproject.toml/file", "/api/documents/nope/file",
                    "/static/..%2F..%2Fpyproject.toml", "/static/../server.py", f"/api/documents/{'a' * 5000}/file"]:
        assert httpx.get(server + attempt).status_code == 404, attempt


def test_bodies_and_queries_are_size_limited(server):
    assert httpx.post(f"{server}/api/search", json={"query": "x" * 5000}).status_code == 422
    big = {"query": "heparin", "source": "*" + " " * 20000}
    assert httpx.post(f"{server}/api/search", json=big).status_code == 413

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"query": "heparin", "pad": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}'
    got = httpx.post(f"{server}/api/summarize", content=chunks(), headers={"Content-Type": "application/json"})
    assert got.status_code == 413
    assert httpx.post(f"{server}/api/search", json={"query": "heparin", "mode": "psychic"}).status_code == 422


def test_twenty_concurrent_summaries_against_a_queue_of_four(pdf_library):
    """The load test: q + 1 or more answered, every other one refused with 503, none lost or hung."""
    q, n = 4, 20
    with running_server(pdf_library, model="extractive", queue_size=q) as url:
        start = threading.Barrier(n)

        def ask(i):
            start.wait()
            request = urllib.request.Request(f"{url}/api/summarize", data=json.dumps({"query": QUESTION}).encode(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=180) as r:
                    return r.status, json.load(r)["status"], None
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)["detail"], exc.headers.get("Retry-After")

        with ThreadPoolExecutor(n) as pool:  # the timeouts are the hang check
            results = list(pool.map(ask, range(n), timeout=240))
        answered = [r for r in results if r[0] == 200]
        refused = [r for r in results if r[0] == 503]
        assert len(answered) + len(refused) == n, results
        assert len(answered) >= q + 1 and all(r[1] == "ok" for r in answered)
        assert all(r[2] and int(r[2]) >= 1 and "busy" in r[1] for r in refused)
        info = httpx.get(f"{url}/api/info").json()
        assert info["server"]["waiting"] == {"extractive": 0}
        after = httpx.post(f"{url}/api/summarize", json={"query": QUESTION}, timeout=120)
        assert after.status_code == 200 and after.json()["status"] == "ok"


def test_generation_queue_runs_in_order_and_frees_places():
    async def scenario():
        queue = GenerationQueue(2)
        first, second, third = queue.enter(), queue.enter(), queue.enter()
        assert first.done() and not second.done() and queue.waiting == 2
        with pytest.raises(QueueFull) as full:
            queue.enter()
        assert full.value.retry_after >= 1
        queue.leave(second)  # a waiting client that disconnects frees its place
        fourth = queue.enter()
        queue.leave(first, seconds=0.5)
        assert third.done() and not fourth.done()  # arrival order
        queue.leave(third)
        assert fourth.done()
        queue.leave(fourth)
        assert queue.enter().done()  # idle again: the next one runs at once

    asyncio.run(scenario())


def test_new_documents_are_seen_without_a_restart(small_pdfs, tmp_path):
    first, *rest = SMALL_PDFS
    folder = tmp_path / "papers"
    folder.mkdir()
    shutil.copy(small_pdfs / first, folder / first)
    lib = Library(tmp_path / "idx")
    lib.index(folder, progress=False)
    with running_server(Library(tmp_path / "idx"), model="extractive") as url:
        assert len(httpx.get(f"{url}/api/documents").json()) == 1
        shutil.copy(small_pdfs / rest[0], folder / rest[0])
        # A second writer, as `medrag index` from another terminal would be.
        assert Library(tmp_path / "idx").index(folder, progress=False).indexed == 1
        docs = httpx.get(f"{url}/api/documents").json()
        assert len(docs) == 2
        hits = httpx.post(f"{url}/api/search", json={"query": "heart failure disease management programmes",
                                                     "k": 3}).json()["hits"]
        assert "tully2010" in hits[0]["source"]


def test_cli_asks_the_server(server, pdf_library, monkeypatch):
    runner = CliRunner()
    got = runner.invoke(cli, ["search", "-q", "heparin trauma", "-k", "3", "--json", "--server", server])
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout) == json.loads(pdf_library.search("heparin trauma", 3).to_json())
    text = runner.invoke(cli, ["search", "-q", "heparin trauma", "-k", "3", "--server", server])
    assert text.exit_code == 0 and " 1. [" in text.stdout
    monkeypatch.setenv("MEDRAG_SERVER", server)
    got = runner.invoke(cli, ["summarize", "-q", QUESTION, "--model", "extractive"])
    assert got.exit_code == 0, got.output
    assert got.stdout.strip() == pdf_library.summarize(QUESTION, model="extractive").to_markdown().strip()
    sampled = runner.invoke(cli, ["summarize", "-q", QUESTION, "--model", "extractive", "--temperature", "0.7",
                                  "--seed", "3"])
    assert sampled.exit_code == 0 and sampled.stdout == got.stdout  # passed on; extractive does not sample
    bad = runner.invoke(cli, ["summarize", "-q", QUESTION, "--model", "extractive", "--temperature", "9"])
    assert bad.exit_code == 1 and "422" in bad.output
    down = runner.invoke(cli, ["search", "-q", "heparin", "--server", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "cannot reach the medrag server" in down.output
