"""Indexing throughput, side by side in one process on the same PDFs and embedder:

  (a) medrag index end to end (parse, clean, chunk, embed, store)
  (b) the embedder's own encode() on exactly the chunk texts medrag produced
  (c) a plain LangChain pipeline: PyPDFLoader + RecursiveCharacterTextSplitter + the same
      sentence-transformers model + LangChain's FAISS store

    python bench/bench_index.py [--pdfs N]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import need_data, timed

from rag import Library
from rag.embed import offline_copy


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pdfs", type=int, default=12, help="how many of the shared PDFs")
    args = parser.parse_args()
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-bench-"))
    papers = work / "papers"
    papers.mkdir()
    for pdf in sorted((data / "pdfs").glob("*.pdf"))[: args.pdfs]:
        shutil.copy(pdf, papers)
    t: dict[str, float] = {}

    lib = Library(work / "idx")
    lib.embedder  # model loading is not part of any of the three timings
    with timed(t, "a"):
        report = lib.index(papers, progress=False)
    texts = [r[0] for r in lib.store.db.execute("SELECT text FROM chunks ORDER BY id")]
    with timed(t, "b"):
        lib.embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)

    import pypdf
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_community.embeddings import HuggingFaceEmbeddings
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    emb = HuggingFaceEmbeddings(model_name=str(offline_copy(lib.embedder.name)),
                                encode_kwargs={"normalize_embeddings": True, "batch_size": 64})
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=150)
    with timed(t, "c"):
        docs = []
        # the same raised parsing budget medrag uses; without it pypdf refuses one of these papers
        with pypdf.apply_configuration(stream_parsing_work_maximum_count=50_000_000):
            for pdf in sorted(papers.glob("*.pdf")):
                docs += PyPDFLoader(str(pdf)).load()
        pieces = splitter.split_documents(docs)
        FAISS.from_documents(pieces, emb)

    n = report.chunks_added
    print(f"{args.pdfs} PDFs, embedder {lib.embedder.name}, {lib.embedder.device}")
    print(f"{'pipeline':<42} {'seconds':>8} {'chunks':>7} {'chunks/s':>9}")
    print(f"{'(a) medrag index (end to end)':<42} {t['a']:>8.1f} {n:>7} {n / t['a']:>9.1f}")
    print(f"{'(b) embedder encode() on the same chunks':<42} {t['b']:>8.1f} {n:>7} {n / t['b']:>9.1f}")
    print(f"{'(c) LangChain PyPDFLoader+splitter+FAISS':<42} {t['c']:>8.1f} {len(pieces):>7} {len(pieces) / t['c']:>9.1f}")
    print(f"ratio a/b (whole pipeline over embedding alone): {t['a'] / t['b']:.2f}")
    print(f"ratio a/c (medrag over the LangChain pipeline, wall clock): {t['a'] / t['c']:.2f}")
    with timed(t, "again"):
        again = lib.index(papers, progress=False)
    print(f"second run: {again.unchanged} unchanged, {again.chunks_added} chunks embedded, {t['again']:.2f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
