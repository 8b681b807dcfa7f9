"""llama.cpp against transformers on the same GGUF file and the same prompt: load time, time to first
token, tokens/s and peak memory. Each backend runs in a process of its own (so peak memory is its own),
one after another, for --rounds rounds (so machine load drifts over both alike); the figures are medians.

    python bench/bench_backends.py                          # SmolLM2 (the shipped GGUF)
    python bench/bench_backends.py --model /tmp/qwen15.gguf --max-new-tokens 128

The prompt is medrag's own: the summarize prompt for the README's question over the shared PDFs.
Backends: transformers as medrag loads it (weights left in GGUF blocks), transformers with
`GgufConfig(dequantize=True)` (weights unpacked to float32 at load), and llama.cpp on 1 and on all
cores. Greedy decoding, `--max-new-tokens` tokens each time (the end-of-turn token is ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, need_data

QUESTION = "What complications follow DVT prophylaxis in trauma patients?"
BACKENDS = ["transformers", "transformers-dequantized", "llamacpp-1-thread", "llamacpp"]


def build_prompt(model: str, path: Path) -> None:
    """The summarize prompt (chat messages) for QUESTION over two shared PDFs, written to path."""
    data = need_data()
    sys.path.insert(0, str(ROOT))
    from rag import Library
    from rag.pack import passages_block
    from rag.summarize import messages_for

    lib = Library(Path(tempfile.mkdtemp()) / "idx")
    lib.index(data / "pdfs" / "datta2010-dvt-prophylaxis-trauma.pdf", data / "pdfs" / "tully2010-heart-failure-programmes.pdf",
              progress=False)
    s = lib.summarize(QUESTION, model="extractive")
    path.write_text(json.dumps(messages_for(QUESTION, passages_block(s.evidence))))


def child(backend: str, model: str, prompt_file: Path, new_tokens: int, repeats: int) -> dict:
    """Runs in the child process: load, one warm-up, then `repeats` timed generations."""
    import resource

    sys.path.insert(0, str(ROOT))
    messages = json.loads(prompt_file.read_text())
    from rag.generate import gguf_path

    gguf = gguf_path(model)
    t = time.perf_counter()
    if backend.startswith("llamacpp"):
        from rag.llamacpp import LlamaCppGenerator

        gen = LlamaCppGenerator(gguf, threads=1 if backend == "llamacpp-1-thread" else None)
        load = time.perf_counter() - t
        ids = gen.prompt_ids(messages)

        def once():
            gen.llm.reset()  # no prefix reuse between runs: every run processes the whole prompt
            start, first, n = time.perf_counter(), None, 0
            for _ in gen.llm.generate(ids, temp=0.0, repeat_penalty=1.1):
                if first is None:
                    first = time.perf_counter() - start
                n += 1
                if n >= new_tokens:
                    break
            return first, time.perf_counter() - start, n
    else:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

        kwargs = {"dtype": torch.float32, "gguf_file": gguf.name}
        if backend == "transformers-dequantized":
            kwargs["quantization_config"] = GgufConfig(dequantize=True)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model_ = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs).eval()
        load = time.perf_counter() - t
        from rag.generate import PROMPT_DATE, timed_streamer

        inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True,
                                         date_string=PROMPT_DATE)
        ids = inputs["input_ids"][0].tolist()

        def once():
            streamer = timed_streamer(tok)
            with torch.inference_mode():
                out = model_.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                      repetition_penalty=1.1, streamer=streamer, pad_token_id=tok.eos_token_id)
            return streamer.first_token_seconds, time.perf_counter() - streamer.started, \
                int(out.shape[1] - inputs["input_ids"].shape[1])
    once()
    runs = [once() for _ in range(repeats)]
    first = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    n = runs[0][2]
    return {"backend": backend, "load_s": load, "prompt_tokens": len(ids), "new_tokens": n, "first_token_s": first,
            "decode_tokens_per_s": (n - 1) / max(total - first, 1e-9), "total_s": total,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="smollm2 or a .gguf file")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="timed generations per process")
    parser.add_argument("--rounds", type=int, default=2, help="processes per backend, taken in turn")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--prompt-file", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.model, args.prompt_file, args.max_new_tokens, args.repeats)))
        return
    prompt = Path(tempfile.mkdtemp()) / "prompt.json"
    build_prompt(args.model, prompt)
    backends = args.backends.split(",")
    results: dict[str, list[dict]] = {b: [] for b in backends}
    for _ in range(args.rounds):
        for b in backends:
            out = subprocess.run([sys.executable, __file__, "--child", b, "--model", args.model, "--prompt-file",
                                  str(prompt), "--max-new-tokens", str(args.max_new_tokens), "--repeats",
                                  str(args.repeats)], capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
            if out.returncode != 0:
                sys.exit(f"{b} failed: {out.stderr.strip()[-800:]}")
            results[b].append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = results[backends[0]][0]
    print(f"{args.model}: prompt {first['prompt_tokens']} tokens, {first['new_tokens']} new tokens, greedy; "
          f"median of {args.rounds} processes x {args.repeats} runs; {os.cpu_count()} cores\n")
    print("| backend | load s | first token s | decode tokens/s | peak RSS MB |")
    print("|---|---|---|---|---|")
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    for b, rows in results.items():
        print(f"| {b} | {med(rows, 'load_s'):.2f} | {med(rows, 'first_token_s'):.2f} | "
              f"{med(rows, 'decode_tokens_per_s'):.1f} | {med(rows, 'peak_rss_mb'):.0f} |")
    if "transformers" in results and "llamacpp" in results:
        t, l = results["transformers"], results["llamacpp"]
        print(f"\nllama.cpp / transformers: load {med(t, 'load_s') / med(l, 'load_s'):.0f}x faster, first token "
              f"{med(t, 'first_token_s') / med(l, 'first_token_s'):.1f}x, decode "
              f"{med(l, 'decode_tokens_per_s') / med(t, 'decode_tokens_per_s'):.1f}x, memory "
              f"{med(t, 'peak_rss_mb') / med(l, 'peak_rss_mb'):.1f}x less")


if __name__ == "__main__":
    main()
