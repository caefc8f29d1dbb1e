"""Run a submission's code in a sandbox, one group of calls at a time (the grader's side).

What the sandbox is:
- a fresh interpreter, `python -I -S` (isolated mode, no site): the base interpreter, not a
  virtual environment's, so no site-packages, .pth file, editable-install finder,
  PYTHONPATH or working directory can bring in another rnncap; its sys.path holds only the
  submission's package and a private copy of numpy (made once per grading session, without
  numpy's metadata, so that importlib.metadata finds nothing either);
- a scrubbed environment (a fixed PATH, a temporary HOME and working directory);
- resource limits set with `resource`: address space, CPU time, processes, file size, open files;
- when the grader runs as root: a dedicated unprivileged user id (one per concurrent sandbox,
  from SANDBOX_UIDS, reserved with a lock file), with no supplementary groups;
- afterwards every process it started is killed: as root, every process of its user id; as an
  ordinary user, its session and every process left below it.

runner.py is the code that runs inside; this module starts it, sends it the groups of calls,
enforces the time limits and turns its messages into outcomes.
"""
import errno
import fcntl
import json
import os
import pickle
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

from . import runner

STARTUP_TIMEOUT = 60.0  # seconds for the sandbox to start (an interpreter and numpy)
GRACE = 10.0  # seconds beyond a group's timeout before the grader kills the whole sandbox
MEMORY_BYTES = 2 << 30  # address space of each sandbox process
MAX_PROCESSES = 64  # processes of the sandbox user (as root; ordinary users: on top of theirs)
MAX_FILE_BYTES = 64 << 20
MAX_OPEN_FILES = 256
MAX_PACKAGE_BYTES = 50 << 20  # of the submission's package, copied into the sandbox
SANDBOX_UIDS = range(64100, 64200)  # user (and group) ids the sandboxes run as, under root
LOCK_DIR = "/tmp"

# status: "ok", "not implemented", "error" (it raised), "not run" or "ended" (the process ended
# or was stopped during this call); message: why; arrays {path: array}; kind: what it returned
# ("tuple of 2", "ndarray"); fallback: an earlier call's output it needed was missing.
CallOutcome = namedtuple("CallOutcome", "status message arrays kind fallback")


class GraderError(RuntimeError):
    """The sandbox itself failed (not the submission): nothing can be graded."""


# ----------------------------------------------------------------------------- set-up

def base_interpreter():
    """The interpreter behind this one: outside any virtual environment, so that the sandbox's
    sys.prefix holds no site-packages of the instructor's."""
    if sys.prefix == sys.base_prefix:
        return sys.executable
    prefix = Path(sys.prefix).resolve()
    candidates = [getattr(sys, "_base_executable", None), os.path.realpath(sys.executable)]
    try:  # a venv made with --copies: pyvenv.cfg names the base interpreter's directory
        cfg = (prefix / "pyvenv.cfg").read_text()
        home = [l.split("=", 1)[1].strip() for l in cfg.splitlines()
                if l.split("=", 1)[0].strip() == "home"][0]
        candidates += [os.path.join(home, "python%d.%d" % sys.version_info[:2]),
                       os.path.join(home, "python3")]
    except (OSError, IndexError):
        pass
    for exe in candidates:
        if exe and os.path.isfile(exe) and not Path(exe).resolve().is_relative_to(prefix):
            return exe
    return sys.executable


def _open_up(path, top=True):
    """Make `path` readable (and its directories traversable) by every user."""
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, 0o755 if os.stat(p).st_mode & 0o100 else 0o644)


# Left out of the standard library's copy: tests, GUI, packaging tools, build files.
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "tests", "idlelib", "tkinter",
               "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "venv", "__pycache__"}

# path: the directory holding numpy; stdlib: (original, copy) of the standard library, or None
Runtime = namedtuple("Runtime", "path stdlib")


def readable_by_all(path):
    """Whether every user can read `path` (and pass through each directory above it)."""
    path = Path(path).resolve()
    try:
        if not os.stat(path).st_mode & 0o004:
            return False
        return all(os.stat(p).st_mode & 0o001 for p in path.parents)
    except OSError:
        return False


def reachable_by_all(directory):
    """Whether every user can pass through `directory` and each directory above it."""
    try:
        return all(os.stat(p).st_mode & 0o001 for p in [Path(directory).resolve()]
                   + list(Path(directory).resolve().parents))
    except OSError:
        return False


def make_runtime(parent, copy_stdlib=False):
    """What the sandbox imports besides the submission, under `parent`, readable by every user:
    a copy of the numpy this process uses (and its bundled libraries; no tests, no metadata)
    and, with copy_stdlib, of the interpreter's standard library (for an interpreter that the
    sandbox user cannot read, e.g. under /root). Returns a Runtime."""
    site = Path(np.__file__).resolve().parent.parent
    runtime = Path(parent) / "runtime"
    runtime.mkdir()
    ignore = shutil.ignore_patterns("tests", "*.pyi", "*.pxd")
    for name in ("numpy", "numpy.libs"):
        if (site / name).is_dir():
            shutil.copytree(site / name, runtime / name, ignore=ignore, symlinks=True)
    stdlib = None
    if copy_stdlib:
        src = os.path.dirname(os.__file__)

        def skip(d, names):
            return [n for n in names if n in STDLIB_SKIP or n.startswith("config-")
                    or (os.path.isfile(os.path.join(d, n)) and not n.endswith((".py", ".so")))]
        shutil.copytree(src, runtime / "stdlib", ignore=skip, symlinks=True)
        stdlib = (src, str(runtime / "stdlib"))
    _open_up(runtime)
    return Runtime(str(runtime), stdlib)


def copy_package(package_dir, dest):
    """Copy the regular files of a submission's package (no links, no caches) to dest, readable
    by the sandbox user. Raises ValueError when it is larger than MAX_PACKAGE_BYTES."""
    package_dir, dest = Path(package_dir), Path(dest)
    total = 0
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                             and not os.path.islink(os.path.join(dirpath, d)))
        target = dest / Path(dirpath).relative_to(package_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            src = os.path.join(dirpath, name)
            try:
                fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue  # a link, or unreadable
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read(MAX_PACKAGE_BYTES + 1)
            total += len(data)
            if total > MAX_PACKAGE_BYTES:
                raise ValueError("the submission's package is larger than %d MB"
                                 % (MAX_PACKAGE_BYTES >> 20))
            (target / name).write_bytes(data)
    _open_up(dest)


class UidSlot:
    """An exclusive claim on one of SANDBOX_UIDS (a lock file held while the sandbox lives)."""

    def __init__(self):
        import grp
        import pwd

        for uid in SANDBOX_UIDS:
            try:
                pwd.getpwuid(uid)
                continue  # a real user
            except KeyError:
                pass
            try:
                grp.getgrgid(uid)
                continue
            except KeyError:
                pass
            path = os.path.join(LOCK_DIR, "rnncap-sandbox-%d.lock" % uid)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            except OSError:
                continue
            st = os.fstat(fd)
            if st.st_uid != os.geteuid() or st.st_nlink != 1:
                os.close(fd)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self.fd = uid, fd
            return
        raise GraderError("every sandbox user id %d-%d is in use"
                          % (SANDBOX_UIDS[0], SANDBOX_UIDS[-1]))

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# ----------------------------------------------------------------------------- processes

def _stat(pid):
    """(ppid, pgrp, session, uid) of a live process; None when it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read().decode("ascii", "replace")
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            return None
        # the real uid (a process that switched users is listed as root's in /proc)
        with open("/proc/%d/status" % pid, "rb") as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith(b"Uid:"))
        return int(fields[1]), int(fields[2]), int(fields[3]), uid
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pids():
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def kill_all(uid=None, session=None, root_pid=None):
    """SIGKILL every process of `uid` (as root), or of `session` and below `root_pid`; repeat
    until none is left (a process may fork while we look)."""
    me = os.getpid()
    for _ in range(100):
        stats = {pid: _stat(pid) for pid in _pids() if pid != me}
        stats = {pid: s for pid, s in stats.items() if s is not None}
        doomed = set()
        if uid is not None:
            doomed = {pid for pid, s in stats.items() if s[3] == uid}
        if session is not None:
            doomed |= {pid for pid, s in stats.items() if s[2] == session}
        if root_pid is not None:
            frontier = {root_pid}
            while frontier:
                frontier = {pid for pid, s in stats.items() if s[0] in frontier} - doomed
                doomed |= frontier
        doomed.discard(me)
        if not doomed:
            return
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # where any user may leave files


def remove_files(uid):
    """Remove what user `uid` left at the top of the world-writable directories."""
    for top in SHARED_DIRS:
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if st.st_uid != uid:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


# ----------------------------------------------------------------------------- the sandbox

def limits(timeout, n_groups):
    """The resource limits of the sandbox's processes (names of resource.RLIMIT_*)."""
    out = {"RLIMIT_AS": MEMORY_BYTES, "RLIMIT_CPU": int(STARTUP_TIMEOUT + n_groups * timeout) + 1,
           "RLIMIT_FSIZE": MAX_FILE_BYTES, "RLIMIT_NOFILE": MAX_OPEN_FILES, "RLIMIT_CORE": 0}
    if os.geteuid() == 0:
        out["RLIMIT_NPROC"] = MAX_PROCESSES  # the sandbox user's own processes
    elif os.path.isdir("/proc"):  # the limit counts every process of the user: add theirs
        mine = sum(1 for pid in _pids() if (_stat(pid) or (0, 0, 0, -1))[3] == os.geteuid())
        out["RLIMIT_NPROC"] = MAX_PROCESSES + mine
    return out


class Sandbox:
    """One submission's sandbox: its own directory, a zygote interpreter, restarts after a crash.

    Inputs:
    - package_dir: the submission's rnncap package (a directory)
    - parent: a directory (readable by the sandbox user) to work in
    - runtime: make_runtime's Runtime
    - uid: the sandbox user id (None: run as this user)
    - timeout: seconds each group of calls may run
    """

    def __init__(self, package_dir, parent, runtime, uid, timeout):
        self.uid, self.timeout, self.runtime = uid, float(timeout), runtime
        self.work = Path(tempfile.mkdtemp(prefix="box-", dir=parent))
        os.chmod(self.work, 0o711)
        copy_package(package_dir, self.work / "sub" / "rnncap")
        os.chmod(self.work / "sub", 0o755)
        self.home = self.work / "home"
        self.home.mkdir(mode=0o700)
        if uid is not None:
            os.chown(self.home, uid, uid)
        self.log_path = self.work / "log"
        self.proc = None
        self.reader = None
        self.n_groups = 1
        if uid is not None:  # the id is ours (UidSlot): anything still running as it is a leftover
            kill_all(uid=uid)

    # -- the zygote

    def _start(self):
        config = {"runtime": self.runtime.path, "stdlib": self.runtime.stdlib,
                  "submission": str(self.work / "sub"),
                  "pycache": str(self.home / "pycache"), "uid": self.uid, "gid": self.uid,
                  "limits": limits(self.timeout, self.n_groups)}
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home),
               "TMPDIR": str(self.home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        code = Path(runner.__file__).read_text(encoding="utf-8")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([base_interpreter(), "-I", "-S", "-c", code,
                                      json.dumps(config)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, cwd=str(self.home), env=env,
                                     close_fds=True, start_new_session=True)
        self.reader = runner.FrameReader()
        frame = self._next_frame(time.monotonic() + STARTUP_TIMEOUT)
        if frame is None or frame[0].get("type") != "ready":
            self._stop()
            raise GraderError("the sandbox did not start (%s): %s"
                              % ("timed out" if frame == "timeout" else "no ready message",
                                 self.log_tail() or "no output"))

    def _next_frame(self, deadline):
        """The zygote's next frame; None at end of file; "timeout" after the deadline."""
        fd = self.proc.stdout.fileno()
        while not self.reader.ready:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            if not select.select([fd], [], [], left)[0]:
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                return None
            try:
                self.reader.feed(data)
            except ValueError:
                return None
        return self.reader.ready.pop(0)

    def _stop(self):
        """Kill the zygote and everything the submission started."""
        if self.proc is None:
            return
        if self.uid is None:  # first, while the zygote still holds the orphans
            kill_all(session=self.proc.pid, root_pid=self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.uid is not None:
            kill_all(uid=self.uid)
            remove_files(self.uid)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.proc.wait()
        self.log.close()
        self.proc = None

    def log_tail(self, n=5):
        """The last lines the sandbox printed (control characters escaped)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - 4000))
                lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
        except OSError:
            return ""
        return " | ".join(escape(line) for line in lines)

    # -- groups

    def run(self, groups):
        """Run each group's calls; returns ({group name: [CallOutcome per call]}, seconds).

        groups: objects with .name and .calls (the call specs runner._child understands).
        """
        start = time.monotonic()
        deadline = start + STARTUP_TIMEOUT + len(groups) * self.timeout
        outcomes, self.n_groups = {}, len(groups)
        try:
            for group in groups:
                left = deadline - time.monotonic()
                if left <= 0:
                    outcomes[group.name] = [CallOutcome(
                        "not run", "the run's time limit (%.0f s) was spent" % bound(
                            len(groups), self.timeout), {}, None, False)] * len(group.calls)
                    continue
                if self.proc is None:
                    self._start()
                outcomes[group.name] = self._run_group(group, min(self.timeout, left))
        finally:
            self._stop()
        return outcomes, time.monotonic() - start

    def _run_group(self, group, timeout, retry=True):
        names = [c.get("func") or "%s.%s" % (c["cls"], c["method"]) for c in group.calls]
        request = runner.frame_bytes({"type": "group", "name": group.name, "timeout": timeout},
                                     pickle.dumps(group.calls, protocol=4))
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
        except OSError as e:
            if e.errno not in (errno.EPIPE, errno.EINVAL) or not retry:
                raise
            self._stop()  # the previous group left it dead: once more with a fresh one
            self._start()
            return self._run_group(group, timeout, retry=False)
        results, started, done = {}, None, None
        deadline = time.monotonic() + timeout + GRACE
        while True:
            frame = self._next_frame(deadline)
            if frame is None or frame == "timeout":
                self._stop()
                done = {"lost": frame is None, "timed_out": frame == "timeout"}
                break
            head, payload = frame
            kind, call = head.get("type"), head.get("call")
            if kind == "done":
                done = head
                break
            if not isinstance(call, int) or not 0 <= call < len(group.calls):
                continue
            if kind == "start":
                started = call
            elif kind == "result":
                results[call] = _call_outcome(head, payload)
        outcomes = []
        for i in range(len(group.calls)):
            if i in results:
                outcomes.append(results[i])
            elif i == started:
                outcomes.append(CallOutcome("ended", _ending(done, timeout), {}, None, False))
            else:
                why = ("%s ended the process" % names[started]) if started is not None \
                    else _ending(done, timeout)
                outcomes.append(CallOutcome("not run", why, {}, None, False))
        return outcomes


def _call_outcome(head, payload):
    status = head.get("status")
    message = escape(str(head.get("message", "")))
    fallback = bool(head.get("fallback"))
    kind = escape(str(head.get("kind", "")))[:40] or None
    if status in ("not implemented", "error"):
        return CallOutcome(status, message, {}, kind, fallback)
    if status != "ok":
        return CallOutcome("error", "unreadable result", {}, None, fallback)
    try:
        arrays = runner.decode_arrays(np, head.get("arrays", []), payload)
    except ValueError as e:
        return CallOutcome("error", "unreadable output: %s" % e, {}, kind, fallback)
    return CallOutcome("ok", "", arrays, kind, fallback)


SIGNALS = {signal.SIGKILL: "SIGKILL (killed: memory or process limit?)",
           signal.SIGXCPU: "SIGXCPU (the CPU time limit)", signal.SIGSEGV: "SIGSEGV (a crash)"}


def _ending(done, timeout):
    """Why a call ended without a result, from the zygote's "done" message."""
    if done.get("timed_out"):
        return "timed out after %g s" % timeout
    if done.get("lost"):
        return "the sandbox process was killed"
    if done.get("error"):
        return escape(str(done["error"]))
    if done.get("signal") is not None:
        sig = done["signal"]
        try:
            name = SIGNALS.get(sig) or signal.Signals(sig).name
        except ValueError:
            name = "signal %s" % sig
        return "the process was killed by %s" % name
    if done.get("exit") is not None:
        return "the process exited with status %s (os._exit?)" % done["exit"]
    return "the process ended without a result"


def bound(n_groups, timeout):
    """The longest a sandbox run can take, in seconds."""
    return STARTUP_TIMEOUT + n_groups * timeout + GRACE


def escape(text):
    """Text with every non-printable character (ANSI escapes, newlines, bidi controls) written
    as a Python escape, so that it cannot rewrite a terminal or a table."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)
