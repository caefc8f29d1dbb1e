"""image_from_url on paths, file:// URLs, a local HTTP server (served once, then cached), and
dead or broken sources, which warn and return None. No test touches the network."""
import http.server
import os
import socket
import threading

import numpy as np
import pytest
from PIL import Image

from rnncap.image_utils import image_from_url


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """The local test server must be reached directly, whatever proxy the machine sets."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def png(tmp_path):
    """An RGB PNG written by PIL (not by rnncap) and its pixels."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(6, 9, 3)).astype(np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(pixels).save(str(path))
    return str(path), pixels


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNCAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "images"


class _Server:
    """A local HTTP server in a thread, serving a dict path -> (status, bytes)."""

    def __init__(self, routes):
        self.hits = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                status, body = routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_plain_path_and_file_url(png):
    path, pixels = png
    np.testing.assert_array_equal(image_from_url(path), pixels)
    np.testing.assert_array_equal(image_from_url("file://" + path), pixels)


def test_grayscale_and_alpha_become_rgb(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray).save(str(tmp_path / "g.png"))
    img = image_from_url(str(tmp_path / "g.png"))
    assert img.shape == (3, 4, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[:, :, 1], gray)
    rgba = np.full((2, 2, 4), 200, np.uint8)
    Image.fromarray(rgba).save(str(tmp_path / "a.png"))
    assert image_from_url(str(tmp_path / "a.png")).shape == (2, 2, 3)


def test_http_served_once_then_cached(png, cache):
    path, pixels = png
    with open(path, "rb") as f:
        server = _Server({"/img.png": (200, f.read())})
    try:
        np.testing.assert_array_equal(image_from_url(server.url + "/img.png"), pixels)
    finally:
        server.close()
    assert server.hits == ["/img.png"]
    # the server is gone: the image now comes from the cache
    np.testing.assert_array_equal(image_from_url(server.url + "/img.png"), pixels)
    files = os.listdir(str(cache))
    assert len(files) == 1 and not files[0].startswith(".")  # no temporary files left


def test_http_errors_warn_and_return_none(cache):
    server = _Server({"/broken.jpg": (200, b"these bytes are no image")})
    try:
        with pytest.warns(UserWarning, match="404.*missing.jpg"):
            assert image_from_url(server.url + "/missing.jpg") is None
        with pytest.warns(UserWarning, match="broken.jpg"):
            assert image_from_url(server.url + "/broken.jpg", cache=False) is None
    finally:
        server.close()
    assert not cache.exists() or os.listdir(str(cache)) == []


def test_dead_host_warns_and_returns_none(cache):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now: connection refused
    with pytest.warns(UserWarning, match="cannot read"):
        assert image_from_url("http://127.0.0.1:%d/x.jpg" % port, timeout=2) is None


def test_missing_and_undecodable_files(tmp_path):
    with pytest.warns(UserWarning, match="nothere.png"):
        assert image_from_url(str(tmp_path / "nothere.png")) is None
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.warns(UserWarning, match="bad.png"):
        assert image_from_url("file://" + str(tmp_path / "bad.png")) is None


@pytest.mark.parametrize("kwargs, match", [({"url": None}, "url"), ({"url": ""}, "url"),
                                           ({"url": "x.png", "timeout": 0}, "timeout"),
                                           ({"url": "x.png", "timeout": float("nan")}, "timeout"),
                                           ({"url": "x.png", "max_bytes": 0}, "max_bytes"),
                                           ({"url": "x.png", "max_pixels": -1}, "max_pixels")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_from_url(**kwargs)


# --- Hostile servers and files: every case returns None with a warning, within the deadline. ---

def _png_header(width, height):
    """A PNG that claims width x height pixels (what a decompression bomb shows PIL first), with
    64 bytes of image data."""
    import struct
    import zlib

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


class _HostileServer:
    """One route per behaviour: headers trickled a byte at a time, a body trickled forever, an
    endless body, a huge Content-Length. Each handler gives up after a bounded time so that no
    thread outlives the test by more than a few seconds."""

    def __init__(self):
        stop = self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                try:
                    if self.path == "/slow-headers":
                        self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                        for _ in range(100):
                            if stop.wait(0.1):
                                return
                            self.wfile.write(b"X")
                            self.wfile.flush()
                    elif self.path == "/slow-body":
                        self.send_response(200)
                        self.send_header("Content-Length", "100000")
                        self.end_headers()
                        for _ in range(100):
                            if stop.wait(0.1):
                                return
                            self.wfile.write(b"\x89")
                            self.wfile.flush()
                    elif self.path == "/endless":
                        self.send_response(200)
                        self.end_headers()
                        for _ in range(1000):  # at most 64 MB, far past the cap below
                            if stop.is_set():
                                return
                            self.wfile.write(b"\0" * 65536)
                    elif self.path == "/liar":
                        self.send_response(200)
                        self.send_header("Content-Length", str(10 ** 12))
                        self.end_headers()
                except OSError:
                    pass  # the client hung up, as it should

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hostile():
    server = _HostileServer()
    yield server
    server.close()


@pytest.mark.parametrize("route", ["/slow-headers", "/slow-body"])
def test_slow_server_meets_the_whole_fetch_deadline(hostile, cache, route):
    import time

    start = time.monotonic()
    with pytest.warns(UserWarning, match="timeout"):
        assert image_from_url(hostile.url + route, timeout=1.0) is None
    # Each trickled byte resets a socket timeout; only a deadline on the whole fetch ends this.
    assert time.monotonic() - start < 5.0
    assert not cache.exists() or os.listdir(str(cache)) == []


def test_endless_body_and_huge_length_are_capped(hostile, cache):
    with pytest.warns(UserWarning, match="max_bytes"):
        assert image_from_url(hostile.url + "/endless", timeout=30, max_bytes=2 ** 20) is None
    with pytest.warns(UserWarning, match="max_bytes"):
        assert image_from_url(hostile.url + "/liar", timeout=30) is None


def test_endless_file_is_capped():
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    with pytest.warns(UserWarning, match="max_bytes"):
        assert image_from_url("file:///dev/zero", max_bytes=2 ** 20) is None


def test_decompression_bomb_is_refused_and_never_cached(tmp_path, cache):
    bomb = _png_header(20000, 20000)
    with pytest.warns(UserWarning, match="pixels"):
        assert image_from_url(_write(tmp_path / "bomb.png", bomb)) is None
    server = _Server({"/bomb.png": (200, bomb), "/big.png": (200, _png_header(5000, 5000))})
    try:
        for _ in range(2):  # asked twice: fetched twice, since a failed decode is not cached
            with pytest.warns(UserWarning, match="pixels"):
                assert image_from_url(server.url + "/bomb.png") is None
        with pytest.warns(UserWarning, match="max_pixels=1000000"):
            assert image_from_url(server.url + "/big.png", max_pixels=10 ** 6) is None
    finally:
        server.close()
    assert server.hits == ["/bomb.png", "/bomb.png", "/big.png"]
    assert not cache.exists() or os.listdir(str(cache)) == []


def test_undecodable_bytes_are_never_cached(cache):
    server = _Server({"/broken.jpg": (200, b"these bytes are no image")})
    try:
        for _ in range(2):
            with pytest.warns(UserWarning, match="broken.jpg"):
                assert image_from_url(server.url + "/broken.jpg") is None
    finally:
        server.close()
    assert server.hits == ["/broken.jpg", "/broken.jpg"]
    assert not cache.exists() or os.listdir(str(cache)) == []


def test_damaged_cache_entry_is_fetched_again(png, cache):
    path, pixels = png
    with open(path, "rb") as f:
        server = _Server({"/img.png": (200, f.read())})
    try:
        url = server.url + "/img.png"
        image_from_url(url)
        (entry,) = os.listdir(str(cache))
        (cache / entry).write_bytes(b"damaged")
        np.testing.assert_array_equal(image_from_url(url), pixels)
    finally:
        server.close()
    assert server.hits == ["/img.png", "/img.png"]


def _write(path, data):
    path.write_bytes(data)
    return str(path)
