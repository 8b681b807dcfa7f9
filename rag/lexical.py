"""A full-text engine beside SQLite for large indexes: tantivy's BM25, which keeps only the best k.

FTS5 scores every passage that holds any query term before it sorts, so at a million passages a
question with a common word scans a large share of the corpus (over a second). Past ENGINE_FROM
passages the Latin-script side of the lexical search runs on tantivy instead, which skips the
passages that cannot reach the top k (block-max WAND): milliseconds at a million, every term scored.

Like the FAISS file, the engine is a derived copy of SQLite's rows, in `lexical/` inside the index
folder, stamped with the generation it was written at. A writer brings it up to date when it saves
(the rows added since, the ones removed; all of them again when the stamp is not the generation it
opened the index at, as after a run that died before saving). A search that finds the stamp stale,
or no engine, uses FTS5, which is always current; filtered searches use FTS5 too.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable

ENGINE_FROM = 20_000  # passages; below this FTS5 answers in milliseconds
FOLDER = "lexical"
STAMP = "stamp.json"
# BM25 weights of a passage's context line (title and section) and of its own text, as FTS5's.
CONTEXT_BOOST = 0.5
_HEAP = 128_000_000  # bytes of the writer's buffer


def available() -> bool:
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


def _schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("id", stored=True, indexed=True, fast=True)
    sb.add_text_field("context", tokenizer_name="en_stem")
    sb.add_text_field("text", tokenizer_name="en_stem")
    return sb.build()


class LexicalEngine:
    """The tantivy index in `folder`, with the generation and highest chunk id it holds."""

    def __init__(self, folder: Path, index, generation: int, max_id: int):
        self.folder, self._index, self.generation, self.max_id = folder, index, generation, max_id
        self._searcher = None

    @classmethod
    def open(cls, index_folder: Path) -> "LexicalEngine | None":
        """The engine saved in the index folder, or None when there is none (or it is unreadable)."""
        import tantivy

        folder = Path(index_folder) / FOLDER
        try:
            stamp = json.loads((folder / STAMP).read_text())
            return cls(folder, tantivy.Index(_schema(), path=str(folder), reuse=True),
                       int(stamp["generation"]), int(stamp["max_id"]))
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def build(cls, index_folder: Path, rows: Iterable[tuple[int, str, str]], generation: int) -> "LexicalEngine":
        """A new engine over `rows` (id, context, text), written beside the old one and swapped in
        whole, so a reader sees the old engine, no engine or the new one, never half of one."""
        import tantivy

        folder = Path(index_folder) / FOLDER
        tmp = Path(index_folder) / (FOLDER + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        engine = cls(tmp, tantivy.Index(_schema(), path=str(tmp)), -1, 0)
        engine.update(rows, [], generation)
        old = Path(index_folder) / (FOLDER + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        return cls.open(index_folder)

    def update(self, added: Iterable[tuple[int, str, str]], removed: list[int], generation: int) -> None:
        """Add rows (id, context, text), delete ids, commit, then stamp the generation."""
        import tantivy

        writer = self._index.writer(heap_size=_HEAP, num_threads=min(2, os.cpu_count() or 1))
        for i in removed:
            writer.delete_documents_by_term("id", int(i))
        top = self.max_id
        for i, context, text in added:
            writer.add_document(tantivy.Document(id=int(i), context=context or "", text=text))
            top = max(top, int(i))
        writer.commit()
        writer.wait_merging_threads()
        self.generation, self.max_id = generation, top
        tmp = self.folder / (STAMP + ".tmp")
        tmp.write_text(json.dumps({"generation": generation, "max_id": top}))
        os.replace(tmp, self.folder / STAMP)
        self._index.reload()
        self._searcher = None

    def search(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        """The k best (chunk id, score) for the quoted terms and phrases, OR-ed, best first; a term
        given twice counts twice, as in FTS5's bm25()."""
        if not terms:
            return []
        if self._searcher is None:
            self._searcher = self._index.searcher()
        query, _errors = self._index.parse_query_lenient(" ".join(terms), ["context", "text"],
                                                         field_boosts={"context": CONTEXT_BOOST})
        result = self._searcher.search(query, k, count=False)
        return [(int(self._searcher.doc(address)["id"][0]), float(score)) for score, address in result.hits]
