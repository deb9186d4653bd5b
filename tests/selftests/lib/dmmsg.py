# SPDX-License-Identifier: GPL-2.0
"""dm_message(): send a device-mapper target message from Python, through
the DM_TARGET_MSG ioctl, so that a test can send thousands of messages
from one process instead of one dmsetup process each (process start is
slow in the emulated guest)."""

import fcntl
import os
import struct

_DM_IOCTL_SIZE = 312            # sizeof(struct dm_ioctl)
_DM_TARGET_MSG = 0xc138fd0e     # _IOWR(0xfd, 14, struct dm_ioctl)
_DM_DATA_OUT_FLAG = 1 << 16
_DM_BUFFER_FULL_FLAG = 1 << 8
_HDR = struct.Struct("=3I I I I i I I I Q 128s 129s 7x")
assert _HDR.size == _DM_IOCTL_SIZE


class DmMessageError(OSError):
    pass


_control = None


def dm_message(name, message, sector=0, bufsize=16384):
    """Send MESSAGE to the table of device NAME; return its text output."""
    global _control
    if _control is None:
        _control = os.open("/dev/mapper/control", os.O_RDWR)
    msg = struct.pack("=Q", sector) + message.encode() + b"\0"
    size = max(_DM_IOCTL_SIZE + len(msg), bufsize)
    hdr = _HDR.pack(4, 0, 0, size, _DM_IOCTL_SIZE, 0, 0, 0, 0, 0, 0,
                    name.encode(), b"")
    buf = bytearray(size)
    buf[:_DM_IOCTL_SIZE] = hdr
    buf[_DM_IOCTL_SIZE:_DM_IOCTL_SIZE + len(msg)] = msg
    try:
        fcntl.ioctl(_control, _DM_TARGET_MSG, buf, True)
    except OSError as e:
        raise DmMessageError(e.errno, "%s: message '%s': %s" %
                             (name, message, os.strerror(e.errno)))
    fields = _HDR.unpack_from(buf)
    flags, data_start = fields[7], fields[4]
    if flags & _DM_BUFFER_FULL_FLAG:
        return dm_message(name, message, sector, bufsize * 4)
    if not flags & _DM_DATA_OUT_FLAG:
        return ""
    out = bytes(buf[data_start:])
    return out[:out.index(b"\0")].decode() if b"\0" in out else out.decode()
