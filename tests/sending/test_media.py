import io
import os

import pytest
from PIL import Image

from bot.sending.media import MAX_MEDIA_BYTES, MediaError, prepare_media, validate_gif_url


def image_bytes(fmt, size=(64, 48), noise=False, mode="RGB"):
    image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode))) if noise else Image.new(mode, size, "red")
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


@pytest.mark.parametrize("url", ["http://e.test/a.gif", "https://e.test/a.png", "ftp://e.test/a.gif", "https:///a.gif", "https://e.test/a b.gif"])
def test_gif_urls_refused(url):
    with pytest.raises(MediaError):
        validate_gif_url(url)
