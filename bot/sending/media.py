"""Images for the gateway: jpg/png judged by their bytes, shrunk to the gateway's size limit."""

from __future__ import annotations

import hashlib
import io
import warnings
from array import array
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, ImageOps

from bot.sending.budget import UNLIMITED, Budget

# The reference says "Max. file size is 230 KB". Whether KB means 1,000 or 1,024 bytes is not
# said, so the smaller reading is used: a file this size is accepted on either reading.
MAX_MEDIA_BYTES = 230_000
# Decompression-bomb guard: a tiny file can declare billions of pixels. 40 MP covers any camera.
MAX_PIXELS = 40_000_000
# Re-encoded images never need more than this on a phone screen.
MAX_EDGE = 1600

# Pillow warns about large images before we refuse them with our own message.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class MediaError(ValueError):
    """The upload cannot be sent as MMS media; the message is for a person."""


@dataclass(frozen=True)
class Media:
    filename: str
    content: bytes
    content_type: str
    original_size: int
    width: int = 0
    height: int = 0
    note: str = ""  # set when the image was changed to fit, e.g. "re-encoded from 1.2 MB to 228 KB"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def reencoded(self) -> bool:
        return bool(self.note)

    def describe(self) -> str:
        kind = "PNG" if self.content_type == "image/png" else "JPEG"
        return f"{kind}, {_kb(len(self.content))}, {self.width}×{self.height} px"


def sniff_image_type(data: bytes) -> str | None:
    if data.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(_PNG_MAGIC):
        return "image/png"
    return None


def prepare_media(filename: str, data: bytes, budget: Budget = UNLIMITED) -> Media:
    """Check an upload is a real jpg/png and make it fit the gateway's limit."""
    content_type = sniff_image_type(data)
    if content_type is None:
        raise MediaError("The image must be a JPG or PNG file (this file is not one, whatever its name says).")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise MediaError(
                f"The image is {width}×{height} pixels, too large to process; use one under {MAX_PIXELS // 1_000_000} "
                "megapixels."
            )
        if len(data) <= MAX_MEDIA_BYTES:
            image.load()  # a truncated or corrupt file fails here, not at the gateway
            return Media(_with_extension(filename, content_type), data, content_type, len(data), width, height)
        return _shrink(filename, image, len(data), budget)
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaError(
            f"The image has too many pixels to process; use one under {MAX_PIXELS // 1_000_000} megapixels."
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(
            "The image could not be read; it may be damaged. Try exporting it again as JPG or PNG."
        ) from exc


def _shrink(filename: str, image: Image.Image, original_size: int, budget: Budget = UNLIMITED) -> Media:
    """Smaller first, then flattened: the full-size image is decoded once and let go of as soon as a
    copy of at most MAX_EDGE a side exists (a 40 MP RGBA picture is 160 MB; its copy, 10 MB)."""
    if image.format == "JPEG":
        image.draft("RGB", (MAX_EDGE, MAX_EDGE))  # decode at reduced scale: much faster for big photos
    budget.check()
    image = ImageOps.exif_transpose(image)
    if image.mode in ("1", "P"):  # Pillow resizes these with nearest-neighbour only: widen them first
        image = image.convert("L" if image.mode == "1" else "RGBA" if "transparency" in image.info else "RGB")
    budget.check()
    if max(image.size) > MAX_EDGE:
        image.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    budget.check()
    image = _flatten(image)
    while True:
        budget.check()
        for quality in (85, 75, 65, 50):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=quality, optimize=True)
            if buffer.tell() <= MAX_MEDIA_BYTES:
                content = buffer.getvalue()
                note = (
                    f"The image was {_kb(original_size)}, over the gateway's 230 KB limit, so it was re-encoded "
                    f"as a {image.width}×{image.height} JPEG of {_kb(len(content))}."
                )
                return Media(
                    _with_extension(filename, "image/jpeg"),
                    content,
                    "image/jpeg",
                    original_size,
                    image.width,
                    image.height,
                    note,
                )
        if min(image.size) <= 64:
            raise MediaError("The image could not be made small enough for MMS (230 KB).")
        image = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)), Image.Resampling.LANCZOS)


def _flatten(image: Image.Image) -> Image.Image:
    """8-bit RGB for JPEG, with transparent parts on white rather than black.

    Transparency comes as an alpha channel or as a colour key (PNG's tRNS chunk, in
    ``info["transparency"]``) on palette, grey and RGB images alike.
    """
    mask = None
    if image.mode.startswith("I"):  # 16-bit (or 32-bit) grey: scale down, don't clip to white
        key = image.info.get("transparency")
        wide = image.convert("I")
        if isinstance(key, int):  # rare: a 16-bit grey colour key; Pillow's point() only maps linearly
            values = array("i", wide.tobytes())
            mask = Image.frombytes("L", image.size, bytes(0 if v == key else 255 for v in values))
        image = wide.point(lambda v: v * (1 / 256)).convert("L")
        image.info.pop("transparency", None)  # the key was in 16-bit units; the mask carries it now
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        mask = rgba.getchannel("A")
        image = rgba
    if mask is None:
        return image.convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image.convert("RGB"), mask=mask)
    return background


def _with_extension(filename: str, content_type: str) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    stem = "".join(ch for ch in stem if ch.isalnum() or ch in "-_") or "image"
    return stem[:60] + (".png" if content_type == "image/png" else ".jpg")


def _kb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{round(size / 1000)} KB"


def validate_gif_url(url: str) -> str:
    """The gateway fetches the GIF itself; we only check it is an https link to a .gif."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise MediaError("The GIF link must start with https://")
    if any(ch.isspace() for ch in url) or len(url) > 2000:
        raise MediaError("The GIF link is not a valid web address.")
    if not parts.path.lower().endswith(".gif"):
        raise MediaError("The GIF link must point to a .gif file (its path must end in .gif).")
    return url
