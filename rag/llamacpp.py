"""A llama.cpp generator for GGUF files (`pip install 'medrag[llamacpp]'`, which compiles llama.cpp).

On a CPU it loads a GGUF file in well under a second and writes several times faster than
transformers' GGUF path, which dequantizes the weights to float32 first. The prompt is the model's
own chat template from the GGUF metadata, rendered as transformers renders it; tokens are counted
with the model's own vocabulary; a reply stops at the template's end-of-turn token, at the token
budget, or when it starts to loop.
"""
from __future__ import annotations

import codecs
import functools
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from .errors import InvalidQuery, MissingDependency, ModelUnavailable
from .generate import END_OF_TURN, PROMPT_DATE, Generation, Generator, RepetitionDetector

MAX_CONTEXT = 8192  # KV cache allocated up front: Llama 3.2's 131,072 tokens would take gigabytes


def llamacpp_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppGenerator(Generator):
    def __init__(self, gguf: str | os.PathLike, *, name: str | None = None, threads: int | None = None,
                 context: int = MAX_CONTEXT):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise MissingDependency("the llama.cpp backend needs llama-cpp-python: "
                                    "pip install 'medrag[llamacpp]' (it compiles llama.cpp, ~10 minutes)") from exc
        path = Path(gguf).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"no such GGUF file: {path}; pass an existing file, or --model smollm2")
        self.name = name or str(path)
        self.note = None
        self.path = path
        try:
            self.llm = Llama(model_path=str(path), n_ctx=context, n_threads=threads or default_threads(),
                             verbose=False)
        except Exception as exc:
            raise ModelUnavailable(f"{path} could not be loaded by llama.cpp "
                                   f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
        trained = int(self.llm.metadata.get(f"{self.llm.metadata.get('general.architecture')}.context_length", 0) or 0)
        self.context = min(self.llm.n_ctx(), trained or context)  # no longer than the model was trained for
        self.template_text = self.llm.metadata.get("tokenizer.chat_template")
        if not self.template_text:
            raise ModelUnavailable(f"{path} has no chat template; medrag needs an instruction-tuned (chat) model")
        self._token_texts: dict[int, str] = {}

    # ---- tokens ---------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _special_text(self, token_id: int) -> str:
        return self.llm.detokenize([token_id], special=True).decode("utf-8", errors="replace") if token_id >= 0 else ""

    @functools.cached_property
    def stop_ids(self) -> list[int]:
        """The end-of-sequence id and the end-of-turn token the chat template writes."""
        ids = [self.llm.token_eos()]
        for marker in END_OF_TURN:
            if marker in self.template_text:
                toks = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
                if len(toks) == 1:
                    ids.append(toks[0])
        return list(dict.fromkeys(i for i in ids if i >= 0))

    def token_text(self, token_id: int) -> str:
        text = self._token_texts.get(token_id)
        if text is None:
            text = self._token_texts[token_id] = self.llm.detokenize([token_id]).decode("utf-8", errors="replace")
        return text

    # ---- prompt ---------------------------------------------------------------------------------
    @functools.cached_property
    def _template(self):
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        return env.from_string(self.template_text)

    def prompt(self, messages: list[dict]) -> str:
        """The chat template applied as transformers applies it: a fixed date, and a last assistant
        message taken as the start of the reply, which the model continues."""
        primed = bool(messages) and messages[-1]["role"] == "assistant"
        text = self._template.render(messages=messages, add_generation_prompt=not primed, date_string=PROMPT_DATE,
                                     bos_token=self._special_text(self.llm.token_bos()),
                                     eos_token=self._special_text(self.llm.token_eos()))
        if primed:
            start = messages[-1]["content"]
            start = start if start in text else start.strip()
            text = text[:text.rindex(start) + len(start)]
        return text

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        return self.llm.tokenize(self.prompt(messages).encode("utf-8"), add_bos=False, special=True)

    # ---- generation -----------------------------------------------------------------------------
    def generate(self, messages, *, max_new_tokens=384, temperature=0.0, seed=None,
                 on_text: Callable[[str], None] | None = None) -> Generation:
        started = time.perf_counter()
        ids = self.prompt_ids(messages)
        room = self.context - len(ids)
        if room <= 0:
            raise InvalidQuery(f"the prompt is {len(ids)} tokens, more than the {self.context} this model's "
                               "context holds; lower --context-tokens")
        budget = min(max_new_tokens, room)
        if seed is not None:
            self.llm.set_seed(seed)
        detector = RepetitionDetector(token_text=self.token_text, decode=self._decode)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = set(self.stop_ids)
        new: list[int] = []
        ended = 0  # the end-of-turn token, counted as generated (as transformers counts it)
        first = None
        sampling = dict(temp=temperature, top_p=0.95) if temperature > 0 else dict(temp=0.0)
        for token in self.llm.generate(ids, repeat_penalty=1.1, reset=True, **sampling):
            if first is None:
                first = time.perf_counter() - started
            if token in stops:
                ended = 1
                break
            new.append(token)
            if on_text is not None:
                piece = decoder.decode(self.llm.detokenize([token]))
                if piece:
                    on_text(piece)
            if detector.push(token) or len(new) >= budget:
                break
        seconds = time.perf_counter() - started
        kept = new[:detector.cut] if detector.cut is not None else new
        return Generation(self._decode(kept).strip(), len(new) + ended, len(ids), seconds, first,
                          stopped="repetition" if detector.cut is not None else None)

    def _decode(self, ids: list[int]) -> str:
        return self.llm.detokenize(list(ids)).decode("utf-8", errors="replace")


def default_threads() -> int:
    """Threads for llama.cpp: MEDRAG_THREADS, else every core the process may use."""
    if os.environ.get("MEDRAG_THREADS"):
        return max(1, int(os.environ["MEDRAG_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
