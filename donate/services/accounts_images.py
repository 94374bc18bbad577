"""Uploaded images (association logo, receipt signature): checked, bounded and re-encoded.

Re-encoding to PNG with Pillow drops whatever the file carried besides pixels (metadata,
scripts in SVG-like payloads, polyglots). The pixel count is checked on the header, before
decoding, so an image bomb is refused without being expanded in memory.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 25_000_000  # 5000 x 5000
MAX_SIDE = 1024  # stored images are scaled down to fit
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})


class ImageRejected(ValueError):
    """The upload is not an acceptable image; the message is an English message id."""


def reencode_png(data: bytes, *, max_side: int = MAX_SIDE) -> bytes:
    """A clean PNG of at most ``max_side`` pixels a side, or ``ImageRejected``."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected("The image is too large (2 MB at most).")
    if not data:
        raise ImageRejected("The file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRejected("Use a PNG, JPEG, WebP or GIF image.")
            width, height = image.size
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                raise ImageRejected("The image has too many pixels.")
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected("Use a PNG, JPEG, WebP or GIF image.") from None
    clean = image.convert("RGBA")
    clean.thumbnail((max_side, max_side))
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()
