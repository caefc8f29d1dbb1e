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
                                           ({"url": "x.png", "timeout": 0}, "timeout")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_from_url(**kwargs)
