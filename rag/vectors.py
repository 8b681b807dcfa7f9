"""The FAISS side of an index: vectors keyed by chunk id, exact, approximate (HNSW) or compressed
(IVF-PQ)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

INDEX_TYPES = ("auto", "flat", "hnsw", "ivfpq")
# "auto" keeps exact search until an index reaches this many passages, then switches to HNSW:
# bench/bench_search.py measured flat at ~1.5 ms (10k) and ~33 ms (100k) per query on 2 cores,
# HNSW at under 1 ms with recall@10 of 0.995-1.0 on embedding-shaped vectors.
AUTO_HNSW_FROM = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# "auto" switches to IVF-PQ from this many passages: HNSW keeps every float32 vector and its graph in
# RAM (~1.7 GB per million passages), IVF-PQ keeps 48-byte codes (~60 MB per million); see
# bench/bench_search.py for recall@10 and latency of each at 1M.
AUTO_IVFPQ_FROM = 2_000_000
# IVF-PQ: about 4*sqrt(n) lists, PQ codes of one byte per 8 dimensions, NPROBE lists scanned per
# query; it is trained on at most IVF_TRAIN vectors (k-means cost grows with the sample).
IVF_NPROBE = 32
IVF_TRAIN = 100_000


def _faiss():
    import faiss

    return faiss


def resolve_type(requested: str, count: int) -> str:
    """The concrete index type for a requested one ("auto" decides by the number of passages)."""
    if requested == "auto":
        return "ivfpq" if count >= AUTO_IVFPQ_FROM else "hnsw" if count >= AUTO_HNSW_FROM else "flat"
    return requested


def ivf_lists(count: int) -> int:
    """Inverted lists for an IVF index over `count` vectors: ~4*sqrt(n), and at least 39 training
    points per list (FAISS's own minimum)."""
    return int(max(1, min(4 * np.sqrt(max(count, 1)), count // 39, 65536)))


class VectorIndex:
    """Inner-product search over normalised vectors, each stored under its chunk id."""

    def __init__(self, dimension: int, index_type: str = "flat", count: int = 0):
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type = resolve_type(index_type, count)
        self.trained_on = 0  # vectors an IVF-PQ index was trained on
        self.index = self._empty()

    @property
    def compressed(self) -> bool:
        """Are the scores approximate (PQ codes), so that the caller should rescore exactly?"""
        return self.index_type == "ivfpq"

    @property
    def undertrained(self) -> bool:
        """Has an IVF-PQ index grown to four times the sample it was trained on (short of
        IVF_TRAIN)? Its lists and code books then fit the corpus poorly: it should be retrained."""
        return self.compressed and self.trained_on < min(IVF_TRAIN, len(self) // 4)

    def _empty(self, train: np.ndarray | None = None):
        faiss = _faiss()
        if self.index_type == "ivfpq":
            if train is None:
                return None  # made, and trained, when the first vectors arrive
            subspaces = next(m for m in (self.dimension // 8, self.dimension // 4, self.dimension // 2, 1)
                             if m and self.dimension % m == 0)
            # Code books no larger than the sample trains well (39 points per centroid, as FAISS asks).
            bits = int(np.clip(np.floor(np.log2(max(len(train), 1) / 39)), 1, 8))
            index = faiss.IndexIVFPQ(faiss.IndexFlatIP(self.dimension), self.dimension, ivf_lists(len(train)),
                                     subspaces, bits, faiss.METRIC_INNER_PRODUCT)
            index.train(np.ascontiguousarray(train, dtype=np.float32))
            index.nprobe = IVF_NPROBE
            self.trained_on = len(train)
            return index
        if self.index_type == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(self.dimension)
        return faiss.IndexIDMap2(inner)

    def __len__(self) -> int:
        return int(self.index.ntotal) if self.index is not None else 0

    @property
    def supports_removal(self) -> bool:
        return self.index_type in ("flat", "ivfpq")

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) and self.index is None:
            self.index = self._empty(train=_sample(np.asarray(vectors), IVF_TRAIN))
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def remove(self, ids) -> None:
        """Remove ids (flat and IVF-PQ; an HNSW graph is rebuilt by the caller instead)."""
        faiss = _faiss()
        if self.index is not None:
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(list(ids), dtype=np.int64)))

    def rebuild_from(self, batches, sample: np.ndarray | None = None) -> None:
        """Rebuild from (ids, vectors) batches, so that a corpus larger than memory is never held at
        once; a compressed index is trained on `sample` first (else on the first batch)."""
        self.index = self._empty(train=sample if sample is not None and len(sample) else None)
        for ids, vectors in batches:
            self.add(ids, vectors)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, scores) for one query vector; missing slots are dropped."""
        if len(self) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, len(self)))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, folder: Path, generation: int) -> None:
        """Write atomically: a reader sees either the old file or the new one, never half of one."""
        faiss = _faiss()
        if self.index is None:  # an IVF-PQ index with no vectors yet is not trained: no file
            (folder / "vectors.faiss").unlink(missing_ok=True)
        else:
            tmp = folder / "vectors.faiss.tmp"
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, folder / "vectors.faiss")
        stamp = folder / "vectors.json.tmp"
        stamp.write_text(json.dumps({"generation": generation, "count": len(self), "type": self.index_type,
                                     "trained_on": self.trained_on}))
        os.replace(stamp, folder / "vectors.json")

    @classmethod
    def load(cls, folder: Path, dimension: int, index_type: str, count: int) -> tuple["VectorIndex", int | None]:
        """The saved index and the generation it was saved at (None when missing, unreadable or of
        another type than `index_type` asks for at `count` passages)."""
        self = cls(dimension, index_type, count)
        try:
            stamp = json.loads((folder / "vectors.json").read_text())
            index = _faiss().read_index(str(folder / "vectors.faiss"))
        except (OSError, ValueError, RuntimeError):
            return self, None
        if index.d != dimension or stamp.get("type", "flat") != self.index_type:
            return self, None
        self.index = index
        if self.index_type == "hnsw":
            _faiss().downcast_index(index.index).hnsw.efSearch = HNSW_EF_SEARCH
        elif self.index_type == "ivfpq":
            index.nprobe = IVF_NPROBE
            self.trained_on = int(stamp.get("trained_on", 0))
        return self, int(stamp.get("generation", -1))


def _sample(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    if len(vectors) <= n:
        return vectors
    return vectors[np.sort(np.random.default_rng(seed).choice(len(vectors), n, replace=False))]
