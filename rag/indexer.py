"""One `index` run: find files, skip what is unchanged, parse, chunk, embed and store the rest."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .chunk import Chunker
from .embed import Embedder
from .errors import MedragError, ParseError
from .ingest import Limits, discover, load
from .records import FileOutcome, IndexReport
from .store import Index


@dataclass
class Progress:
    """What a progress bar is told as the run goes: the file in hand and how far along it is."""

    done: int
    total: int
    path: str
    status: str


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def doc_id_for(file_digest: str, position: int, count: int) -> str:
    """Stable ids: a file's hash, plus the record number for files that hold many records."""
    return file_digest[:16] if count == 1 else f"{file_digest[:12]}-{position}"


def run_index(index: Index, embedder: Embedder, chunker: Chunker, paths: list[Path], *,
              limits: Limits = Limits(), prune: bool = False,
              on_progress: Callable[[Progress], None] | None = None) -> IndexReport:
    """Index `paths` into `index`. Each file is committed on its own, so an interrupted run keeps
    every file finished before it and the next run carries on from there."""
    started = time.perf_counter()
    report = IndexReport(index=str(index.path))
    files, missing = discover(paths)
    for problem in missing:
        report.files.append(FileOutcome(problem.path, "skipped", problem.reason))
    report.seen = len(files)
    index.vectors  # load (or rebuild) once, so each file's vectors are added in place
    for done, path in enumerate(files, 1):
        outcome = _index_file(index, embedder, chunker, path, limits, report)
        report.files.append(outcome)
        if on_progress:
            on_progress(Progress(done, len(files), str(path), outcome.status))
    if prune:
        report.removed, chunks = index.remove_missing_paths()
        report.chunks_removed += chunks
    index.save()
    report.indexed = sum(f.status == "indexed" for f in report.files)
    report.unchanged = sum(f.status in ("unchanged", "duplicate") for f in report.files)
    report.skipped = sum(f.status == "skipped" for f in report.files)
    report.seconds = time.perf_counter() - started
    return report


def _index_file(index: Index, embedder: Embedder, chunker: Chunker, path: Path, limits: Limits,
                report: IndexReport) -> FileOutcome:
    key = str(path.resolve())
    stat = path.stat()
    known = index.known_path(key)
    if known and known[1] == stat.st_size and known[2] == stat.st_mtime_ns and index.has_file(known[0]):
        return FileOutcome(key, "unchanged")
    digest = file_hash(path)
    if index.has_file(digest):
        # Same bytes as a file already stored (touched, or a copy under another path): no re-embedding.
        report.chunks_removed += index.set_path(key, digest, stat.st_size, stat.st_mtime_ns)
        return FileOutcome(key, "unchanged" if known and known[0] == digest else "duplicate")
    try:
        docs, problems = load(path, limits)
    except ParseError as exc:
        return FileOutcome(key, "skipped", exc.reason)
    except MedragError as exc:
        return FileOutcome(key, "skipped", str(exc))
    except Exception as exc:  # a reader bug on one odd file must not end the run
        return FileOutcome(key, "skipped", f"unreadable ({type(exc).__name__}: {str(exc)[:120]})")
    for problem in problems:
        report.files.append(FileOutcome(problem.path, "skipped", problem.reason))
    if not docs:
        return FileOutcome(key, "skipped", "no usable records")
    named = [(doc_id_for(digest, i, len(docs)), d) for i, d in enumerate(docs, 1)]
    chunks = [c for doc_id, d in named for c in chunker.split(d, doc_id)]
    vectors = embedder.embed([c.text for c in chunks])
    report.chunks_removed += index.add_file(key, digest, stat.st_size, stat.st_mtime_ns, named, chunks, vectors)
    report.chunks_added += len(chunks)
    return FileOutcome(key, "indexed", documents=len(docs), chunks=len(chunks))
