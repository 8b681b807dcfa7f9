"""The FAISS side of an index: vectors keyed by chunk id, exact or approximate (HNSW)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

INDEX_TYPES = ("flat", "hnsw")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def _faiss():
    import faiss

    return faiss


class VectorIndex:
    """Inner-product search over normalised vectors, each stored under its chunk id."""

    def __init__(self, dimension: int, index_type: str = "flat"):
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type = index_type
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
    def load(cls, folder: Path, dimension: int, index_type: str) -> tuple["VectorIndex", int | None]:
        """The saved index and the generation it was saved at (None when missing or unreadable)."""
        self = cls(dimension, index_type)
        try:
            stamp = json.loads((folder / "vectors.json").read_text())
            index = _faiss().read_index(str(folder / "vectors.faiss"))
        except (OSError, ValueError, RuntimeError):
            return self, None
        if index.d != dimension:
            return self, None
        self.index = index
        if index_type == "hnsw":
            _faiss().downcast_index(index.index).hnsw.efSearch = HNSW_EF_SEARCH
        return self, int(stamp.get("generation", -1))
