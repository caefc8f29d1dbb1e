"""The code that runs inside the grading sandbox, and the message format it shares with sandbox.py.

sandbox.py starts a fresh interpreter, `python -I -S -c <this file's text> CONFIG`, so this file
is never imported there: it may use only the standard library and numpy, and it never imports
the instructor's rnncap. The grader imports it only for the message helpers.

The interpreter (the "zygote") prepares itself while it still runs trusted code:
  1. resource limits (memory, CPU time, processes, file size, open files);
  2. sys.path = the numpy copy + the standard library (no site-packages, no .pth files);
  3. import numpy (and what every child uses) once, before forking;
  4. as root: switch to the sandbox user (setgroups, setgid, setuid), irreversibly;
  5. put the submission first on sys.path, and say "ready".
Then, for each group of calls it is sent, it forks a child. The child imports the student's
modules, runs the calls on fresh copies of their inputs and streams each call's outputs back;
the zygote forwards them, stops the child at the group's timeout and kills whatever it left.

Messages are frames: 8 bytes (header length, payload length, little-endian uint32), a JSON
header, a payload. Arrays travel as raw bytes with their dtype and shape in the header: nothing
the student's code produces is ever unpickled by the grader.
"""
import json
import os
import struct
import sys

MAX_HEADER = 1 << 20
MAX_PAYLOAD = 64 << 20  # bytes of arrays per call
MAX_LEAVES = 1000  # arrays per call
NUMERIC_KINDS = "biufc"
SUBMISSION = "/"  # the submission's directory (main sets it)
# Imported once here rather than in every forked child: what the children always use.
PRELOAD = ("copy", "importlib", "pickle", "resource", "select", "signal", "time", "traceback",
           "numpy.random")


# ----------------------------------------------------------------------------- frames

def frame_bytes(header, payload=b""):
    """One frame: header lengths, the JSON header, the payload."""
    data = json.dumps(header).encode("utf-8")
    return struct.pack("<II", len(data), len(payload)) + data + payload


def write_frame(fd, header, payload=b""):
    """Write one frame to file descriptor fd (all of it)."""
    view = memoryview(frame_bytes(header, payload))
    while view:
        view = view[os.write(fd, view):]


class FrameReader:
    """Incremental frame parser: feed(bytes) parses what is complete (ValueError on a malformed
    or oversized frame); frames() returns and forgets the parsed [(header dict, payload)]."""

    def __init__(self, max_payload=MAX_PAYLOAD + (1 << 20)):
        self.buf = bytearray()
        self.ready = []
        self.max_payload = max_payload

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 8:
            hlen, plen = struct.unpack("<II", bytes(self.buf[:8]))
            if hlen > MAX_HEADER or plen > self.max_payload:
                raise ValueError("a message of %d + %d bytes is too large" % (hlen, plen))
            if len(self.buf) < 8 + hlen + plen:
                break
            try:
                header = json.loads(bytes(self.buf[8:8 + hlen]).decode("utf-8"))
            except ValueError:
                raise ValueError("a message header is not JSON")
            if not isinstance(header, dict):
                raise ValueError("a message header is not a JSON object")
            self.ready.append((header, bytes(self.buf[8 + hlen:8 + hlen + plen])))
            del self.buf[:8 + hlen + plen]

    def frames(self):
        out, self.ready = self.ready, []
        return out


def read_frame(fd, reader):
    """The next frame from a blocking fd, or None at end of file."""
    while not reader.ready:
        data = os.read(fd, 1 << 20)
        if not data:
            return None
        reader.feed(data)
    return reader.ready.pop(0)


# ----------------------------------------------------------------------------- arrays

def _leaves(np, value, path, out, depth=0):
    """Numeric leaves of nested tuples / lists / dicts, keyed by their path ("1/m")."""
    if len(out) >= MAX_LEAVES or depth > 6:
        return
    if isinstance(value, dict):
        for k, v in list(value.items())[:MAX_LEAVES]:
            _leaves(np, v, (path + "/" if path else "") + str(k), out, depth + 1)
    elif isinstance(value, (tuple, list)):
        for k, v in enumerate(value[:MAX_LEAVES]):
            _leaves(np, v, (path + "/" if path else "") + str(k), out, depth + 1)
    elif isinstance(value, (np.ndarray, np.generic, bool, int, float, complex)):
        a = np.asarray(value)
        if a.dtype.kind in NUMERIC_KINDS and not a.dtype.hasobject:
            out[path] = a


def encode_arrays(np, value, send):
    """(header entries, payload) for the numeric leaves of a call's result; `send` lists the
    items of a tuple result to send (None: all of it)."""
    out = {}
    if send is not None and isinstance(value, (tuple, list)):
        for k in send:
            if k < len(value):
                _leaves(np, value[k], str(k), out)
    else:
        _leaves(np, value, "", out)
    entries, chunks, size = [], [], 0
    for path, a in out.items():
        size += a.nbytes
        if size > MAX_PAYLOAD:
            raise ValueError("the outputs are larger than %d MB" % (MAX_PAYLOAD >> 20))
        entries.append([path, a.dtype.str, list(a.shape)])
        chunks.append(a.tobytes(order="C"))
    return entries, b"".join(chunks)


def decode_arrays(np, entries, payload):
    """{path: array} from encode_arrays' output; raises ValueError on anything malformed."""
    arrays, offset = {}, 0
    if not isinstance(entries, list):
        raise ValueError("malformed array list")
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], str) and isinstance(entry[2], list)):
            raise ValueError("malformed array entry")
        path, dtype, shape = entry
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError("unknown dtype %r" % dtype)
        if dtype.kind not in NUMERIC_KINDS or dtype.hasobject or dtype.shape:
            raise ValueError("dtype %s is not numeric" % dtype)
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise ValueError("malformed shape")
        count = 1
        for s in shape:
            count *= s
        end = offset + count * dtype.itemsize
        if end > len(payload):
            raise ValueError("array data is missing")
        arrays[path] = np.frombuffer(payload[offset:end], dtype=dtype).reshape(shape).copy()
        offset = end
    return arrays


# ----------------------------------------------------------------------------- the zygote

def _set_limits(limits):
    import resource

    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # not settable on this system (RLIMIT_AS on macOS)
            pass


def _set_subreaper():
    """Orphans of the student's processes become our children, so that we can kill them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _drop_privileges(uid, gid):
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgid() != gid:
        raise OSError("could not switch to uid %d" % uid)
    try:
        os.setuid(0)
    except OSError:
        return
    raise OSError("the switch to uid %d was not permanent" % uid)


def _children(pid):
    """Process ids whose parent is pid (from /proc)."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read().decode("ascii", "replace")
                if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                    found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_descendants():
    """Kill every process below this one (orphans come back to us as the subreaper)."""
    import signal

    for _ in range(50):
        kids = _children(os.getpid())
        if not kids:
            break
        for pid in kids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        _reap()
    _reap()


def _run_group(header, payload, out_fd, req_fd):
    """Fork a child for one group of calls; forward its frames; then a "done" frame."""
    import select
    import signal
    import time

    timeout = float(header["timeout"])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.close(req_fd)
            os.close(out_fd)
            os.setpgid(0, 0)
            _child(w, payload, timeout)
        finally:
            os._exit(0)
    os.close(w)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    reader, status, timed_out, error, ended = FrameReader(), None, False, None, False
    os.set_blocking(r, False)
    while not ended:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready = select.select([r], [], [], min(left, 0.05))[0]
        if not ready:
            if status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
            if status is not None:  # exited, and nothing more is coming now
                break
            continue
        try:
            data = os.read(r, 1 << 20)
        except BlockingIOError:
            continue
        if not data:
            break
        try:
            reader.feed(data)
        except ValueError as e:
            error = "the student process sent a malformed message (%s)" % e
            break
        for h, p in reader.frames():
            if h.get("type") == "end":
                ended = True
            elif h.get("type") in ("start", "result"):
                write_frame(out_fd, h, p)
    os.close(r)
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if status is None:
        status = os.waitpid(pid, 0)[1]
    _kill_descendants()
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    write_frame(out_fd, {"type": "done", "ended": ended, "exit": exit_code,
                         "signal": None if ended else sig, "timed_out": timed_out,
                         "error": error})


def _child(w, payload, timeout):
    """Run one group of calls (the student's code) and stream the results to fd w."""
    import copy
    import importlib
    import pickle
    import resource

    import numpy as np

    cpu = int(timeout) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        cpu = min(cpu, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    calls = pickle.loads(payload)
    results = []
    for i, call in enumerate(calls):
        write_frame(w, {"type": "start", "call": i})
        header = {"type": "result", "call": i, "fallback": False}
        arrays = b""
        try:
            args = []
            for a in call["args"]:
                if isinstance(a, dict) and "__result__" in a:  # an earlier call's output
                    j, k = a["__result__"]
                    earlier = results[j]
                    if isinstance(earlier, (tuple, list)) and len(earlier) > k:
                        args.append(earlier[k])
                    else:
                        args.append(None)
                        header["fallback"] = True
                else:
                    args.append(copy.deepcopy(a))
            kwargs = copy.deepcopy(call.get("kwargs", {}))
            module = importlib.import_module(call["module"])
            if "cls" in call:
                obj = getattr(module, call["cls"])(*copy.deepcopy(call["init_args"]),
                                                   **copy.deepcopy(call["init_kwargs"]))
                obj.params = copy.deepcopy(call["params"])
                fn = getattr(obj, call["method"])
            else:
                fn = getattr(module, call["func"])
            value = fn(*args, **kwargs)
            results.append(value)
            header["status"] = "ok"
            header["kind"] = (("tuple of %d" % len(value)) if isinstance(value, (tuple, list))
                              else type(value).__name__)
            header["arrays"], arrays = encode_arrays(np, value, call.get("send"))
        except NotImplementedError as e:
            results.append(None)
            header.update(status="not implemented", message=_describe(e))
        except BaseException as e:  # SystemExit and KeyboardInterrupt fail this call only
            results.append(None)
            header.update(status="error", message=_describe(e))
        write_frame(w, header, arrays)
    write_frame(w, {"type": "end"})


def _describe(e):
    """"Type: message (file, line N)" with the innermost frame of the submission's code."""
    try:
        text = str(e)
    except BaseException:
        text = "(unprintable)"
    name = type(e).__name__
    where = ""
    try:
        import traceback

        for frame in reversed(traceback.extract_tb(e.__traceback__)):
            if frame.filename.startswith(SUBMISSION):
                where = " (%s, line %s)" % (frame.filename[len(SUBMISSION):].lstrip("/"),
                                            frame.lineno)
                break
    except BaseException:
        pass
    return ("%s: %s" % (name, text[:2000]) if text else name) + where


def main(config):
    # fd 0: requests from the grader; fd 1: frames to the grader; fd 2: the log
    req_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # the student's prints go to the log
    _set_limits(config["limits"])
    old, new = config.get("stdlib") or (None, None)
    # the standard library's copy, when the sandbox user cannot read the original
    sys.path[:] = [config["runtime"]] + [p if not old or not p.startswith(old) else new + p[len(old):]
                                         for p in sys.path if p]
    import importlib

    import numpy

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _set_subreaper()
    if config.get("uid") is not None:
        _drop_privileges(config["uid"], config["gid"])
    global SUBMISSION
    SUBMISSION = config["submission"]
    sys.path.insert(0, SUBMISSION)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = config["pycache"]  # the children share compiled student modules
    write_frame(out_fd, {"type": "ready", "uid": os.getuid(), "numpy": numpy.__version__})
    reader = FrameReader()
    while True:
        frame = read_frame(req_fd, reader)
        if frame is None:
            break
        _run_group(frame[0], frame[1], out_fd, req_fd)
    _kill_descendants()
    os._exit(0)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
