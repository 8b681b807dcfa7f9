"""What the summarize pipeline costs over the bare model, for one prompt in one process:
tokens per second and time to first token of `Library.summarize` against a plain
`model.generate` on exactly the prompt the pipeline built, and the peak memory.

    python bench/bench_summarize.py [--model smollm2] [--max-new-tokens 200]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import need_data, peak_rss_mb

from rag import Library
from rag.summarize import messages_for
from rag.pack import passages_block

QUESTION = "What complications follow DVT prophylaxis in trauma patients?"


def bare_generate(generator, messages, max_new_tokens):
    import torch
    from transformers import TextStreamer

    inputs = generator.prompt_ids(messages)
    first = []
    start = time.perf_counter()

    class Clock(TextStreamer):
        def put(self, value):
            if self.next_tokens_are_prompt is False and not first:
                first.append(time.perf_counter() - start)
            super().put(value)

        def on_finalized_text(self, text, stream_end=False):
            pass

    with torch.inference_mode():
        out = generator.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                       repetition_penalty=1.1, streamer=Clock(generator.tokenizer, skip_prompt=True),
                                       pad_token_id=generator.tokenizer.eos_token_id)
    seconds = time.perf_counter() - start
    new = int(out.shape[1] - inputs["input_ids"].shape[1])
    return new / seconds, first[0], seconds, int(inputs["input_ids"].shape[1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    args = parser.parse_args()
    data = need_data()
    lib = Library(Path(tempfile.mkdtemp()) / "idx")
    lib.index(data / "pdfs" / "datta2010-dvt-prophylaxis-trauma.pdf", data / "pdfs" / "tully2010-heart-failure-programmes.pdf",
              progress=False)
    t = time.perf_counter()
    generator = lib.generator(args.model)
    load = time.perf_counter() - t
    warm = lib.summarize(QUESTION, model=args.model, max_new_tokens=args.max_new_tokens)  # warms caches
    messages = messages_for(QUESTION, passages_block(warm.evidence))
    bare_tps, bare_ttft, bare_s, prompt_tokens = bare_generate(generator, messages, args.max_new_tokens)
    t = time.perf_counter()
    s = lib.summarize(QUESTION, model=args.model, max_new_tokens=args.max_new_tokens)
    total = time.perf_counter() - t
    tm = s.timings
    print(f"model {generator.name} on {generator.device}; loaded in {load:.1f} s; prompt {prompt_tokens} tokens")
    print(f"{'':<28} {'tokens/s':>9} {'first token s':>14} {'wall s':>8}")
    print(f"{'bare model.generate':<28} {bare_tps:>9.2f} {bare_ttft:>14.3f} {bare_s:>8.2f}")
    print(f"{'medrag summarize':<28} {tm['new_tokens'] / total:>9.2f} {tm['retrieve_s'] + tm['first_token_s']:>14.3f} {total:>8.2f}")
    print(f"  of which retrieve {tm['retrieve_s']:.3f} s, generate {tm['generate_s']:.2f} s, verify {tm['verify_s']:.2f} s")
    print(f"ratio tokens/s (summarize end to end / bare): {tm['new_tokens'] / total / bare_tps:.2f}")
    print(f"ratio first token (summarize incl. retrieval / bare): {(tm['retrieve_s'] + tm['first_token_s']) / bare_ttft:.2f}")
    print(f"peak resident memory {peak_rss_mb():.0f} MB", end="")
    try:
        import torch

        if torch.cuda.is_available():
            print(f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MB", end="")
    except ImportError:
        pass
    print()


if __name__ == "__main__":
    main()
