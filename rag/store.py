"""An index folder: SQLite rows (documents, chunks, vectors, FTS5), a FAISS file beside them and,
past lexical.ENGINE_FROM passages, a tantivy full-text index (rag/lexical.py).

SQLite is the source of truth. Each file's documents, chunks and vectors go in with one
transaction, so a run killed part-way leaves every earlier file whole. The FAISS file is a
derived copy stamped with the generation it was written at; when the stamp and the database
disagree (a run died before writing it), the vectors are rebuilt from SQLite on open; the full-text
engine is stamped the same way, and one that is stale is left unused until a writer rebuilds it.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import IndexDamaged, IndexLocked, IndexMismatch, IndexNotFound, IndexOutdated, IndexUnavailable
from . import lexical
from .context import embedding_text, passage_context
from .records import Chunk, Document
from .vectors import IVF_TRAIN, VectorIndex, resolve_type

FORMAT = "medrag-index"
# Vectors are kept in SQLite as float16: half the bytes of float32, and on the PubMedQA and full-text
# sets the same top 10 (bench/bench_vector_storage.py). FAISS is built from the same rounded values.
VECTOR_DTYPE = np.float16
# v2: each passage is embedded and lexically indexed with its paper's title and section heading
# (chunks.context). A v1 index is upgraded in place by Index.upgrade, from the texts it holds.
FORMAT_VERSION = 2
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    file_hash TEXT PRIMARY KEY, size INTEGER, indexed_at REAL);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT PRIMARY KEY, file_hash TEXT NOT NULL, size INTEGER, mtime_ns INTEGER);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, file_hash TEXT NOT NULL, source TEXT, kind TEXT, title TEXT,
    authors TEXT, year INTEGER, doi TEXT, pmid TEXT, journal TEXT, record TEXT, pages INTEGER,
    refs TEXT);
CREATE INDEX IF NOT EXISTS documents_file ON documents(file_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, ordinal INTEGER, text TEXT,
    page_start INTEGER, page_end INTEGER, section TEXT, char_start INTEGER, char_end INTEGER,
    vector BLOB NOT NULL, context TEXT);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_cjk USING fts5(text, tokenize='trigram');
"""
# The passage's context line and its text are separate columns, so BM25 can weigh them apart.
FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    context, text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
"""

DOC_COLUMNS = "doc_id, file_hash, source, kind, title, authors, year, doi, pmid, journal, record, pages, refs"


def _check_not_cut_short(database: Path) -> None:
    """IndexDamaged when the SQLite file is shorter than its own header says (a copy cut short, a full
    disk): SQLite itself notices only when it reads a missing page, in the middle of some query. Not
    while a write-ahead log is beside it: another process may be writing, and a checkpoint writes the
    header before the pages it adds."""
    try:
        if database.with_name(database.name + "-wal").stat().st_size > 0:
            return
    except FileNotFoundError:
        pass
    try:
        with open(database, "rb") as f:
            header = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return  # a new index
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return  # sqlite3 says what is wrong with it
    page_size = int.from_bytes(header[16:18], "big")
    pages = int.from_bytes(header[28:32], "big")
    expected = (65536 if page_size == 1 else page_size) * pages
    if size < expected:
        raise IndexDamaged(f"{database}: cut short ({size:,} of {expected:,} bytes); the index is damaged: index "
                           "the papers again into a new folder")


class Index:
    """Open (or with create=True, make) the index folder at `path`."""

    def __init__(self, path: str | os.PathLike, *, create: bool = False, embedder: str | None = None,
                 dimension: int | None = None, index_type: str = "auto", chunk_tokens: int | None = None,
                 overlap: int | None = None, upgrading: bool = False):
        self.path = Path(path)
        manifest_path, database = self.path / "manifest.json", self.path / "medrag.sqlite"
        if not manifest_path.exists():
            if not create:
                raise IndexNotFound(f"no medrag index at {self.path} (build one with: medrag index PAPERS --index {self.path})")
            if not embedder or not dimension:
                raise ValueError("a new index needs an embedder and its dimension")
            self.path.mkdir(parents=True, exist_ok=True)
            self.manifest = {
                "format": FORMAT, "version": FORMAT_VERSION, "embedder": embedder, "dimension": dimension,
                "index_type": index_type, "chunk_tokens": chunk_tokens, "overlap": overlap,
                "documents": 0, "chunks": 0, "medrag_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "updated": None,
            }
        else:
            try:
                self.manifest = json.loads(manifest_path.read_text())
            except (OSError, ValueError) as exc:
                raise IndexMismatch(f"{manifest_path}: unreadable manifest ({exc})") from None
            if not isinstance(self.manifest, dict):
                raise IndexMismatch(f"{manifest_path}: unreadable manifest (not a JSON object)")
            if self.manifest.get("format") != FORMAT:
                raise IndexMismatch(f"{self.path} is not a medrag index (manifest format {self.manifest.get('format')!r})")
            if int(self.manifest.get("version", 0)) > FORMAT_VERSION:
                raise IndexMismatch(
                    f"{self.path} has index format v{self.manifest['version']}, newer than this medrag "
                    f"({__version__}) reads (v{FORMAT_VERSION}); upgrade medrag")
            if self.format_version < FORMAT_VERSION and not upgrading:
                raise IndexOutdated(
                    f"{self.path} has index format v{self.format_version}, which embeds passages without their title "
                    f"and section; upgrade it in place with: medrag upgrade --index {self.path}")
            if not database.is_file():
                raise IndexDamaged(f"{database} is missing: the index's passages are gone (its "
                                   "manifest is there); index the papers again into a new folder")
            if embedder and embedder != self.manifest["embedder"]:
                raise IndexMismatch(
                    f"{self.path} was built with embedder {self.manifest['embedder']!r}, not {embedder!r}; "
                    "use that embedder or index into a new folder")
        _check_not_cut_short(database)
        try:
            self.db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            if self.format_version == FORMAT_VERSION:
                self.db.executescript(FTS_SCHEMA)
            stored = self.db.execute("SELECT length(vector) FROM chunks LIMIT 1").fetchone()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                raise IndexDamaged(f"{database}: not a readable SQLite database ({exc}); the index is damaged: index "
                                   "the papers again into a new folder") from None
            raise IndexUnavailable(f"{database}: cannot be opened ({exc}); check that the folder can be written "
                                   "and the disk has room") from None
        if stored and stored[0] not in (2 * self.dimension, 4 * self.dimension):
            raise IndexDamaged(f"{manifest_path}: dimension {self.dimension} does not match the stored vectors "
                               f"({stored[0] // 2} dimensions in float16, or {stored[0] // 4} in float32); the "
                               "manifest is damaged")
        if create and not manifest_path.exists():
            self._write_manifest()
        self._vectors: VectorIndex | None = None
        self._lock_file = None
        # The full-text engine (rag/lexical.py): the generation this object opened the index at, and
        # the chunk ids removed since, so that a save can bring the engine up to date incrementally.
        self._opened_generation = self.generation
        self._removed_since_open: list[int] = []
        self._lexical: lexical.LexicalEngine | None | bool = False  # False: not looked at yet

    # ---- properties -------------------------------------------------------------------------
    @property
    def embedder(self) -> str:
        return self.manifest["embedder"]

    @property
    def dimension(self) -> int:
        return int(self.manifest["dimension"])

    @property
    def format_version(self) -> int:
        return int(self.manifest.get("version", 0))

    @property
    def index_type(self) -> str:
        return self.manifest.get("index_type", "flat")

    @property
    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index, rebuilt from SQLite when its file is missing or stale."""
        if self._vectors is None:
            count = self.count_chunks()
            vectors, generation = VectorIndex.load(self.path, self.dimension, self.index_type, count)
            if generation != self.generation or len(vectors) != count:
                # Filled batch by batch, so the rows are never all in memory at once; a compressed
                # index is trained on a sample of them first.
                sample = self.sample_vectors(IVF_TRAIN) if vectors.compressed else None
                vectors.rebuild_from(self.vector_batches(), sample)
            self._vectors = vectors
        return self._vectors

    @property
    def lexical(self) -> "lexical.LexicalEngine | None":
        """The full-text engine when the index is large enough to have one and it is current;
        None means: search FTS5 (always current)."""
        if self._lexical is False:
            engine = None
            if len(self.vectors) >= lexical.ENGINE_FROM and lexical.available():
                engine = lexical.LexicalEngine.open(self.path)
                if engine is not None and engine.generation != self.generation:
                    engine = None  # stale: the next save brings it up to date
            self._lexical = engine
        return self._lexical

    def _sync_lexical(self) -> None:
        """Bring the full-text engine to the current generation. When its stamp is the generation
        this object opened the index at, only the rows added and removed since are applied; any
        other stamp (a writer died before its save) means all rows anew. An index below
        ENGINE_FROM keeps none."""
        self._lexical = False
        if self.count_chunks() < lexical.ENGINE_FROM or not lexical.available():
            shutil.rmtree(self.path / lexical.FOLDER, ignore_errors=True)
            return
        engine = lexical.LexicalEngine.open(self.path)
        if engine is not None and engine.generation == self.generation:
            return
        if engine is not None and engine.generation == self._opened_generation:
            engine.update(self._lexical_rows(engine.max_id), self._removed_since_open, self.generation)
        else:
            lexical.LexicalEngine.build(self.path, self._lexical_rows(0), self.generation)
        self._opened_generation = self.generation
        self._removed_since_open = []

    def _lexical_rows(self, after: int, batch: int = 20_000):
        last = after
        while True:
            part = self.db.execute("SELECT id, context, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                                   (last, batch)).fetchall()
            if not part:
                return
            yield from part
            last = part[-1][0]

    # ---- locking ----------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the writer's lock; a second writer on the same index stops with IndexLocked."""
        self._lock_file = open(self.path / "write.lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise IndexLocked(f"{self.path} is being written by another medrag process; wait for it to finish") from None

    def unlock(self) -> None:
        if self._lock_file:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # ---- files ------------------------------------------------------------------------------
    def known_path(self, path: str) -> tuple[str, int, int] | None:
        row = self.db.execute("SELECT file_hash, size, mtime_ns FROM paths WHERE path=?", (path,)).fetchone()
        return tuple(row) if row else None

    def has_file(self, file_hash: str) -> bool:
        return self.db.execute("SELECT 1 FROM files WHERE file_hash=?", (file_hash,)).fetchone() is not None

    def set_path(self, path: str, file_hash: str, size: int, mtime_ns: int) -> int:
        """Point a path at a file already stored; returns chunks removed from the file it replaced."""
        with self._transaction():
            old = self.known_path(path)
            self.db.execute("INSERT OR REPLACE INTO paths VALUES (?,?,?,?)", (path, file_hash, size, mtime_ns))
            removed = self._drop_orphan(old[0]) if old and old[0] != file_hash else []
            self._bump()
        self._forget_vectors(removed)
        return len(removed)

    def add_file(self, path: str, file_hash: str, size: int, mtime_ns: int,
                 docs: list[tuple[str, Document]], chunks: list[Chunk], vectors: np.ndarray) -> int:
        """Store one file's documents, chunks and vectors in one transaction; returns chunks replaced."""
        with self._transaction():
            old = self.known_path(path)
            self.db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?)", (file_hash, size, time.time()))
            self.db.execute("INSERT OR REPLACE INTO paths VALUES (?,?,?,?)", (path, file_hash, size, mtime_ns))
            for doc_id, d in docs:
                self.db.execute(
                    f"INSERT OR REPLACE INTO documents ({DOC_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (doc_id, file_hash, d.source, d.kind, d.title, json.dumps(list(d.authors)), d.year,
                     d.doi, d.pmid, d.journal, d.record, d.page_count or len(d.pages), json.dumps(list(d.references))))
            ids = []
            titles = {doc_id: d.title for doc_id, d in docs}
            vectors = stored_vectors(vectors)  # FAISS gets exactly what SQLite keeps
            for c, v in zip(chunks, vectors):
                context = passage_context(titles.get(c.doc_id), c.section)
                cur = self.db.execute(
                    "INSERT INTO chunks (doc_id, ordinal, text, page_start, page_end, section, char_start,"
                    " char_end, vector, context) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (c.doc_id, c.ordinal, c.text, c.page_start, c.page_end, c.section, c.char_start,
                     c.char_end, v.astype(VECTOR_DTYPE).tobytes(), context))
                rowid = cur.lastrowid
                ids.append(rowid)
                self.db.execute("INSERT INTO chunks_fts (rowid, context, text) VALUES (?,?,?)", (rowid, context, c.text))
                if CJK_RE.search(c.text):
                    self.db.execute("INSERT INTO chunks_cjk (rowid, text) VALUES (?,?)", (rowid, c.text))
            removed = self._drop_orphan(old[0]) if old and old[0] != file_hash else []
            self._bump()
        self._forget_vectors(removed)
        if self._vectors is not None:
            self._vectors.add(np.asarray(ids, dtype=np.int64), vectors)
        return len(removed)

    def remove_missing_paths(self) -> tuple[int, int]:
        """Forget paths whose files are gone; returns (documents removed, chunks removed)."""
        gone = [p for (p,) in self.db.execute("SELECT path FROM paths") if not Path(p).exists()]
        docs_before = self.count_documents()
        removed: list[int] = []
        with self._transaction():
            for p in gone:
                (file_hash,) = self.db.execute("SELECT file_hash FROM paths WHERE path=?", (p,)).fetchone()
                self.db.execute("DELETE FROM paths WHERE path=?", (p,))
                removed += self._drop_orphan(file_hash)
            if gone:
                self._bump()
        self._forget_vectors(removed)
        return docs_before - self.count_documents(), len(removed)

    def _drop_orphan(self, file_hash: str) -> list[int]:
        """Delete a stored file no path points at any more; returns the chunk ids deleted."""
        if self.db.execute("SELECT 1 FROM paths WHERE file_hash=?", (file_hash,)).fetchone():
            return []
        rows = self.db.execute(
            "SELECT c.id, c.context, c.text FROM chunks c JOIN documents d ON c.doc_id=d.doc_id WHERE d.file_hash=?",
            (file_hash,)).fetchall()
        for rowid, context, text in rows:
            self.db.execute("INSERT INTO chunks_fts (chunks_fts, rowid, context, text) VALUES ('delete', ?, ?, ?)",
                            (rowid, context, text))
            self.db.execute("DELETE FROM chunks_cjk WHERE rowid=?", (rowid,))
            self.db.execute("DELETE FROM chunks WHERE id=?", (rowid,))
        self.db.execute("DELETE FROM documents WHERE file_hash=?", (file_hash,))
        self.db.execute("DELETE FROM files WHERE file_hash=?", (file_hash,))
        return [r[0] for r in rows]

    def _forget_vectors(self, ids: list[int]) -> None:
        self._removed_since_open += ids
        if not ids or self._vectors is None:
            return
        if self._vectors.supports_removal:
            self._vectors.remove(ids)
        else:
            self._vectors = None  # an HNSW graph is rebuilt from SQLite when next needed

    # ---- format upgrades -------------------------------------------------------------------
    def upgrade(self, embed: Callable[[list[str]], np.ndarray], batch: int = 512,
                on_progress: Callable[[int, int], None] | None = None) -> int:
        """Bring a v1 index to the current format in place: give every passage its context line,
        rebuild the lexical index over it and re-embed from the stored texts (the files are not read
        again). One transaction: if it is interrupted, the index stays as it was. Returns passages
        re-embedded (0 when already current)."""
        if self.format_version >= FORMAT_VERSION:
            return 0
        total = self.count_chunks()
        with self._transaction():
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(chunks)")}
            if "context" not in columns:
                self.db.execute("ALTER TABLE chunks ADD COLUMN context TEXT")
            rows = self.db.execute("SELECT c.id, d.title, c.section FROM chunks c JOIN documents d "
                                   "ON d.doc_id=c.doc_id").fetchall()
            self.db.executemany("UPDATE chunks SET context=? WHERE id=?",
                                [(passage_context(title, section), i) for i, title, section in rows])
            self.db.execute("DROP TABLE IF EXISTS chunks_fts")
            self.db.execute(FTS_SCHEMA)  # one statement: executescript would commit the transaction
            self.db.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild')")
            done, last = 0, -1
            while True:
                part = self.db.execute("SELECT id, context, text FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                                       (last, batch)).fetchall()
                if not part:
                    break
                vectors = embed([embedding_text(context, text) for _, context, text in part])
                self.db.executemany("UPDATE chunks SET vector=? WHERE id=?",
                                    [(v.astype(VECTOR_DTYPE).tobytes(), r[0])
                                     for v, r in zip(stored_vectors(vectors), part)])
                last = part[-1][0]
                done += len(part)
                if on_progress:
                    on_progress(done, total)
            self._bump()
        self.manifest["version"] = FORMAT_VERSION
        self._vectors = None  # rebuilt from the new vectors
        self._opened_generation = -1  # every context line changed: the full-text engine is rebuilt
        self.save()
        return done

    # ---- transactions and saving ------------------------------------------------------------
    def _transaction(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, exc, tb):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    def _bump(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(self.generation + 1),))

    def save(self) -> None:
        """Write the FAISS file and the manifest for the current generation."""
        if self._vectors is not None and self._vectors.index_type != resolve_type(self.index_type, self.count_chunks()):
            self._vectors = None  # "auto" crossed its threshold: rebuilt as the other type from SQLite
        elif self._vectors is not None and self._vectors.undertrained:
            self._vectors = None  # retrained on a sample of the grown corpus
        self.vectors.save(self.path, self.generation)
        self._sync_lexical()
        self.manifest.update(documents=self.count_documents(), chunks=self.count_chunks(),
                             medrag_version=__version__, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        self._write_manifest()

    def _write_manifest(self) -> None:
        tmp = self.path / "manifest.json.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=2))
        os.replace(tmp, self.path / "manifest.json")

    def close(self) -> None:
        self.unlock()
        self.db.close()

    # ---- reading ----------------------------------------------------------------------------
    def count_documents(self) -> int:
        return self.db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def count_chunks(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def all_vectors(self, ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if ids is None:
            rows = self.db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        else:
            rows = []
            for i in range(0, len(ids), 900):
                part = ids[i:i + 900]
                rows += self.db.execute(
                    f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64), self._decode([r[1] for r in rows])

    def _decode(self, blobs: list[bytes]) -> np.ndarray:
        """Stored vectors as float32 rows: float16 blobs (this version) and float32 ones (earlier
        versions) are told apart by their length, so an index may hold both."""
        if not blobs:
            return np.zeros((0, self.dimension), dtype=np.float32)
        sizes = {len(b) for b in blobs}
        if len(sizes) == 1:
            dtype = np.float16 if sizes.pop() == 2 * self.dimension else np.float32
            return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), -1).astype(np.float32)
        return np.stack([np.frombuffer(b, dtype=np.float16 if len(b) == 2 * self.dimension else np.float32)
                         for b in blobs]).astype(np.float32)

    def vector_batches(self, size: int = 50_000):
        """(ids, vectors) of every chunk in id order, `size` at a time."""
        last = -1
        while True:
            rows = self.db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                                   (last, size)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield np.asarray([r[0] for r in rows], dtype=np.int64), self._decode([r[1] for r in rows])

    def sample_vectors(self, n: int, seed: int = 0) -> np.ndarray:
        """Up to n stored vectors drawn at random (all of them when there are fewer)."""
        ids = np.asarray([r[0] for r in self.db.execute("SELECT id FROM chunks")], dtype=np.int64)
        if len(ids) > n:
            ids = np.sort(np.random.default_rng(seed).choice(ids, n, replace=False))
        return self.all_vectors(ids.tolist())[1]

    def documents(self) -> list[dict]:
        rows = self.db.execute(f"SELECT {DOC_COLUMNS} FROM documents ORDER BY source, record").fetchall()
        return [_doc_row(r) for r in rows]

    def document(self, doc_id: str) -> dict | None:
        row = self.db.execute(f"SELECT {DOC_COLUMNS} FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return _doc_row(row) if row else None

    def paths(self) -> list[str]:
        return [p for (p,) in self.db.execute("SELECT path FROM paths ORDER BY path")]

    def info(self) -> dict:
        kinds = dict(self.db.execute("SELECT kind, count(*) FROM documents GROUP BY kind").fetchall())
        return {**self.manifest, "path": str(self.path), "documents": self.count_documents(),
                "chunks": self.count_chunks(), "files": len(self.paths()), "kinds": kinds}


def _doc_row(r) -> dict:
    d = dict(zip([c.strip() for c in DOC_COLUMNS.split(",")], r))
    d["authors"] = json.loads(d["authors"] or "[]")
    d["references"] = json.loads(d.pop("refs") or "[]")
    return d


def stored_vectors(vectors: np.ndarray) -> np.ndarray:
    """Vectors as SQLite keeps them (rounded to VECTOR_DTYPE), back in float32."""
    return np.asarray(vectors, dtype=np.float32).astype(VECTOR_DTYPE).astype(np.float32)
