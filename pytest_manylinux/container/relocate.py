"""Make a freshly installed CPython portable: run inside the build container, after ``make install``.

It trims what a test run never needs, strips the ELF files, copies every library they need that is
not glibc's own next to the interpreter, renamed so they never stand in for the distro's own, and
points each file at them through an ``$ORIGIN`` RPATH. Names and paths are edited in place in each
file's dynamic string table (the build links every file with a long placeholder RPATH for that), so
no file grows: patchelf would add a segment, 2 MB of padding apiece with the old linker's alignment.
Python 3.5 syntax and the stdlib only: it runs under the build distro's own python3 (16.04 has 3.5).

  python3 relocate.py PREFIX X.Y
"""

import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys

MARKER = "@@pytest-manylinux-result@@"

#: The build links every file with ``-Wl,--disable-new-dtags,-rpath,RPATH_PLACEHOLDER``: room in the
#: string table for the real ``$ORIGIN`` path. DT_RPATH rather than DT_RUNPATH on purpose: the loader
#: also searches the RPATH of the objects that loaded a library, so a carried library finds the ones it
#: needs itself (libreadline -> libtinfo) through the extension module's path.
RPATH_PLACEHOLDER = "/pytest-manylinux-rpath-placeholder/0123456789abcdef"
#: Carried libraries are renamed ``libffi.so.6`` -> ``pm_ffi.so.6``: as long as the name, so the
#: string table is edited in place, and never a name a distro or a wheel asks for.
BUNDLED_PREFIX = "pm_"

# Libraries glibc itself provides, never bundled: a copy of one from the build distro would pull that
# glibc's private symbols into another glibc. libcrypt.so.1 and libnsl.so.1 left glibc in 2.38 and 2.32
# but every glibc distro still ships them under that soname (libxcrypt, libnsl2).
SYSTEM = frozenset([
    "linux-vdso.so.1",
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libm.so.6",
    "libmvec.so.1",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libanl.so.1",
    "libcrypt.so.1",
    "libnsl.so.1",
])

# Relative to the prefix; X.Y stands for the version. The test suite (when --disable-test-modules
# does not exist, before 3.10), the static libpython, GUI and packaging tools, and the optimized
# bytecode copies are most of an install and no import check needs them.
TRIM = (
    "lib/libpython*.a",
    "lib/pythonX.Y/config-*/*.a",
    "lib/pythonX.Y/config-*/*.o",
    "lib/pythonX.Y/test",
    "lib/pythonX.Y/idlelib",
    "lib/pythonX.Y/tkinter",
    "lib/pythonX.Y/turtledemo",
    "lib/pythonX.Y/ensurepip",
    "lib/pythonX.Y/lib2to3/tests",
    "lib/pythonX.Y/distutils/tests",
    "lib/pythonX.Y/ctypes/test",
    "lib/pythonX.Y/sqlite3/test",
    "lib/pythonX.Y/unittest/test",
    "lib/pkgconfig",
    "share",
    "bin/idle*",
)

_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+)\s+\(0x")


def _emit(document):
    # type: (dict[str, object]) -> None
    sys.stdout.write(MARKER + "\n" + json.dumps(document) + "\n")
    sys.stdout.flush()


def _run(argv):
    # type: (list[str]) -> str
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate()
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit("%s failed (exit %s): %s" % (" ".join(argv), proc.returncode, text[-2000:]))
    return text


def _is_elf(path):
    # type: (str) -> bool
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def trim(prefix, version):
    # type: (str, str) -> list[str]
    removed = []
    for pattern in TRIM:
        for path in sorted(glob.glob(os.path.join(prefix, pattern.replace("X.Y", version)))):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(os.path.relpath(path, prefix))
    count = 0
    for root, _dirs, files in os.walk(prefix):
        for name in files:
            if name.endswith((".opt-1.pyc", ".opt-2.pyc")):
                os.remove(os.path.join(root, name))
                count += 1
    removed.append("%d optimized .pyc files" % count)
    return removed


def elf_files(prefix):
    # type: (str) -> list[str]
    found = []
    for root, _dirs, files in os.walk(prefix):
        for name in files:
            path = os.path.join(root, name)
            if _is_elf(path):
                found.append(path)
    return sorted(found)


def needs(path):
    # type: (str) -> dict[str, str]
    """{soname: resolved path} of every library the loader maps for ``path`` (the whole closure)."""
    found = {}
    for line in _run(["ldd", path]).splitlines():
        if "not found" in line:
            raise SystemExit("%s: the build distro itself lacks %s" % (path, line.strip()))
        match = _LDD_LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def bundled_name(soname):
    # type: (str) -> str
    """``libffi.so.6`` -> ``pm_ffi.so.6``: what a carried library is called (and answers to)."""
    if not soname.startswith("lib"):
        raise SystemExit("cannot carry %r: only lib*.so names are renamed in place" % soname)
    return BUNDLED_PREFIX + soname[3:]


_DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME, _DT_RPATH, _DT_RUNPATH = 1, 5, 10, 14, 15, 29
_DT_VERNEED, _DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF


class DynamicStrings:
    """The dynamic string table of one 64-bit little-endian ELF file, to edit strings in place."""

    def __init__(self, path):
        # type: (str) -> None
        self.path = path
        with open(path, "rb") as f:
            self.data = bytearray(f.read())
        if self.data[:4] != b"\x7fELF" or self.data[4] != 2 or self.data[5] != 1:
            raise SystemExit("%s: only 64-bit little-endian ELF files are handled" % path)
        phoff, = struct.unpack_from("<Q", self.data, 32)
        phentsize, phnum = struct.unpack_from("<HH", self.data, 54)
        self.loads = []  # type: list[tuple[int, int, int]]
        dynamic = None
        for i in range(phnum):
            fields = struct.unpack_from("<IIQQQQQQ", self.data, phoff + i * phentsize)
            if fields[0] == 1:  # PT_LOAD: (vaddr, offset, filesz)
                self.loads.append((fields[3], fields[2], fields[5]))
            elif fields[0] == 2:  # PT_DYNAMIC
                dynamic = (fields[2], fields[5])
        self.entries = []  # type: list[tuple[int, int]]
        if dynamic is None:
            self.strtab = 0
            return
        for i in range(dynamic[1] // 16):
            tag, value = struct.unpack_from("<qQ", self.data, dynamic[0] + 16 * i)
            if tag == 0:
                break
            self.entries.append((tag, value))
        self.strtab = self._offset(self.value(_DT_STRTAB))

    def value(self, tag):
        # type: (int) -> int
        return next(v for t, v in self.entries if t == tag)

    def values(self, tag):
        # type: (int) -> list[int]
        return [v for t, v in self.entries if t == tag]

    def _offset(self, vaddr):
        # type: (int) -> int
        for start, offset, size in self.loads:
            if start <= vaddr < start + size:
                return vaddr - start + offset
        raise SystemExit("%s: address %#x is in no loaded segment" % (self.path, vaddr))

    def string(self, index):
        # type: (int) -> str
        start = self.strtab + index
        return self.data[start:self.data.index(b"\0", start)].decode("utf-8")

    def needed(self):
        # type: () -> list[str]
        return [self.string(i) for i in self.values(_DT_NEEDED)]

    def _version_files(self):
        # type: () -> list[int]
        """The string indexes of ``vn_file`` (library names) in ``.gnu.version_r``."""
        if not self.values(_DT_VERNEED):
            return []
        found = []
        at = self._offset(self.value(_DT_VERNEED))
        for _ in range(self.value(_DT_VERNEEDNUM)):
            _version, _count, name, _aux, following = struct.unpack_from("<HHIII", self.data, at)
            found.append(name)
            if not following:
                break
            at += following
        return found

    def put(self, index, text):
        # type: (int, str) -> None
        old = self.string(index)
        new = text.encode("utf-8")
        if len(new) > len(old.encode("utf-8")):
            raise SystemExit("%s: %r does not fit where %r was" % (self.path, text, old))
        start = self.strtab + index
        self.data[start:start + len(old.encode("utf-8"))] = new.ljust(len(old.encode("utf-8")), b"\0")

    def rename(self, renames):
        # type: (dict[str, str]) -> list[str]
        """Rename needed libraries (and the file's own soname) wherever the string table names them."""
        done = []
        indexes = set(self.values(_DT_NEEDED) + self.values(_DT_SONAME) + self._version_files())
        for index in sorted(indexes):
            old = self.string(index)
            if old in renames:
                self.put(index, renames[old])
                done.append(old)
        return done

    def set_rpath(self, rpath):
        # type: (str) -> bool
        """Put ``rpath`` where the placeholder is; False when the file has no placeholder."""
        for index in self.values(_DT_RPATH) + self.values(_DT_RUNPATH):
            if self.string(index) == RPATH_PLACEHOLDER:
                self.put(index, rpath)
                return True
        return False

    def save(self):
        # type: () -> None
        with open(self.path, "r+b") as f:
            f.write(self.data)


def relocate(prefix, version):
    # type: (str, str) -> dict[str, object]
    prefix = os.path.abspath(prefix)
    libdir = os.path.join(prefix, "lib")
    removed = trim(prefix, version)
    elves = elf_files(prefix)
    for path in elves:
        _run(["strip", "--strip-unneeded", path])
    wanted = {}
    for path in elves:
        for soname, resolved in needs(path).items():
            if soname not in SYSTEM:
                wanted[soname] = os.path.realpath(resolved)
    renames = dict((soname, bundled_name(soname)) for soname in wanted)
    copies = []
    for soname in sorted(wanted):
        target = os.path.join(libdir, renames[soname])
        shutil.copyfile(wanted[soname], target)
        os.chmod(target, 0o755)
        _run(["strip", "--strip-unneeded", target])
        copies.append(target)
    missing = []
    for path in elves + copies:
        table = DynamicStrings(path)
        table.rename(renames)
        rel = os.path.relpath(libdir, os.path.dirname(path))
        placed = table.set_rpath("$ORIGIN" if rel == "." else "$ORIGIN/" + rel)
        if path in elves and not placed and any(n in renames for n in table.needed()):
            missing.append(os.path.relpath(path, prefix))
        table.save()
    if missing:
        raise SystemExit("linked without the placeholder RPATH, so they cannot find what they need: %s" % missing)
    # The loader's own word that every file now finds what it needs beside the interpreter.
    for path in elves:
        for soname, resolved in needs(path).items():
            if soname not in SYSTEM and not os.path.realpath(resolved).startswith(libdir + os.sep):
                raise SystemExit("%s still resolves %s to %s" % (path, soname, resolved))
    return {
        "removed": removed,
        "bundled": renames,
        "sources": wanted,
        "elf_files": len(elves) + len(copies),
    }


def main(argv):
    # type: (list[str]) -> int
    if len(argv) != 2:
        sys.stderr.write("usage: relocate.py PREFIX X.Y\n")
        return 2
    _emit(relocate(argv[0], argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
