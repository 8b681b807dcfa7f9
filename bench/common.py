"""Helpers shared by the benchmarks: where the shared data is, and a timer."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("MEDRAG_TEST_DATA", ROOT.parent / "shared" / "data"))


def need_data() -> Path:
    if not (DATA / "pdfs").is_dir():
        sys.exit(f"shared data not found at {DATA}; set MEDRAG_TEST_DATA")
    return DATA


@contextmanager
def timed(store: dict, key: str):
    start = time.perf_counter()
    yield
    store[key] = time.perf_counter() - start


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
