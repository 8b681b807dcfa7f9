"""Index format v1 -> v2: refused with a one-line way out, upgraded in place from the stored texts,
and left exactly as it was when the upgrade is interrupted."""
import json
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from rag import IndexOutdated, Library
from rag.cli import app
from rag.context import embedding_text
from rag.store import Index, stored_vectors

from .formats import jsonl, records


def make_v1_index(path, pubmedqa, embedder):
    """An index laid out as format v1 wrote it: no context column, FTS over the text alone, and
    vectors of the passage text alone."""
    abstracts = path.parent / "abstracts.jsonl"
    abstracts.write_text(jsonl(records(pubmedqa, 6), broken=False))
    lib = Library(path)
    lib.index(abstracts, progress=False)
    lib.store.close()
    db = sqlite3.connect(path / "medrag.sqlite")
    db.execute("DROP TABLE chunks_fts")
    db.execute("ALTER TABLE chunks DROP COLUMN context")
    db.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id', "
               "tokenize='porter unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild')")
    rows = db.execute("SELECT id, text FROM chunks").fetchall()
    for (i, _), v in zip(rows, embedder.embed([t for _, t in rows])):
        db.execute("UPDATE chunks SET vector=? WHERE id=?", (v.astype(np.float32).tobytes(), i))
    db.commit()
    db.close()
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "version": 1}))
    return len(rows)


def test_old_index_is_refused_with_the_upgrade_command(tmp_path, pubmedqa, embedder):
    idx = tmp_path / "idx"
    make_v1_index(idx, pubmedqa, embedder)
    with pytest.raises(IndexOutdated, match=f"medrag upgrade --index {idx}"):
        Library(idx).search("outcome")
    out = CliRunner().invoke(app, ["search", "-q", "outcome", "--index", str(idx)])
    assert out.exit_code == 1
    assert out.stderr.count("\n") == 1 and "format v1" in out.stderr and "medrag upgrade" in out.stderr


def test_upgrade_in_place_reembeds_with_context(tmp_path, pubmedqa, embedder):
    idx = tmp_path / "idx"
    passages = make_v1_index(idx, pubmedqa, embedder)
    out = CliRunner().invoke(app, ["upgrade", "--index", str(idx)])
    assert out.exit_code == 0, out.output
    assert f"{passages} passages re-embedded" in out.stdout
    store = Index(idx)
    assert store.format_version == 2 and store.count_chunks() == passages
    rows = store.db.execute("SELECT id, context, text FROM chunks ORDER BY id").fetchall()
    assert all(context for _, context, _ in rows)  # abstracts have a title or PMID
    ids, matrix = store.all_vectors()
    expected = embedder.embed([embedding_text(c, t) for _, c, t in rows])
    assert np.allclose(matrix, stored_vectors(expected), atol=1e-5)  # kept as float16
    # The context line is searchable: the title's words find its passages.
    title = store.db.execute("SELECT title FROM documents WHERE title != '' LIMIT 1").fetchone()[0]
    hits = Library(idx).search(title, k=3, mode="lexical")
    assert hits and hits[0].title == title
    again = CliRunner().invoke(app, ["upgrade", "--index", str(idx)])
    assert again.exit_code == 0 and "already current" in again.stdout


def test_interrupted_upgrade_leaves_the_old_index_intact(tmp_path, pubmedqa, embedder):
    idx = tmp_path / "idx"
    make_v1_index(idx, pubmedqa, embedder)
    before = sqlite3.connect(idx / "medrag.sqlite").execute("SELECT id, text, vector FROM chunks ORDER BY id").fetchall()
    store = Index(idx, upgrading=True)

    def failing_embed(texts):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.upgrade(failing_embed, batch=2)
    store.close()
    db = sqlite3.connect(idx / "medrag.sqlite")
    assert db.execute("SELECT id, text, vector FROM chunks ORDER BY id").fetchall() == before
    assert "context" not in {r[1] for r in db.execute("PRAGMA table_info(chunks)")}
    assert db.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'patients'").fetchone()[0] > 0
    assert json.loads((idx / "manifest.json").read_text())["version"] == 1
    assert Library(idx).upgrade(progress=False) == len(before)
