"""The in-jail worker: the one program every backend runs inside its jail.

Stdlib only, and written for any Python 3.8+, because it runs under whatever interpreter the jail has
(Debian's ``/usr/bin/python3`` in bwrap, the image's ``python3`` in docker) and is passed as ``-c`` source,
so no file of this package needs to be visible inside the jail.

Protocol: one JSON object per line. The host starts ``python3 -I -u -c <this file> <config json>``; the
worker applies its resource limits, answers ``{"ready": true, ...}``, then serves requests::

    {"op": "run", "id": "<nonce>", "code": "print(1)"}     -> {"id": ..., "status": "ok", "stdout": "1\\n", ...}
    {"op": "files", "id": "<nonce>", "files": [{"path": "a.csv", "b64": "..."}]} -> {"id": ..., "status": "ok"}
    {"op": "ping", "id": "<nonce>"}                        -> {"id": ..., "status": "ok"}

Code runs in one persistent ``__main__`` namespace (a notebook). The protocol lives on private, non-
inheritable copies of fds 0/1; fds 0/1/2 themselves point at /dev/null between runs and at per-run capture
files during a run, so neither ``print`` nor a child process writing to fd 1 can corrupt the protocol.
Output is capped *here*, inside the jail, so a 100 MB print never reaches the host.
"""

import base64
import builtins
import json
import linecache
import math
import os
import resource
import signal
import sys
import traceback
import types

MAIN_PID = os.getpid()
BALLAST_BYTES = 1 << 20  # freed on MemoryError so the worker can still format and send its reply


class CpuLimitExceeded(BaseException):
    """Raised into user code by SIGXCPU. A BaseException, so ``except Exception`` in user code lets it pass."""


class Capture:
    """A byte store that keeps the first ``cap`` bytes written and remembers whether more came."""

    def __init__(self, cap):
        self.cap = cap
        self.data = bytearray()
        self.truncated = False

    def add_bytes(self, data):
        room = self.cap - len(self.data)
        if len(data) > room:
            self.truncated = True
            data = data[:max(room, 0)]
        self.data += data

    def add_text(self, text):
        room = self.cap - len(self.data)
        if room <= 0:
            self.truncated = self.truncated or bool(text)
            return
        chunk = text[:room]  # a character is at least one byte: never encode more than fits
        encoded = chunk.encode("utf-8", "backslashreplace")
        if len(encoded) > room:
            encoded = encoded[:room].decode("utf-8", "ignore").encode("utf-8")
            self.truncated = True
        elif len(chunk) < len(text):
            self.truncated = True
        self.data += encoded

    def text(self):
        return self.data.decode("utf-8", "replace")


class CappedBinary:
    """``sys.stdout.buffer`` of a :class:`CappedText`."""

    def __init__(self, capture, fd):
        self._capture = capture
        self._fd = fd

    def write(self, data):
        data = bytes(data)
        self._capture.add_bytes(data)
        return len(data)

    def flush(self):
        pass

    def fileno(self):
        return self._fd

    def writable(self):
        return True

    def isatty(self):
        return False


class CappedText(CappedBinary):
    """What ``sys.stdout`` / ``sys.stderr`` are during a run: text into a :class:`Capture`."""

    encoding = "utf-8"
    errors = "backslashreplace"
    line_buffering = False

    def __init__(self, capture, fd):
        super().__init__(capture, fd)
        self.buffer = CappedBinary(capture, fd)

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        self._capture.add_text(text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)


class Worker:
    """Serves requests on the protocol fds until stdin closes."""

    def __init__(self, config):
        self.config = config
        self.workdir = config["workdir"]
        self.cap = int(config["output_bytes"])
        self.cpu_s = float(config["cpu_s"])
        self.cpu_hard = int(config["cpu_total_s"])
        self.cells = 0
        self.in_user_code = False
        self.cpu_hit = False
        self.ballast = bytearray(BALLAST_BYTES)
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        self.namespace = module.__dict__
        self.proto_in = os.fdopen(os.dup(0), "rb")
        self.proto_out = os.dup(1)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(self.devnull, fd)
        sink = CappedText(Capture(0), 1)
        sys.stdin = open(os.devnull)
        sys.stdout = sys.stderr = sink
        signal.signal(signal.SIGXCPU, self.on_sigxcpu)

    def on_sigxcpu(self, signum, frame):
        self.cpu_hit = True
        if self.in_user_code:
            raise CpuLimitExceeded(f"CPU time limit of {self.cpu_s:g} s exceeded")

    def arm_cpu_limit(self):
        """Give the next run ``cpu_s`` more CPU seconds (RLIMIT_CPU counts the process's whole life)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = min(self.cpu_hard, math.ceil(usage.ru_utime + usage.ru_stime + self.cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard))

    def send(self, message):
        data = (json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            view = view[os.write(self.proto_out, view):]

    def serve(self):
        self.send({"ready": True, "pid": os.getpid(), "python": sys.version.split()[0]})
        for line in self.proto_in:
            request = {}
            try:
                request = json.loads(line)
                reply = self.dispatch(request)
            except Exception as exc:  # a malformed request or a broken jail must not kill the worker
                reply = {"status": "error", "error": "WorkerError: " + describe(exc)}
            if os.getpid() != MAIN_PID:
                os._exit(0)  # a child forked by user code fell back into the worker: never let it reply
            reply["id"] = request.get("id") if isinstance(request, dict) else None
            self.send(reply)
        os._exit(0)  # not sys.exit: non-daemon user threads would keep the worker alive

    def dispatch(self, request):
        op = request.get("op")
        if op == "run":
            return self.run(str(request["code"]))
        if op == "files":
            return self.write_files(request["files"])
        if op == "ping":
            return {"status": "ok"}
        return {"status": "error", "error": f"ValueError: unknown op {op!r}"}

    def write_files(self, files):
        root = os.path.realpath(self.workdir)
        for item in files:
            path = os.path.realpath(os.path.join(root, item["path"]))
            if os.path.commonpath([root, path]) != root:
                return {"status": "error", "error": f"ValueError: path {item['path']!r} leaves the workdir"}
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(base64.b64decode(item["b64"]))
        return {"status": "ok"}

    def run(self, code):
        self.cells += 1
        name = f"<cell-{self.cells}>"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        out, err = Capture(self.cap), Capture(self.cap)
        fd_files = [open_capture_file(self.workdir) for _ in (1, 2)]
        os.dup2(fd_files[0], 1)
        os.dup2(fd_files[1], 2)
        sys.stdout, sys.stderr = CappedText(out, 1), CappedText(err, 2)
        self.cpu_hit = False
        self.arm_cpu_limit()
        exc = None
        try:
            compiled = compile(code, name, "exec")
            self.in_user_code = True
            exec(compiled, self.namespace)
        except BaseException as caught:  # noqa: B036 - user code may raise anything, SystemExit included
            exc = caught
        finally:
            self.in_user_code = False
        if os.getpid() != MAIN_PID:
            os._exit(1 if exc else 0)
        return self.finish_run(exc, out, err, fd_files)

    def finish_run(self, exc, out, err, fd_files):
        if isinstance(exc, MemoryError):
            self.ballast = None
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        for fd, capture, fd_file in ((1, out, fd_files[0]), (2, err, fd_files[1])):
            os.dup2(self.devnull, fd)
            drain_capture_file(fd_file, capture)
        status, error, trace = classify(exc, self.cpu_hit)
        if trace:
            err.add_text(trace)
        sys.stdout = sys.stderr = CappedText(Capture(0), 1)
        self.arm_cpu_limit()
        if self.ballast is None:
            try:
                self.ballast = bytearray(BALLAST_BYTES)
            except MemoryError:
                pass
        return {"status": status, "stdout": out.text(), "stderr": err.text(), "error": clip(error, self.cap),
                "traceback": clip(trace, self.cap), "stdout_truncated": out.truncated,
                "stderr_truncated": err.truncated}


def clip(text, limit):
    """Cut an error text to ``limit`` characters: an exception message can be as large as any print."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + " ...[truncated]"


def open_capture_file(directory):
    """An anonymous file in the jail's tmpfs that catches fd-level output (child processes, C code)."""
    try:
        return os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600)
    except (AttributeError, OSError):
        path = os.path.join(directory, f".capture-{os.getpid()}-{os.urandom(6).hex()}")
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.unlink(path)
        return fd


def drain_capture_file(fd, capture):
    """Copy at most the capture's remaining room out of an fd-level capture file, then close it."""
    try:
        size = os.fstat(fd).st_size
        room = max(capture.cap - len(capture.data), 0)
        capture.add_bytes(os.pread(fd, min(size, room), 0) if room else b"")
        if size > room:
            capture.truncated = True
    finally:
        os.close(fd)


def type_name(exc):
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return cls.__module__ + "." + cls.__qualname__


def describe(exc):
    """``"ZeroDivisionError: division by zero"``: the exception's type and message, as Python prints them."""
    try:
        if isinstance(exc, SyntaxError):
            message = f"{exc.msg} (line {exc.lineno})"
        else:
            message = str(exc)
    except Exception:
        message = "<unprintable message>"
    return type_name(exc) + (": " + message if message else "")


def format_trace(exc):
    """The traceback as Python prints it, without the worker's own frame."""
    try:
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:
        return describe(exc) + "\n"


def classify(exc, cpu_hit):
    """Map how the code ended to (status, error, traceback)."""
    if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
        return "ok", None, None
    if isinstance(exc, CpuLimitExceeded) or cpu_hit:
        status = "cpu_limit"
    elif isinstance(exc, MemoryError):
        status = "memory_limit"
    else:
        status = "error"
    return status, describe(exc), format_trace(exc)


def apply_limits(config):
    """Lower the hard rlimits before any user code runs; user code can lower them further, never raise."""
    limits = [
        (resource.RLIMIT_AS, int(config["memory_mb"]) << 20),
        (resource.RLIMIT_FSIZE, int(config["file_size_mb"]) << 20),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, int(config["cpu_total_s"])),
    ]
    if config.get("max_procs"):
        limits.append((resource.RLIMIT_NPROC, int(config["max_procs"])))
    for which, value in limits:
        resource.setrlimit(which, (value, value))


def die_with_parent(parent_pid):
    """For the unjailed backend: SIGKILL this worker when the host process dies (bwrap/docker do it)."""
    import ctypes  # only here: costs a few milliseconds of start-up

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(1)


def main():
    config = json.loads(sys.argv[1])
    os.closerange(3, 1 << 16)
    if config.get("parent_pid"):
        die_with_parent(int(config["parent_pid"]))
    os.chdir(config["workdir"])
    os.umask(0o077)
    sys.path.insert(0, config["workdir"])
    apply_limits(config)
    Worker(config).serve()


if __name__ == "__main__":
    main()
