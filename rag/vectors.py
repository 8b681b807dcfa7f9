"""The FAISS side of an index: vectors keyed by chunk id, exact or approximate (HNSW)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

INDEX_TYPES = ("auto", "flat", "hnsw")
# "auto" keeps exact search until an index reaches this many passages, then switches to HNSW:
# bench/bench_search.py measured flat at ~1.5 ms (10k) and ~33 ms (100k) per query on 2 cores,
# HNSW at under 1 ms with recall@10 of 0.995-1.0 on embedding-shaped vectors.
AUTO_HNSW_FROM = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def _faiss():
    import faiss

    return faiss


def resolve_type(requested: str, count: int) -> str:
    """The concrete index type for a requested one ("auto" decides by the number of passages)."""
    if requested == "auto":
        return "hnsw" if count >= AUTO_HNSW_FROM else "flat"
    return requested


class VectorIndex:
    """Inner-product search over normalised vectors, each stored under its chunk id."""

    def __init__(self, dimension: int, index_type: str = "flat", count: int = 0):
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type = resolve_type(index_type, count)
        self.index = self._empty()

    def _empty(self):
        faiss = _faiss()
        if self.index_type == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(self.dimension)
        return faiss.IndexIDMap2(inner)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def supports_removal(self) -> bool:
        return self.index_type == "flat"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(ids, dtype=np.int64))

    def remove(self, ids) -> None:
        """Remove ids; only exact indexes can, an HNSW graph is rebuilt by the caller instead."""
        faiss = _faiss()
        self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(list(ids), dtype=np.int64)))

    def rebuild(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index = self._empty()
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
        tmp = folder / "vectors.faiss.tmp"
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, folder / "vectors.faiss")
        stamp = folder / "vectors.json.tmp"
        stamp.write_text(json.dumps({"generation": generation, "count": len(self), "type": self.index_type}))
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
        return self, int(stamp.get("generation", -1))
