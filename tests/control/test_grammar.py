"""The transformers-cfg adapter: offline, byte-level tokenizers, clear errors for bad grammars."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from roleplay.control.errors import ControlError
from roleplay.control.grammar import (
    GrammarCompiler,
    bundled_grammars,
    gpt2_byte_tables,
    load_grammar,
    parse_grammar,
    tokenizer_kind,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root ::= (", "line 1: expecting ')'"),
        ('root = "x"', "line 1: expecting ::="),
        ("root ::= mood", "rule 'mood' is used but never defined"),
        ("  \n", "is empty"),
        ('start ::= "a"', "has no 'root' rule"),
        ('root ::= "open', "expecting an end quote"),
        ('root ::= "a"\nmood ::= [a-', "line 2: unexpected end of the rule"),
    ],
)
def test_bad_grammars_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ControlError) as caught:
        parse_grammar(text, "mine")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_grammar_by_name_file_or_text(tmp_path: Path) -> None:
    assert {"likert", "mood", "action_speech"} <= set(bundled_grammars())
    assert load_grammar("likert").name == "likert"
    assert load_grammar('root ::= "yes" | "no"').name == "inline"
    path = tmp_path / "yes.ebnf"
    path.write_text('root ::= "yes"\n')
    assert load_grammar(str(path)).rules == ("root",)
    with pytest.raises(ControlError, match="did you mean 'likert'"):
        load_grammar("likret")
    with pytest.raises(ControlError, match="no such grammar file"):
        load_grammar(str(tmp_path / "missing.ebnf"))


def test_byte_tables_are_gpt2s_and_match_the_vocabulary(tiny: Any) -> None:
    encoder, decoder = gpt2_byte_tables()
    assert len(encoder) == 256 and sorted(decoder.values()) == list(range(256))
    assert encoder[ord("A")] == "A" and encoder[ord(" ")] == "Ġ" and encoder[ord("\n")] == "Ċ"
    vocabulary = tiny.tokenizer.get_vocab()
    assert all(char in vocabulary for char in encoder.values())
    assert tokenizer_kind(tiny.tokenizer) == "byte_level"


def test_no_hub_access(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"tried to load a tokenizer from the hub: {args}")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    assert GrammarCompiler(tiny.tokenizer).processor("likert") is not None


def generate(tiny: Any, compiler: GrammarCompiler, grammar: str, sample: bool) -> str:
    prompt = tiny.tokenizer.apply_chat_template(
        [{"role": "user", "content": "How do you feel?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    ids = tiny.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    with torch.inference_mode():
        out = tiny.model.generate(
            **ids,
            max_new_tokens=48,
            do_sample=sample,
            logits_processor=[compiler.processor(grammar)],
            pad_token_id=tiny.tokenizer.pad_token_id,
        )
    return str(tiny.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))


@pytest.mark.parametrize("sample", [False, True])
def test_random_model_is_forced_into_the_grammar(tiny: Any, sample: bool) -> None:
    compiler = GrammarCompiler(tiny.tokenizer)
    likert = generate(tiny, compiler, "likert", sample)
    assert re.fullmatch(r"[1-5]", likert)
    mood = generate(tiny, compiler, "mood", sample)
    assert set(json.loads(mood)) == {"mood"}
    assert compiler.accepts("mood", mood) and not compiler.accepts("mood", '{"mood": "hungry"}')


def test_action_speech_prefix_is_valid(tiny: Any) -> None:
    text = generate(tiny, GrammarCompiler(tiny.tokenizer), "action_speech", sample=True)
    assert re.match(r'\*[^*\n]+(\*( "[^"\n]*"?)?)?$', text), text


def test_sentencepiece_style_tokenizer(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    backend.normalizer = normalizers.Replace(" ", "▁")
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=120,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=list("0123456789 abcdefghijklmnopqrstuvwxyz"),
        show_progress=False,
    )
    backend.train_from_iterator(["one two three 1 2 3 4 5 hello world"] * 3, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    assert tokenizer_kind(tokenizer) == "sentencepiece"
    processor = GrammarCompiler(tokenizer).processor("likert")
    scores = processor(torch.tensor([[1]]), torch.zeros(1, len(tokenizer)))
    allowed = {
        tokenizer.convert_ids_to_tokens(i) for i in torch.nonzero(scores[0] == 0).flatten().tolist()
    }
    assert allowed and allowed <= {"1", "2", "3", "4", "5", "▁1", "▁2", "▁3", "▁4", "▁5"}
