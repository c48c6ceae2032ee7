import io
import os
from array import array

import pytest
from PIL import Image

from bot.sending.media import MAX_MEDIA_BYTES, MediaError, prepare_media, validate_gif_url


def image_bytes(fmt, size=(64, 48), noise=False, mode="RGB"):
    image = (
        Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))
        if noise
        else Image.new(mode, size, "red")
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_small_png_passes_untouched():
    data = image_bytes("PNG")
    media = prepare_media("logo.png", data)
    assert media.content == data and media.content_type == "image/png" and media.note == ""


def test_type_is_judged_by_bytes_not_name():
    media = prepare_media("photo.png", image_bytes("JPEG"))
    assert media.content_type == "image/jpeg" and media.filename == "photo.jpg"
    with pytest.raises(MediaError, match="JPG or PNG"):
        prepare_media("fake.jpg", b"GIF89a" + b"\x00" * 100)
    with pytest.raises(MediaError, match="JPG or PNG"):
        prepare_media("page.png", b"<!DOCTYPE html><html>login</html>")


def test_large_image_is_reencoded_to_fit_and_says_so():
    data = image_bytes("PNG", (1200, 900), noise=True, mode="RGBA")
    assert len(data) > MAX_MEDIA_BYTES
    media = prepare_media("big.png", data)
    assert len(media.content) <= MAX_MEDIA_BYTES
    assert media.content_type == "image/jpeg" and media.content.startswith(b"\xff\xd8\xff")
    assert "re-encoded" in media.note and media.original_size == len(data)


def test_decompression_bomb_is_refused_without_decoding():
    data = image_bytes("PNG", (10000, 10000))  # tiny file, 100 megapixels
    with pytest.raises(MediaError, match="megapixels"):
        prepare_media("bomb.png", data)


def test_truncated_image_is_a_clear_error():
    with pytest.raises(MediaError, match="damaged"):
        prepare_media("cut.png", image_bytes("PNG", (200, 200), noise=True)[:500])


@pytest.mark.parametrize("url", ["https://media.tenor.com/x/cat.gif", "https://e.test/a.GIF?x=1"])
def test_gif_urls_accepted(url):
    assert validate_gif_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["http://e.test/a.gif", "https://e.test/a.png", "ftp://e.test/a.gif", "https:///a.gif", "https://e.test/a b.gif"],
)
def test_gif_urls_refused(url):
    with pytest.raises(MediaError):
        validate_gif_url(url)


def _big(image, fmt="PNG", **params):
    """An image over the gateway's limit, so that it must be re-encoded."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, compress_level=0, **params)
    assert buffer.tell() > MAX_MEDIA_BYTES
    return buffer.getvalue()


def _decoded(media):
    return Image.open(io.BytesIO(media.content)).convert("RGB")


def test_a_16_bit_grey_png_keeps_its_greys_when_re_encoded():
    row = array("H", [30000] * 300 + [0] * 300)  # left half mid grey, right half black, 16 bits a pixel
    image = Image.frombytes("I;16", (600, 600), row.tobytes() * 600)
    media = prepare_media("scan.png", _big(image))
    pixels = _decoded(media)
    left, right = pixels.getpixel((100, 300)), pixels.getpixel((500, 300))
    assert all(abs(channel - 30000 // 256) <= 6 for channel in left), left  # not clipped to white
    assert all(channel <= 6 for channel in right), right
    assert media.content_type == "image/jpeg" and media.reencoded


def test_a_png_whose_transparency_is_a_colour_key_goes_on_white_not_black():
    image = Image.new("RGB", (700, 700), (0, 0, 0))
    image.paste((200, 20, 20), (0, 0, 350, 700))
    media = prepare_media("keyed.png", _big(image, transparency=(0, 0, 0)))
    pixels = _decoded(media)
    assert all(channel >= 245 for channel in pixels.getpixel((600, 350)))  # the keyed-out half is white
    red = pixels.getpixel((100, 350))
    assert red[0] > 180 and red[1] < 60 and red[2] < 60


def test_a_grey_png_with_a_colour_key_goes_on_white():
    image = Image.new("L", (700, 700), 0)
    image.paste(128, (0, 0, 350, 700))
    media = prepare_media("keyed-grey.png", _big(image, transparency=0))
    pixels = _decoded(media)
    assert all(channel >= 245 for channel in pixels.getpixel((600, 350)))
    assert all(abs(channel - 128) <= 6 for channel in pixels.getpixel((100, 350)))


def test_the_review_can_say_what_the_image_is():
    media = prepare_media("logo.png", image_bytes("PNG", size=(64, 48)))
    assert (
        media.width == 64
        and media.height == 48
        and media.describe().startswith("PNG, ")
        and "64×48 px" in media.describe()
    )
