"""The full-text engine beside SQLite (rag/lexical.py): same answers as FTS5, kept current by
writers, rebuilt when stale, never used stale or under filters."""
import json

import pytest

from rag import Library, lexical

from .formats import jsonl, records

QUESTIONS = 30


@pytest.fixture
def engine_from_100(monkeypatch):
    monkeypatch.setattr(lexical, "ENGINE_FROM", 100)


def _fts5(lib: Library, query: str, **kw):
    lib.store._lexical = None  # None: no engine, FTS5 answers
    try:
        return lib.search(query, k=10, mode="lexical", **kw)
    finally:
        lib.store._lexical = False


def _write(folder, pubmedqa, name, n, offset=0):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(jsonl(records(pubmedqa, n, offset), broken=False))


def test_engine_agrees_with_fts5_and_follows_adds_and_removals(tmp_path, pubmedqa, engine_from_100):
    papers = tmp_path / "papers"
    _write(papers, pubmedqa, "a.jsonl", 40)
    lib = Library(tmp_path / "idx")
    lib.index(papers, progress=False)
    assert lib.info()["chunks"] < 100 and not (tmp_path / "idx" / "lexical").exists()  # small: FTS5 only

    _write(papers, pubmedqa, "b.jsonl", 40, offset=40)
    lib.index(papers, progress=False)
    stamp = json.loads((tmp_path / "idx" / "lexical" / "stamp.json").read_text())
    assert stamp["generation"] == lib.store.generation

    lib = Library(tmp_path / "idx")  # as a new `medrag search` finds it
    assert lib.store.lexical is not None
    agree, found = [], 0
    for pmid, r in list(pubmedqa.items())[:QUESTIONS]:
        engine = lib.search(r["QUESTION"], k=10, mode="lexical")
        fts5 = _fts5(lib, r["QUESTION"])
        assert engine and fts5
        agree.append(len({h.chunk_id for h in engine} & {h.chunk_id for h in fts5}) / len(fts5))
        found += engine[0].pmid == pmid
    assert sum(agree) / len(agree) >= 0.8
    assert found >= 0.8 * QUESTIONS  # a question's own abstract comes first

    # A removed file's passages leave the engine at the next save; added ones arrive.
    (papers / "a.jsonl").unlink()
    _write(papers, pubmedqa, "c.jsonl", 30, offset=80)
    lib.index(papers, prune=True, progress=False)
    lib = Library(tmp_path / "idx")
    assert lib.store.lexical is not None
    for pmid, r in list(pubmedqa.items())[:5]:
        assert pmid not in {h.pmid for h in lib.search(r["QUESTION"], k=10, mode="lexical")}
    for pmid, r in list(pubmedqa.items())[80:85]:
        assert lib.search(r["QUESTION"], k=1, mode="lexical")[0].pmid == pmid


def test_stale_engine_is_not_used_and_the_next_save_rebuilds_it(tmp_path, pubmedqa, engine_from_100):
    papers = tmp_path / "papers"
    _write(papers, pubmedqa, "a.jsonl", 80)
    lib = Library(tmp_path / "idx")
    lib.index(papers, progress=False)
    stamp_path = tmp_path / "idx" / "lexical" / "stamp.json"
    stamp = json.loads(stamp_path.read_text())
    # As after a run that died between its SQLite commit and its save: the stamp is behind.
    stamp_path.write_text(json.dumps({**stamp, "generation": stamp["generation"] - 1}))
    lib = Library(tmp_path / "idx")
    assert lib.store.lexical is None  # FTS5 answers meanwhile
    question, pmid = list(pubmedqa.values())[3]["QUESTION"], list(pubmedqa)[3]
    assert lib.search(question, k=1, mode="lexical")[0].pmid == pmid
    _write(papers, pubmedqa, "b.jsonl", 5, offset=80)
    lib.index(papers, progress=False)  # its save rebuilds the engine from SQLite
    assert json.loads(stamp_path.read_text())["generation"] == lib.store.generation
    lib = Library(tmp_path / "idx")
    assert lib.store.lexical is not None
    assert lib.search(question, k=1, mode="lexical")[0].pmid == pmid
    assert lib.search(list(pubmedqa.values())[82]["QUESTION"], k=1, mode="lexical")[0].pmid == list(pubmedqa)[82]


def test_filtered_search_uses_fts5_and_honours_the_filter(tmp_path, pubmedqa, engine_from_100):
    papers = tmp_path / "papers"
    _write(papers, pubmedqa, "a.jsonl", 40)
    _write(papers, pubmedqa, "b.jsonl", 40, offset=40)
    lib = Library(tmp_path / "idx")
    lib.index(papers, progress=False)
    lib = Library(tmp_path / "idx")
    assert lib.store.lexical is not None
    question = list(pubmedqa.values())[50]["QUESTION"]
    hits = lib.search(question, k=10, mode="lexical", source="*a.jsonl")
    assert hits and all(h.source.endswith("a.jsonl") for h in hits)
