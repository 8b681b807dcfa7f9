"""Defaults, each overridable by an environment variable."""
from __future__ import annotations

import os
from pathlib import Path

from .embed import DEFAULT_EMBEDDER

DEFAULT_MODEL = "auto"  # Llama 3.2 1B Instruct when it is on this machine, else the extractive summarizer
CHUNK_TOKENS = 250
CHUNK_OVERLAP = 40
EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"  # NCBI E-utilities, for `medrag corpus fetch`


def default_index() -> Path:
    if os.environ.get("MEDRAG_INDEX"):
        return Path(os.environ["MEDRAG_INDEX"])
    return Path(os.environ.get("MEDRAG_HOME", "indexes")) / "default"


def default_embedder() -> str:
    return os.environ.get("MEDRAG_EMBEDDER", DEFAULT_EMBEDDER)


def default_model() -> str:
    return os.environ.get("MEDRAG_MODEL", DEFAULT_MODEL)


def default_device() -> str | None:
    return os.environ.get("MEDRAG_DEVICE") or None


def eutils_url() -> str:
    return os.environ.get("MEDRAG_EUTILS_URL") or EUTILS_URL


def ncbi_email() -> str | None:
    return os.environ.get("NCBI_EMAIL") or None


def ncbi_api_key() -> str | None:
    return os.environ.get("NCBI_API_KEY") or None


def ncbi_tool() -> str:
    return os.environ.get("NCBI_TOOL") or "medrag"
