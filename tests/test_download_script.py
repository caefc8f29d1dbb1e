"""get_coco_captioning.sh, offline: it "downloads" a tiny zip built here, from a file:// URL
(curl) or from a local HTTP server (wget and curl), through the RNNCAP_COCO_URL override.
Covers success, the no-op second run, resuming a partial download, partial files that cannot
be resumed, a corrupt zip, hostile zip entries and the error messages."""
import http.server
import os
import shutil
import subprocess
import threading
import zipfile

import pytest

from rnncap.coco_utils import required_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "get_coco_captioning.sh")
pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("unzip") is None,
                                reason="needs bash and unzip")


def _zip(path, folder="coco_captioning/", files=None):
    """A zip like Stanford's: one folder holding the data files (each a few distinct bytes)."""
    files = required_files() if files is None else files
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name in files:
            z.writestr(folder + name, ("content of %s\n" % name).encode() * 50)
    return str(path)


def _run(args, url, tool=None, **env):
    e = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    e.pop("RNNCAP_DATA", None)
    e["RNNCAP_COCO_URL"] = url
    if tool:
        e["RNNCAP_DOWNLOADER"] = tool
    e.update(env)
    return subprocess.run(["bash", SCRIPT] + args, env=e, capture_output=True, text=True,
                          timeout=120)


def _assert_installed(dest):
    for name in required_files():
        with open(os.path.join(dest, name)) as f:
            assert f.read() == ("content of %s\n" % name) * 50
    parent = os.path.dirname(dest)
    assert os.listdir(parent) == [os.path.basename(dest)], os.listdir(parent)  # no zip, no tmp


class _RangeServer:
    """Serves one file over HTTP with Range support; records each request's Range header."""

    def __init__(self, path, honour_range=True):
        self.ranges = []
        outer = self
        with open(path, "rb") as f:
            body = f.read()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/coco_captioning.zip":
                    self.send_error(404)
                    return
                r = self.headers.get("Range")
                outer.ranges.append(r)
                if not honour_range:
                    r = None
                start = int(r.split("=")[1].split("-")[0]) if r else 0
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(body))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if r else 200)
                if r:
                    self.send_header("Content-Range",
                                     "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/coco_captioning.zip" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@needs_curl
def test_success_then_noop(tmp_path):
    src = _zip(tmp_path / "coco_captioning.zip")
    dest = str(tmp_path / "data" / "coco")
    r = _run([dest], "file://" + src, "curl")
    assert r.returncode == 0, r.stderr
    _assert_installed(dest)
    stamp = os.path.getmtime(os.path.join(dest, "coco2014_vocab.json"))
    r = _run([dest], "file://" + str(tmp_path / "gone.zip"), "curl")  # would fail if it downloaded
    assert r.returncode == 0 and "nothing to do" in r.stdout
    assert os.path.getmtime(os.path.join(dest, "coco2014_vocab.json")) == stamp


@needs_curl
def test_default_dir_from_rnncap_data(tmp_path):
    src = _zip(tmp_path / "z.zip", folder="")  # files at the zip's top level also work
    dest = str(tmp_path / "env" / "coco")
    r = _run([], "file://" + src, "curl", RNNCAP_DATA=dest)
    assert r.returncode == 0, r.stderr
    _assert_installed(dest)


@needs_curl
def test_resume_appends_to_the_partial_file(tmp_path):
    src = _zip(tmp_path / "coco_captioning.zip")
    with open(src, "rb") as f:
        body = f.read()
    dest = str(tmp_path / "data" / "coco")
    os.makedirs(os.path.dirname(dest))
    with open(dest + ".zip.part", "wb") as f:
        f.write(body[:len(body) // 2])
    r = _run([dest], "file://" + src, "curl")
    assert r.returncode == 0, r.stderr
    assert "Resuming" in r.stdout
    _assert_installed(dest)
    # The kept bytes really are kept: a partial file with wrong bytes gives a corrupt zip.
    shutil.rmtree(os.path.dirname(dest))
    os.makedirs(os.path.dirname(dest))
    with open(dest + ".zip.part", "wb") as f:
        f.write(b"\0" * (len(body) // 2))
    r = _run([dest], "file://" + src, "curl")
    assert r.returncode == 1 and "corrupt" in r.stderr
    assert not os.path.exists(dest)


@pytest.mark.parametrize("tool", ["curl", "wget"])
def test_http_download_and_resume(tmp_path, tool):
    if shutil.which(tool) is None:
        pytest.skip("needs " + tool)
    src = _zip(tmp_path / "coco_captioning.zip")
    with open(src, "rb") as f:
        body = f.read()
    server = _RangeServer(src)
    try:
        dest = str(tmp_path / "a" / "coco")
        r = _run([dest], server.url, tool)
        assert r.returncode == 0, r.stderr
        _assert_installed(dest)
        dest = str(tmp_path / "b" / "coco")
        os.makedirs(os.path.dirname(dest))
        with open(dest + ".zip.part", "wb") as f:
            f.write(body[:1000])
        r = _run([dest], server.url, tool)
        assert r.returncode == 0, r.stderr
        _assert_installed(dest)
        assert server.ranges[-1] == "bytes=1000-"
    finally:
        server.close()


@needs_curl
def test_corrupt_zip_is_removed_and_nothing_installed(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip" * 20)
    dest = str(tmp_path / "data" / "coco")
    r = _run([dest], "file://" + str(bad), "curl")
    assert r.returncode == 1
    assert "corrupt" in r.stderr and "run again" in r.stderr
    assert os.listdir(str(tmp_path / "data")) == []


@needs_curl
def test_zip_without_the_data_files(tmp_path):
    src = _zip(tmp_path / "other.zip", files=["README.txt"])
    dest = str(tmp_path / "data" / "coco")
    r = _run([dest], "file://" + src, "curl")
    assert r.returncode == 1 and "does not contain the expected files" in r.stderr
    assert os.listdir(str(tmp_path / "data")) == []


def test_errors(tmp_path):
    r = _run(["--help"], "file:///x")
    assert r.returncode == 0 and "Usage" in r.stdout and "RNNCAP_COCO_URL" in r.stdout
    r = _run(["--bogus"], "file:///x")
    assert r.returncode == 2 and "unknown option" in r.stderr
    r = _run(["a", "b"], "file:///x")
    assert r.returncode == 2
    r = _run([str(tmp_path / "d")], "file:///x", "ftpget")
    assert r.returncode == 1 and "curl or wget" in r.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("x")
    r = _run([str(busy)], "file:///x", "curl")
    assert r.returncode == 1 and "lacks" in r.stderr and (busy / "mine.txt").exists()
    if shutil.which("curl"):
        r = _run([str(tmp_path / "e" / "coco")], "file://" + str(tmp_path / "missing.zip"), "curl")
        assert r.returncode == 1 and "download of" in r.stderr and "failed" in r.stderr


def test_script_is_executable_with_strict_mode():
    assert os.access(SCRIPT, os.X_OK)
    with open(SCRIPT) as f:
        text = f.read()
    assert "set -euo pipefail" in text


def _part(dest, data):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest + ".zip.part", "wb") as f:
        f.write(data)


@needs_curl
@pytest.mark.parametrize("case", ["ignores-range", "complete-part", "oversized-part"])
def test_curl_partial_files_that_cannot_resume(tmp_path, case):
    # Each of these used to end in "run again to resume", on every run.
    src = _zip(tmp_path / "coco_captioning.zip")
    with open(src, "rb") as f:
        body = f.read()
    server = _RangeServer(src, honour_range=(case != "ignores-range"))
    try:
        dest = str(tmp_path / "data" / "coco")
        part = {"ignores-range": body[:1000], "complete-part": body,
                "oversized-part": b"\0" * (len(body) + 100)}[case]
        _part(dest, part)
        r = _run([dest], server.url, "curl")
        assert r.returncode == 0, r.stderr
        _assert_installed(dest)
        if case == "complete-part":
            assert server.ranges == []  # nothing left to fetch
        else:
            assert "Cannot resume" in r.stderr and "afresh" in r.stderr
    finally:
        server.close()


@needs_curl
def test_curl_file_url_oversized_part(tmp_path):
    src = _zip(tmp_path / "coco_captioning.zip")
    with open(src, "rb") as f:
        body = f.read()
    dest = str(tmp_path / "data" / "coco")
    _part(dest, b"\0" * (2 * len(body)))
    r = _run([dest], "file://" + src, "curl")
    assert r.returncode == 0, r.stderr
    assert "Cannot resume" in r.stderr
    _assert_installed(dest)


def _hostile_zip(path, name, data=b"x", link=False):
    """The data files plus one entry named NAME (a symbolic link to DATA when LINK)."""
    with zipfile.ZipFile(path, "w") as z:
        for f in required_files():
            z.writestr("coco_captioning/" + f, ("content of %s\n" % f).encode() * 50)
        info = zipfile.ZipInfo(name)
        info.create_system = 3  # unix, so that the mode bits below are read
        info.external_attr = ((0o120777 if link else 0o100644) << 16)
        z.writestr(info, data)
    return str(path)


@needs_curl
@pytest.mark.parametrize("name,link,cause", [
    ("coco_captioning/../../escaped.txt", False, "leave the target"),
    ("../escaped.txt", False, "leave the target"),
    ("/tmp/escaped-rnncap-test.txt", False, "leave the target"),
    ("coco_captioning/extra_link", True, "symbolic links"),
])
def test_zip_entries_that_leave_the_target_are_refused(tmp_path, name, link, cause):
    target = tmp_path / "outside.txt"
    src = _hostile_zip(tmp_path / "z.zip", name, str(target).encode() if link else b"x", link)
    dest = str(tmp_path / "data" / "coco")
    r = _run([dest], "file://" + src, "curl")
    assert r.returncode == 1
    assert cause in r.stderr and "removed it" in r.stderr, r.stderr
    assert "disk" not in r.stderr
    assert os.listdir(str(tmp_path / "data")) == []  # zip removed: a rerun downloads afresh
    assert not os.path.exists("/tmp/escaped-rnncap-test.txt")
    assert not (tmp_path / "escaped.txt").exists()


@needs_curl
def test_a_data_file_that_is_a_link_is_refused(tmp_path):
    # A zip whose vocabulary "file" is a lone link pointing outside the target.
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    with zipfile.ZipFile(str(tmp_path / "z.zip"), "w") as z:
        for f in required_files():
            if f == "coco2014_vocab.json":
                info = zipfile.ZipInfo("coco_captioning/" + f)
                info.create_system = 3
                info.external_attr = 0o120777 << 16
                z.writestr(info, str(secret))
            else:
                z.writestr("coco_captioning/" + f, b"data")
    dest = str(tmp_path / "data" / "coco")
    r = _run([dest], "file://" + str(tmp_path / "z.zip"), "curl")
    assert r.returncode == 1 and "symbolic links" in r.stderr and "coco2014_vocab.json" in r.stderr
    assert not os.path.exists(dest)
