"""Check that a file is a usable GGUF before anything heavy loads.

llama.cpp itself reports a bad file with a log line and a NULL model, and transformers with
a traceback after a long parse. Here the header is read directly (a few milliseconds, also
for a 20 GB file): magic bytes, version, the metadata the platform needs, every tensor's
extent against the file size (a truncated download is caught before it is mapped), and the
file size against the memory that is free. Problems raise ``RoleplayError`` with one line
naming the file and the reason.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

from roleplay.errors import RoleplayError
from roleplay.settings import get_settings

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Headroom above the file's size that a loaded model needs (context, KV cache, buffers);
# a file that does not fit into free memory with this much to spare would thrash or be
# killed half-way through a reply.
MEMORY_HEADROOM_BYTES = 256 * 1024 * 1024

# GGUF metadata value types -> struct format (fixed-size ones).
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
# Metadata read into GGUFInfo; everything else (vocabularies...) is skipped.
_WANTED_SUFFIXES = (".block_count", ".embedding_length", ".context_length")
_WANTED_KEYS = ("general.architecture", "general.name", "general.alignment")


@dataclass
class GGUFInfo:
    path: Path
    size: int
    version: int
    architecture: str
    name: str = ""
    block_count: int = 0
    embedding_length: int = 0
    context_length: int = 0
    has_chat_template: bool = False
    tensor_count: int = 0
    metadata: dict[str, object] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: mmap.mmap | bytes, path: Path) -> None:
        self.data = data
        self.offset = 0
        self.path = path

    def _need(self, count: int) -> None:
        if self.offset + count > len(self.data):
            raise RoleplayError(f"{self.path}: not a usable GGUF file (truncated header)")

    def unpack(self, fmt: str) -> object:
        size = struct.calcsize(fmt)
        self._need(size)
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def string(self) -> str:
        length = int(self.unpack("<Q"))  # type: ignore[call-overload]
        self._need(length)
        raw = bytes(self.data[self.offset : self.offset + length])
        self.offset += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = int(self.unpack("<Q"))  # type: ignore[call-overload]
        self._need(length)
        self.offset += length

    def value(self, kind: int, *, keep: bool) -> object:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            if keep:
                return self.string()
            self.skip_string()
            return None
        if kind == _ARRAY:
            item_kind = int(self.unpack("<I"))  # type: ignore[call-overload]
            count = int(self.unpack("<Q"))  # type: ignore[call-overload]
            if item_kind in _SCALARS:  # fixed size: skip in one step
                size = struct.calcsize(_SCALARS[item_kind]) * count
                self._need(size)
                self.offset += size
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return None
        raise RoleplayError(f"{self.path}: not a usable GGUF file (unknown value type {kind})")


def _tensor_bytes(ggml_type: int, dims: list[int], path: Path) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise RoleplayError(
            f"{path}: not a usable GGUF file (tensor type {ggml_type} is unknown)"
        ) from None
    elements = 1
    for dim in dims:
        elements *= dim
    return elements // block_size * type_size


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is no such file)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def read_gguf_header(path: Path) -> GGUFInfo:
    """Parse and check a GGUF file's header; ``RoleplayError`` naming the file otherwise."""
    if not path.exists():
        raise RoleplayError(f"{path}: no such file")
    if not path.is_file():
        raise RoleplayError(f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise RoleplayError(f"{path}: not a usable GGUF file (the file is empty)")
    try:
        with open(path, "rb") as handle:
            if size < 24:
                raise RoleplayError(
                    f"{path}: not a usable GGUF file (truncated: only {size} bytes)"
                )
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(data, path, size)
    except OSError as error:
        raise RoleplayError(f"{path}: cannot read the file ({error.strerror})") from None


def _parse(data: mmap.mmap, path: Path, size: int) -> GGUFInfo:
    magic = bytes(data[:4])
    if magic != GGUF_MAGIC:
        raise RoleplayError(
            f"{path}: not a GGUF file (it starts with {magic!r}, a GGUF file with b'GGUF')"
        )
    reader = _Reader(data, path)
    reader.offset = 4
    version = int(reader.unpack("<I"))  # type: ignore[call-overload]
    if version not in SUPPORTED_VERSIONS:
        raise RoleplayError(f"{path}: GGUF version {version} is not supported (2 or 3 are)")
    tensor_count = int(reader.unpack("<Q"))  # type: ignore[call-overload]
    kv_count = int(reader.unpack("<Q"))  # type: ignore[call-overload]
    metadata: dict[str, object] = {}
    has_template = False
    for _ in range(kv_count):
        key = reader.string()
        kind = int(reader.unpack("<I"))  # type: ignore[call-overload]
        keep = key in _WANTED_KEYS or key.endswith(_WANTED_SUFFIXES)
        value = reader.value(kind, keep=keep)
        if keep:
            metadata[key] = value
        if key == "tokenizer.chat_template":
            has_template = True
    architecture = metadata.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise RoleplayError(f"{path}: not a usable GGUF file (no general.architecture)")
    extents = []
    for _ in range(tensor_count):
        reader.skip_string()
        n_dims = int(reader.unpack("<I"))  # type: ignore[call-overload]
        dims = [int(reader.unpack("<Q")) for _ in range(n_dims)]  # type: ignore[call-overload]
        ggml_type = int(reader.unpack("<I"))  # type: ignore[call-overload]
        offset = int(reader.unpack("<Q"))  # type: ignore[call-overload]
        extents.append(offset + _tensor_bytes(ggml_type, dims, path))
    alignment = int(metadata.get("general.alignment") or DEFAULT_ALIGNMENT)  # type: ignore[call-overload]
    data_start = -(-reader.offset // alignment) * alignment
    needed = data_start + max(extents, default=0)
    if needed > size:
        raise RoleplayError(
            f"{path}: not a usable GGUF file (truncated: the tensors need {needed:,} bytes, "
            f"the file has {size:,})"
        )

    def number(suffix: str) -> int:
        value = metadata.get(f"{architecture}.{suffix}")
        return int(value) if isinstance(value, int) else 0

    return GGUFInfo(
        path=path,
        size=size,
        version=version,
        architecture=architecture,
        name=str(metadata.get("general.name") or ""),
        block_count=number("block_count"),
        embedding_length=number("embedding_length"),
        context_length=number("context_length"),
        has_chat_template=has_template,
        tensor_count=tensor_count,
        metadata=metadata,
    )


def check_fits_in_memory(info: GGUFInfo) -> None:
    """Refuse a model that cannot fit into the memory that is free now.

    ``ROLEPLAY_IGNORE_MEMORY_CHECK=1`` skips the check (llama.cpp maps the file, so a
    machine with fast storage can run a model slightly larger than its free memory).
    """
    if get_settings().ignore_memory_check:
        return
    available = available_memory_bytes()
    if available is None:
        return
    if info.size + MEMORY_HEADROOM_BYTES > available:
        raise RoleplayError(
            f"{info.path}: too big for free memory ({info.size / 2**30:.1f} GiB file, "
            f"{available / 2**30:.1f} GiB available; set ROLEPLAY_IGNORE_MEMORY_CHECK=1 "
            "to try anyway)"
        )
