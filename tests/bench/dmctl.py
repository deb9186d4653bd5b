# SPDX-License-Identifier: GPL-2.0
"""Device-mapper control from Python through the DM ioctls: create, load,
suspend, resume, remove, status and messages, all from one process.

Process start is slow in the emulated guest (0.2 to 1 s per exec), and the
benchmark builds hundreds of devices and times suspend/resume pauses, so it
talks to /dev/mapper/control itself rather than running dmsetup.  Messages
go through tests/selftests/lib/dmmsg.py."""

import fcntl
import os
import stat
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "selftests", "lib"))
from dmmsg import dm_message  # noqa: E402  pylint: disable=wrong-import-position

_HDR = struct.Struct("=3I I I I i I I I Q 128s 129s 7x")
_SPEC = struct.Struct("=Q Q i I 16s")
_SIZE = _HDR.size
assert _SIZE == 312

DEV_CREATE, DEV_REMOVE, DEV_SUSPEND, TABLE_LOAD, TABLE_STATUS = 3, 4, 6, 9, 12
READONLY_FLAG = 1 << 0
SUSPEND_FLAG = 1 << 1
STATUS_TABLE_FLAG = 1 << 4
BUFFER_FULL_FLAG = 1 << 8

BLKGETSIZE64 = 0x80081272
BLKDISCARD = 0x1277

_control = None


class DmError(OSError):
    pass


def _ctl():
    global _control
    if _control is None:
        _control = os.open("/dev/mapper/control", os.O_RDWR)
    return _control


def _ioctl(nr, name, flags=0, payload=b"", count=0, bufsize=16384):
    size = max(_SIZE + len(payload), bufsize)
    buf = bytearray(size)
    buf[:_SIZE] = _HDR.pack(4, 0, 0, size, _SIZE, count, 0, flags, 0, 0, 0,
                            name.encode(), b"")
    buf[_SIZE:_SIZE + len(payload)] = payload
    try:
        fcntl.ioctl(_ctl(), 0xc138fd00 | nr, buf, True)
    except OSError as e:
        raise DmError(e.errno, "dm ioctl %d on %s: %s" %
                      (nr, name, os.strerror(e.errno))) from None
    fields = _HDR.unpack_from(buf)
    if fields[7] & BUFFER_FULL_FLAG:
        return _ioctl(nr, name, flags, payload, count, bufsize * 4)
    return fields, buf


def _node(name):
    return "/dev/mapper/" + name


def load(name, targets, readonly=False):
    """TARGETS: list of (start, length, type, params)."""
    payload = b""
    for start, length, ttype, params in targets:
        p = params.encode() + b"\0"
        p += b"\0" * (-(len(p) + _SPEC.size) % 8)
        payload += _SPEC.pack(start, length, 0, _SPEC.size + len(p),
                              ttype.encode()) + p
    _ioctl(TABLE_LOAD, name, READONLY_FLAG if readonly else 0, payload,
           len(targets))


def suspend(name):
    _ioctl(DEV_SUSPEND, name, SUSPEND_FLAG)


def resume(name):
    _ioctl(DEV_SUSPEND, name, 0)


def create(name, length, ttype, params, readonly=False):
    """Create, load and resume a one-target device; return its node."""
    fields, _ = _ioctl(DEV_CREATE, name)
    dev = fields[10]
    try:
        load(name, [(0, length, ttype, params)], readonly)
        resume(name)
    except OSError:
        _ioctl(DEV_REMOVE, name)
        raise
    major = (dev >> 8) & 0xfff
    minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
    os.makedirs("/dev/mapper", exist_ok=True)
    node = _node(name)
    if os.path.lexists(node):
        os.unlink(node)
    os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(major, minor))
    return node


def remove(name):
    _ioctl(DEV_REMOVE, name)
    try:
        os.unlink(_node(name))
    except FileNotFoundError:
        pass


def status(name, table=False):
    """The params of the first target's status (or table) line."""
    fields, buf = _ioctl(TABLE_STATUS, name,
                         STATUS_TABLE_FLAG if table else 0)
    if fields[5] == 0:
        return ""
    off = fields[4]
    rest = bytes(buf[off + _SPEC.size:])
    return rest[:rest.index(b"\0")].decode()


def message(name, msg):
    return dm_message(name, msg)


def size_bytes(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        out = fcntl.ioctl(fd, BLKGETSIZE64, b"\0" * 8)
    finally:
        os.close(fd)
    return struct.unpack("Q", out)[0]


def discard(path, length=None):
    fd = os.open(path, os.O_WRONLY)
    try:
        if length is None:
            length = size_bytes(path)
        step = 1 << 30
        for off in range(0, length, step):
            fcntl.ioctl(fd, BLKDISCARD,
                        struct.pack("QQ", off, min(step, length - off)))
    finally:
        os.close(fd)
