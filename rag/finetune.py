"""LoRA supervised fine-tuning on multiple-choice medical questions (MedQA, MedMCQA, PubMedQA).

Each question becomes one chat: the prompt `medrag eval mcq` asks (rag.mcq.messages) and the reply
"Answer: <letter>", written with the model's own chat template. The loss counts the reply's tokens
only (the prompt's labels are -100). bf16 on CUDA, float32 on the CPU.

The output folder holds:
- checkpoints/step-N/: the adapter (adapter_model.safetensors), the optimizer state (optimizer.safetensors)
  and state.json; a rerun with resume=True continues from the last one;
- adapter/: the final LoRA adapter (peft's save_pretrained);
- the merged model and its tokenizer at the top level, a model folder that `--model OUT` loads;
- finetune.json: the settings and the loss of every step.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import MedragError, MissingDependency
from .mcq import McqItem, messages, read_items, target_reply


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 1000
    lr: float = 2e-4
    lora_r: int = 16
    lora_dropout: float = 0.05
    batch_size: int = 8
    save_every: int = 100
    warmup: int = 10
    max_tokens: int = 1024  # longer examples are cut from the left of the prompt
    seed: int = 0


@dataclass
class FinetuneReport:
    base: str
    out: str
    examples: int
    start_step: int  # 0, or the checkpoint a resumed run began from
    steps: int
    losses: list[float] = field(default_factory=list)  # one per step this run took
    seconds: float = 0.0
    adapter: str = ""
    merged: str = ""

    @property
    def first_loss(self) -> float:
        return self.losses[0] if self.losses else math.nan

    @property
    def last_loss(self) -> float:
        return self.losses[-1] if self.losses else math.nan

    def to_dict(self) -> dict:
        return {**asdict(self), "first_loss": self.first_loss, "last_loss": self.last_loss}


def encode(tokenizer, item: McqItem, max_tokens: int = 1024) -> tuple[list[int], list[int]]:
    """Token ids of the chat (prompt and reply) and labels: -100 over the prompt, the ids over the reply."""
    from .generate import PROMPT_DATE

    chat = messages(item)
    prompt = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           date_string=PROMPT_DATE)["input_ids"]
    full = tokenizer.apply_chat_template([*chat, {"role": "assistant", "content": target_reply(item)}],
                                         tokenize=True, return_dict=True, date_string=PROMPT_DATE)["input_ids"]
    if full[:len(prompt)] != prompt:
        raise MedragError("the chat template writes the prompt differently when a reply follows; "
                          "cannot tell the answer tokens apart")
    labels = [-100] * len(prompt) + full[len(prompt):]
    if len(full) > max_tokens:
        full, labels = full[-max_tokens:], labels[-max_tokens:]
    return full, labels


def batches(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """The example indices of a step: epochs of a seeded shuffle, so a resumed run sees the same order."""
    per_epoch = max(1, math.ceil(n / batch_size))
    epoch, within = divmod(step, per_epoch)
    order = list(range(n))
    random.Random(seed + epoch).shuffle(order)
    return order[within * batch_size:(within + 1) * batch_size]


def _collate(examples, pad_id: int, device):
    import torch

    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (x, y) in enumerate(examples):  # padded on the right
        ids[row, :len(x)] = torch.tensor(x)
        labels[row, :len(y)] = torch.tensor(y)
        mask[row, :len(x)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def _last_checkpoint(out: Path) -> Path | None:
    found = [p for p in (out / "checkpoints").glob("step-*")
             if p.name[5:].isdigit() and (p / "state.json").is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[1])) if found else None


def _save_checkpoint(out: Path, step: int, model, optimizer, losses: list[float], keep: int = 2) -> Path:
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    with warnings.catch_warnings():  # peft notes that a GGUF base's folder has no config.json
        warnings.simplefilter("ignore")
        adapter = get_peft_model_state_dict(model)
    folder = out / "checkpoints" / f"step-{step}"
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in adapter.items()},
              str(tmp / "adapter_model.safetensors"))
    state = optimizer.state_dict()
    tensors, steps = {}, {}
    for i, s in state["state"].items():
        for name, value in s.items():
            if name == "step":
                steps[str(i)] = float(value)
            else:
                tensors[f"{i}.{name}"] = value.detach().contiguous().cpu()
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"step": step, "losses": losses, "adam_steps": steps}))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    done = sorted((p for p in (out / "checkpoints").glob("step-*") if p.name[5:].isdigit()),
                  key=lambda p: int(p.name[5:]))
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _load_checkpoint(folder: Path, model, optimizer) -> tuple[int, list[float]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
    meta = json.loads((folder / "state.json").read_text())
    tensors = load_file(str(folder / "optimizer.safetensors"))
    state = optimizer.state_dict()
    restored: dict[int, dict] = {}
    for key, value in tensors.items():
        i, name = key.split(".", 1)
        restored.setdefault(int(i), {})[name] = value
    for i, s in restored.items():
        s["step"] = torch.tensor(meta["adam_steps"][str(i)])
    state["state"] = restored
    optimizer.load_state_dict(state)
    return int(meta["step"]), list(meta["losses"])


def _unpacked(model, base: str):
    """A GGUF base is loaded through transformers' GGUF quantizer; where it unpacked every weight into
    plain tensors (on the CPU it does) the model is an ordinary one, so drop the quantizer's marks and it
    trains, merges and saves like any model folder."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None:
        return model
    method = getattr(quantizer.quantization_config, "quant_method", None)
    if str(getattr(method, "value", method)) != "gguf" or getattr(quantizer, "packed_modules", None):
        raise MedragError(f"{base} is loaded with packed ({method}) weights, which LoRA cannot train; "
                          "pass the model's hub id or an unquantized folder as --base")
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def finetune(data: str | Path, base: str, out: str | Path, config: FinetuneConfig = FinetuneConfig(), *,
             resume: bool = False, limit: int | None = None, device: str | None = None, progress: bool = False,
             generator=None) -> FinetuneReport:
    """Fine-tune `base` on the questions in `data` and write the adapter and the merged model to `out`.

    `generator`: an already loaded TransformersGenerator of `base` to train (its model is changed)."""
    try:
        import torch
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise MissingDependency("fine-tuning needs peft: pip install 'medrag[finetune]'") from exc
    from .generate import TransformersGenerator

    if config.steps < 1 or config.batch_size < 1 or config.save_every < 1 or config.lora_r < 1:
        raise MedragError("--steps, --batch-size, --save-every and --lora-r must be at least 1")
    out = Path(out)
    last = _last_checkpoint(out)
    if last is not None and not resume:
        raise MedragError(f"{out} holds checkpoints of an earlier run (last {last.name}); pass --resume to "
                          "continue it, or another --out")
    items = read_items(data, limit)
    gen = generator or TransformersGenerator(base, device=device)
    tokenizer = gen.tokenizer
    examples = [encode(tokenizer, item, config.max_tokens) for item in items]
    torch.manual_seed(config.seed)
    lora = LoraConfig(r=config.lora_r, lora_alpha=2 * config.lora_r, lora_dropout=config.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # a deprecation notice inside peft
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(_unpacked(gen.model, base), lora)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                  weight_decay=0.0)
    warmup = min(config.warmup, max(1, config.steps // 10))
    start, history = 0, []
    if last is not None:
        start, history = _load_checkpoint(last, model, optimizer)

    def schedule(s: int) -> float:  # linear warm-up, then linear decay to zero; s counts from `start`
        s += start
        return (s + 1) / warmup if s < warmup else max(0.0, (config.steps - s) / max(1, config.steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    out.mkdir(parents=True, exist_ok=True)
    pad = gen.pad_token_id
    losses: list[float] = []
    started = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=start, desc="steps", unit="step", leave=False)
    try:
        for step in range(start, config.steps):
            batch = _collate([examples[i] for i in batches(len(examples), config.batch_size, step, config.seed)],
                             pad, gen.device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=gen.device.startswith("cuda")):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(round(float(loss.detach()), 5))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
                _save_checkpoint(out, step + 1, model, optimizer, history + losses)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    adapter = out / "adapter"
    with warnings.catch_warnings():  # peft notes that a GGUF base's folder has no config.json
        warnings.simplefilter("ignore")
        model.save_pretrained(str(adapter))
    merged = model.merge_and_unload()
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    report = FinetuneReport(base, str(out), len(examples), start, config.steps, losses,
                            time.perf_counter() - started, str(adapter), str(out))
    (out / "finetune.json").write_text(json.dumps({"base": base, "data": str(data), "config": asdict(config),
                                                   "losses": history + losses}, indent=2))
    return report
