"""The index on disk: incremental runs, duplicates, pruning, locking, interruption, refusals."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rag import IndexLocked, IndexMismatch, IndexNotFound, Library
from rag.store import Index

from .conftest import ROOT
from .formats import jsonl, records


def test_incremental_runs_do_only_the_work_changed_files_need(tmp_path, small_pdfs, pubmedqa):
    papers = tmp_path / "papers"
    shutil.copytree(small_pdfs, papers)
    (papers / "abstracts.jsonl").write_text(jsonl(records(pubmedqa, 5), broken=False))
    lib = Library(tmp_path / "idx")
    first = lib.index(papers, progress=False)
    assert (first.seen, first.indexed, first.unchanged, first.skipped) == (4, 4, 0, 0)
    assert lib.info()["documents"] == 3 + 5
    chunks = lib.info()["chunks"]
    assert first.chunks_added == chunks

    again = lib.index(papers, progress=False)
    assert (again.indexed, again.unchanged, again.chunks_added, again.chunks_removed) == (0, 4, 0, 0)

    # Change one file, copy another under a second name, delete a third.
    (papers / "abstracts.jsonl").write_text(jsonl(records(pubmedqa, 7), broken=False))
    shutil.copy(papers / "datta2010-dvt-prophylaxis-trauma.pdf", papers / "copy-of-datta.pdf")
    (papers / "tully2010-heart-failure-programmes.pdf").unlink()
    third = lib.index(papers, prune=True, progress=False)
    assert third.indexed == 1 and third.removed == 1
    assert {f.status for f in third.files if f.path.endswith("copy-of-datta.pdf")} == {"duplicate"}
    docs = lib.documents()
    assert len(docs) == 2 + 7
    assert not any("tully" in d["source"] for d in docs)
    assert sum("datta" in d["source"] for d in docs) == 1  # stored once under two paths
    info = lib.info()
    assert info["chunks"] == len(lib.store.vectors)  # FAISS and SQLite agree


def test_a_bad_file_is_skipped_and_the_good_ones_indexed(tmp_path, small_pdfs, pubmedqa):
    papers = tmp_path / "papers"
    papers.mkdir()
    shutil.copy(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf", papers)
    (papers / "zero.pdf").write_bytes(b"")
    (papers / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntrailer")
    (papers / "latin1.txt").write_bytes("r\u00e9sum\u00e9".encode("latin-1"))
    (papers / "rows.jsonl").write_text(jsonl(records(pubmedqa, 3)))  # three good rows, one broken
    report = Library(tmp_path / "idx").index(papers, progress=False)
    reasons = {os.path.basename(f.path): f.reason for f in report.skipped_files}
    assert report.indexed == 2 and not report.ok
    assert reasons["zero.pdf"].startswith("empty file")
    assert "not a readable PDF" in reasons["broken.pdf"] or "no text layer" in reasons["broken.pdf"]
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "rows.jsonl#4" in reasons and "not JSON" in reasons["rows.jsonl#4"]


def test_second_writer_is_refused(tmp_path, small_pdfs):
    lib = Library(tmp_path / "idx")
    lib.index(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf", progress=False)
    holder = Index(tmp_path / "idx")
    holder.lock()
    try:
        with pytest.raises(IndexLocked, match="another medrag process"):
            Library(tmp_path / "idx").index(small_pdfs, progress=False)
    finally:
        holder.close()


def test_other_embedder_newer_format_and_missing_index_are_refused(tmp_path, small_pdfs):
    lib = Library(tmp_path / "idx")
    lib.index(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf", progress=False)
    with pytest.raises(IndexMismatch, match="built with embedder"):
        Library(tmp_path / "idx", embedder="BAAI/bge-small-en-v1.5")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(IndexMismatch, match="newer than this medrag"):
        Library(tmp_path / "idx")
    with pytest.raises(IndexNotFound):
        Library(tmp_path / "nothing-here").search("heparin")


def test_stale_faiss_file_is_rebuilt_from_sqlite(tmp_path, small_pdfs):
    lib = Library(tmp_path / "idx")
    lib.index(small_pdfs, progress=False)
    (tmp_path / "idx" / "vectors.faiss").write_bytes(b"garbage")
    reopened = Library(tmp_path / "idx")
    assert len(reopened.store.vectors) == reopened.info()["chunks"]
    assert reopened.search("heparin induced thrombocytopenia", k=3)[0].title.startswith("Complications")


def test_killed_run_keeps_earlier_contents_and_the_next_run_finishes(tmp_path, small_pdfs, pubmedqa):
    idx = tmp_path / "idx"
    lib = Library(idx)
    lib.index(small_pdfs, progress=False)
    before = {d["doc_id"] for d in lib.documents()}
    more = tmp_path / "more"
    more.mkdir()
    for i in range(40):
        (more / f"batch{i:02}.jsonl").write_text(jsonl(records(pubmedqa, 5, offset=5 * i), broken=False))
    db = sqlite3.connect(idx / "medrag.sqlite")
    gen0 = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
    proc = subprocess.Popen([sys.executable, "-c", "from rag.cli import app; app()", "index", str(more),
                             "--index", str(idx)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        gen = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
        if gen >= gen0 + 3 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    db.close()
    assert gen >= gen0 + 3, "the run never got going"

    after = Library(idx)
    docs = {d["doc_id"] for d in after.documents()}
    assert before <= docs and len(docs) < len(before) + 200  # earlier contents kept, run cut short
    assert len(after.store.vectors) == after.info()["chunks"]
    assert after.search("deep venous thrombosis prophylaxis", k=1)[0].title.startswith("Complications")
    finish = after.index(more, progress=False)
    assert finish.unchanged >= 2 and finish.indexed + finish.unchanged == 40
    assert after.info()["documents"] == len(before) + 200


def test_auto_index_type_switches_to_hnsw_past_its_threshold(tmp_path, small_pdfs, monkeypatch):
    import rag.vectors

    monkeypatch.setattr(rag.vectors, "AUTO_HNSW_FROM", 60)
    papers = tmp_path / "papers"
    papers.mkdir()
    shutil.copy(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf", papers)
    lib = Library(tmp_path / "idx")
    lib.index(papers, progress=False)
    stamp = lambda: json.loads((tmp_path / "idx" / "vectors.json").read_text())  # noqa: E731
    assert stamp()["type"] == "flat" and lib.info()["chunks"] < 60
    shutil.copy(small_pdfs / "agyemanduah2014-quality-improvement.pdf", papers)
    shutil.copy(small_pdfs / "tully2010-heart-failure-programmes.pdf", papers)
    lib.index(papers, progress=False)
    assert stamp()["type"] == "hnsw" and stamp()["count"] == lib.info()["chunks"] >= 60
    reopened = Library(tmp_path / "idx")
    assert reopened.search("heparin induced thrombocytopenia", k=1, mode="dense")[0].title.startswith("Complications")
    (papers / "tully2010-heart-failure-programmes.pdf").unlink()
    reopened.index(papers, prune=True, progress=False)  # removal from an HNSW graph rebuilds it
    assert len(reopened.store.vectors) == reopened.info()["chunks"]
    # Past AUTO_IVFPQ_FROM the vectors are compressed: retrained from SQLite, then added and removed in place.
    monkeypatch.setattr(rag.vectors, "AUTO_IVFPQ_FROM", 1)
    shutil.copy(small_pdfs / "tully2010-heart-failure-programmes.pdf", papers)
    reopened.index(papers, progress=False)
    assert stamp()["type"] == "ivfpq" and stamp()["count"] == reopened.info()["chunks"]
    assert Library(tmp_path / "idx").search("heparin induced thrombocytopenia", k=1,
                                            mode="dense")[0].title.startswith("Complications")
    (papers / "tully2010-heart-failure-programmes.pdf").unlink()
    reopened.index(papers, prune=True, progress=False)
    assert stamp()["type"] == "ivfpq" and len(reopened.store.vectors) == reopened.info()["chunks"]
    with pytest.raises(ValueError, match="index type"):
        Library(tmp_path / "other", index_type="ivf")


def test_all_shared_pdfs_indexed_with_titles_pages_and_a_free_second_run(pdf_library, pdf_first_and_second_run):
    again = pdf_first_and_second_run
    assert (again.seen, again.unchanged, again.indexed, again.chunks_added) == (12, 12, 0, 0)
    docs = pdf_library.documents()
    assert len(docs) == 12
    for d in docs:
        stem = d["source"].rsplit("/", 1)[-1][:-4]
        assert len(d["title"].split()) >= 4 and d["title"] != stem, d["title"]
        assert d["pages"] >= 4 and d["year"] and d["kind"] == "pdf"
    assert sum(bool(d["doi"]) for d in docs) >= 10
    # the year of publication, not of submission: "Received: 25 September 2023 / ... / Published online:
    # 17 February 2024" (the shared data's README gives each paper's year)
    years = {d["source"].rsplit("/", 1)[-1]: d["year"] for d in docs}
    assert years["10.1007_s00125-024-06103-w.pdf"] == 2024 and years["datta2010-dvt-prophylaxis-trauma.pdf"] == 2010
    # the journal, where the PDF's Subject is a citation (the MDPI paper puts its abstract there instead)
    journals = {d["source"].rsplit("/", 1)[-1]: d["journal"] for d in docs}
    assert journals["10.1007_s00125-024-06103-w.pdf"] == "Diabetologia" and journals["10.1126_science.abi9591.pdf"] \
        == "Science" and journals["datta2010-dvt-prophylaxis-trauma.pdf"] == "Journal of Trauma Management & Outcomes"
    assert journals["10.3390_cancers14194849.pdf"] is None
    from rag.ingest.pdf import _journal

    for abstract in ("In this study, we assessed outcomes between 2010 and 2015.", "Results, 12 patients improved.",
                     "Heart failure, 2019 remains common."):
        assert _journal(abstract) is None
    spans = pdf_library.store.db.execute("SELECT min(page_start), max(page_end) FROM chunks").fetchone()
    assert spans[0] == 1 and spans[1] >= 10


def test_vectors_are_kept_as_float16_and_earlier_float32_rows_still_read(small_pdfs, tmp_path):
    import numpy as np

    from rag import Library
    from rag.store import stored_vectors

    lib = Library(tmp_path / "idx")
    lib.index(small_pdfs, progress=False)
    store = lib.store
    sizes = {r[0] for r in store.db.execute("SELECT length(vector) FROM chunks")}
    assert sizes == {2 * store.dimension}  # float16: half of float32
    ids, matrix = store.all_vectors()
    assert matrix.dtype == np.float32 and np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=2e-3)
    # A row written by an earlier medrag (float32) beside float16 ones: both read, in id order.
    first = int(ids[0])
    with store.db:
        store.db.execute("UPDATE chunks SET vector=? WHERE id=?", (matrix[0].astype(np.float32).tobytes(), first))
    again_ids, again = store.all_vectors()
    assert again_ids.tolist() == ids.tolist() and np.array_equal(again, matrix)
    batched = np.concatenate([v for _, v in store.vector_batches(size=7)])
    assert np.array_equal(batched, matrix)
    assert np.array_equal(stored_vectors(matrix), matrix)  # rounding twice changes nothing


def test_a_damaged_index_is_named_and_never_written_over(tmp_path, small_pdfs):
    from typer.testing import CliRunner

    from rag import IndexDamaged, IndexUnavailable
    from rag.cli import app

    lib = Library(tmp_path / "idx")
    lib.index(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf", progress=False)
    lib.store.close()  # the write-ahead log goes into medrag.sqlite

    def damaged(name, change):
        copy = tmp_path / name
        shutil.copytree(tmp_path / "idx", copy)
        change(copy)
        return copy

    cut = damaged("cut", lambda p: os.truncate(p / "medrag.sqlite", (p / "medrag.sqlite").stat().st_size // 2))
    with pytest.raises(IndexDamaged, match="medrag.sqlite: cut short"):
        Library(cut)
    noise = damaged("noise", lambda p: (p / "medrag.sqlite").write_bytes(os.urandom(8192)))
    with pytest.raises(IndexDamaged, match="medrag.sqlite: not a readable SQLite database"):
        Library(noise)
    gone = damaged("gone", lambda p: (p / "medrag.sqlite").unlink())
    with pytest.raises(IndexDamaged, match="medrag.sqlite is missing"):
        Library(gone)
    with pytest.raises(IndexDamaged, match="missing"):
        Library(gone).index(small_pdfs, progress=False)
    assert not (gone / "medrag.sqlite").exists()  # no empty database put in its place
    listed = damaged("listed", lambda p: (p / "manifest.json").write_text("[1, 2]"))
    with pytest.raises(IndexMismatch, match="not a JSON object"):
        Library(listed)

    def wider(p):
        manifest = json.loads((p / "manifest.json").read_text())
        (p / "manifest.json").write_text(json.dumps({**manifest, "dimension": 768}))

    with pytest.raises(IndexDamaged, match="dimension 768 does not match the stored vectors"):
        Library(damaged("wider", wider))
    with pytest.raises(IndexNotFound, match="is a file, not an index folder"):
        Library(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"name": "another tool"}')
    with pytest.raises(IndexMismatch, match="is not a medrag index"):
        Library(foreign)

    def read_only(*args, **kwargs):
        error = sqlite3.OperationalError("attempt to write a readonly database")
        error.sqlite_errorname = "SQLITE_READONLY"
        raise error

    with pytest.MonkeyPatch.context() as patch:  # a healthy index in a folder that cannot be written
        patch.setattr(sqlite3, "connect", read_only)
        with pytest.raises(IndexUnavailable, match="cannot be opened"):
            Library(tmp_path / "idx")
    out = CliRunner().invoke(app, ["search", "-q", "heparin", "--index", str(cut)])
    assert out.exit_code == 1 and out.output.startswith("medrag: error: ") and len(out.output.splitlines()) == 1


def test_bad_sizes_and_limits_are_refused_before_a_new_index_is_written(tmp_path, small_pdfs):
    for sizes in ({"chunk_tokens": -5}, {"overlap": -1}, {"chunk_tokens": 10, "overlap": 50}):
        with pytest.raises(ValueError, match="chunk size|overlap"):
            Library(tmp_path / "new", **sizes).index(small_pdfs, progress=False)
    for limits in ({"max_pages": -1}, {"max_file_mb": -1}, {"max_file_mb": float("nan")}):
        with pytest.raises(ValueError, match="max_pages|max_file_mb"):
            Library(tmp_path / "new").index(small_pdfs, progress=False, **limits)
    assert not (tmp_path / "new").exists()  # nothing written, so the next run with good values works


def test_unreadable_unlisted_and_odd_paths_are_skipped_with_a_reason(tmp_path, small_pdfs, monkeypatch):
    import rag.indexer
    from rag.ingest import discover

    papers = tmp_path / "papers"
    papers.mkdir()
    for name in ("datta2010-dvt-prophylaxis-trauma.pdf", "tully2010-heart-failure-programmes.pdf"):
        shutil.copy(small_pdfs / name, papers)
    real_hash = rag.indexer.file_hash

    def locked(path):
        if path.name.startswith("tully"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_hash(path)

    monkeypatch.setattr(rag.indexer, "file_hash", locked)  # as a file chmod 000 reads to a user who is not root
    report = Library(tmp_path / "idx").index(papers, progress=False)
    reasons = {os.path.basename(f.path): f.reason for f in report.skipped_files}
    assert report.indexed == 1 and not report.ok
    assert reasons["tully2010-heart-failure-programmes.pdf"] == "cannot be read (Permission denied)"
    (tmp_path / "empty").mkdir()
    os.mkfifo(tmp_path / "pipe.txt")
    _, problems = discover([tmp_path / "empty", tmp_path / "pipe.txt", tmp_path / ("b" * 300 + ".txt")])
    why = [p.reason for p in problems]
    assert why[0].startswith("no file in this folder that medrag can read")
    assert why[1] == "not a regular file or folder"
    assert why[2].startswith("cannot be read (") or why[2] == "no such file or folder"  # as the Python reports it
    # a folder emptied on purpose, with --prune, removes its documents and is no skip
    for f in papers.iterdir():
        f.unlink()
    pruned = Library(tmp_path / "idx").index(papers, prune=True, progress=False)
    assert pruned.ok and pruned.removed == 1


def test_an_index_whose_writer_died_mid_checkpoint_opens_and_heals(tmp_path, small_pdfs):
    """A checkpoint writes the database's first page (its new page count) before the pages it adds; a
    writer killed between the two leaves a main file shorter than its header says, beside the write-ahead
    log that completes it. That is no damage: SQLite recovers it, so medrag must open it."""
    lib = Library(tmp_path / "idx")
    lib.index(small_pdfs / "datta2010-dvt-prophylaxis-trauma.pdf", progress=False)
    before = lib.store.count_chunks()
    lib.store.close()
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    shutil.copytree(tmp_path / "idx", killed)
    writer = ("import os, sqlite3, sys\n"
              "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "db.execute('PRAGMA journal_mode=WAL'); db.execute('PRAGMA wal_autocheckpoint=0')\n"
              "db.execute('INSERT INTO chunks(doc_id, ordinal, text, vector, context) SELECT doc_id, ordinal + 10000, "
              "text, vector, context FROM chunks')\n"
              "os._exit(0)\n")  # dies without a checkpoint: the new pages are in the log only
    subprocess.run([sys.executable, "-c", writer, str(killed / "medrag.sqlite")], check=True)
    shutil.copytree(killed, whole)
    db = sqlite3.connect(whole / "medrag.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    page = int.from_bytes((whole / "medrag.sqlite").read_bytes()[16:18], "big")
    with open(killed / "medrag.sqlite", "r+b") as f:  # the checkpoint got as far as the first page
        f.write((whole / "medrag.sqlite").read_bytes()[:page])
    assert (killed / "medrag.sqlite").stat().st_size < int.from_bytes(
        (killed / "medrag.sqlite").read_bytes()[28:32], "big") * page
    assert Index(killed).count_chunks() == 2 * before
