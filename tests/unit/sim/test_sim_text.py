"""Pure parts: tokenizer, seeded text, schema values, answer letter, options, plans."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import jsonschema
import pytest

from cibench.sim import schemagen, textgen, tokenizer
from cibench.sim.options import SimOptions, build_parser, parse_options
from cibench.sim.plan import CONTENT, REASONING, PlanSettings, plan_choices
from cibench.sim.protocol import parse_chat


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("hello world", ["hell", "o", " wor", "ld"]),
        ("你好，世界", ["你", "好", "，", "世", "界"]),
        ("GPU显存 12345", ["GPU", "显", "存", " 123", "45"]),
        ("a  b\n", ["a", "  ", "b", "\n"]),
        ("<|im_start|>user\n", ["<|im_start|>", "user", "\n"]),
        ("", []),
    ],
)
def test_split_rules(text: str, pieces: list[str]) -> None:
    assert tokenizer.split(text) == pieces


@pytest.mark.parametrize("text", ["plain", "混合 mixed 文本 🙂 ünïcode", "<|im_end|>\t\tx"])
def test_encode_decode_round_trip(text: str) -> None:
    ids = tokenizer.encode(text)
    assert len(ids) == tokenizer.count(text)
    assert tokenizer.decode(ids) == text
    assert all(tokenizer.is_valid_id(i) for i in ids)


def test_chat_template_is_the_documented_one() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert tokenizer.render_chat(messages) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    tools = [{"type": "function", "function": {"name": "f"}}]
    rendered = tokenizer.render_chat(messages, tools, add_generation_prompt=False)
    assert rendered.startswith('<|im_start|>system\n# Tools\n[{"type":"function"')
    assert rendered.endswith("hi<|im_end|>\n")


def test_pseudo_pieces_are_single_tokens_and_retokenize_identically() -> None:
    pieces = textgen.pseudo_pieces(random.Random(5), 500)
    assert len(pieces) == 500
    assert all(tokenizer.split(p) == [p] for p in pieces)
    assert tokenizer.split("".join(pieces)) == pieces
    text = "".join(pieces)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert any(ch.isascii() and ch.isalpha() for ch in text)


def test_answer_letter_is_sha256_first_byte_mod_4() -> None:
    for text in ("q1", "第二题", "Answer: $LETTER\nA) x"):
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        assert textgen.answer_letter(text) == "ABCD"[digest[0] % 4]
    assert {textgen.answer_letter(f"q{i}") for i in range(40)} == set("ABCD")


def test_top_logprobs_start_with_the_sampled_token_and_descend() -> None:
    pairs = textgen.top_logprobs(" the", 3, 99, 5)
    assert pairs[0] == (" the", textgen.token_logprob(" the", 3, 99))
    assert len({t for t, _ in pairs}) == 5
    assert [lp for _, lp in pairs] == sorted((lp for _, lp in pairs), reverse=True)


SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"s": {"type": "string", "minLength": 30, "maxLength": 40}},
     "required": ["s"]},
    {"type": "array", "items": {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 6},
     "minItems": 1, "maxItems": 4},
    {"type": "number", "minimum": -1.5, "maximum": -1.0},
    {"type": ["null", "boolean"]},
    {"const": {"fixed": True}},
    {"type": "string", "format": "date-time"},
    {"type": "object", "properties": {"node": {"$ref": "#"}}},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS)
def test_schema_values_validate(schema: dict[str, Any]) -> None:
    for seed in range(30):
        jsonschema.validate(schemagen.generate(schema, random.Random(seed)), schema)


def plan_for(body: dict[str, Any], budget: int = 64, reasoning: bool = False) -> Any:
    req = parse_chat({"messages": [{"role": "user", "content": "q"}], **body})
    return plan_choices(req, PlanSettings(reasoning=reasoning), [budget], random.Random(0))


def test_plan_with_ignore_eos_fills_the_budget() -> None:
    (plan,) = plan_for({"ignore_eos": True}, budget=50)
    assert plan.num_tokens == 50
    assert plan.finish_reason == "length"


def test_plan_reasoning_comes_first_and_counts() -> None:
    (plan,) = plan_for({"ignore_eos": True}, budget=100, reasoning=True)
    assert plan.kinds[0] == REASONING
    assert plan.kinds[-1] == CONTENT
    assert plan.kinds == sorted(plan.kinds)
    assert plan.num_tokens == 100


def test_plan_stop_string_respects_min_tokens() -> None:
    (free,) = plan_for({"ignore_eos": True, "temperature": 0}, budget=200)
    text = free.text_of(CONTENT)
    stop = "." if "." in text else "。"
    first = len(tokenizer.split(text[: text.index(stop) + 1]))
    (late,) = plan_for({"ignore_eos": True, "temperature": 0, "stop": stop,
                        "min_tokens": first + 1}, budget=200)  # fmt: skip
    assert late.finish_reason == "stop"
    assert late.num_tokens > first


def test_options_defaults_and_validation(capsys: pytest.CaptureFixture[str]) -> None:
    opts = parse_options(["--model", "m", "--served-model-name", "a", "b"])
    assert opts.model_names == ("a", "b")
    assert opts.max_model_len == 4096
    assert opts == SimOptions(model="m", served_model_names=("a", "b"))
    for bad in (["--jitter", "1.5"], ["--max-num-seqs", "0"], ["--slowdown", "0"],
                ["--error-envelope", "weird"], ["--reasoning-key", "thoughts"]):  # fmt: skip
        with pytest.raises(SystemExit):
            parse_options(bad)
    assert "expected a fraction in [0, 1]" in capsys.readouterr().err


def test_every_option_is_documented_in_help() -> None:
    help_text = build_parser().format_help()
    for field in SimOptions.__dataclass_fields__:
        flag = (
            "--served-model-name"
            if field == "served_model_names"
            else "--" + field.replace("_", "-")
        )
        assert flag in help_text, flag
