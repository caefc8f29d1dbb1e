"""Loading images by URL or path, for showing dataset images next to their captions.

image_from_url never raises for an image it cannot get (many COCO Flickr URLs are dead now, and
a URL in a data file is untrusted input): it warns and returns None. The whole fetch has a
deadline, the bytes read and the decoded pixels are capped, and nothing that failed to decode
is cached. Remote images are cached on disk ($RNNCAP_CACHE/images, else ~/.cache/rnncap/images),
written via a temporary file that is renamed into place or removed.
"""
import hashlib
import http.client
import io
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

MAX_BYTES = 32 * 2 ** 20
MAX_PIXELS = 40_000_000
_CHUNK = 65536


class _Refused(Exception):
    """A source that answered, but with something image_from_url will not take."""


def cache_dir():
    """Directory of the remote-image cache."""
    if os.environ.get("RNNCAP_CACHE"):
        return os.path.join(os.path.expanduser(os.environ["RNNCAP_CACHE"]), "images")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rnncap", "images")


def _decode(data, max_pixels):
    """Image file bytes -> (H, W, 3) uint8 (grayscale, palette and alpha images become RGB)."""
    from PIL import Image

    with warnings.catch_warnings():
        # Our own pixel cap below decides; PIL's bomb warning would only repeat it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:  # PIL's own hard limit, above ours by default
            raise _Refused("%s (max_pixels=%d)" % (e, max_pixels)) from None
        with im:
            w, h = im.size
            if w * h > max_pixels:
                raise _Refused("image of %dx%d pixels is larger than max_pixels=%d"
                               % (w, h, max_pixels))
            return np.array(im.convert("RGB"), dtype=np.uint8)


def _read_capped(read, max_bytes, deadline, timeout):
    """All the bytes read(n) yields, refusing more than max_bytes or reading past the deadline."""
    chunks, total = [], 0
    while True:
        if time.monotonic() > deadline:
            raise _Refused("not complete within the %g s timeout" % timeout)
        chunk = read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise _Refused("more than max_bytes=%d bytes" % max_bytes)
        chunks.append(chunk)


def _get(url, scheme, timeout, deadline, max_bytes):
    """The raw bytes of one source: http(s) URL, file:// URL or path."""
    if scheme in ("http", "https"):
        req = urllib.request.Request(url, headers={"User-Agent": "rnncap"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            length = r.headers.get("Content-Length")
            if length and length.strip().isdigit() and int(length) > max_bytes:
                raise _Refused("Content-Length %s is more than max_bytes=%d" % (length, max_bytes))
            # read1: at most one socket read per call, so a server trickling bytes meets the deadline
            return _read_capped(r.read1, max_bytes, deadline, timeout)
    path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path) \
        if scheme == "file" else url
    with open(path, "rb") as f:
        return _read_capped(f.read, max_bytes, deadline, timeout)


def _get_by_deadline(url, scheme, timeout, max_bytes):
    """_get in a worker thread: the caller waits at most `timeout` seconds in all, even for a
    server that answers its headers one byte at a time (socket timeouts only bound each read)."""
    deadline = time.monotonic() + timeout
    result = {}

    def work():
        try:
            result["data"] = _get(url, scheme, timeout, deadline, max_bytes)
        except Exception as e:  # handed to the caller, which decides what to report
            result["error"] = e

    worker = threading.Thread(target=work, name="rnncap-image-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        # The worker stops by itself at its next read (its deadline has passed).
        raise _Refused("no complete answer within the %g s timeout" % timeout)
    if "error" in result:
        raise result["error"]
    return result["data"]


def _cache_path(url):
    return os.path.join(cache_dir(), hashlib.sha256(url.encode("utf-8")).hexdigest())


def _store(path, data):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError:
        pass  # an unwritable cache only costs a re-download next time


def _from_cache(path, max_bytes, max_pixels):
    """The cached image at path, or None (removing an entry that does not decode)."""
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        return _decode(data, max_pixels) if len(data) <= max_bytes else None
    except Exception:  # a damaged or oversized entry: drop it and fetch again
        try:
            os.remove(path)
        except OSError:
            pass
        return None


def image_from_url(url, timeout=10.0, cache=True, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS):
    """Read an image from an http(s) URL, a file:// URL or a plain file path.

    Inputs:
    - url: str (or path-like)
    - timeout: seconds the whole fetch may take (connecting, waiting and reading)
    - cache: keep remote images in the on-disk cache (and read them from it); only images
      that decoded are cached
    - max_bytes: refuse a source longer than this many bytes
    - max_pixels: refuse an image of more than this many pixels (width * height)

    Returns:
    - img: (H, W, 3) uint8 array, or None (with a warning) if the image cannot be had
    """
    if not isinstance(url, (str, os.PathLike)) or not str(url):
        raise ValueError("url must be a non-empty str or path, got %r" % (url,))
    for name, value in (("timeout", timeout), ("max_bytes", max_bytes),
                        ("max_pixels", max_pixels)):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                and 0 < value < float("inf")):
            raise ValueError("%s must be a positive finite number, got %r" % (name, value))
    url = str(url)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    remote = scheme in ("http", "https")
    try:
        if remote and cache:
            img = _from_cache(_cache_path(url), max_bytes, max_pixels)
            if img is not None:
                return img
        data = _get_by_deadline(url, scheme, timeout, max_bytes)
        img = _decode(data, max_pixels)
        if remote and cache:
            _store(_cache_path(url), data)
        return img
    except urllib.error.HTTPError as e:
        warnings.warn("image_from_url: HTTP error %d for %s" % (e.code, url))
    except (urllib.error.URLError, http.client.HTTPException, OSError, _Refused) as e:
        # network trouble, a missing file, a timeout, a cap, or bytes PIL cannot decode (OSError)
        warnings.warn("image_from_url: cannot read %s: %s" % (url, getattr(e, "reason", e)))
    except Exception as e:  # noqa: BLE001 - never raises: any other decoder or network failure
        warnings.warn("image_from_url: cannot read %s: %s: %s" % (url, type(e).__name__, e))
    return None
