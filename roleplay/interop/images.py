"""The picture of a PNG card: the user's image (re-encoded as PNG) or a generated placeholder."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from roleplay.errors import RoleplayError
from roleplay.interop.limits import read_bounded

# SillyTavern shows avatars at 2:3; 400x600 is its usual export size.
PLACEHOLDER_SIZE = (400, 600)
# Decompression-bomb guard: larger images are refused before they are decoded.
MAX_IMAGE_PIXELS = 40_000_000


def placeholder_png(name: str) -> bytes:
    """A calm two-tone portrait with the character's initials; the same name, the same image."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    top = (64 + digest[0] // 2, 64 + digest[1] // 2, 64 + digest[2] // 2)
    bottom = tuple(channel // 2 for channel in top)
    width, height = PLACEHOLDER_SIZE
    image = Image.new("RGB", PLACEHOLDER_SIZE, top)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=bottom)
    initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
    font = ImageFont.load_default(size=160)
    draw.text((width / 2, height / 3), initials, fill=(245, 245, 245), font=font, anchor="mm")
    return _png_bytes(image)


def image_png(path: Path) -> bytes:
    """The image at ``path`` as PNG bytes (any format Pillow reads)."""
    raw = read_bounded(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as opened:
                if opened.width * opened.height > MAX_IMAGE_PIXELS:
                    raise RoleplayError(
                        f"{path}: image is too large ({opened.width}x{opened.height})"
                    )
                opened.load()
                image = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise RoleplayError(f"{path}: not an image Pillow can read ({error})") from None
    return _png_bytes(image)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
