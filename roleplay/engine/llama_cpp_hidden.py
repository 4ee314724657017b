"""Layer outputs and token log-probabilities from llama.cpp, through its ctypes layer.

Layer outputs: llama.cpp names each decoder layer's output tensor ``l_out-N`` (after the
control vector, the same point the transformers hooks act on). A context created with the
scheduler's eval callback (``cb_eval``) is asked, per graph node, whether we want its data;
answering yes for the wanted ``l_out-N`` makes the scheduler hand each one over after it is
computed, and the tensor is copied out with ``ggml_backend_tensor_get``. This is how
llama.cpp's ``cvector-generator`` reads hidden states.

Log-probabilities: batches with the logits flag set on the wanted positions, read back with
``llama_get_logits_ith``; rows that share a prefix with the previous one keep its KV cells.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roleplay.engine.base import BackendError

if TYPE_CHECKING:
    import numpy as np

    from roleplay.engine.llama_cpp_engine import LlamaCppEngine

_LAYER_OUTPUT = "l_out-"
_GGML_TYPE_F32 = 0


@cache
def _ggml() -> Any:
    """ggml's base library as shipped inside the llama_cpp package, with typed functions."""
    import llama_cpp

    folder = Path(llama_cpp.__file__).parent / "lib"
    candidates = sorted(folder.glob("libggml-base.*")) + sorted(folder.glob("libggml.*"))
    if not candidates:
        raise BackendError(f"ggml's library was not found in {folder}", exit_code=1)
    library = ctypes.CDLL(str(candidates[0]))
    library.ggml_get_name.argtypes = [ctypes.c_void_p]
    library.ggml_get_name.restype = ctypes.c_char_p
    library.ggml_nelements.argtypes = [ctypes.c_void_p]
    library.ggml_nelements.restype = ctypes.c_int64
    library.ggml_nbytes.argtypes = [ctypes.c_void_p]
    library.ggml_nbytes.restype = ctypes.c_size_t
    library.ggml_backend_tensor_get.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_size_t,
    ]
    library.ggml_backend_tensor_get.restype = None
    return library


def _layer_of(name: bytes | None) -> int | None:
    if not name or not name.startswith(_LAYER_OUTPUT.encode()):
        return None
    try:
        return int(name[len(_LAYER_OUTPUT) :])
    except ValueError:
        return None


def record_layer_outputs(
    engine: LlamaCppEngine, sequences: Sequence[Sequence[int]], layers: Sequence[int]
) -> list[dict[int, np.ndarray]]:
    """Each wanted layer's output ([tokens, n_embd] float32) for every token sequence."""
    import llama_cpp
    import numpy as np
    from llama_cpp._internals import LlamaBatch

    wanted = set(layers)
    if any(not 0 <= layer < engine.n_layer for layer in wanted):
        raise BackendError(f"layers must be in 0..{engine.n_layer - 1}", exit_code=2)
    if not sequences or any(len(sequence) == 0 for sequence in sequences):
        raise BackendError("every sequence needs at least one token", exit_code=2)
    ggml = _ggml()
    n_embd = engine.n_embd
    captured: dict[int, np.ndarray] = {}
    failures: list[str] = []
    interrupted: list[BaseException] = []

    def on_tensor(tensor: int, ask: bool, _user_data: Any) -> bool:
        # ctypes swallows an exception raised in a callback (Ctrl-C, a test's timeout):
        # keep it, stop the graph (False), and raise it once llama_decode returns.
        try:
            return copy_wanted(tensor, ask)
        except BaseException as error:
            interrupted.append(error)
            return False

    def copy_wanted(tensor: int, ask: bool) -> bool:
        layer = _layer_of(ggml.ggml_get_name(tensor))
        if layer is None or layer not in wanted:
            return not ask  # asked: not wanted; handed data: carry on computing
        if ask:
            return True
        if ctypes.c_int.from_address(tensor).value != _GGML_TYPE_F32:
            failures.append(f"l_out-{layer} is not float32")
            return True
        count = int(ggml.ggml_nelements(tensor))
        values = np.empty(count, dtype=np.float32)
        ggml.ggml_backend_tensor_get(tensor, values.ctypes.data, 0, ggml.ggml_nbytes(tensor))
        captured[layer] = values.reshape(-1, n_embd)
        return True

    callback = llama_cpp.ggml_backend_sched_eval_callback(on_tensor)
    longest = max(len(sequence) for sequence in sequences)
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = max(32, longest)
    # One micro-batch per sequence, so each callback sees all of its tokens at once.
    params.n_batch = params.n_ubatch = params.n_ctx
    params.n_threads = params.n_threads_batch = engine.threads
    params.cb_eval = callback
    params.cb_eval_user_data = None
    context = llama_cpp.llama_init_from_model(engine.llm.model, params)
    if not context:
        raise BackendError("llama.cpp could not create a context to read hidden states")
    # The last layer computes only rows whose logits are asked for: ask for all then.
    all_rows = (engine.n_layer - 1) in wanted
    batch = LlamaBatch(n_tokens=params.n_ctx, embd=0, n_seq_max=1, verbose=False)
    results: list[dict[int, np.ndarray]] = []
    try:
        memory = llama_cpp.llama_get_memory(context)
        for sequence in sequences:
            captured.clear()
            llama_cpp.llama_memory_clear(memory, True)
            batch.set_batch(list(sequence), 0, logits_all=all_rows)
            code = llama_cpp.llama_decode(context, batch.batch)
            if interrupted:
                raise interrupted[0]
            if code != 0:
                raise BackendError(f"llama.cpp failed to evaluate a sequence (code {code})")
            if failures:
                raise BackendError(f"cannot read hidden states: {failures[0]}")
            missing = wanted - set(captured)
            if missing:
                raise BackendError(
                    f"llama.cpp did not expose layer outputs {sorted(missing)} for this "
                    "architecture"
                )
            results.append({layer: captured[layer].copy() for layer in sorted(wanted)})
    finally:
        batch.close()
        llama_cpp.llama_free(context)
    return results


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    import numpy as np

    shifted = rows - rows.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def score_sequences(
    engine: LlamaCppEngine, sequences: Sequence[Sequence[int]], starts: Sequence[int]
) -> list[np.ndarray]:
    """Log-softmax rows predicting tokens ``start..len-1`` of each sequence.

    Runs on the chat context (its control vector applies: to every token, or, when the
    engine steers only replies, from position ``start - 1`` on, as a reply is steered from
    its prompt's last token). Sequences that share a prefix with the previously scored one
    reuse its KV cells, also across calls (an interview scores 50 statements after one long
    prompt); generating a reply invalidates that.
    """
    import llama_cpp
    import numpy as np
    from llama_cpp._internals import LlamaBatch

    llm = engine.llm
    context = llm._ctx.ctx
    n_vocab = llm.n_vocab()
    step = min(engine.batch_size, engine.context_window)
    batch = LlamaBatch(n_tokens=step, embd=0, n_seq_max=1, verbose=False)
    memory = llama_cpp.llama_get_memory(context)
    cached = list(engine.scored_prefix or [])
    # Leading cached cells computed without the vector (all of them when the prompt is
    # steered too: then every cell was computed the same way).
    unsteered = engine.scored_unsteered if cached else 0
    reply_only = not engine.steers_prompt
    results: list[np.ndarray] = []
    try:
        if not cached:
            llama_cpp.llama_memory_clear(memory, True)
        # The chat's own bookkeeping no longer describes the KV cells: its next reply
        # evaluates from scratch (llama-cpp-python clears from position n_tokens = 0).
        llm.reset()
        engine.scored_prefix = None
        for sequence, start in zip(sequences, starts, strict=True):
            tokens = [int(token) for token in sequence]
            if not 1 <= start <= len(tokens) - 1:
                raise BackendError(f"start {start} is outside a sequence of {len(tokens)}")
            if len(tokens) > engine.context_window:
                raise BackendError(
                    f"a sequence of {len(tokens)} tokens exceeds the context window "
                    f"({engine.context_window})",
                    exit_code=2,
                )
            shared = 0
            for a, b in zip(cached, tokens, strict=False):
                if a != b:
                    break
                shared += 1
            # The first wanted logits come from position start-1: keep it in the tail.
            shared = min(shared, start - 1)
            if reply_only:
                shared = min(shared, unsteered)  # a steered cell is not a prompt's cell
            llama_cpp.llama_memory_seq_rm(memory, 0, shared, -1)
            # (first, end, vector on?) spans; None: leave the engine's vector as it is
            spans: list[tuple[int, int, bool | None]] = (
                [(shared, start - 1, False), (start - 1, len(tokens), True)]
                if reply_only
                else [(shared, len(tokens), None)]
            )
            rows: list[np.ndarray] = []
            for first, end, steered in spans:
                if steered is not None:
                    engine.load_vector_for_reply(steered)
                for begin in range(first, end, step):
                    chunk = tokens[begin : min(begin + step, end)]
                    batch.set_batch(chunk, begin, logits_all=False)
                    wanted = [
                        index
                        for index in range(len(chunk))
                        if start - 1 <= begin + index <= len(tokens) - 2
                    ]
                    for index in range(len(chunk)):
                        batch.batch.logits[index] = index in wanted
                    code = llama_cpp.llama_decode(context, batch.batch)
                    if code != 0:
                        raise BackendError(f"llama.cpp failed to score a sequence (code {code})")
                    for index in wanted:
                        pointer = llama_cpp.llama_get_logits_ith(context, index)
                        rows.append(np.ctypeslib.as_array(pointer, shape=(n_vocab,)).copy())
            cached = tokens
            unsteered = start - 1 if reply_only else len(tokens)
            results.append(_log_softmax(np.stack(rows)) if rows else np.zeros((0, n_vocab)))
        # only after a clean run: the cells hold exactly this
        engine.scored_prefix = cached
        engine.scored_unsteered = unsteered
    finally:
        batch.close()
    return results
