"""Tiny random-weight causal LMs for tests, built in-process without any download.

``build_tiny_llama(folder)`` writes a folder that ``AutoModelForCausalLM.from_pretrained``
and ``AutoTokenizer.from_pretrained`` load like a real chat model: a Llama architecture with
random weights, a byte-level BPE tokenizer (the same kind SmolLM2 uses, so byte-level code
paths such as the grammar adapter are exercised) trained on a small corpus, and a ChatML
chat template. Building takes well under a second.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# Enough varied text for a few hundred BPE merges, with the words, digits and punctuation
# tests tend to use (moods, Likert digits, JSON, role-play markup).
_CORPUS = (
    "Hello there! How are you today? I am fine, thank you.",
    "The weather is lovely and I feel happy, calm and curious.",
    "I feel sad and tired; the rain has not stopped since morning.",
    "She was angry at first, but then she laughed and said: let's go!",
    '*smiles warmly* "Welcome to the tavern, traveller. Sit by the fire."',
    '*frowns* "I would rather stay at home and read a quiet book."',
    '{"mood": "happy"} {"mood": "sad"} {"mood": "angry"} {"mood": "calm"}',
    "Answer with a number from 1 to 5: 1 2 3 4 5. I choose 3. I choose 5.",
    "Dear Sir or Madam, I would be grateful for your kind assistance.",
    "hey lol that's awesome, wanna grab food later?? gonna be fun",
    "I love parties, meeting new people and talking all night long.",
    "I prefer small groups, quiet evenings and a good cup of tea.",
    "Everything is organised, planned and checked twice before I start.",
    "Whatever, I will figure it out later, no need for a plan.",
    "What a wonderful, beautiful, amazing idea; I adore it.",
    "That is a terrible, awful, horrible idea and I hate it.",
    "user assistant system: you are a helpful role-play character.",
)


def _train_tokenizer(vocab_size: int):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        # All 256 byte symbols, so any text (emoji, accents) is encodable.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    return tokenizer


def build_tiny_llama(
    folder: Path,
    *,
    layers: int = 2,
    hidden: int = 32,
    vocab: int = 400,
    heads: int = 4,
    seed: int = 0,
) -> Path:
    """Write a tiny random-weight Llama chat model and its tokenizer to ``folder``.

    ``vocab`` is the BPE vocabulary size asked of the trainer (at least 256 byte symbols
    plus the three ChatML special tokens); the model's embedding matches the tokenizer's
    actual size. The same ``seed`` gives the same weights. Returns ``folder``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(max(vocab, 256 + len(SPECIAL_TOKENS))),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
