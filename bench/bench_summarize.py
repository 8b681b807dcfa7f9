"""What the summarize pipeline costs over the bare model, for one prompt in one process:
tokens per second and time to first token of `Library.summarize` against a plain
`model.generate` on exactly the prompt the pipeline built, and the peak memory.

    python bench/bench_summarize.py [--model smollm2] [--max-new-tokens 200]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import need_data, peak_rss_mb

from rag import Library
from rag.summarize import messages_for
from rag.pack import passages_block

QUESTION = "What complications follow DVT prophylaxis in trauma patients?"


def bare_generate(generator, messages, max_new_tokens):
    """model.generate on the prompt alone, timed with the same streamer medrag uses."""
    import torch

    from rag.generate import timed_streamer

    inputs = generator.prompt_ids(messages)
    streamer = timed_streamer(generator.tokenizer)
    with torch.inference_mode():
        out = generator.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                       repetition_penalty=1.1, streamer=streamer,
                                       pad_token_id=generator.pad_token_id)
    seconds = time.perf_counter() - streamer.started
    new = int(out.shape[1] - inputs["input_ids"].shape[1])
    return new / seconds, streamer.first_token_seconds, seconds, int(inputs["input_ids"].shape[1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
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
    bare_runs, medrag_runs = [], []
    for _ in range(args.repeats):  # alternate, so drift in machine load hits both sides alike
        bare_runs.append(bare_generate(generator, messages, args.max_new_tokens))
        t = time.perf_counter()
        s = lib.summarize(QUESTION, model=args.model, max_new_tokens=args.max_new_tokens)
        total = time.perf_counter() - t
        tm = s.timings
        medrag_runs.append((tm["new_tokens"] / total, tm["retrieve_s"] + tm["first_token_s"], total, tm))
    med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
    prompt_tokens = bare_runs[0][3]
    print(f"model {generator.name} on {generator.device}; loaded in {load:.1f} s; prompt {prompt_tokens} tokens; "
          f"{args.max_new_tokens} new tokens; median of {args.repeats} alternating runs")
    print(f"{'':<28} {'tokens/s':>9} {'first token s':>14} {'wall s':>8}")
    print(f"{'bare model.generate':<28} {med(bare_runs, 0):>9.2f} {med(bare_runs, 1):>14.3f} {med(bare_runs, 2):>8.2f}")
    print(f"{'medrag summarize':<28} {med(medrag_runs, 0):>9.2f} {med(medrag_runs, 1):>14.3f} {med(medrag_runs, 2):>8.2f}")
    tm = medrag_runs[-1][3]
    print(f"  of which retrieve {tm['retrieve_s']:.3f} s, generate {tm['generate_s']:.2f} s, verify {tm['verify_s']:.2f} s")
    print(f"ratio tokens/s (summarize end to end / bare): {med(medrag_runs, 0) / med(bare_runs, 0):.2f}")
    print(f"ratio first token (summarize incl. retrieval / bare): {med(medrag_runs, 1) / med(bare_runs, 1):.2f}")
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
