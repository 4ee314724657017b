"""Tiny random-weight GGUF chat models for llama.cpp tests, written without any download.

``build_tiny_gguf(path)`` builds a tiny Hugging Face model (Llama or Qwen2 architecture, the
byte-level BPE tokenizer and ChatML template of ``tests.helpers.tiny_models``) and writes the
*same* weights as an F32 GGUF file that llama.cpp loads like a real chat model. Keeping the Hugging
Face folder too (``hf_folder=``) lets a test compare llama.cpp's logits with transformers' on
identical weights, which is the only way to know that a llama.cpp code path computes the same
model the transformers path does.

Why not run llama.cpp's ``convert_hf_to_gguf.py``: it is not installed (only vendored in the
llama-cpp-python sdist) and it refuses tokenizers whose pre-tokenizer hash it does not know
(ours is freshly trained). Writing the file with ``gguf.GGUFWriter`` directly is a few dozen
lines, but two conversions of the converter have to be mirrored exactly:

* Llama: Hugging Face stores q/k projections in "rotate-half" order (each head's first and
  second halves of the head dimension are rotated together), while llama.cpp's ``llama`` graph
  applies RoPE to interleaved pairs. The converter therefore permutes the rows of q_proj and
  k_proj (``LlamaModel.permute``; k with the number of *key/value* heads).
* Qwen2: llama.cpp runs it with NEOX-style (rotate-half) RoPE, so its weights are written
  unpermuted, and the q/k/v biases are written as ``attn_{q,k,v}.bias``.

The random weights are not the transformers default (std 0.02, unit norms, zero biases): with
those, attention scores are ~0.03 and every position attends uniformly, so a wrong permutation or
a missing bias would not change the logits and a comparison would pass vacuously. Weights here
have std 1/sqrt(hidden) (attention scores of order one), and norm weights and biases are
randomised too. The same ``seed`` gives the same tensor bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tests.helpers.tiny_models import CHATML_TEMPLATE, SPECIAL_TOKENS, _train_tokenizer

if TYPE_CHECKING:
    import numpy as np

Arch = Literal["llama", "qwen2"]

# llama.cpp maps ``tokenizer.ggml.pre`` names to pre-tokenizer regexes (llama-vocab.cpp) and
# throws "unknown pre-tokenizer type" for names it does not list. "gpt-2" (with the hyphen; "gpt2"
# is rejected) is exactly the GPT-2 regex of the tokenizers library's ``ByteLevel(use_regex=True)``
# pre-tokenizer, which the Llama folder keeps. A Qwen2 folder gets Qwen2's regex (digits split one
# by one) instead, because transformers 5's ``AutoTokenizer`` builds ``Qwen2Tokenizer`` for any
# ``model_type: qwen2`` folder and imposes that regex whatever tokenizer.json says; llama.cpp's
# "qwen2" pre-tokenizer is the same regex.
PRE_TOKENIZER: dict[str, str] = {"llama": "gpt-2", "qwen2": "qwen2"}

_ROPE_THETA: dict[str, float] = {"llama": 10_000.0, "qwen2": 1_000_000.0}
_CONTEXT_LENGTH = 4096


def _tiny_tokenizer(arch: Arch, vocab: int) -> Any:  # -> PreTrainedTokenizerFast
    """The tokenizer ``build_tiny_llama`` builds (same trainer, special tokens and template).

    For Qwen2 the vocabulary and merges are the same, but the normaliser and pre-tokenizer are
    Qwen2's, so that every way of loading the folder tokenises alike (see ``PRE_TOKENIZER``).
    """
    from transformers import PreTrainedTokenizerFast

    backend = _train_tokenizer(max(vocab, 256 + len(SPECIAL_TOKENS)))
    if arch == "qwen2":
        from tokenizers import Regex, normalizers, pre_tokenizers
        from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

        backend.normalizer = normalizers.NFC()
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
    )


def _tiny_hf_model(
    arch: Arch,
    tokenizer: Any,
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    seed: int,
) -> Any:  # -> PreTrainedModel
    """A random-weight Llama/Qwen2 ``...ForCausalLM`` whose logits depend on every tensor.

    ``build_tiny_llama`` is not reused for the model itself because it has no key/value-head
    knob (grouped-query attention is what makes the k permutation differ from the q one) and
    keeps the default initialisation (see the module docstring); the tokenizer is the same.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": _CONTEXT_LENGTH,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": _ROPE_THETA[arch]},
        "initializer_range": hidden**-0.5,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    rng_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        if arch == "llama":
            # Tied, as in build_tiny_llama: the GGUF then has no output.weight tensor.
            model: Any = LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=True))
        else:
            # Untied, so the separate output.weight path of the writer is exercised too.
            model = Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=False))
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith("norm.weight"):
                    param.copy_(1.0 + 0.2 * torch.randn_like(param))
                elif name.endswith(".bias"):
                    param.copy_(0.5 * torch.randn_like(param))
    finally:
        torch.random.set_rng_state(rng_state)
    model.eval()
    return model


def _permute_for_llama_rope(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Rotate-half (Hugging Face) row order -> interleaved-pair order (llama.cpp ``llama``).

    The same reshaping as ``LlamaModel.permute`` in llama.cpp's ``convert_hf_to_gguf.py``;
    ``n_head`` is the number of query heads for q_proj and of key/value heads for k_proj.
    """
    rows = weight.shape[0]
    return (
        weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _merges(tokenizer: Any) -> list[str]:
    """BPE merges as llama.cpp wants them: ``"left right"`` strings, in rank order."""
    import json

    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    return [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]


def _write_gguf(path: Path, arch: Arch, model: Any, tokenizer: Any) -> None:
    import gguf
    import numpy as np

    config = model.config
    vocab = tokenizer.get_vocab()
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError("tokenizer ids are not contiguous; llama.cpp needs one token per id")
    special_ids = {tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"tiny-{arch}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(len(tokens))

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(PRE_TOKENIZER[arch])
    writer.add_token_list(tokens)
    writer.add_token_types(
        [
            gguf.TokenType.CONTROL if i in special_ids else gguf.TokenType.NORMAL
            for i in range(len(tokens))
        ]
    )
    writer.add_token_merges(_merges(tokenizer))
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(eos_id)
    writer.add_eot_token_id(eos_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    # The Hugging Face tokenizer adds no BOS (it has no post-processor); neither must llama.cpp.
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHATML_TEMPLATE)

    model_arch = gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2
    name_map = gguf.get_tensor_name_map(model_arch, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if config.tie_word_embeddings and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd.weight when output.weight is absent
        name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ValueError(f"no GGUF name for {hf_name}")
        data = tensor.detach().to(dtype=model.dtype).float().numpy().copy()
        if arch == "llama" and hf_name.endswith("q_proj.weight"):
            data = _permute_for_llama_rope(data, config.num_attention_heads)
        elif arch == "llama" and hf_name.endswith("k_proj.weight"):
            data = _permute_for_llama_rope(data, config.num_key_value_heads)
        writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def build_tiny_gguf(
    path: Path,
    *,
    arch: Arch = "llama",
    layers: int = 4,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    vocab: int = 400,
    seed: int = 0,
    hf_folder: Path | None = None,
) -> Path:
    """Write a tiny random-weight chat model as an F32 GGUF file at ``path``; return ``path``.

    ``arch`` is the llama.cpp architecture (``"llama"`` or ``"qwen2"``); ``heads`` must divide
    ``hidden`` and ``kv_heads`` must divide ``heads``. The tokenizer is the byte-level BPE one of
    ``tests.helpers.tiny_models`` (``vocab`` is the size asked of its trainer), with ChatML
    special tokens marked CONTROL, ``<|im_end|>`` as end of sequence/turn and the ChatML template,
    so ``create_chat_completion`` works. If ``hf_folder`` is given the Hugging Face model and
    tokenizer with the same weights are saved there. Building takes well under a second after
    torch and transformers are imported.
    """
    if arch not in _ROPE_THETA:
        raise ValueError(f"arch must be 'llama' or 'qwen2', not {arch!r}")
    if hidden % heads or heads % kv_heads or (hidden // heads) % 2:
        raise ValueError(
            f"need heads | hidden, kv_heads | heads and an even head size "
            f"(hidden={hidden}, heads={heads}, kv_heads={kv_heads})"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = _tiny_tokenizer(arch, vocab)
    model = _tiny_hf_model(
        arch, tokenizer, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, seed=seed
    )
    _write_gguf(path, arch, model, tokenizer)
    if hf_folder is not None:
        hf_folder = Path(hf_folder)
        hf_folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(hf_folder)
        tokenizer.save_pretrained(hf_folder)
    return path


def quantize_gguf(source: Path, target: Path, kind: str = "Q4_K_M") -> Path:
    """Quantise the GGUF ``source`` into ``target`` with llama.cpp (``kind``: Q4_K_M, Q8_0...).

    K-quants pack rows in super-blocks of 256 values, so they need ``hidden`` (and the
    feed-forward width) to be multiples of 256: a model with ``hidden >= 256`` and a multiple of
    256 gets real K-quant tensors. For narrower rows llama.cpp does not fail; it quietly falls back
    per tensor (to Q5_0/Q8_0 for rows divisible by 32, else F16), so a ``hidden=64`` file
    "quantised" to Q4_K_M is mostly Q5_0. Raises ``RuntimeError`` when llama.cpp refuses
    (unreadable input, unknown architecture, unwritable target) and ``ValueError`` for an
    unknown ``kind``. Returns ``target``.
    """
    import ctypes

    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}", None)
    if ftype is None:
        raise ValueError(f"unknown quantisation kind {kind!r} (e.g. Q4_K_M, Q5_K_M, Q8_0)")
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise FileNotFoundError(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    status = llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), ctypes.byref(params)
    )
    if status != 0 or not target.is_file():
        target.unlink(missing_ok=True)
        raise RuntimeError(
            f"llama.cpp refused to quantise {source} to {kind} (status {status}); "
            "its reason is in the log it wrote to stderr"
        )
    return target
