"""The Python API: a Library is one index plus the models that work on it."""
from __future__ import annotations

import os
from pathlib import Path

from . import config
from .chunk import Chunker, check_sizes
from .embed import Embedder, canonical_embedder, load_embedder, load_query_embedder
from .errors import IndexNotFound, IndexOutdated
from .ingest import Limits
from .indexer import Progress, run_index
from .records import Hit, IndexReport
from .retrieve import Filters, check_query, search as _search
from .rerank import Reranker, load_reranker
from .results import Hits
from .summarize import EXTRACTIVE, SummarizeOptions, summarize as _summarize, summarize_extractive
from .summarize import summarize_many as _summarize_many
from .summary import Summary
from .store import FORMAT_VERSION, Index
from .vectors import INDEX_TYPES


DEFAULT_RERANK = "none"  # measured in bench/eval_fulltext.py: see README, "Retrieval"


def choose_model(model: str) -> tuple[str, str | None]:
    """The model "auto" stands for on this machine, and the note that tells the user why."""
    if model != "auto":
        return model, None
    from .generate import LLAMA, llama_on_machine

    if llama_on_machine():
        return LLAMA, None
    return EXTRACTIVE, (f"{LLAMA} is not on this machine, so these findings are sentences of the papers chosen "
                        f"without a generator; to have Llama write them, run `huggingface-cli download {LLAMA}` "
                        "(after accepting its licence) or pass --model; --model smollm2 tries a small offline generator")


class _LoadedOnUse:
    """The full embedder for an index run, loaded when a file first needs embedding: a run that finds
    nothing changed answers in a second instead of loading torch and the model."""

    def __init__(self, load):
        self._load = load

    def embed(self, texts, batch_size: int = 512):
        return self._load().embed(texts, batch_size)


class Library:
    """An index folder and the models that read it; opens the index, or creates it on first `index`.

    >>> lib = Library("indexes/default")
    >>> lib.index("papers/")
    """

    def __init__(self, path: str | os.PathLike | None = None, *, embedder: str | None = None,
                 device: str | None = None, index_type: str = "auto",
                 chunk_tokens: int = config.CHUNK_TOKENS, overlap: int = config.CHUNK_OVERLAP):
        self.path = Path(path) if path is not None else config.default_index()
        self.device = device or config.default_device()
        self._index: Index | None = None
        self._outdated: IndexOutdated | None = None
        self._embedder: Embedder | None = None
        self._requested_embedder = canonical_embedder(embedder) if embedder else None
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        self.index_type = index_type
        check_sizes(chunk_tokens, overlap)  # before anything is written: a new folder must not keep bad sizes
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        self._manifest_stamp = self._stamp()
        if self._manifest_stamp is not None:
            try:
                self._index = Index(self.path, embedder=self._requested_embedder)
            except IndexOutdated as exc:
                self._outdated = exc  # raised on first use, so that upgrade() can still open it


    def _stamp(self) -> int | None:
        if self.path.exists() and not self.path.is_dir():
            raise IndexNotFound(f"{self.path} is a file, not an index folder")
        try:
            return (self.path / "manifest.json").stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def refresh(self) -> bool:
        """Reopen the index if its manifest changed since it was opened (another process indexed into
        it), so that a long-lived Library such as `medrag serve` sees new documents. Returns whether it
        reopened. Calls already running keep the index they started with."""
        stamp = self._stamp()
        if stamp is None or stamp == self._manifest_stamp:
            return False
        try:
            index = Index(self.path, embedder=self._requested_embedder)
        except IndexOutdated as exc:
            self._outdated, index = exc, None
        self._index, self._manifest_stamp = index, stamp
        return True

    def __repr__(self) -> str:
        if self._index is None:
            return f"<Library {self.path} (empty)>"
        return f"<Library {self.path}: {self._index.count_documents()} documents, {self._index.count_chunks()} chunks>"

    # ---- models and store ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The index's embedder, loaded once and shared by every call."""
        if self._embedder is None:
            name = self._index.embedder if self._index else (self._requested_embedder or config.default_embedder())
            self._embedder = load_embedder(name, self.device)
        return self._embedder

    @property
    def query_embedder(self) -> Embedder:
        """What embeds questions and a summary's sentences: the loaded embedder if there is one,
        else the same model run in NumPy where it can be (a search need not import torch)."""
        if self._embedder is not None or (self.device and not self.device.startswith("cpu")):
            return self.embedder
        name = self._index.embedder if self._index else (self._requested_embedder or config.default_embedder())
        return load_query_embedder(name)

    def reranker(self, rerank: str | Reranker | None) -> Reranker | None:
        """A second stage by name, or the one given."""
        if isinstance(rerank, str) or rerank is None:
            return load_reranker(rerank, self.query_embedder if rerank == "dense-window" else None)
        return rerank

    @property
    def store(self) -> Index:
        if self._outdated is not None and self._index is None:
            raise self._outdated
        if self._index is None:
            raise IndexNotFound(f"no medrag index at {self.path} yet (build one with Library.index or medrag index)")
        return self._index

    def _open_for_writing(self) -> Index:
        if self._index is None:
            emb = self.embedder
            self._index = Index(self.path, create=True, embedder=emb.name, dimension=emb.dimension,
                                index_type=self.index_type, chunk_tokens=min(self.chunk_tokens, emb.max_tokens),
                                overlap=self.overlap)
        return self._index

    # ---- indexing -----------------------------------------------------------------------------
    def index(self, *paths: str | os.PathLike, prune: bool = False, max_pages: int = 500,
              max_file_mb: float = 100.0, progress: bool = True, on_progress=None) -> IndexReport:
        """Index files and folders (recursively). Unchanged files are skipped; returns a report."""
        limits = Limits(max_pages=max_pages, max_file_mb=max_file_mb)  # checked before anything is written
        store = self._open_for_writing()
        tokens = self.query_embedder  # the same tokenizer as the full embedder, without loading torch
        chunk_tokens = min(int(store.manifest.get("chunk_tokens") or self.chunk_tokens), tokens.max_tokens)
        overlap = min(int(store.manifest.get("overlap") or self.overlap), chunk_tokens // 2)
        chunker = Chunker(tokens.count_tokens, chunk_tokens, overlap)
        bar = None
        callback = on_progress
        if progress and on_progress is None:
            from tqdm.auto import tqdm

            bar = tqdm(total=0, unit="file", desc="indexing", leave=False)

            def callback(p: Progress) -> None:
                bar.total = p.total
                bar.set_postfix_str(Path(p.path).name[-40:], refresh=False)
                bar.update(1)
        store.lock()
        try:
            return run_index(store, _LoadedOnUse(lambda: self.embedder), chunker, [Path(p) for p in paths],
                             limits=limits, prune=prune,
                             on_progress=callback)
        finally:
            store.unlock()
            if bar is not None:
                bar.close()

    # ---- retrieval ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, *, mode: str = "hybrid", max_per_doc: int | None = None,
               year_from: int | None = None, year_to: int | None = None, source: str | None = None,
               kind: str | None = None, mmr: float | None = None,
               rerank: str | Reranker | None = DEFAULT_RERANK) -> Hits:
        """The k passages that best answer `query` (dense + lexical, fused, then reranked), strongest first.

        `rerank` is a second stage by name ("none", "sentence-window", "dense-window") or any `Reranker`."""
        check_query(query, k, mode, mmr)
        filters = Filters(year_from, year_to, source, kind)
        hits: list[Hit] = _search(self.store, self.query_embedder, query, k, mode=mode, max_per_doc=max_per_doc,
                                  filters=filters, mmr=mmr, reranker=self.reranker(rerank))
        return Hits(query, hits, mode)

    # ---- summaries ----------------------------------------------------------------------------
    def generator(self, model: str | None = None, dtype: str | None = None):
        """The generator for `model`, loaded once per process and shared by every Library."""
        from .generate import load_generator

        return load_generator(model or config.default_model(), self.device, dtype)

    def summarize(self, query: str, *, model: str | None = None, k: int = 8, mode: str = "hybrid",
                  max_per_doc: int | None = None, year_from: int | None = None, year_to: int | None = None,
                  source: str | None = None, kind: str | None = None, min_score: float | None = None,
                  min_coverage: float | None = None, context_tokens: int = 1536, max_new_tokens: int = 384,
                  temperature: float = 0.0, seed: int | None = None, dtype: str | None = None,
                  rerank: str | Reranker | None = DEFAULT_RERANK, on_text=None) -> Summary:
        """Key findings on `query` from the indexed papers, each cited to the passage that supports it.

        `model` is a hub id, a local folder or .gguf file, "extractive" (no generator: the evidence's
        own sentences), "smollm2" (a small offline generator) or "auto" (the default: Llama 3.2 1B
        Instruct when it is on this machine, else extractive)."""
        check_query(query, k, mode)
        options = self._summarize_options(k=k, mode=mode, max_per_doc=max_per_doc, year_from=year_from,
                                          year_to=year_to, source=source, kind=kind, min_score=min_score,
                                          min_coverage=min_coverage, context_tokens=context_tokens,
                                          max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                                          rerank=rerank)
        name, note = choose_model(model or config.default_model())
        if name == EXTRACTIVE:
            return summarize_extractive(self.store, self.query_embedder, query, options, note)
        return _summarize(self.store, self.query_embedder, lambda: self.generator(name, dtype), query, options, on_text)

    def summarize_many(self, queries: list[str], *, model: str | None = None, dtype: str | None = None,
                       **options) -> list[Summary]:
        """Summaries of several questions, in their order, with `summarize`'s options. A generator on a GPU
        writes them in batches; elsewhere they are written one after another."""
        queries = list(queries)
        for q in queries:
            check_query(q, options.get("k", 8), options.get("mode", "hybrid"))
        opts = self._summarize_options(**options)
        name, note = choose_model(model or config.default_model())
        if name == EXTRACTIVE:
            return [summarize_extractive(self.store, self.query_embedder, q, opts, note) for q in queries]
        return _summarize_many(self.store, self.query_embedder, lambda: self.generator(name, dtype), queries, opts)

    def _summarize_options(self, *, k: int = 8, mode: str = "hybrid", max_per_doc: int | None = None,
                           year_from: int | None = None, year_to: int | None = None, source: str | None = None,
                           kind: str | None = None, min_score: float | None = None,
                           min_coverage: float | None = None, context_tokens: int = 1536,
                           max_new_tokens: int = 384, temperature: float = 0.0, seed: int | None = None,
                           rerank: str | Reranker | None = DEFAULT_RERANK) -> SummarizeOptions:
        return SummarizeOptions(k=k, mode=mode, max_per_doc=max_per_doc,
                                filters=Filters(year_from, year_to, source, kind), reranker=self.reranker(rerank),
                                context_tokens=context_tokens, max_new_tokens=max_new_tokens,
                                temperature=temperature, seed=seed,
                                **({} if min_score is None else {"min_score": min_score}),
                                **({} if min_coverage is None else {"min_coverage": min_coverage}))

    def upgrade(self, progress: bool = True) -> int:
        """Bring an index written by an older medrag to the current format in place, from the texts it
        already holds (no file is read again). Returns the passages re-embedded (0 if already current)."""
        if self._index is None:
            if not (self.path / "manifest.json").exists():
                raise IndexNotFound(f"no medrag index at {self.path}")
            self._index = Index(self.path, embedder=self._requested_embedder, upgrading=True)
        store = self._index
        if store.format_version >= FORMAT_VERSION:
            return 0  # already current: nothing to embed (and no progress bar standing at 0%)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=store.count_chunks(), unit="passage", desc="upgrading", leave=False)
        store.lock()
        try:
            return store.upgrade(self.embedder.embed,
                                 on_progress=(lambda done, total: bar.update(done - bar.n)) if bar else None)
        finally:
            store.unlock()
            if bar is not None:
                bar.close()

    def info(self) -> dict:
        """What the index holds: counts, embedder, format, and where it lives."""
        return self.store.info()

    def documents(self) -> list[dict]:
        return self.store.documents()
