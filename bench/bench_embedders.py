"""Embedder options against float32 on the same passages: passages/s, how close their vectors are to
float32's, and retrieval (question -> its abstract, dense recall@10) over the 500 PubMedQA abstracts.

Options, each in this process, float32 run first and last so drift shows:
- float32: sentence-transformers, as `medrag index` runs it;
- int8: `torch.ao.quantization.quantize_dynamic` on the linear layers;
- bf16: `torch.autocast("cpu", dtype=torch.bfloat16)` (fast only where the CPU has bf16 instructions;
  the line says whether this one does);
- onnxruntime: the same model exported with `torch.onnx.export` (mean pooling and normalisation in the
  graph) and run by ONNX Runtime, with and without its BERT graph fusions; needs
  `pip install onnxruntime onnx` (three small packages; sentence-transformers' own ONNX backend needs
  optimum-onnx, which pins transformers below 4.58, so it is not measured).

    python bench/bench_embedders.py [--limit N] [--whole] [--options float32,int8,bf16,onnxruntime]
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from common import need_data

from rag import Library
from rag.context import embedding_text
from rag.evaluate import pubmedqa_sets
from rag.query import dense_query


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def torch_encoder(model, autocast: bool = False):
    import torch

    def encode(texts: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=False,
                               convert_to_tensor=True, show_progress_bar=False)
        return out.float().numpy()
    return encode


def onnx_encoders(model, work: Path) -> dict:
    """Export the transformer with mean pooling and normalisation, then run it with ONNX Runtime."""
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer

    bert = model[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            weight = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weight).sum(1) / weight.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = torch.ones(2, 16, dtype=torch.long)
    plain = work / "model.onnx"
    torch.onnx.export(Pooled(bert), (dummy, dummy, torch.zeros_like(dummy)), str(plain), dynamo=False,
                      input_names=names, output_names=["embedding"], opset_version=17,
                      dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}})
    from onnxruntime.transformers import optimizer

    config = bert.config
    fused = work / "model_fused.onnx"
    optimizer.optimize_model(str(plain), model_type="bert", num_heads=config.num_attention_heads,
                             hidden_size=config.hidden_size).save_model_to_file(str(fused))
    folder = Path(model.tokenizer.name_or_path)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(model.max_seq_length)
    tokenizer.no_padding()
    threads = torch.get_num_threads()

    def encoder(path: Path):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def encode(texts: list[str]) -> np.ndarray:
            encoded = tokenizer.encode_batch(texts)
            order = np.argsort([-len(e.ids) for e in encoded], kind="stable")
            out = np.zeros((len(texts), config.hidden_size), np.float32)
            for start in range(0, len(texts), 32):
                rows = order[start:start + 32]
                width = max(len(encoded[j].ids) for j in rows)
                ids = np.zeros((len(rows), width), np.int64)
                mask = np.zeros_like(ids)
                for k, j in enumerate(rows):
                    ids[k, :len(encoded[j].ids)] = encoded[j].ids
                    mask[k, :len(encoded[j].ids)] = 1
                out[rows] = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                               "token_type_ids": np.zeros_like(ids)})[0]
            return out
        return encode

    return {"onnxruntime": encoder(plain), "onnxruntime fused": encoder(fused)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N PubMedQA items")
    parser.add_argument("--options", default="float32,int8,bf16,onnxruntime")
    parser.add_argument("--whole", action="store_true",
                        help="embed each abstract whole (the model truncates it) instead of its passages")
    args = parser.parse_args()
    wanted = args.options.split(",")
    data = need_data()
    work = Path(tempfile.mkdtemp(prefix="medrag-embedders-"))
    sets = pubmedqa_sets(data / "pubmedqa" / "pqal_dev.json", work, args.limit)
    lib = Library(work / "idx")
    lib.index(sets["abstracts"], progress=False)
    rows = lib.store.db.execute("SELECT c.context, c.text, d.pmid FROM chunks c "
                                "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.id").fetchall()
    passages = [embedding_text(context, text) for context, text, _ in rows]
    pmids = np.asarray([r[2] for r in rows])
    if args.whole:
        abstracts = [json.loads(line) for line in sets["abstracts"].read_text().splitlines()]
        passages = [a["abstract"] for a in abstracts]
        pmids = np.asarray([a["pmid"] for a in abstracts])
    queries = [json.loads(line) for line in sets["questions"].read_text().splitlines()]
    questions = [dense_query(q["query"]) for q in queries]

    import torch

    model = lib.embedder.model
    encoders = {"float32": torch_encoder(model)}
    if "int8" in wanted:
        encoders["int8"] = torch_encoder(torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8))
    if "bf16" in wanted:
        encoders["bf16" + ("" if cpu_has_bf16() else " (no bf16 instructions on this CPU)")] = \
            torch_encoder(model, autocast=True)
    if "onnxruntime" in wanted:
        if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
            encoders.update(onnx_encoders(model, work))
        else:
            print("onnxruntime: not measured (pip install onnxruntime onnx)")
    order = list(encoders) + ["float32"]

    print(f"{len(passages)} passages, {len(questions)} questions, {torch.get_num_threads()} threads\n")
    print("| option | s | passages/s | vs float32 | cosine to float32 mean / min | R@10 |")
    print("|---|---|---|---|---|---|")
    reference, times = None, {}
    for run, name in enumerate(order):
        encode = encoders[name]
        encode(passages[:8])  # warm-up
        start = time.perf_counter()
        vectors = encode(passages)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = vectors
        q = encode(questions)
        top = np.argsort(-(q @ vectors.T), axis=1)[:, :10]
        recall = np.mean([x["relevant"][0] in set(pmids[t]) for x, t in zip(queries, top)])
        cosine = (vectors * reference).sum(1)
        times.setdefault(name, []).append(seconds)
        base = np.mean(times["float32"])
        label = name if run < len(order) - 1 else "float32 (again)"
        print(f"| {label} | {seconds:.1f} | {len(passages) / seconds:.1f} | {base / seconds:.2f}x | "
              f"{cosine.mean():.4f} / {cosine.min():.4f} | {recall:.3f} |", flush=True)


if __name__ == "__main__":
    main()
