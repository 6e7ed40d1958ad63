"""Uploaded image checks: PNG/JPEG sniffing, hidden content (polyglots), pixel limits, logo re-encoding."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from portal.domain.errors import InvalidInput
from portal.i18n import _

LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 512
LOGO_MAX_PIXELS = 40_000_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
# markup that has no business inside a picture: an image that also parses as a web page or script
_MARKUP = (b"<svg", b"<html", b"<script", b"<body", b"<iframe", b"<!doctype", b"<?php", b"javascript:")


def _png_end(data: bytes) -> int | None:
    """The offset just after a PNG's IEND chunk, or None when the chunks do not add up."""
    offset = len(_PNG_SIGNATURE)
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        offset += 12 + length
        if kind == b"IEND":
            return offset if offset <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    """The offset just after a JPEG's last end-of-image marker, or None when it has none."""
    at = data.rfind(b"\xff\xd9")
    return at + 2 if at > 0 else None


def hidden_content(data: bytes, kind: str) -> str | None:
    """What a PNG or JPEG that decodes also carries: 'markup' (web page or script code anywhere in it),
    'trailing' (bytes after the image's end, or chunks that do not add up), or None when it is clean.
    The logo's polyglot check, shared with the client avatar (`clients.profiles.check_avatar`)."""
    if any(marker in data.lower() for marker in _MARKUP):
        return "markup"
    end = _png_end(data) if kind == "PNG" else _jpeg_end(data)
    if end is None or data[end:].strip(b"\x00"):
        return "trailing"
    return None


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, field="logo")


def _sniff(data: bytes) -> str:
    """'PNG' or 'JPEG' from the file's first bytes, or InvalidInput saying what the file seems to be."""
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(_JPEG_SIGNATURE):
        return "JPEG"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        raise _refuse(_("SVG images are not accepted, because they can carry scripts. Upload a PNG or JPEG."))
    if head.startswith(b"<"):
        raise _refuse(_("This file is a web page or other text, not an image. Upload a PNG or JPEG."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
    except Exception:  # Pillow cannot identify it at all
        kind = ""
    if kind:
        raise _refuse(_("This is a {format} image. Upload the logo as a PNG or JPEG.", format=kind))
    raise _refuse(_("This file is not a PNG or JPEG image. Upload the logo as a PNG or JPEG."))


def _too_many_pixels() -> str:
    return _(
        "The image has too many pixels to use as a logo ({most} million at most).",
        most=LOGO_MAX_PIXELS // 1_000_000,
    )


def clean_logo(data: bytes) -> tuple[bytes, int, int]:
    """Check an uploaded logo by decoding it and return it re-encoded as a PNG (at most 512 px a side).

    Refused, each with its own message: an empty or too large file, SVG and other formats, a file whose
    content is not the PNG or JPEG its first bytes announce, a damaged image, an image too large to decode,
    and polyglots (an image that also carries a web page, a script or extra data after its end).
    Re-encoding keeps the pixels only: no metadata, comments or trailing bytes survive.
    """
    if not data:
        raise _refuse(_("The file is empty."))
    if len(data) > LOGO_MAX_BYTES:
        raise _refuse(_("The logo is larger than 1 MB. Upload a smaller PNG or JPEG."))
    kind = _sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower limit follows
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _refuse(_too_many_pixels()) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise _refuse(
            _("This file says it is a {format} image but cannot be read as one.", format=kind)
        ) from None
    with image:
        if image.format != kind:
            raise _refuse(_("This file says it is a {format} image but cannot be read as one.", format=kind))
        width, height = image.size
        if width < 1 or height < 1 or width * height > LOGO_MAX_PIXELS:
            raise _refuse(_too_many_pixels())
        try:
            image.load()
        except Exception:  # truncated or corrupt data (Pillow raises OSError, SyntaxError, ValueError...)
            raise _refuse(_("The image is damaged or incomplete and cannot be read.")) from None
        lowered = data.lower()
        if any(marker in lowered for marker in _MARKUP):
            raise _refuse(
                _(
                    "This image also contains web page or script code, so it is refused. "
                    "Save it again as a plain PNG or JPEG."
                )
            )
        end = _png_end(data) if kind == "PNG" else _jpeg_end(data)
        if end is None:
            raise _refuse(_("The image is damaged or incomplete and cannot be read."))
        if data[end:].strip(b"\x00"):
            raise _refuse(
                _(
                    "This file has extra data hidden after the image, so it is refused. "
                    "Save it again as a plain PNG or JPEG."
                )
            )
        picture = ImageOps.exif_transpose(image)
        has_alpha = picture.mode in ("RGBA", "LA", "PA") or (
            picture.mode == "P" and "transparency" in picture.info
        )
        picture = picture.convert("RGBA" if has_alpha else "RGB")
        picture.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, format="PNG", optimize=True)
        return out.getvalue(), picture.width, picture.height
