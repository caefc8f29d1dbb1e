"""Loading images by URL or path, for showing dataset images next to their captions.

image_from_url never raises for an image it cannot get (many COCO Flickr URLs are dead now):
it warns and returns None. Remote images are cached on disk ($RNNCAP_CACHE/images, else
~/.cache/rnncap/images), written via a temporary file that is renamed into place or removed.
"""
import hashlib
import http.client
import io
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np


def cache_dir():
    """Directory of the remote-image cache."""
    if os.environ.get("RNNCAP_CACHE"):
        return os.path.join(os.path.expanduser(os.environ["RNNCAP_CACHE"]), "images")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rnncap", "images")


def _decode(data):
    """Image file bytes -> (H, W, 3) uint8 (grayscale, palette and alpha images become RGB)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.array(im.convert("RGB"), dtype=np.uint8)


def _fetch(url, timeout):
    """The bytes at an http(s) URL, through the on-disk cache."""
    path = os.path.join(cache_dir(), hashlib.sha256(url.encode("utf-8")).hexdigest())
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read()
    req = urllib.request.Request(url, headers={"User-Agent": "rnncap"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = r.read()
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
    return data


def image_from_url(url, timeout=10.0, cache=True):
    """Read an image from an http(s) URL, a file:// URL or a plain file path.

    Inputs:
    - url: str (or path-like)
    - timeout: seconds to wait for a remote server
    - cache: keep remote images in the on-disk cache (and read them from it)

    Returns:
    - img: (H, W, 3) uint8 array, or None (with a warning) if the image cannot be had
    """
    if not isinstance(url, (str, os.PathLike)) or not str(url):
        raise ValueError("url must be a non-empty str or path, got %r" % (url,))
    if not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        raise ValueError("timeout must be a positive number of seconds, got %r" % (timeout,))
    url = str(url)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    try:
        if scheme in ("http", "https"):
            if cache:
                data = _fetch(url, timeout)
            else:
                req = urllib.request.Request(url, headers={"User-Agent": "rnncap"})
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    data = r.read()
        else:
            path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path) \
                if scheme == "file" else url
            with open(path, "rb") as f:
                data = f.read()
        return _decode(data)
    except urllib.error.HTTPError as e:
        warnings.warn("image_from_url: HTTP error %d for %s" % (e.code, url))
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        # network trouble, a missing file, a timeout, or bytes PIL cannot decode (an OSError)
        warnings.warn("image_from_url: cannot read %s: %s" % (url, getattr(e, "reason", e)))
    return None
