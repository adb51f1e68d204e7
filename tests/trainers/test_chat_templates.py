"""Every shipped chat template renders, tokenizes and masks exactly as transformers does.

The reference is transformers' own `apply_chat_template` (text, token ids and, for templates
with `{% generation %}` markers, `return_assistant_tokens_mask`), run on the tokenizers that
`hf_tokenizers` builds with transformers' converter from the bundled vocabularies. Ours is the
pack stage's production path (`process_lines`, as the packer calls it).
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
from pathlib import Path

import orjson
import pytest

transformers = pytest.importorskip("transformers")

from sdgflow.pack import chat_templates  # noqa: E402
from sdgflow.pack.config import PackingConfig  # noqa: E402
from sdgflow.pack.render import make_renderer  # noqa: E402
from sdgflow.pack.run import process_lines  # noqa: E402
from sdgflow.pack.tokenizer import load_tokenizer  # noqa: E402
from tests.trainers.conversations import rows, with_object_arguments  # noqa: E402
from tests.trainers.hf_tokenizers import hf_tokenizer  # noqa: E402

VOCAB = {"qwen3": "qwen3", "qwen3-training": "qwen3", "qwen2.5": "qwen2.5",
         "qwen2.5-training": "qwen2.5", "gpt-oss": "o200k_harmony",
         "gpt-oss-training": "o200k_harmony", "llama3.1": "llama3"}
RENDER_DATE = PackingConfig().render_date
ROWS = rows()


def _ours(name: str, row: dict):
    renderer = make_renderer(load_tokenizer(VOCAB[name]), name, today=RENDER_DATE)
    chunk = process_lines([orjson.dumps(row)], renderer, keep_tokens=True)
    return chunk, renderer


def _theirs(name: str, row: dict, mask: bool):
    tok = hf_tokenizer(VOCAB[name])
    return tok.apply_chat_template(
        copy.deepcopy(row["messages"]), tools=copy.deepcopy(row["tools"]),
        chat_template=chat_templates.shipped_source(name), tokenize=True, return_dict=True,
        return_assistant_tokens_mask=mask)


def _case_ids():
    for name in VOCAB:
        for key in ROWS:
            for layout in ("string", "object"):
                yield pytest.param(name, key, layout, id=f"{name}-{key}-{layout}")


@pytest.mark.parametrize(("name", "key", "layout"), list(_case_ids()))
def test_ids_and_masks_equal_transformers(name, key, layout):
    row = ROWS[key] if layout == "string" else with_object_arguments(ROWS[key])
    renderer_has_markers = name.endswith("-training")
    try:
        out = _theirs(name, row, renderer_has_markers)
    except Exception as e:  # the template itself refuses this conversation
        chunk, _ = _ours(name, row)
        codes = [code for _, code, _ in chunk.problems]
        assert "template_error" in codes, f"transformers raised {e!r}, we did not"
        return
    chunk, renderer = _ours(name, row)
    assert chunk.tokens.tolist() == list(out["input_ids"])
    assert int(chunk.total[0]) == len(out["input_ids"])
    if renderer_has_markers:
        assert [c for _, c, _ in chunk.problems if c.startswith("template")] == []
        assert chunk.mask.tolist() == list(out["assistant_masks"])
    else:
        _assert_assistant_turns_train(renderer, row, chunk)


def _assert_assistant_turns_train(renderer, row, chunk):
    """Without markers there is no owner's mask to compare with: every assistant turn's
    content and call names that the template writes must be trainable, nothing of the user or
    tool turns may be, and a turn whose span was not found must be a reported problem."""
    tok = renderer.tok
    ids, mask = chunk.tokens.tolist(), chunk.mask.tolist()
    full = tok.decode(ids)
    trained = tok.decode([t for t, m in zip(ids, mask, strict=True) if m])
    unlocated = {int(msg.split(" message ")[1].split()[0])
                 for _, code, msg in chunk.problems if code == "template_span"}
    for k, m in enumerate(row["messages"]):
        if m["role"] == "assistant" and k not in unlocated:
            content = (m.get("content") or "").strip()
            if content and content in full:
                assert content in trained
            # every template writes a turn's first call (gpt-oss's and Llama 3.1's only that)
            for tc in (m.get("tool_calls") or [])[:1]:
                assert tc["function"]["name"] in trained
        elif m["role"] in ("user", "tool"):
            assert m["content"] not in trained


@pytest.mark.parametrize("name", ["qwen3", "qwen2.5", "llama3.1"])
def test_default_templates_locate_every_assistant_turn(name):
    """The bundled vocabularies' own templates need no `{% generation %}` markers: every
    assistant turn of every shape is found (gpt-oss defaults to harmony; its Jinja template
    writes a trailing final answer with <|return|> and an earlier one with <|end|>, which
    prefix rendering cannot align: those turns are reported, use `gpt-oss-training`)."""
    for key, row in ROWS.items():
        for r in (row, with_object_arguments(row)):
            chunk, _ = _ours(name, r)
            codes = [c for _, c, _ in chunk.problems]
            assert "template_span" not in codes, (key, chunk.problems)


@pytest.mark.parametrize("key", list(ROWS))
def test_text_equals_transformers_render(key):
    """The decoded render equals `apply_chat_template(tokenize=False)` for the default
    template of each vocabulary (text as well as ids: a decode that hid a difference would
    show here)."""
    for name in ("qwen3", "qwen2.5", "llama3.1", "gpt-oss"):
        row = ROWS[key]
        try:
            text = hf_tokenizer(VOCAB[name]).apply_chat_template(
                copy.deepcopy(row["messages"]), tools=copy.deepcopy(row["tools"]),
                chat_template=chat_templates.shipped_source(name), tokenize=False)
        except Exception:
            continue
        renderer = make_renderer(load_tokenizer(VOCAB[name]), name, today=RENDER_DATE)
        assert renderer.render(row, debug=True).text == text


def test_qwen3_default_keeps_arguments_as_written_and_the_think_block():
    """The two differences the user report found in every row."""
    row = ROWS["single_call"]
    text = make_renderer(load_tokenizer("qwen3"), None).render(row, debug=True).text
    assert '"arguments": {"order_id":"ORD-10492"}' in text  # the row's string, as written
    assert "<|im_start|>assistant\n<think>\n\n</think>\n\nYour order" in text


def test_qwen3_official_template_trains_tool_calls_and_end_of_turn():
    chunk, renderer = _ours("qwen3", ROWS["sequential_calls"])
    tok = renderer.tok
    ids, mask = chunk.tokens.tolist(), chunk.mask.tolist()
    im_end = tok.specials["<|im_end|>"]
    tool_call = tok.specials["<tool_call>"]  # also in the system prompt's instructions
    assert sum(m for t, m in zip(ids, mask, strict=True) if t == tool_call) == 2  # both calls
    ends = [m for t, m in zip(ids, mask, strict=True) if t == im_end]
    assert ends.count(1) == 3  # the three assistant turns; system, user and tool turns: 0
    assert chunk.roles["assistant_tool_call"][1] > 0


@pytest.mark.parametrize("name", ["qwen3", "qwen3-training", "harmony"])
def test_final_answer_only_trains_the_last_assistant_turn(name):
    vocab = "o200k_harmony" if name == "harmony" else VOCAB[name]
    row = ROWS["sequential_calls"]
    every = process_lines([orjson.dumps(row)], make_renderer(load_tokenizer(vocab), name),
                          keep_tokens=True)
    final = process_lines([orjson.dumps(row)], make_renderer(
        load_tokenizer(vocab), name, loss_on="final_answer"), keep_tokens=True)
    assert final.roles["assistant_tool_call"][1] == 0 < every.roles["assistant_tool_call"][1]
    assert final.roles["assistant"][1] > 0
    assert final.tokens.tolist() == every.tokens.tolist()
    trained = load_tokenizer(vocab).decode(
        [t for t, m in zip(final.tokens.tolist(), final.mask.tolist(), strict=True) if m])
    assert row["messages"][-1]["content"] in trained
    assert "ORD-10492" not in trained.replace(row["messages"][-1]["content"], "")
    assert not final.problems


@pytest.mark.parametrize("name", ["qwen3", "qwen2.5-training", "llama3.1", "harmony"])
def test_roles_add_up_to_the_counts(name):
    """Every token is in exactly one role, every trainable token too."""
    vocab = "o200k_harmony" if name == "harmony" else VOCAB[name]
    chunk = process_lines([orjson.dumps(r) for r in ROWS.values()],
                          make_renderer(load_tokenizer(vocab), name), keep_tokens=True)
    assert sum(t for t, _ in chunk.roles.values()) == int(chunk.total.sum())
    assert sum(lo for _, lo in chunk.roles.values()) == int(chunk.loss.sum())
    assert chunk.roles["user"][1] == chunk.roles["tool"][1] == 0
    assert chunk.roles["assistant_tool_call"][1] > 0


def _trl_templates() -> Path:
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("trl is not installed (.ci/run installs it with --no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / "chat_templates"


@pytest.mark.parametrize("name", sorted(chat_templates.SHIPPED))
def test_shipped_templates_are_trls_files(name):
    ours = chat_templates.shipped_source(name)
    theirs = (_trl_templates() / chat_templates.SHIPPED[name]).read_text(encoding="utf-8")
    assert ours == theirs


@pytest.mark.parametrize("file", ["qwen3_training.jinja", "gptoss_training.jinja",
                                  "qwen2_5_training.jinja", "llama3_training.jinja"])
def test_trl_training_templates_load_and_mask_as_transformers(file, tmp_path):
    """TRL's own files, given as `packing.chat_template` paths."""
    path = _trl_templates() / file
    vocab = {"qwen3": "qwen3", "gptoss": "o200k_harmony", "qwen2_5": "qwen2.5",
             "llama3": "llama3"}[file.rsplit("_", 1)[0]]
    source = path.read_text(encoding="utf-8")
    renderer = make_renderer(load_tokenizer(vocab), str(path), today=RENDER_DATE)
    for key in ("single_call", "sequential_calls", "reasoning", "no_system"):
        row = ROWS[key]
        out = hf_tokenizer(vocab).apply_chat_template(
            copy.deepcopy(row["messages"]), tools=copy.deepcopy(row["tools"]),
            chat_template=source, tokenize=True, return_dict=True,
            return_assistant_tokens_mask=True)
        chunk = process_lines([orjson.dumps(row)], renderer, keep_tokens=True)
        assert chunk.tokens.tolist() == list(out["input_ids"]), key
        assert chunk.mask.tolist() == list(out["assistant_masks"]), key


@pytest.mark.parametrize("name", ["qwen3-training", "gpt-oss-training"])
def test_packed_parquet_sequences_are_transformers_ids_and_shifted_masks(name, tmp_path):
    """The packed parquet (the Megatron-Bridge path): every sequence in it is
    apply_chat_template's ids, and its loss_mask is transformers' assistant mask shifted by
    one (loss_mask[t] trains the prediction of token t+1), 0 on each sequence's last token."""
    import pyarrow.parquet as pq

    from sdgflow.pack.run import pack_file

    data = tmp_path / "rows.jsonl"
    objs = [*ROWS.values(), *(with_object_arguments(r) for r in ROWS.values())]
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in objs))
    expected = {}
    for r in objs:
        out = _theirs(name, r, True)
        ids = tuple(out["input_ids"])
        expected[ids] = [*out["assistant_masks"][1:], 0]
    cfg = PackingConfig(tokenizer=VOCAB[name], chat_template=name, dry_run=False,
                        pack_size=4096)
    packed = tmp_path / "packed.parquet"
    rep = pack_file(data, cfg, tmp_path / "r.json", packed_path=packed, workers=1)
    assert rep.problem_count == 0
    seen = 0
    for row in pq.read_table(packed).to_pylist():
        bounds = [*row["seq_start_id"], len(row["input_ids"])]
        for s, e in itertools.pairwise(bounds):
            seq = tuple(row["input_ids"][s:e])
            assert seq in expected
            assert row["loss_mask"][s:e] == expected[seq]
            seen += 1
    assert seen == len(objs)


@pytest.mark.parametrize(("own", "training"), [("qwen3", "qwen3-training"),
                                               ("qwen2.5", "qwen2.5-training"),
                                               ("gpt-oss", "gpt-oss-training")])
def test_trl_trains_with_the_shipped_training_template(own, training):
    """`SFTTrainer(assistant_only_loss=True)` swaps in `get_training_chat_template(tokenizer)`
    for a template without markers: for each model's own template that is the shipped
    `*-training` one, so `packing.chat_template: NAME-training` counts what TRL trains on."""
    _trl_templates()
    from trl.chat_template_utils import get_training_chat_template

    tok = copy.copy(hf_tokenizer(VOCAB[own]))
    tok.chat_template = chat_templates.shipped_source(own)
    assert get_training_chat_template(tok) == chat_templates.shipped_source(training)


@pytest.mark.parametrize("name", ["qwen3", "harmony"])
def test_json_string_layout_packs_as_the_lists(name):
    """`tools_format` / `messages_format: json_string` rows count and mask as the lists do."""
    vocab = "o200k_harmony" if name == "harmony" else VOCAB[name]
    renderer = make_renderer(load_tokenizer(vocab), name)
    for row in ROWS.values():
        strung = {"messages": orjson.dumps(row["messages"]).decode(),
                  "tools": orjson.dumps(row["tools"]).decode()}
        a = process_lines([orjson.dumps(row)], renderer, keep_tokens=True)
        b = process_lines([orjson.dumps(strung)], renderer, keep_tokens=True)
        assert a.tokens.tolist() == b.tokens.tolist()
        assert a.mask.tolist() == b.mask.tolist()
        assert b.problems == a.problems
