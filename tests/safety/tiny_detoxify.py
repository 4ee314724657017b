"""A tiny random-weight detoxify checkpoint, built locally (detoxify's weights are a download).

Detoxify's checkpoint format: a ``torch.load`` dict holding ``config`` (architecture and
class names) and ``state_dict``; ``model_type`` is passed to ``from_pretrained``, so it is the
local folder with the config and tokenizer. The tokenizer gets an explicit ``vocab=`` dict:
in transformers 5 ``BertTokenizer(vocab_file=...)`` silently ignores the file, every word
becomes [UNK] and all texts score the same.
"""

from __future__ import annotations

from pathlib import Path

CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
# Unique words: the vocabulary's ids must be 0..n-1 for the embedding's size.
_WORDS_TEXT = (
    "you are a an the idiot stupid hate love kind nice people i we they is not good bad "
    "awful lovely friend terrible dumb thank great day hello sun rain"
)
WORDS = _WORDS_TEXT.split()


def build_tiny_detoxify(folder: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """Write ``folder/config`` (HF config + tokenizer) and ``folder/tiny.ckpt``; return both."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    config_dir = folder / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {token: index for index, token in enumerate([*specials, *WORDS])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True)
    tokenizer.save_pretrained(config_dir)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=len(CLASSES),
    )
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    finally:
        torch.random.set_rng_state(state)
    model.save_pretrained(config_dir)
    checkpoint = folder / "tiny.ckpt"
    torch.save(
        {
            "config": {
                "arch": {
                    "args": {
                        "model_type": str(config_dir),
                        "model_name": "BertForSequenceClassification",
                        "tokenizer_name": "BertTokenizer",
                        "num_classes": len(CLASSES),
                    }
                },
                "dataset": {"args": {"classes": CLASSES}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    return checkpoint, config_dir
