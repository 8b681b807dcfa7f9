"""Shared fixtures: the real shared data, the real offline embedder, and a session-wide PDF index."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDRAG_TEST_DATA", ROOT.parent / "shared" / "data"))
PDFS = DATA / "pdfs"
PUBMEDQA = DATA / "pubmedqa" / "pqal_dev.json"
SMALL_PDFS = ["datta2010-dvt-prophylaxis-trauma.pdf", "tully2010-heart-failure-programmes.pdf",
              "agyemanduah2014-quality-improvement.pdf"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def need_data():
    if not PDFS.is_dir() or not PUBMEDQA.is_file():
        pytest.skip(f"shared test data not found at {DATA} (set MEDRAG_TEST_DATA)")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDRAG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDRAG_INDEX", raising=False)


@pytest.fixture(scope="session")
def pubmedqa() -> dict:
    need_data()
    return json.loads(PUBMEDQA.read_text())


@pytest.fixture(scope="session")
def embedder():
    from rag.embed import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def small_pdfs(tmp_path_factory) -> Path:
    """A folder with copies of three short shared PDFs (tests may add or change files in copies of it)."""
    need_data()
    folder = tmp_path_factory.mktemp("small_pdfs")
    for name in SMALL_PDFS:
        shutil.copy(PDFS / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def pdf_library(tmp_path_factory, embedder):
    """All 12 shared PDFs indexed once for the session (read-only for tests)."""
    need_data()
    from rag import Library

    lib = Library(tmp_path_factory.mktemp("pdf_index") / "idx")
    report = lib.index(PDFS, progress=False)
    assert report.indexed == 12, report.to_dict()
    return lib


@pytest.fixture(scope="session")
def pdf_first_and_second_run(pdf_library):
    """The second run over the same 12 PDFs (the first is the pdf_library fixture)."""
    return pdf_library.index(PDFS, progress=False)
