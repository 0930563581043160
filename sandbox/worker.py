"""The in-jail worker: the one program every backend runs inside its jail.

Stdlib only, and written for any Python 3.8+, because it runs under whatever interpreter the jail has
(Debian's ``/usr/bin/python3`` in bwrap, the image's ``python3`` in docker) and is passed as ``-c`` source,
so no file of this package needs to be visible inside the jail.

Protocol: one JSON object per line. The host starts ``python3 -I -u -c <this file> <config json>``; the
worker applies its resource limits, answers ``{"ready": true, ...}``, then serves requests::

    {"op": "run", "id": "<nonce>", "code": "print(1)"}     -> {"id": ..., "status": "ok", "stdout": "1\\n", ...}
    {"op": "files", "id": "<nonce>", "files": [{"path": "a.csv", "b64": "..."}]} -> {"id": ..., "status": "ok"}
    {"op": "ping", "id": "<nonce>"}                        -> {"id": ..., "status": "ok"}
    {"op": "recycle", "id": "<nonce>"}                     -> {"id": ..., "status": "ok", "executor_pid": ...}

``recycle`` (only with ``"recyclable": true`` in the config, and only as PID 1 of a PID namespace of the
jail's own: bwrap's ``--as-pid-1``) resets the jail in place for the next episode — the supervisor hands
the jail back to PID 1 (:meth:`Supervisor.hand_over`), which resets it (:meth:`Zygote.recycle`) — or
answers ``"error"`` (a jail that does not recycle keeps serving), and the host starts a new jail instead.

Every worker first joins a session keyring of its own: bwrap and the subprocess backend would otherwise
hand the jail the host's session keyring, whose keys the code could read and a recycle would clear.

Two processes, so that the reply channel is out of the code's reach. The *supervisor* (the process the
host started) holds the host's pipe and never runs user code: it forks the *executor*, which holds the
persistent ``__main__`` namespace (a notebook) and runs the code. The executor only ever sees its own pipe
pair to the supervisor — never the host's fds, never the host's request ids — and the supervisor marks
itself non-dumpable, so code cannot ptrace it, read its memory or open its fds through ``/proc``. The
supervisor treats whatever comes from the executor as untrusted: each request gets a fresh random token,
lines without it (a forged frame, garbage, a frame meant for another request) are dropped, lines longer
than the reply cap are skipped unread, and the one reply it forwards is re-validated and re-capped.

In the executor, fds 0/1/2 point at /dev/null between runs and at per-run capture files during a run, so
neither ``print`` nor a child process writing to fd 1 can reach a protocol pipe. Output is capped inside
the jail, so a 100 MB print never reaches the host (which caps again on what it reads).
"""

import base64
import builtins
import errno
import json
import linecache
import math
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback
import types

MAIN_PID = os.getpid()  # the executor's pid once it is forked: a process that is not it never replies
BALLAST_BYTES = 1 << 20  # freed on MemoryError so the worker can still format and send its reply
REPLY_STATUSES = ("ok", "error", "cpu_limit", "memory_limit")
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
CHILD_POLL_S = 0.2
RECYCLE_KILL_S = 5.0
SYSCALLS = {"x86_64": {"keyctl": 250, "ioprio_get": 252}, "aarch64": {"keyctl": 219, "ioprio_get": 31}}
"""Syscalls without a libc wrapper that :meth:`Zygote.recycle` needs, by ``os.uname().machine``; on any
other machine a jail is never recycled."""
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_CLEAR = 7
KEYCTL_GET_PERSISTENT = 22
KEY_SPECS = (-3, -4, -5)
"""The session, user and user-session keyrings: the ones that outlive the processes of an episode."""
IPC_RMID = 0
NONCE_CHARS = frozenset("0123456789abcdef")
KEYCTL_UNAVAILABLE = (errno.ENOSYS, errno.EPERM)
"""keyctl refused outright (no kernel support, or a seccomp profile such as docker's): the code cannot make
or read keys either, so there is nothing to isolate or clear."""
OWN_SESSION_KEYRING = False
"""Whether this worker joined a session keyring of its own (:func:`join_own_session_keyring`)."""


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
    """The executor: serves the supervisor's requests on its private pipe pair until that pipe closes."""

    def __init__(self, config, request_fd, reply_fd):
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
        self.proto_in = os.fdopen(request_fd, "rb")
        self.proto_out = reply_fd
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
        # The leading newline ends any partial line the code left on the pipe, which would swallow the reply.
        data = ("\n" + json.dumps(message, ensure_ascii=True) + "\n").encode("ascii")
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
            reply["seq"] = request.get("seq") if isinstance(request, dict) else None
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
    if config.get("recyclable"):
        # POSIX message queues live in the jail's IPC namespace, which a recycled jail keeps, and cannot be
        # listed without mounting mqueue (which needs a capability): so none may be created at all.
        limits.append((resource.RLIMIT_MSGQUEUE, 0))
    for which, value in limits:
        resource.setrlimit(which, (value, value))


def prctl(option, value):
    """``prctl(2)`` through ctypes; False where it is unavailable (no ctypes, not Linux)."""
    try:
        import ctypes  # only here: costs a few milliseconds of start-up

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except Exception:
        return False


def die_with_parent(parent_pid, sig=signal.SIGKILL):
    """Get ``sig`` when the parent dies; exit now if it already has (we were reparented meanwhile)."""
    if not prctl(PR_SET_PDEATHSIG, sig):
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def cap_text(text, cap):
    """``text`` cut to at most ``cap`` UTF-8 bytes (never inside a character), and whether it was cut."""
    if len(text) <= cap // 4:
        return text, False
    data = text[:cap + 1].encode("utf-8", "surrogatepass")
    if len(data) <= cap and len(text) <= cap:
        return text, False
    return data[:cap].decode("utf-8", "ignore"), True


def clean_reply(reply, cap):
    """The executor's reply rebuilt from its known fields, each type-checked and capped; None if malformed."""
    if not isinstance(reply, dict) or reply.get("status") not in REPLY_STATUSES:
        return None
    clean = {"status": reply["status"]}
    for key in ("stdout", "stderr"):
        value = reply.get(key, "")
        if not isinstance(value, str):
            return None
        clean[key], cut = cap_text(value, cap)
        clean[key + "_truncated"] = reply.get(key + "_truncated") is True or cut
    for key in ("error", "traceback"):
        value = reply.get(key)
        if value is not None and not isinstance(value, str):
            return None
        clean[key] = clip(value, cap)
    return clean


class Supervisor:
    """The process the host started: relays requests to the executor and vets its replies (see the module
    docstring). Never runs user code and holds no user state."""

    def __init__(self, config, recycle_fd=None):
        self.config = config
        self.cap = int(config["output_bytes"])
        self.max_line = 36 * self.cap + (1 << 20)  # as the host's cap: JSON escapes <= 6 bytes per byte
        self.host_buffer = bytearray()
        self.workdir = config["workdir"]
        self.remove_workdir = bool(config.get("remove_workdir_when_orphaned"))
        self.recycle_fd = recycle_fd
        self.start_executor()
        prctl(PR_SET_DUMPABLE, 0)  # the executor (same uid) may not ptrace us or open /proc/<us>/fd/*
        signal.signal(signal.SIGTERM, self.on_sigterm)

    def start_executor(self):
        """Fork the executor on a pipe pair of its own."""
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        supervisor_pid = os.getpid()
        pid = fork_retrying()
        if pid == 0:
            self.become_executor(supervisor_pid, request_r, request_w, reply_r, reply_w)
        self.child = pid
        self.child_status = None
        self.child_buffer = bytearray()
        self.skipping = False  # inside an over-long executor line: drop bytes up to its newline
        os.close(request_r)
        os.close(reply_w)
        self.to_child = request_w
        self.from_child = reply_r
        os.set_blocking(request_w, False)

    def become_executor(self, supervisor_pid, request_r, request_w, reply_r, reply_w):
        global MAIN_PID
        try:
            MAIN_PID = os.getpid()
            os.close(request_w)
            os.close(reply_r)
            if self.recycle_fd is not None:  # forked from a recycling jail's PID 1 (see Zygote)
                os.close(self.recycle_fd)
                prctl(PR_SET_DUMPABLE, 1)  # inherited off from PID 1; as dumpable as in any other jail
            die_with_parent(supervisor_pid)
            sys.path.insert(0, self.workdir)  # the code's own modules; never on the supervisor's path
            Worker(self.config, request_r, reply_w).serve()  # replaces fds 0/1/2 before any user code
        except BaseException:  # noqa: B036 - a broken jail: say why on the host's stderr, then die
            traceback.print_exc()
        finally:
            os._exit(1)

    def on_sigterm(self, signum, frame):
        """The owner died (PR_SET_PDEATHSIG) or someone asked us to stop: leave nothing behind."""
        self.kill_everything()
        if self.remove_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        os._exit(0)

    def kill_everything(self):
        """SIGKILL the executor and every other process of our process group (what the code started)."""
        for _ in range(3):
            try:
                os.kill(self.child, signal.SIGKILL)
            except OSError:
                pass
            self.reap_child(block=True)
            others = group_members(os.getpgid(0), exclude=os.getpid())
            for pid in others:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if self.config.get("sole_user_of_uid") and os.getuid() != 0:
                try:  # every process of our dedicated uid but us: children that left the group too
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
            if not others:
                return

    def reap_child(self, block=False):
        if self.child_status is None:
            try:
                pid, status = os.waitpid(self.child, 0 if block else os.WNOHANG)
            except ChildProcessError:
                pid, status = self.child, 0
            if pid == self.child:
                self.child_status = status
        return self.child_status

    def die_like_child(self):
        """The executor died: end the same way (same signal or exit status), so the host can say why."""
        status = self.reap_child(block=True)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                signal.signal(sig, signal.SIG_DFL)
                os.kill(os.getpid(), sig)
            except (OSError, ValueError):
                pass
            os._exit(128 + sig)
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)

    def send_host(self, message):
        if not send_frame(message):  # the host is gone
            self.shutdown()

    def shutdown(self):
        """The host closed our pipe: it is gone or done with us. When the owner is SIGKILLed this EOF
        can arrive before PR_SET_PDEATHSIG's SIGTERM, so it cleans up exactly as ``on_sigterm`` does
        (the host removes the workdir itself on a normal close; removing it twice is harmless)."""
        self.kill_everything()
        if self.remove_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        os._exit(0)

    def read_host_line(self):
        """The host's next request line; exits when the host closes the pipe; notices a dead executor."""
        while True:
            end = self.host_buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.host_buffer[:end])
                del self.host_buffer[:end + 1]
                return line
            ready, _, _ = select.select([0], [], [], CHILD_POLL_S)
            if ready:
                self.read_host()
            elif self.reap_child() is not None:
                self.die_like_child()

    def read_host(self):
        try:
            chunk = os.read(0, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            self.shutdown()
        self.host_buffer += chunk

    def write_child(self, data):
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [self.to_child], [], CHILD_POLL_S)
            if self.reap_child() is not None:
                self.die_like_child()
            if writable:
                try:
                    view = view[os.write(self.to_child, view):]
                except BlockingIOError:
                    continue
                except OSError:  # the executor closed its end: it is dying
                    self.die_like_child()

    def child_lines(self):
        """Complete lines from the executor, skipping any longer than ``max_line`` without keeping them."""
        while True:
            end = self.child_buffer.find(b"\n")
            if end < 0:
                if len(self.child_buffer) > self.max_line:
                    self.child_buffer.clear()
                    self.skipping = True
                return
            line = bytes(self.child_buffer[:end])
            del self.child_buffer[:end + 1]
            if self.skipping:
                self.skipping = False
                continue
            yield line

    def await_child(self, accept):
        """The first line from the executor that parses to an object ``accept`` takes; everything else is
        dropped. Also watches the host's pipe (EOF: the host is gone) and the executor's life."""
        while True:
            for line in self.child_lines():
                try:
                    message = json.loads(line)
                except Exception:  # garbage, or nesting deep enough for RecursionError
                    continue
                if isinstance(message, dict) and accept(message):
                    return message
            ready, _, _ = select.select([self.from_child, 0], [], [], CHILD_POLL_S)
            if 0 in ready:
                self.read_host()
            if self.from_child in ready:
                try:
                    chunk = os.read(self.from_child, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:  # the executor (and every process it forked) closed the pipe
                    self.die_like_child()
                self.child_buffer += chunk
            elif self.reap_child() is not None:  # died, though a child it forked may hold the pipe open
                self.die_like_child()

    def hand_over(self, host_id):
        """``recycle``: give the jail back to PID 1 (which resets it and starts our successor), or refuse
        where this jail does not recycle."""
        if self.recycle_fd is None or not isinstance(host_id, str) or not NONCE_CHARS.issuperset(host_id):
            self.send_host({"id": host_id, "status": "error", "error": "RecycleRefused: this jail does not recycle"})
            return
        os.write(self.recycle_fd, b"R" + host_id[:64].encode("ascii"))
        os._exit(0)  # the executor gets SIGKILL with us (PR_SET_PDEATHSIG); PID 1 sweeps up the rest

    def serve(self, hello_extra=None):
        hello = self.await_child(lambda message: message.get("ready") is True)
        self.send_host({**(hello_extra or {}), "ready": True, "pid": os.getpid(), "executor_pid": self.child,
                        "python": str(hello.get("python", ""))[:50]})
        while True:
            line = self.read_host_line()
            try:
                request = json.loads(line)
                host_id = request.pop("id", None)
            except Exception as exc:  # the host is trusted, but never die of a bad line
                self.send_host({"id": None, "status": "error", "error": "WorkerError: " + describe(exc)})
                continue
            if request.get("op") == "recycle":
                self.hand_over(host_id)
                continue
            token = os.urandom(16).hex()
            request["seq"] = token
            self.write_child((json.dumps(request) + "\n").encode("utf-8"))
            raw = self.await_child(lambda message, token=token: message.get("seq") == token)
            reply = clean_reply(raw, self.cap)
            if reply is None:
                reply = {"protocol_error": "the executor's reply is malformed"}
            reply["id"] = host_id
            self.send_host(reply)


class Zygote:
    """PID 1 of a recyclable jail (bwrap ``--as-pid-1``): it forks each episode's supervisor and, when the
    host asks for a ``recycle``, resets the jail in place for the next one.

    It never reads a request, a file or a reply of an episode, so every supervisor and executor it forks is
    a pristine copy: nothing of an earlier episode is in its memory. It is out of the code's reach: as PID 1
    it gets no signal from inside the namespace (it installs no handler), and as a non-dumpable process it
    cannot be ptraced or read through ``/proc``. What the code *can* change of it from outside with the same
    uid (rlimits, nice, affinity, scheduler, I/O priority) is compared with a snapshot taken before any code
    ran, and any difference ends the jail instead of recycling it.
    """

    def __init__(self, config):
        import ctypes  # here, before any code of an episode ran: the zygote never imports afterwards

        self.config = config
        prctl(PR_SET_DUMPABLE, 0)
        # PID 1 gets from inside its namespace only the signals it handles: none (Python handles SIGINT).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.syscalls = SYSCALLS.get(os.uname().machine)
        self.baseline = self.snapshot()

    def serve(self):
        hello_extra = None
        while True:
            token_r, token_w = os.pipe()
            pid = fork_retrying()
            if pid == 0:
                try:
                    os.close(token_r)
                    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any other jail
                    Supervisor(self.config, recycle_fd=token_w).serve(hello_extra)
                finally:
                    os._exit(1)
            os.close(token_w)
            os.set_blocking(token_r, False)
            status = self.wait_for(pid)
            try:
                token = os.read(token_r, 80)
            except OSError:
                token = b""
            os.close(token_r)
            nonce = token[1:].decode("ascii", "replace")
            if not token.startswith(b"R") or not nonce or not NONCE_CHARS.issuperset(nonce):
                self.exit_like(status)  # the supervisor ended for any other reason: so does the jail
            problem = self.recycle()
            if problem is not None:
                self.send_host({"id": nonce, "status": "error", "error": "RecycleRefused: " + problem})
                self.kill_namespace()
                os._exit(0)
            hello_extra = {"id": nonce, "status": "ok"}

    def wait_for(self, pid):
        """Reap every child (orphans of the jail come to PID 1) until ``pid`` exits; its status."""
        while True:
            try:
                done, status = os.waitpid(-1, 0)
            except ChildProcessError:
                return 0
            except InterruptedError:
                continue
            if done == pid:
                return status

    def exit_like(self, status):
        """End as the supervisor did (PID 1 cannot kill itself with a signal: 128 + signal, as bwrap says)."""
        self.kill_namespace()
        if os.WIFSIGNALED(status):
            os._exit(128 + os.WTERMSIG(status))
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)

    def send_host(self, message):
        send_frame(message)  # a host that is gone will not read the answer anyway

    def reap_orphans(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def kill_namespace(self, timeout_s=RECYCLE_KILL_S):
        """As PID 1: SIGKILL every other process of the PID namespace (``kill(-1)`` spares only us) and reap
        them until ``/proc`` lists nobody else; False if some survive ``timeout_s`` (a fork bomb outracing
        us is stopped by the process limits, so this does not happen short of a kernel hang)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:  # ESRCH: nothing left to signal
                pass
            self.reap_orphans()
            if not [name for name in os.listdir("/proc") if name.isdigit() and name != "1"]:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    def snapshot(self):
        """What of this process the code of an episode could change from outside (same uid: ``prlimit``,
        ``setpriority``, ``sched_setaffinity``, ``sched_setscheduler``, ``ioprio_set`` need no capability)
        and a fresh executor would inherit; and the jail's writable mounts' root directories."""
        attributes = {"nice": os.getpriority(os.PRIO_PROCESS, 0), "scheduler": os.sched_getscheduler(0),
                      "affinity": sorted(os.sched_getaffinity(0))}
        for name in sorted(dir(resource)):
            if name.startswith("RLIMIT_"):
                try:
                    attributes[name] = resource.getrlimit(getattr(resource, name))
                except (OSError, ValueError):
                    pass
        if self.syscalls is not None:
            attributes["ioprio"] = self.libc.syscall(self.syscalls["ioprio_get"], 1, 0)  # IOPRIO_WHO_PROCESS
        for root in self.config.get("wipe", []):
            info = os.stat(root)
            attributes["mount " + root] = (info.st_mode, info.st_uid, info.st_gid, sorted(os.listxattr(root)))
        return attributes

    def recycle(self):
        """Reset the jail in place for the next episode; the reply says ``"ok"``, or why not.

        Nothing of the episode may survive, so: every other process of the PID namespace is killed and
        reaped; System V IPC objects are removed (POSIX message queues cannot exist: RLIMIT_MSGQUEUE is 0);
        the session, user, user-session and persistent keyrings are cleared; the writable mounts are
        emptied and their root directories restored; and everything about this process that the code could
        have changed from outside must equal the snapshot taken before any code ran. ``None`` when the jail
        is clean (the caller then forks the next supervisor), else why not, and the host starts a new jail.
        The host checks the outcome itself (processes and files) before trusting it.
        """
        if os.getpid() != 1 or self.syscalls is None:
            return "this jail cannot be recycled (needs a PID namespace of its own and a known machine)"
        if not OWN_SESSION_KEYRING:  # clearing the session keyring would clear the host's
            return "the jail has no session keyring of its own"
        usage = os.times()
        if usage.user + usage.system > float(self.config["cpu_total_s"]) / 2:
            return "PID 1 used half of its CPU allowance"
        if not self.kill_namespace():
            return "processes of the jail survived SIGKILL"
        problem = clear_sysv_ipc(self.libc) or clear_keyrings(self.libc, self.syscalls["keyctl"])
        if problem:
            return problem
        for root in self.config.get("wipe", []):
            problem = wipe_directory(root, self.baseline["mount " + root])
            if problem:
                return problem
        if self.snapshot() != self.baseline:
            changed = sorted(key for key, value in self.snapshot().items() if self.baseline.get(key) != value)
            return "attributes of PID 1 were changed: " + ", ".join(changed)
        return None


def clear_sysv_ipc(libc):
    """Remove every System V shared memory segment, semaphore set and message queue of the jail's IPC
    namespace (they outlive their creators); a message saying what could not be removed, or None."""
    removers = {"shm": lambda ident: libc.shmctl(ident, IPC_RMID, None),
                "sem": lambda ident: libc.semctl(ident, 0, IPC_RMID),
                "msg": lambda ident: libc.msgctl(ident, IPC_RMID, None)}
    for kind, remove in removers.items():
        path = "/proc/sysvipc/" + kind
        for _ in range(2):
            with open(path) as handle:
                ids = [int(line.split()[1]) for line in handle.read().splitlines()[1:] if line.strip()]
            if not ids:
                break
            for ident in ids:
                remove(ident)
        else:
            return f"System V IPC objects ({kind}) could not be removed"
    return None


def clear_keyrings(libc, keyctl):
    """Unlink every key from the keyrings that outlive an episode's processes: the session keyring (ours,
    shared with the executor), the user and user-session keyrings of the uid, and its persistent keyring
    (where the kernel has them); a message on failure, or None."""
    import ctypes  # loaded in Zygote.__init__ already: taken from sys.modules, no file is read

    persistent = libc.syscall(keyctl, KEYCTL_GET_PERSISTENT, -1, -3)  # links it into the session keyring
    for spec in ([persistent] if persistent > 0 else []) + list(KEY_SPECS):
        if libc.syscall(keyctl, KEYCTL_CLEAR, spec) != 0 and ctypes.get_errno() not in KEYCTL_UNAVAILABLE:
            return f"keyring {spec} could not be cleared (errno {ctypes.get_errno()})"
    return None


def wipe_directory(root, baseline):
    """Delete everything below ``root`` (a writable tmpfs of the jail), opening up directories the code
    made unreadable, then restore the root's mode and drop its extended attributes; None when ``root``
    is as ``baseline`` (mode, owner, xattrs) and empty, else what is wrong."""
    try:
        os.chmod(root, 0o700)
        found = [root]
        index = 0
        while index < len(found):
            with os.scandir(found[index]) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        os.chmod(entry.path, 0o700)
                        found.append(entry.path)
                    else:
                        os.unlink(entry.path)
            index += 1
        for path in reversed(found[1:]):  # discovered after their parents: children go first
            os.rmdir(path)
        for name in os.listxattr(root):
            os.removexattr(root, name)
        os.chmod(root, baseline[0] & 0o7777)
        os.utime(root)
        info = os.stat(root)
        if (info.st_mode, info.st_uid, info.st_gid, sorted(os.listxattr(root))) != tuple(baseline) or os.listdir(root):
            return f"{root} could not be restored"
    except (OSError, ValueError) as exc:
        return f"wiping {root} failed: {describe(exc)}"
    return None


def send_frame(message):
    """Write one JSON line to the host (fd 1) in full; False when the host is gone."""
    view = memoryview((json.dumps(message, ensure_ascii=True) + "\n").encode("ascii"))
    try:
        while view:
            view = view[os.write(1, view):]
    except OSError:
        return False
    return True


def fork_retrying(timeout_s=5.0):
    """``os.fork()``, retried while RLIMIT_NPROC refuses it: the processes of a jail killed just before
    (a fork bomb's) count against the uid until the host's init has reaped their zombies."""
    delay, waited = 0.01, 0.0
    while True:
        try:
            return os.fork()
        except BlockingIOError:
            if waited >= timeout_s:
                raise
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.2)


def group_members(pgid, exclude):
    """Pids of the live processes in process group ``pgid`` (read from /proc; empty without it)."""
    members = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return members
    for name in names:
        if not name.isdigit() or int(name) == exclude:
            continue
        try:
            with open("/proc/" + name + "/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(name))
    return members


def join_own_session_keyring():
    """Join a new anonymous session keyring, so the jail cannot read (nor a recycle clear) the host's; the
    executor and everything it starts inherit it. Sets :data:`OWN_SESSION_KEYRING`; True also where keyctl
    is unavailable (no keys to reach)."""
    global OWN_SESSION_KEYRING
    numbers = SYSCALLS.get(os.uname().machine)
    if numbers is None:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    joined = libc.syscall(numbers["keyctl"], KEYCTL_JOIN_SESSION_KEYRING, None) >= 0
    OWN_SESSION_KEYRING = joined or ctypes.get_errno() in KEYCTL_UNAVAILABLE


def main():
    config = json.loads(sys.argv[1])
    os.closerange(3, 1 << 16)
    if config.get("parent_pid"):
        # SIGTERM, not SIGKILL: the supervisor's handler kills the executor and what it started, and
        # removes the workdir, when the host process dies without closing the sandbox.
        die_with_parent(int(config["parent_pid"]), signal.SIGTERM)
    os.chdir(config["workdir"])
    os.umask(0o077)
    join_own_session_keyring()
    apply_limits(config)
    if config.get("recyclable") and os.getpid() == 1:
        Zygote(config).serve()
    Supervisor(config).serve()


if __name__ == "__main__":
    main()
