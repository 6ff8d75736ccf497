"""The in-container probe: a stdlib-only script that measures a distro and tries a laid-out wheel.

It runs inside distro containers under whatever python they have, down to Python 3.5 (Ubuntu
16.04), so it is written in Python 3.5 syntax: no f-strings, no annotations, no newer stdlib calls.
It prints JSON documents after marker lines; the host reads and classifies them (observe.py).

  python3 -c "$(cat probe.py)" facts [--user NAME] [EXTRA_INTERPRETER ...]
  PYTHON -c "$(cat probe.py)" interpreter PATH   (one interpreter, e.g. a portable CPython just brought in)
  PYTHON probe.py check [--sandboxed] TIMEOUT_SECONDS PLAN.json[=SITE:SITE] [PLAN.json ...]

``facts`` runs before any file is copied in, so the host passes the source itself.

``check`` takes every wheel a distro runs under one interpreter, so a distro costs one exec, not
one per wheel; each wheel is still checked apart (its own loader runs, its own import child) and
its document is printed as soon as it is done, so the host knows which wheel the probe was on if
the probe itself dies. ``=SITE:SITE`` names the site directories of a wheel's dependencies.
"""

import glob
import json
import os
import pwd
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

MARKER = "@@pytest-manylinux-result@@"
#: a line of progress, read by the host only when the probe died before printing its result
PROGRESS = "@@pytest-manylinux-progress@@ "
_OUTPUT_LIMIT = 16000

# Interpreter discovery, in the order they are preferred: the distro's own, then the ones
# images such as pypa/manylinux carry in /opt/python.
_INTERPRETER_GLOBS = (
    "/usr/bin/python3",
    "/usr/bin/python3.*",
    "/usr/local/bin/python3",
    "/usr/local/bin/python3.*",
    "/opt/python/cp3*/bin/python",
)
_INTERPRETER_NAME = re.compile(r"(python3(\.\d+)?|python)$")

# Run by each interpreter found (``-I -c``), or in this process for the interpreter running the probe.
_INTERPRETER_SNIPPET = r"""
import json, sys, sysconfig


def describe():
    try:
        import importlib.machinery as m
        suffixes = list(m.EXTENSION_SUFFIXES)
    except Exception:
        suffixes = []
    try:
        import ctypes
        has_ctypes = True
    except Exception:
        has_ctypes = False
    return {
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "abiflags": getattr(sys, "abiflags", ""),
        "soabi": sysconfig.get_config_var("SOABI") or "",
        "ext_suffixes": suffixes,
        "ctypes": has_ctypes,
        "executable": sys.executable,
    }


if __name__ == "__main__":
    print(json.dumps(describe()))
"""

# The child that imports modules one after another. It says "S name" before each import and
# "R {json}" after it, on a pipe of its own, so the parent knows which module was being imported when
# the child hung or died by a signal. faulthandler prints the Python traceback of a fatal signal to stderr.
# A failed import is described by its exception and the chain behind it (__cause__, __context__),
# innermost last, each with the file of its innermost frame: the host tells a loader error, a
# dependency's failure, a SyntaxError or a missing stdlib module from the wheel's own exceptions.
_IMPORTER = r"""
import _thread, faulthandler, importlib, json, os, signal, sys, time, traceback


def link(e):
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = tb.tb_frame.f_code.co_filename if tb is not None else None
    if isinstance(e, SyntaxError) and e.filename:
        where = e.filename
    return {
        "type": type(e).__name__,
        "message": str(e)[:2000],
        "name": getattr(e, "name", None) if isinstance(e, ImportError) else None,
        "file": where,
        "syntax": isinstance(e, SyntaxError),
    }


def chain(e):
    links, seen = [], set()
    while e is not None and id(e) not in seen and len(links) < 8:
        seen.add(id(e))
        links.append(link(e))
        e = e.__cause__ if e.__cause__ is not None else e.__context__
    return links


# The protocol goes to its own pipe (fd argv[1]), not stdout: what a module prints is only output.
talk = os.fdopen(int(sys.argv[1]), "w")
sites = sys.argv[2].split(os.pathsep)
sys.path[0:0] = sites
me = os.getpid()
# SIGUSR1 writes every thread's stack to argv[3]: the parent asks where an import hangs before killing it.
stacks = open(sys.argv[3], "w")
faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)
main_thread = _thread.get_ident()


class Progress(object):
    # Consulted before any module not yet loaded is looked for: "P" (at most 5 times a second) tells the
    # parent the import is still loading modules, so it is slow, not hung. It finds nothing itself.
    last = 0.0

    def find_spec(self, name, path=None, target=None):
        now = time.time()
        if now - Progress.last >= 0.2 and _thread.get_ident() == main_thread:
            Progress.last = now
            try:
                os.write(talk.fileno(), b"P\n")
            except OSError:
                pass
        return None


sys.meta_path.insert(0, Progress())


def pids():
    # The processes of the container (its pid namespace): one listdir, cheap enough for every module.
    try:
        return set(int(n) for n in os.listdir("/proc") if n.isdigit())
    except OSError:
        return set()


for name in sys.argv[4:]:
    talk.write("S " + name + "\n")
    talk.flush()
    result = {"module": name, "ok": True}
    before = pids()
    try:
        importlib.import_module(name)
    except BaseException as e:
        if os.getpid() != me:
            os._exit(0)  # a process the module forked, returning here: it must not import the rest too
        result = {
            "module": name,
            "ok": False,
            "type": type(e).__name__,
            "message": str(e)[:4000],
            "missing": getattr(e, "name", None) if isinstance(e, ImportError) else None,
            "chain": chain(e),
            "traceback": "".join(traceback.format_exception(type(e), e, e.__traceback__))[-4000:],
        }
    if os.getpid() != me:
        os._exit(0)
    # Processes that appeared during the import and still run: the probe names the module on what it
    # finds left behind at the end.
    result["new"] = sorted(pids() - before)[:1024]
    talk.write("R " + json.dumps(result) + "\n")
    talk.flush()
"""


def _emit(document):
    sys.stdout.write(MARKER + "\n" + json.dumps(document) + "\n")
    sys.stdout.flush()


def _run(argv, env=None, timeout=60, limit=_OUTPUT_LIMIT):
    """Run a command; return (returncode or None on timeout, text).

    stdout and stderr are read apart and joined line-wise: the loader writes its trace to one and
    its errors to the other without a newline between them.
    """
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    code = None
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    text = err.decode("utf-8", "replace").rstrip("\n") + "\n" + out.decode("utf-8", "replace")
    return code, text.strip("\n")[-limit:]


def _elf_interp(path):
    """The PT_INTERP of an ELF file (its dynamic loader), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF":
                return None
            is64 = head[4] == 2
            endian = "<" if head[5] == 1 else ">"
            if is64:
                phoff, = struct.unpack(endian + "Q", head[32:40])
                phentsize, phnum = struct.unpack(endian + "HH", head[54:58])
            else:
                phoff, = struct.unpack(endian + "I", head[28:32])
                phentsize, phnum = struct.unpack(endian + "HH", head[42:46])
            for i in range(min(phnum, 128)):
                f.seek(phoff + i * phentsize)
                ph = f.read(phentsize)
                p_type, = struct.unpack(endian + "I", ph[:4])
                if p_type != 3:  # PT_INTERP
                    continue
                if is64:
                    offset, = struct.unpack(endian + "Q", ph[8:16])
                    size, = struct.unpack(endian + "Q", ph[32:40])
                else:
                    offset, = struct.unpack(endian + "I", ph[4:8])
                    size, = struct.unpack(endian + "I", ph[16:20])
                f.seek(offset)
                return f.read(min(size, 4096)).rstrip(b"\0").decode("utf-8", "replace")
    except (OSError, struct.error, IndexError):
        return None
    return None


def _libc():
    """("glibc"|"musl"|None, version string or None, loader path or None)."""
    loader = _elf_interp(os.path.realpath(sys.executable))
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        text = None
    if text and text.startswith("glibc "):
        return "glibc", text.split()[1], loader
    candidates = ([loader] if loader else []) + sorted(glob.glob("/lib/ld-musl-*.so.1"))
    for path in candidates:
        if path and "musl" in path and os.path.exists(path):
            _, out = _run([path], timeout=10)
            match = re.search(r"Version\s+(\d+\.\d+(\.\d+)?)", out)
            return "musl", (match.group(1) if match else None), path
    return None, None, loader


def _libstdcxx():
    """The highest GLIBCXX_ and CXXABI_ versions the system libstdc++ defines, or None."""
    patterns = (
        "/usr/lib/*-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib/*-linux-gnu/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
    )
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue

            def highest(prefix):
                found = set(re.findall(prefix + rb"(\d+(?:\.\d+)+)\x00", data))
                if not found:
                    return None
                best = max(found, key=lambda v: [int(x) for x in v.split(b".")])
                return best.decode("ascii")

            return {"path": os.path.realpath(path), "glibcxx": highest(b"GLIBCXX_"), "cxxabi": highest(b"CXXABI_")}
    return None


def _interpreter_facts(path):
    if sys.executable and os.path.realpath(path) == os.path.realpath(sys.executable):
        # The interpreter running the probe: no need to start it again (one process less per distro).
        namespace = {"__name__": "pm_interpreter"}
        exec(_INTERPRETER_SNIPPET, namespace)
        facts = namespace["describe"]()
        facts["path"] = path
        return facts
    code, out = _run([path, "-I", "-c", _INTERPRETER_SNIPPET], timeout=30)
    if code != 0:
        return {"path": path, "error": out.strip()[-500:] or "exit status %s" % code}
    try:
        facts = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"path": path, "error": "unreadable answer: %r" % out[-300:]}
    facts["path"] = path
    return facts


def facts(extra, user=None):
    seen = set()
    interpreters = []
    for pattern in tuple(extra) + _INTERPRETER_GLOBS:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real in seen or not os.access(real, os.X_OK) or os.path.isdir(real):
                continue
            if pattern not in extra and not _INTERPRETER_NAME.search(os.path.basename(path)):
                continue  # python3.5m, python3.11-config and such
            seen.add(real)
            interpreters.append(_interpreter_facts(path))
    libc, version, loader = _libc()
    _emit({
        "libc": libc,
        "libc_version": version,
        "loader": loader,
        "machine": os.uname()[4],
        "libstdcxx": _libstdcxx(),
        "interpreters": interpreters,
        "uid": os.getuid(),
        # Whether the user checks run as exists here, asked now to save an exec per distro.
        "user": _existing_user(user),
    })


def _existing_user(name):
    if not name:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        return None
    return name


def _provided_by_interpreter():
    """A predicate: is this symbol resolvable in the interpreter process (dlsym(RTLD_DEFAULT))?

    Extension modules leave Py*/_Py* and some libc/libpthread symbols undefined on purpose: the
    interpreter provides them when it loads the module. Without ctypes, fall back to the Py prefix.
    """
    try:
        import ctypes

        process = ctypes.CDLL(None)
    except Exception:
        return lambda name: name.startswith(("Py", "_Py"))

    def provided(name):
        try:
            getattr(process, name)
            return True
        except AttributeError:
            return False

    return provided


def _sonames_dir(root, sonames):
    """A directory where each library of the wheel is found by its soname, or None when every file is
    named by its soname already.

    A vendored library may need a sibling the wheel ships under another file name than its soname
    (libSDL2-2.0.so with soname libSDL2-2.0.so.0): in a real process the package loads the sibling first,
    and the loader reuses it by soname. Checked alone, a library needs the same help.
    """
    links = {soname: os.path.join(root, path) for soname, path in sonames.items() if os.path.basename(path) != soname}
    if not links:
        return None
    directory = tempfile.mkdtemp(prefix="pytest-manylinux-sonames-")
    for soname, target in links.items():
        try:
            os.symlink(target, os.path.join(directory, soname))
        except OSError:
            continue
    return directory


def _loader_check(loader, root, entry, libdirs, provided, sonames=None):
    path = os.path.join(root, entry["path"])
    result = {"path": entry["path"], "kind": entry["kind"], "lines": [], "static": False}
    interp = _elf_interp(path)
    if entry["kind"] == "executable" and interp is None:
        result["static"] = True
        return result
    use_loader = interp if (entry["kind"] == "executable" and interp and os.path.exists(interp)) else loader
    if not use_loader:
        result["lines"].append("no dynamic loader found in this image for %s" % entry["path"])
        return result
    env = {"PATH": "/usr/bin:/bin", "LD_TRACE_LOADED_OBJECTS": "1", "LD_BIND_NOW": "1", "LD_WARN": "1"}
    if entry["kind"] == "library" and libdirs:
        # A vendored library is found through the RPATH of the file that needs it; checked on
        # its own it needs the same search path (the wheel's own library directories).
        env["LD_LIBRARY_PATH"] = ":".join([os.path.join(root, d) for d in libdirs] + ([sonames] if sonames else []))
    musl = "ld-musl" in os.path.basename(use_loader)
    # glibc's loader lists with LD_TRACE_LOADED_OBJECTS; musl's with --list (it would run the file otherwise),
    # and reports every symbol it cannot bind as "Error relocating FILE: NAME: symbol not found".
    argv = [use_loader, "--list", path] if musl else [use_loader, path]
    code, out = _run(argv, env=env, timeout=60, limit=64 * 1024 * 1024)
    lines = []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        match = re.match(r"^undefined symbol: (\S+)", line) or re.match(
            r"^Error relocating [^:]+: ([^\s:]+): symbol not found", line
        )
        if match and entry["kind"] != "executable" and provided(match.group(1)):
            continue
        if "=>" in line and "not found" not in line:
            continue  # a resolved dependency
        if re.match(r"^(/\S+|linux-vdso\S*|linux-gate\S*)\s+\(0x", line) or line == "statically linked":
            continue  # the loader itself, the vDSO
        lines.append(line)
    if code is None:
        lines.append("the loader did not answer within 60 seconds")
    result["lines"] = lines[:200]
    return result


def _signal_name(number):
    # Prefer the usual name: Python 3.5 calls 6 SIGIOT, an alias of SIGABRT.
    preferred = {6: "SIGABRT", 7: "SIGBUS", 11: "SIGSEGV", 4: "SIGILL", 8: "SIGFPE", 9: "SIGKILL"}
    if number in preferred:
        return preferred[number]
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number


def _cgroup_value(paths, key=None):
    """An integer from the first readable cgroup file (v2, then v1), or None.

    With ``key``, the file holds "key value" lines (memory.events, memory.oom_control).
    """
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    words = line.split()
                    if key is None and words:
                        return int(words[0]) if words[0].isdigit() else None
                    if len(words) == 2 and words[0] == key:
                        return int(words[1])
        except (OSError, ValueError):
            continue
    return None


def _oom_kills():
    """How many processes the kernel has killed for memory in this container, or None if unknown.

    The out-of-memory killer picks the largest process of the container, the importing child, and
    sends it SIGKILL: only this counter tells that SIGKILL from any other.
    """
    paths = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
    return _cgroup_value(paths, "oom_kill")


def _memory_limit():
    return _cgroup_value(("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"))


class _Capped(object):
    """One stream of the importer, drained to its end but kept only in part: its head and its tail.

    An import may print without end (400 MiB of it): keeping it all would fill the probe's memory and
    the host's report, and reading it line by line would cost more than the import. The count of
    bytes dropped says how much was left out.
    """

    def __init__(self, head=2048, tail=5888):
        self.head_limit, self.tail_limit = head, tail
        self.head, self.tail, self.total = b"", b"", 0

    def add(self, chunk):
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail = (self.tail + chunk)[-self.tail_limit:]

    def text(self):
        dropped = self.total - len(self.head) - len(self.tail)
        middle = b"\n[... %d bytes dropped ...]\n" % dropped if dropped > 0 else b""
        return (self.head + middle + self.tail).decode("utf-8", "replace")


def _stat_fields(pid):
    """(state, ppid, pgrp, session, uid) of a process, or None when it is gone."""
    try:
        uid = os.stat("/proc/%d" % pid).st_uid
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), uid
    except (OSError, ValueError, IndexError):
        return None


def _ancestors():
    """This process and the ones it runs under (the exec's ``timeout``): never a leftover."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        fields = _stat_fields(pid)
        if fields is None:
            break
        pid = fields[1]
    return found


def _leftovers(token, session, keep):
    """Processes an import left behind: in the importer's session, or carrying its token in their
    environment (a daemon that made itself a new session keeps it)."""
    uid, found = os.getuid(), []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit() or int(name) in keep:
            continue
        pid = int(name)
        fields = _stat_fields(pid)
        if fields is None or fields[0] == b"Z" or fields[4] != uid:
            continue
        if session in (fields[2], fields[3]):
            found.append(pid)
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                entries = f.read().split(b"\0")
        except OSError:
            continue
        if token in entries or (token.endswith(b"=") and any(e.startswith(token) for e in entries)):
            found.append(pid)
    return found


def _kill_leftovers(token, session, keep):
    """Stop, then kill, every leftover of an import (a swarm forks while it is being killed); return
    how many there were."""
    seen = set()
    for _ in range(50):
        pids = _leftovers(token, session, keep)
        if not pids:
            break
        seen.update(pids)
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        time.sleep(0.005)
    return len(seen)


#: the environment variable every importer (and whatever it starts) carries: how its leftovers are found
_TOKEN = b"PYTEST_MANYLINUX_CHECK"

#: the places an unprivileged import can write to: bounded, in memory, emptied after each import
_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


def _scratch_entries():
    found = {}
    for directory in _SCRATCH:
        try:
            found[directory] = set(os.listdir(directory))
        except OSError:
            found[directory] = set()
    return found


def _clean_scratch(before):
    """Remove what an import left in the scratch places: entries that appeared during it, of this user."""
    for directory, names in before.items():
        try:
            now = os.listdir(directory)
        except OSError:
            continue
        for name in now:
            if name in names:
                continue
            path = os.path.join(directory, name)
            try:
                if os.lstat(path).st_uid != os.getuid():
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)
            except OSError:
                pass


def _full_scratch():
    """A scratch place the import filled (its size in MiB), or None.

    ``statvfs`` as an unprivileged user sees ``f_bavail``: less than 1 MiB (or 1%) left is full.
    """
    for directory in _SCRATCH:
        try:
            st = os.statvfs(directory)
        except OSError:
            continue
        size, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        if size and free < max(1 << 20, size // 100):
            return directory, size >> 20
    return None


def _progress(plan, record):
    """A line the host reads if the probe itself dies (an import that kills or stops every process it
    may signal): which module was being imported, and what was found before it."""
    record["plan"] = plan
    sys.stdout.write(PROGRESS + json.dumps(record) + "\n")
    sys.stdout.flush()


def _imports(python, site, modules, timeout, plan="", clean=False):
    """Import every module in a child process; return one result per module.

    The child's own output is drained (kept in part: :class:`_Capped`) and never slows it. When the
    child exits its check is over: whatever it left running (children, daemons, a new session) is
    killed, and with ``clean`` (only in a check container: never on a machine others share) what this
    user wrote to the scratch places meanwhile is removed, so the next check starts clean.
    """
    results = []
    pending = list(modules)
    token = _TOKEN + ("=%d.%d" % (os.getpid(), int(time.time() * 1e6))).encode()
    keep = _ancestors()
    before = _scratch_entries()
    scratch = tempfile.mkdtemp(prefix="pytest-manylinux-import-")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LC_ALL": "C.UTF-8",
        "PYTHONFAULTHANDLER": "1",
        _TOKEN.decode(): token.split(b"=", 1)[1].decode(),
    }
    try:
        while pending:
            done, failure, not_tried = _import_some(
                python, site, pending, timeout, plan, env, token, keep, os.path.join(scratch, ".stacks")
            )
            results.extend(done)
            if failure is not None:
                results.append(failure)
            gone = set(r["module"] for r in done) | set(not_tried)
            if failure is not None:
                gone.add(failure["module"])
            pending = [m for m in pending if m not in gone]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if clean:
            _clean_scratch(before)
    return results


#: the most one import may take while it goes on loading modules, in timeouts
_SLOW_IMPORT_LIMIT = 5


def _import_some(python, site, pending, timeout, plan, env, token, keep, stacks):
    """One importer child over ``pending``: (the results it gave, the failure of the module it stopped
    on or None, the modules not to try after that failure).

    An import hangs when it loads no new module for ``timeout`` seconds (a slow one, on a busy machine,
    goes on loading them), or when it has taken ``_SLOW_IMPORT_LIMIT`` timeouts in all. Before the child
    is killed for it, it writes its stacks to ``stacks``: where it hung is part of the finding.
    """
    read_talk, write_talk = os.pipe()
    argv = [python, "-I", "-B", "-u", "-X", "faulthandler", "-c", _IMPORTER, str(write_talk), site, stacks]
    argv += pending
    oom_before = _oom_kills()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        pass_fds=(write_talk,),
        start_new_session=True,
    )
    os.close(write_talk)
    talk = os.fdopen(read_talk, "rb", 0)
    out, err = _Capped(), _Capped()
    sinks = {proc.stdout.fileno(): out.add, proc.stderr.fileno(): err.add}
    done, current = [], None
    buffer = b""
    deadline = time.time() + timeout
    since, limit, progressed = time.time(), deadline, False
    timed_out = False
    streams = [talk.fileno(), proc.stdout.fileno(), proc.stderr.fileno()]
    exited, drained = False, 0.0
    while streams:
        wait = deadline - time.time()
        if wait <= 0:
            timed_out = True
            break
        if exited:
            # The importer is gone: take what is already written, but do not wait for processes it left
            # behind that hold the pipes open (a daemon): they are killed below.
            wait = 0
            if time.time() > drained:
                break
        ready, _, _ = select.select(streams, [], [], min(wait, 0.25))
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                streams.remove(fd)
            elif fd in sinks:
                sinks[fd](chunk)
            else:
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    if text.startswith("S "):
                        current = text[2:]
                        deadline = time.time() + timeout
                        since, progressed = time.time(), False
                        limit = since + timeout * _SLOW_IMPORT_LIMIT
                        _progress(plan, {"importing": current})
                    elif text == "P" and current is not None:
                        # (the module's own lookup says it too, at once)
                        progressed = progressed or time.time() > since + 0.5
                        deadline = min(time.time() + timeout, limit)
                    elif text.startswith("R "):
                        try:
                            result = json.loads(text[2:])
                        except ValueError:
                            continue  # a line some process of the module's wrote over ours
                        if result.get("module") in pending and result.get("module") == current:
                            # Processes the module left running after its import: named on it.
                            full = None if result.get("ok") else _full_scratch()
                            if full is not None:
                                result["disk"] = _FULL % full
                            done.append(result)
                            _progress(plan, {"imported": result})
                            current = None
        if exited and not ready:
            break
        if not exited and proc.poll() is not None:
            exited, drained = True, time.time() + 0.5
    hang = None
    if timed_out:
        hang = _where_hung(proc.pid, stacks)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
    code = proc.wait()
    # What the imports left running, each named on the module whose import started it.
    left = set(_leftovers(token, proc.pid, keep))
    for result in done:
        stray = left.intersection(result.pop("new", ()))
        if stray:
            result["leftovers"] = len(stray)
            left -= stray
    _kill_leftovers(token, proc.pid, keep)
    for stream in (talk, proc.stdout, proc.stderr):
        stream.close()
    if current is None and len(done) == len(pending):
        return done, None, ()
    culprit = current if current is not None else pending[len(done)]
    failure = {
        "module": culprit,
        "ok": False,
        "stderr": err.text(),
        "output": {"stdout": out.total, "stderr": err.total},
    }
    if left:
        failure["leftovers"] = len(left)
    full = _full_scratch()
    if full is not None:
        failure["disk"] = _FULL % full
    not_tried = ()
    if timed_out:
        if not progressed:
            message = "import did not finish within %s seconds" % timeout
        elif time.time() < limit:
            message = "import did not finish: it loaded no new module for %s seconds" % timeout
        else:
            message = "import did not finish within %s seconds, loading modules all along" % (
                timeout * _SLOW_IMPORT_LIMIT
            )
        if hang is not None:
            where = "an extension module's initialisation" if hang["where"] == "extension" else "Python code"
            message += ", in %s" % where + (" (%s)" % hang["frame"] if hang["frame"] else "")
        # Importing a module inside it imports it first, in a fresh child: it would hang again,
        # once per module, and the whole check would outlast its budget.
        not_tried = [m for m in pending if m.startswith(culprit + ".")]
        if not_tried:
            message += "; %d module%s inside it not tried" % (len(not_tried), "s" if len(not_tried) > 1 else "")
        failure.update({"type": "timeout", "message": message, "not_tried": not_tried})
        if hang is not None:
            failure["hang"] = hang
    elif code == -signal.SIGKILL and oom_before is not None and (_oom_kills() or 0) > oom_before:
        limit = _memory_limit()
        where = " of %d MiB" % (limit // (1 << 20)) if limit and limit < (1 << 50) else ""
        failure.update({
            "type": "memory",
            "limit": limit,
            "message": "killed for memory: the kernel's out-of-memory killer ended it at the container's "
            "limit" + where,
        })
    elif code < 0:
        name = _signal_name(-code)
        failure.update({"type": "signal", "signal": name, "message": "killed by %s" % name})
    else:
        failure.update({"type": "exit", "message": "the importer exited with status %s" % code})
    return done, failure, not_tried


_FULL = "it filled %s (%d MiB, the most a check may write there)"

#: the importer's own frame (``-c``), the outermost of its main thread
_IMPORTER_FRAME = 'File "<string>"'


def _where_hung(pid, path):
    """Where a hung importer is: it writes its stacks on SIGUSR1 (faulthandler, which needs no GIL).

    ``{"where": "extension" | "python", "frame": innermost frame, "stack": main thread's stack}``, or None
    when no stack came (the module took SIGUSR1 for itself). ``extension``: the import system called native
    code directly (an extension module's initialisation never returned); ``python``: Python code was running,
    or native code it called.
    """
    try:
        before = os.path.getsize(path)
    except OSError:
        before = 0
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        return None
    end, size = time.time() + 2, -1
    while time.time() < end:
        time.sleep(0.05)
        try:
            now = os.path.getsize(path)
        except OSError:
            return None
        if now > before and now == size:
            break
        size = now
    try:
        with open(path, "rb") as f:
            f.seek(before)
            text = f.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return None
    return _hang_location(text)


def _hang_location(text):
    """The main thread's stack in a faulthandler dump of every thread (innermost frame first)."""
    for block in re.split(r"\n(?=(?:Current thread|Thread) 0x)", text.strip()):
        frames = [line.strip() for line in block.splitlines()[1:] if line.strip().startswith("File ")]
        if not frames or not frames[-1].startswith(_IMPORTER_FRAME):
            continue
        inner = frames[0]
        if not ("importlib._bootstrap" in inner and inner.endswith(" in _call_with_frames_removed")):
            return {"where": "python", "frame": inner, "stack": block[:4000]}
        # Native code the import system called: the extension's initialisation. Shown by the line of
        # Python that imported it (none when the importer imported it itself).
        python = [
            f
            for f in frames
            if not (f.startswith(('File "<frozen ', _IMPORTER_FRAME)) or '/importlib/__init__.py"' in f)
        ]
        frame = "imported at " + python[0] if python else ""
        return {"where": "extension", "frame": frame, "stack": block[:4000]}
    return None


def _reap_earlier():
    """What an earlier check left because its probe was killed with it (an import that signalled every
    process it may signal): its processes, found by the token their environment carries, and its scratch
    directory. One check runs in a container at a time, so any such thing is a leftover."""
    _kill_leftovers(_TOKEN + b"=", -1, _ancestors())
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "pytest-manylinux-import-*")):
        shutil.rmtree(path, ignore_errors=True)


def check(plan_args, timeout, sandboxed=False):
    """Check each wheel: ``PLAN.json``, or ``PLAN.json=SITE:SITE`` with its dependencies' site directories.

    ``sandboxed`` (``check --sandboxed``, as the host runs it in a check container, where one check runs
    at a time): remove what an earlier, killed check left, and what each import writes to the scratch
    places. Never on a machine others share: what they write to /tmp meanwhile would go too.
    """
    if sandboxed:
        _reap_earlier()
    _libc_name, _version, loader = _libc()
    provided = _provided_by_interpreter()
    for arg in plan_args:
        plan_path, _, extra = arg.partition("=")
        deps = extra.split(os.pathsep) if extra else []
        _check_one(plan_path, timeout, loader, provided, deps, sandboxed)


def _check_one(plan_path, timeout, loader, provided, dependency_sites, clean=False):
    with open(plan_path) as f:
        plan = json.load(f)
    root = plan["root"]
    started = time.time()
    sonames = _sonames_dir(root, plan.get("sonames", {}))
    try:
        libdirs = plan.get("libdirs", [])
        loads = [_loader_check(loader, root, e, libdirs, provided, sonames) for e in plan.get("elf", [])]
    finally:
        if sonames:
            shutil.rmtree(sonames, ignore_errors=True)
    loaded = time.time()
    _progress(plan_path, {"loads": loads})
    sites = [os.path.join(root, "site")] + list(dependency_sites)
    modules = plan.get("modules", [])
    imports = _imports(sys.executable, os.pathsep.join(sites), modules, timeout, plan_path, clean)
    _emit({
        "plan": plan_path,
        "loads": loads,
        "imports": imports,
        "python": list(sys.version_info[:3]),
        "executable": sys.executable,
        "seconds": {"load": round(loaded - started, 3), "import": round(time.time() - loaded, 3)},
    })


def main(argv):
    if len(argv) >= 1 and argv[0] == "facts":
        if len(argv) >= 3 and argv[1] == "--user":
            facts(argv[3:], user=argv[2])
        else:
            facts(argv[1:])
        return 0
    if len(argv) == 2 and argv[0] == "interpreter":
        _emit(_interpreter_facts(argv[1]))
        return 0
    if len(argv) >= 4 and argv[0] == "check" and argv[1] == "--sandboxed":
        check(argv[3:], float(argv[2]), sandboxed=True)
        return 0
    if len(argv) >= 3 and argv[0] == "check":
        check(argv[2:], float(argv[1]))
        return 0
    sys.stderr.write(
        "usage: probe.py facts [--user NAME] [PYTHON ...] | probe.py interpreter PATH"
        " | probe.py check [--sandboxed] TIMEOUT PLAN.json[=SITE:...] ...\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
