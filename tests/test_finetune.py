"""`medrag finetune`: LoRA on real MedMCQA questions with the offline SmolLM2, on the CPU. The loss on
a repeated batch falls, a rerun resumes from the last checkpoint, and the merged model loads and answers."""
import copy
import json

import pytest

from rag.errors import MedragError
from rag.finetune import FinetuneConfig, batches, encode, finetune
from rag.mcq import ask, read_items

from .conftest import DATA

MEDMCQA = DATA / "medmcqa" / "dev_1000.jsonl"


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    if not MEDMCQA.is_file():
        pytest.skip(f"shared MedMCQA questions not found at {MEDMCQA} (set MEDRAG_TEST_DATA)")
    path = tmp_path_factory.mktemp("ft") / "train.jsonl"
    # The two shortest of the first 20 (a training step on a CPU costs seconds per hundred tokens).
    lines = MEDMCQA.read_text().splitlines(keepends=True)[:20]
    path.write_text("".join(sorted(lines, key=len)[:2]))
    return path


def test_batches_cover_each_epoch_in_a_fixed_order():
    steps = [batches(10, 4, s, seed=0) for s in range(6)]
    assert sorted(sum(steps[:3], [])) == list(range(10)) and sorted(sum(steps[3:], [])) == list(range(10))
    assert steps == [batches(10, 4, s, seed=0) for s in range(6)]


@pytest.mark.slow
def test_loss_falls_resumes_and_merged_model_answers(train_file, tmp_path):
    pytest.importorskip("peft")
    from rag.generate import TransformersGenerator, load_generator

    base = load_generator("smollm2", backend="transformers")  # shared with the other tests of the run; trained on copies only
    items = read_items(train_file)
    ids, labels = encode(base.tokenizer, items[0])
    answer = [t for t in labels if t != -100]
    assert labels[0] == -100 and f"Answer: {items[0].answer}" in base.tokenizer.decode(answer)  # the reply only
    assert len(answer) < 10 and ids[-len(answer):] == answer

    out = tmp_path / "model"
    config = FinetuneConfig(steps=3, lr=1e-3, lora_r=4, batch_size=2, save_every=1)
    # The same two questions every step: the loss on them falls.
    first = finetune(train_file, "smollm2", out, config, generator=copy.deepcopy(base))
    assert len(first.losses) == 3 and first.losses[-1] < first.losses[0], first.losses
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2", "step-3"]  # the last two kept
    with pytest.raises(MedragError, match="--resume"):
        finetune(train_file, "smollm2", out, config)  # refused before any model is loaded
    resumed = finetune(train_file, "smollm2", out, FinetuneConfig(steps=4, lr=1e-3, lora_r=4, batch_size=2,
                                                                   save_every=1), resume=True, generator=copy.deepcopy(base))
    assert resumed.start_step == 3 and len(resumed.losses) == 1
    assert json.loads((out / "finetune.json").read_text())["losses"][:3] == first.losses
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "model.safetensors").is_file()

    tuned = TransformersGenerator(str(out))  # what `--model DIR` loads
    r = ask(tuned, items[1], scoring="generated", max_new_tokens=6)
    assert r.reply.startswith("Answer:") and r.prediction in items[1].options, r.reply
    assert r.correct  # it has learnt the two answers it was trained on
