"""The llama.cpp backend (`medrag[llamacpp]`): on the shipped SmolLM2 GGUF, against transformers on the same
file, and on a tiny GGUF written here with the real Llama 3.2 tokenizer and Instruct chat template."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="the llama.cpp backend is an extra: ./install.sh --llamacpp")

from typer.testing import CliRunner  # noqa: E402

from rag.cli import app  # noqa: E402
from rag.errors import ModelUnavailable  # noqa: E402
from rag.generate import TransformersGenerator, load_generator  # noqa: E402
from rag.llamacpp import LlamaCppGenerator  # noqa: E402
from rag.prompts import PRIMER  # noqa: E402
from rag.summarize import messages_for  # noqa: E402

from .test_generate import (DVT, END_OF_TEXT, EOT, LLAMA32_CHAT_TEMPLATE, LLAMA32_INSTRUCT_EOS, PASSAGE,  # noqa: E402
                            REPLY, llama_tokenizer_folder, tiny_llama)

MESSAGES = [{"role": "system", "content": "You answer in one sentence."},
            {"role": "user", "content": "What is heparin used for?"}]
TEXTS = [PASSAGE, DVT, "β-blockers reduced HbA1c by 0.5 mmol/mol (p<0.05) — see Table 2.", "  two  spaces\n\nand a line",
         ""]


@pytest.fixture(scope="module")
def smollm2():
    gen = load_generator("smollm2")  # the default backend for a GGUF file on a CPU once llama.cpp is installed
    assert isinstance(gen, LlamaCppGenerator)
    return gen


@pytest.fixture(scope="module")
def smollm2_transformers():
    return load_generator("smollm2", backend="transformers")


def test_same_prompt_and_token_counts_as_transformers_on_the_same_file(smollm2, smollm2_transformers):
    hf = smollm2_transformers
    for messages in (MESSAGES, messages_for(DVT, PASSAGE), messages_for(DVT, PASSAGE) +
                     [{"role": "assistant", "content": PRIMER}]):
        assert smollm2.prompt_ids(messages) == hf.prompt_ids(messages)["input_ids"][0].tolist()
    assert [smollm2.count_tokens(t) for t in TEXTS] == [hf.count_tokens(t) for t in TEXTS]


def test_greedy_reply_streams_stops_at_end_of_turn_and_repeats(smollm2):
    pieces: list[str] = []
    g = smollm2.generate(MESSAGES, max_new_tokens=200, on_text=pieces.append)
    assert g.text and "".join(pieces).strip() == g.text
    assert g.prompt_tokens == len(smollm2.prompt_ids(MESSAGES))
    assert 0 < g.first_token_seconds <= g.seconds
    assert g.new_tokens < 200 and g.stopped is None  # ended at <|im_end|>, not at the budget
    assert "<|im_end|>" not in g.text
    assert smollm2.generate(MESSAGES, max_new_tokens=200).text == g.text
    short = smollm2.generate(MESSAGES, max_new_tokens=5)
    assert short.new_tokens == 5 and g.text.startswith(short.text)


def test_sampling_follows_the_seed(smollm2):
    a = smollm2.generate(MESSAGES, max_new_tokens=24, temperature=1.0, seed=7).text
    b = smollm2.generate(MESSAGES, max_new_tokens=24, temperature=1.0, seed=7).text
    others = {smollm2.generate(MESSAGES, max_new_tokens=24, temperature=1.0, seed=s).text for s in (8, 9, 10)}
    assert a == b and others != {a}


def test_a_reply_begun_for_the_model_is_continued(smollm2):
    primed = MESSAGES + [{"role": "assistant", "content": "Heparin is"}]
    text = smollm2.prompt(primed)
    assert text.endswith("<|im_start|>assistant\nHeparin is")
    assert smollm2.generate(primed, max_new_tokens=12).text


def test_backend_choice(smollm2, monkeypatch):
    assert isinstance(load_generator("smollm2", backend="transformers"), TransformersGenerator)
    monkeypatch.setenv("MEDRAG_BACKEND", "llamacpp")
    assert load_generator("smollm2") is smollm2
    with pytest.raises(ModelUnavailable, match="GGUF"):
        load_generator("meta-llama/Llama-3.2-1B-Instruct")
    with pytest.raises(ValueError, match="backend"):
        load_generator("smollm2", backend="onnx")


def test_summarize_from_the_command_line_runs_on_llamacpp(small_pdfs, tmp_path):
    index = tmp_path / "idx"
    assert CliRunner().invoke(app, ["index", str(small_pdfs), "--index", str(index)]).exit_code == 0
    out = CliRunner().invoke(app, ["summarize", "--query", DVT, "--model", "smollm2", "--json", "--max-new-tokens",
                                   "160", "--index", str(index)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["model"] == "smollm2" and data["raw"]
    assert isinstance(load_generator("smollm2"), LlamaCppGenerator)
    for f in data["findings"]:
        for c in f["citations"]:
            assert 1 <= c["evidence"] <= len(data["evidence"])


# ---- a Llama 3.2 Instruct GGUF --------------------------------------------------------------------------


def write_gguf(folder, path):
    """The tiny Llama folder as a GGUF file, laid out as llama.cpp's converter lays out Llama 3.2: the
    tokenizer as byte-level BPE with Llama 3's pre-tokenizer, q and k permuted for llama.cpp's rotary layout."""
    import gguf
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, LlamaConfig

    config = LlamaConfig.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    weights = {k: v.to(torch.float32).numpy() for k, v in load_file(str(folder / "model.safetensors")).items()}
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama-3.2")
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    w.add_rope_freq_base(config.rope_theta if hasattr(config, "rope_theta") else 10000.0)
    w.add_vocab_size(len(tok))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = {i: t for t, i in tok.get_vocab().items()}
    special = set(tok.all_special_ids) | set(tok.added_tokens_decoder)
    tokens = [vocab[i] for i in range(len(tok))]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(len(tok))])
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(END_OF_TEXT)  # only <|end_of_text|>: stopping at <|eot_id|> is the generator's doing
    w.add_add_bos_token(True)
    w.add_chat_template(LLAMA32_CHAT_TEMPLATE)

    def permute(x, heads):
        return x.reshape(heads, 2, x.shape[0] // heads // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)

    w.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"])
    for n in range(config.num_hidden_layers):
        p = f"model.layers.{n}."
        for ours, theirs in [("attn_norm", "input_layernorm"), ("attn_v", "self_attn.v_proj"),
                             ("attn_output", "self_attn.o_proj"), ("ffn_norm", "post_attention_layernorm"),
                             ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj")]:
            w.add_tensor(f"blk.{n}.{ours}.weight", weights[p + theirs + ".weight"])
        w.add_tensor(f"blk.{n}.attn_q.weight", permute(weights[p + "self_attn.q_proj.weight"], config.num_attention_heads))
        w.add_tensor(f"blk.{n}.attn_k.weight", permute(weights[p + "self_attn.k_proj.weight"], config.num_key_value_heads))
    w.add_tensor("output_norm.weight", weights["model.norm.weight"])
    w.add_tensor("output.weight", weights["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def llama_gguf(tmp_path_factory):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(llama_tokenizer_folder())
    folder = tiny_llama(tokenizer, tmp_path_factory.mktemp("llama32"), LLAMA32_INSTRUCT_EOS)
    return folder, write_gguf(folder, folder / "tiny-llama-3.2-instruct-f32.gguf")


def test_llama_gguf_applies_the_template_counts_and_stops_at_end_of_turn(llama_gguf):
    folder, path = llama_gguf
    hf = TransformersGenerator(str(folder), device="cpu")
    gen = LlamaCppGenerator(path)
    messages = messages_for(DVT, "[1] Paper (2010), p. 1\n\"\"\"" + PASSAGE + "\"\"\"")
    assert gen.prompt_ids(messages) == hf.prompt_ids(messages)["input_ids"][0].tolist()
    primed = messages + [{"role": "assistant", "content": PRIMER}]
    assert gen.prompt_ids(primed) == hf.prompt_ids(primed)["input_ids"][0].tolist()
    assert "Cutting Knowledge Date" in gen.prompt(messages) and "26 Jul 2024" in gen.prompt(messages)
    assert [gen.count_tokens(t) for t in TEXTS] == [hf.count_tokens(t) for t in TEXTS]
    assert EOT in gen.stop_ids and END_OF_TEXT in gen.stop_ids
    g = gen.generate(messages, max_new_tokens=40)
    assert g.text == REPLY == hf.generate(messages, max_new_tokens=40).text
    assert g.new_tokens == gen.count_tokens(REPLY) + 1  # and <|eot_id|>, which ends it
    assert g.stopped is None
    assert np.isfinite(g.tokens_per_second)


@pytest.mark.parametrize("ftype", ["Q8_0", "Q4_K_M"])
def test_llama_gguf_quantized_as_users_get_it_still_stops_at_end_of_turn(llama_gguf, tmp_path, ftype):
    """Llama 3.2 1B Instruct comes as Q8_0 and Q4_K_M files: the same tiny model quantized by llama.cpp itself."""
    import llama_cpp

    _, path = llama_gguf
    out = tmp_path / f"tiny-{ftype}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    assert llama_cpp.llama_model_quantize(str(path).encode(), str(out).encode(), params) == 0
    assert out.stat().st_size < path.stat().st_size
    gen = LlamaCppGenerator(out)
    assert EOT in gen.stop_ids
    g = gen.generate(messages_for(DVT, PASSAGE), max_new_tokens=40)
    assert g.text == REPLY and g.stopped is None and g.new_tokens == gen.count_tokens(REPLY) + 1
