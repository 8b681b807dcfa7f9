"""Generation speed of a Llama 3.2 1B Instruct-shaped model: prefill and decode tokens/s at several
batch sizes, plain `generate` against a fast path, and decode at batch 1 against the memory-bandwidth
limit measured in the same run.

The weights are random: speed does not depend on their values, so no model download is needed (the
configuration is Llama-3.2-1B-Instruct's own, written out below). Plain is `generate` with the
dynamic KV cache and eager attention in float32 on a CPU or bfloat16 on a GPU; fast is a static KV
cache, SDPA attention, bfloat16 on a GPU and, where a GPU is present, the forward pass compiled with
`torch.compile(mode="reduce-overhead")`. The bandwidth limit is weight bytes per decoded token over
the device-to-device copy bandwidth (bytes read plus bytes written per second) measured here.

    python bench/gpu_generate.py                               # on a GPU: batches 1, 8, 32
    python bench/gpu_generate.py --tiny --device cpu           # a tiny configuration, for the tests
    python bench/gpu_generate.py --json results.json
"""
from __future__ import annotations

import argparse
import json
import time

# Llama-3.2-1B-Instruct's config.json, less its token ids and torch_dtype.
LLAMA_32_1B = dict(
    vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, head_dim=64, hidden_act="silu",
    max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True,
    rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    attention_bias=False, mlp_bias=False, bos_token_id=128000, eos_token_id=[128001, 128008, 128009],
)
TINY = dict(LLAMA_32_1B, vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16)


def build(config: dict, device: str, dtype, attention: str):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(**config)
    cfg._attn_implementation = attention
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(dtype)
    model.eval()
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = None  # random weights: run every step, never stop early
    return model


def sync(device: str):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def copy_bandwidth(device: str, megabytes: int, repeats: int = 10) -> float:
    """Bytes per second moved by a device-to-device copy (each byte read once and written once)."""
    import torch

    n = megabytes * 2 ** 20
    src = torch.empty(n, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        dst.copy_(src)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n / best


def timed_generate(model, ids, new_tokens: int, device: str, **kwargs) -> float:
    import torch

    sync(device)
    t = time.perf_counter()
    with torch.inference_mode():
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, do_sample=False, **kwargs)
    sync(device)
    return time.perf_counter() - t


def measure(model, batch: int, prompt_tokens: int, new_tokens: int, device: str, repeats: int,
            vocab: int, **kwargs) -> dict:
    """Prefill tokens/s from a one-token generate; decode tokens/s from the rest of a longer one."""
    import torch

    g = torch.Generator().manual_seed(batch)
    ids = torch.randint(10, vocab, (batch, prompt_tokens), generator=g).to(device)
    timed_generate(model, ids, 2, device, **kwargs)  # warm-up (and, with compile, the compile)
    timed_generate(model, ids, new_tokens, device, **kwargs)
    first = min(timed_generate(model, ids, 1, device, **kwargs) for _ in range(repeats))
    total = min(timed_generate(model, ids, new_tokens, device, **kwargs) for _ in range(repeats))
    decode_seconds = max(total - first, 1e-9)
    return {"batch": batch, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
            "prefill_tokens_per_s": batch * prompt_tokens / first,
            "decode_tokens_per_s": batch * (new_tokens - 1) / decode_seconds,
            "first_token_s": first, "total_s": total}


def run(*, tiny: bool, device: str, batches: list[int], prompt_tokens: int, new_tokens: int,
        repeats: int, compile: bool | None) -> dict:
    import torch

    config = TINY if tiny else LLAMA_32_1B
    on_gpu = device.startswith("cuda")
    compile = on_gpu if compile is None else compile
    fast_dtype = torch.bfloat16 if on_gpu else torch.float32
    plain_dtype = torch.bfloat16 if on_gpu else torch.float32
    bandwidth = copy_bandwidth(device, 1024 if on_gpu else 256)
    result = {"device": torch.cuda.get_device_name(0) if on_gpu else "cpu", "torch": torch.__version__,
              "config": "tiny" if tiny else "Llama-3.2-1B-Instruct", "copy_bandwidth_gb_s": bandwidth / 1e9,
              "compile": compile, "paths": {}}
    import transformers

    result["transformers"] = transformers.__version__
    for path in ("plain", "fast"):
        if path == "plain":
            model = build(config, device, plain_dtype, "eager")
            kwargs = {}
        else:
            model = build(config, device, fast_dtype, "sdpa")
            kwargs = {"cache_implementation": "static"}
            if compile:
                model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        rows = [measure(model, b, prompt_tokens, new_tokens, device, repeats, config["vocab_size"], **kwargs)
                for b in batches]
        for row in rows:
            if row["batch"] == 1:
                limit = bandwidth / weight_bytes  # tokens/s if every step read every weight once
                row["bandwidth_limit_tokens_per_s"] = limit
                row["fraction_of_bandwidth_limit"] = row["decode_tokens_per_s"] / limit
        result["paths"][path] = {"dtype": str(model.dtype).replace("torch.", ""),
                                 "weight_mb": weight_bytes / 2 ** 20, "rows": rows}
        del model
        if on_gpu:
            torch.cuda.empty_cache()
    return result


def table(result: dict) -> str:
    lines = [f"{result['config']} on {result['device']} (torch {result['torch']}, transformers "
             f"{result['transformers']}); device-to-device copy {result['copy_bandwidth_gb_s']:.0f} GB/s",
             "",
             "| path | dtype | batch | prefill tok/s | decode tok/s | decode / bandwidth limit |",
             "|---|---|---|---|---|---|"]
    for path, data in result["paths"].items():
        for row in data["rows"]:
            frac = row.get("fraction_of_bandwidth_limit")
            lines.append(f"| {path} | {data['dtype']} | {row['batch']} | {row['prefill_tokens_per_s']:,.0f} | "
                         f"{row['decode_tokens_per_s']:,.1f} | {'' if frac is None else f'{frac:.2f}'} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda or cpu [default: cuda when present]")
    parser.add_argument("--tiny", action="store_true", help="a tiny configuration (for a CPU and the tests)")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", dest="compile", action="store_true", default=None,
                        help="compile the fast path's forward pass [default: on a GPU only]")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    result = run(tiny=args.tiny, device=device, batches=[int(b) for b in args.batches.split(",")],
                 prompt_tokens=args.prompt_tokens, new_tokens=args.new_tokens, repeats=args.repeats,
                 compile=args.compile)
    print(table(result))
    if args.json_path:
        with open(args.json_path, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
