"""One `index` run: find files, skip what is unchanged, parse, chunk, embed and store the rest."""
from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .chunk import Chunker
from .context import embedding_text, passage_context
from .embed import Embedder
from .errors import MedragError, ParseError
from .ingest import EmptyFolder, Limits, discover, load
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
    every file finished before it and the next run carries on from there.

    The next file is parsed in a background thread while the current one is embedded: pypdf is
    pure Python and torch releases the GIL while it computes, so the two overlap."""
    started = time.perf_counter()
    report = IndexReport(index=str(index.path))
    files, missing = discover(paths)
    for problem in missing:
        if prune and isinstance(problem, EmptyFolder):
            continue  # emptied on purpose: --prune removes its documents
        report.files.append(FileOutcome(problem.path, "skipped", problem.reason))
    report.seen = len(files)
    index.vectors  # load (or rebuild) once, so each file's vectors are added in place
    done = 0

    def finished(outcome: FileOutcome) -> None:
        nonlocal done
        done += 1
        report.files.append(outcome)
        if on_progress:
            on_progress(Progress(done, len(files), outcome.path, outcome.status))

    plans: list[_Plan] = []
    for path in files:
        try:
            plan = _plan(index, path)
        except OSError as exc:  # unreadable (permissions), or gone since it was found
            finished(FileOutcome(str(path), "skipped", f"cannot be read ({exc.strerror or exc})"))
            continue
        if plan.outcome:
            finished(plan.outcome)
        else:
            plans.append(plan)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medrag-parse")
    try:
        pending = {0: pool.submit(_load, plans[0], limits)} if plans else {}
        for i, plan in enumerate(plans):
            if i + 1 < len(plans):
                pending[i + 1] = pool.submit(_load, plans[i + 1], limits)
            loaded = pending.pop(i).result()
            finished(_store(index, embedder, chunker, plan, loaded, report))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if prune:
        report.removed, chunks = index.remove_missing_paths()
        report.chunks_removed += chunks
    index.save()
    report.indexed = sum(f.status == "indexed" for f in report.files)
    report.unchanged = sum(f.status in ("unchanged", "duplicate") for f in report.files)
    report.skipped = sum(f.status == "skipped" for f in report.files)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Plan:
    path: Path
    key: str
    size: int = 0
    mtime_ns: int = 0
    digest: str = ""
    known_digest: str | None = None
    outcome: FileOutcome | None = None  # set when nothing is left to do


def _plan(index: Index, path: Path) -> _Plan:
    """Decide cheaply whether a file needs reading: size and mtime first, then its hash."""
    key = str(path.resolve())
    stat = path.stat()
    known = index.known_path(key)
    plan = _Plan(path, key, stat.st_size, stat.st_mtime_ns, known_digest=known[0] if known else None)
    if known and known[1] == stat.st_size and known[2] == stat.st_mtime_ns and index.has_file(known[0]):
        plan.outcome = FileOutcome(key, "unchanged")
        return plan
    plan.digest = file_hash(path)
    return plan


def _load(plan: _Plan, limits: Limits):
    """Parse a file; returns (documents, record problems) or the FileOutcome that skips it."""
    key = plan.key
    try:
        return load(plan.path, limits)
    except ParseError as exc:
        return FileOutcome(key, "skipped", exc.reason)
    except MedragError as exc:
        return FileOutcome(key, "skipped", str(exc))
    except Exception as exc:  # a reader bug on one odd file must not end the run
        return FileOutcome(key, "skipped", f"unreadable ({type(exc).__name__}: {str(exc)[:120]})")


def _store(index: Index, embedder: Embedder, chunker: Chunker, plan: _Plan, loaded,
           report: IndexReport) -> FileOutcome:
    if index.has_file(plan.digest):
        # Same bytes as a file already stored (touched, or a copy under another path): no re-embedding.
        report.chunks_removed += index.set_path(plan.key, plan.digest, plan.size, plan.mtime_ns)
        return FileOutcome(plan.key, "unchanged" if plan.known_digest == plan.digest else "duplicate")
    if isinstance(loaded, FileOutcome):
        return loaded
    docs, problems = loaded
    for problem in problems:
        report.files.append(FileOutcome(problem.path, "skipped", problem.reason))
    if not docs:
        return FileOutcome(plan.key, "skipped", "no usable records")
    named = [(doc_id_for(plan.digest, i, len(docs)), d) for i, d in enumerate(docs, 1)]
    chunks = [c for doc_id, d in named for c in chunker.split(d, doc_id)]
    titles = {doc_id: d.title for doc_id, d in named}
    vectors = embedder.embed([embedding_text(passage_context(titles[c.doc_id], c.section), c.text) for c in chunks])
    report.chunks_removed += index.add_file(plan.key, plan.digest, plan.size, plan.mtime_ns, named, chunks, vectors)
    report.chunks_added += len(chunks)
    return FileOutcome(plan.key, "indexed", documents=len(docs), chunks=len(chunks))
