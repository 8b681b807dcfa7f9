"""The plain LangChain indexing pipeline bench_index.py measures medrag against, as its own process:
PyPDFLoader + RecursiveCharacterTextSplitter + the same sentence-transformers model + LangChain's FAISS.

    python bench/naive_index.py papers/
"""
from __future__ import annotations

import sys
from pathlib import Path

import pypdf
from langchain_community.document_loaders import PyPDFLoader
from langchain_community.embeddings import HuggingFaceEmbeddings
from langchain_community.vectorstores import FAISS
from langchain_text_splitters import RecursiveCharacterTextSplitter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag.embed import DEFAULT_EMBEDDER, offline_copy  # noqa: E402  (only where the model's files are)


def main(folder: Path) -> None:
    emb = HuggingFaceEmbeddings(model_name=str(offline_copy(DEFAULT_EMBEDDER)),
                                encode_kwargs={"normalize_embeddings": True, "batch_size": 64})
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=150)
    docs = []
    # the same raised parsing budget medrag uses; without it pypdf refuses one of the shared papers
    with pypdf.apply_configuration(stream_parsing_work_maximum_count=50_000_000):
        for pdf in sorted(folder.glob("*.pdf")):
            docs += PyPDFLoader(str(pdf)).load()
    pieces = splitter.split_documents(docs)
    FAISS.from_documents(pieces, emb).save_local(str(folder.parent / "langchain-faiss"))
    print(len(pieces))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
