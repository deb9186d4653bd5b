# SPDX-License-Identifier: GPL-2.0
"""A small generic netlink client for the dm_shadow family, for tests.

Plain sockets and struct, so that a test can also send what a correct
client never would: unknown attributes, wrong lengths, missing fields.
Constants come from include/dm-shadow-netlink.h (parsed at import).
"""

import os
import re
import socket
import struct

NETLINK_GENERIC = 16
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_DROP_MEMBERSHIP = 2
NETLINK_EXT_ACK = 11
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2
NLA_F_NESTED = 0x8000

_TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_HDR = os.path.join(_TOP, "include", "dm-shadow-netlink.h")


def _load_constants():
    """Enum members and #defines of the UAPI header, as a dict."""
    text = open(_HDR).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    consts = {}
    for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", text, flags=re.S):
        val = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                name, v = item.split("=")
                val = int(v.strip(), 0)
                name = name.strip()
            else:
                name = item
                val += 1
            consts[name] = val
    for name, v in re.findall(r"#define\s+(SHADOW_\w+)\s+(\(?[0-9xXa-fA-FU<() ]+\)?)\s*$",
                              text, flags=re.M):
        try:
            consts[name] = eval(v.replace("U", ""))
        except Exception:
            pass
    for name, v in re.findall(r'#define\s+(SHADOW_\w+)\s+"([^"]*)"', text):
        consts[name] = v
    return consts


C = _load_constants()
globals().update(C)


class NetlinkError(Exception):
    def __init__(self, errno_, msg):
        super().__init__("%s (%s)" % (os.strerror(errno_), msg or "no message"))
        self.errno = errno_
        self.msg = msg


def attr(atype, payload):
    """One attribute; payload is bytes."""
    length = 4 + len(payload)
    pad = (4 - length % 4) % 4
    return struct.pack("=HH", length, atype) + payload + b"\0" * pad


def u32(atype, v):
    return attr(atype, struct.pack("=I", v))


def u64(atype, v):
    return attr(atype, struct.pack("=Q", v))


def string(atype, s):
    return attr(atype, s.encode() + b"\0")


def nest(atype, *attrs):
    return attr(atype | NLA_F_NESTED, b"".join(attrs))


def origin(major, minor):
    return nest(SHADOW_A_ORIGIN, u32(SHADOW_ORIGIN_A_MAJOR, major),
                u32(SHADOW_ORIGIN_A_MINOR, minor))


def parse_attrs(data):
    """List of (type, payload) of a run of attributes."""
    out = []
    off = 0
    while off + 4 <= len(data):
        length, atype = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out.append((atype & 0x3fff, data[off + 4:off + length]))
        off += (length + 3) & ~3
    return out


def attr_dict(data):
    """type -> payload (the last one wins) plus type -> [payloads]."""
    d, multi = {}, {}
    for t, p in parse_attrs(data):
        d[t] = p
        multi.setdefault(t, []).append(p)
    return d, multi


def get_u32(p):
    return struct.unpack("=I", p[:4])[0]


def get_u64(p):
    return struct.unpack("=Q", p[:8])[0]


def get_str(p):
    return p.split(b"\0")[0].decode()


class Genl:
    def __init__(self, name=None):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                  NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.seq = 1
        self.family = None
        self.groups = {}
        self.family, self.groups = self.resolve(name or SHADOW_GENL_NAME)

    def close(self):
        self.sock.close()

    def resolve(self, name):
        replies = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                               string(CTRL_ATTR_FAMILY_NAME, name), version=1)
        d, _ = attr_dict(replies[0][1])
        fam = struct.unpack("=H", d[CTRL_ATTR_FAMILY_ID][:2])[0]
        groups = {}
        for _, g in parse_attrs(d.get(CTRL_ATTR_MCAST_GROUPS, b"")):
            gd, _ = attr_dict(g)
            groups[get_str(gd[CTRL_ATTR_MCAST_GRP_NAME])] = \
                get_u32(gd[CTRL_ATTR_MCAST_GRP_ID])
        return fam, groups

    def send(self, family, cmd, payload, flags, version=SHADOW_GENL_VERSION,
             raw_header=None):
        seq = self.seq
        self.seq += 1
        genl = raw_header if raw_header is not None else \
            struct.pack("=BBH", cmd, version, 0)
        body = genl + payload
        hdr = struct.pack("=IHHII", 16 + len(body), family, flags, seq, 0)
        self.sock.send(hdr + body)
        return seq

    def request(self, family, cmd, payload=b"", dump=False, version=None,
                raw_header=None):
        """Sends one request; returns [(cmd, attrs bytes)] or raises."""
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        seq = self.send(family, cmd, payload, flags,
                        version if version is not None else SHADOW_GENL_VERSION,
                        raw_header)
        out = []
        while True:
            data = self.sock.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                length, mtype, mflags, mseq, _ = struct.unpack_from("=IHHII", data, off)
                msg = data[off:off + length]
                off += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    # a dump refused by its first dumpit call: the errno
                    # and the extended ack ride in NLMSG_DONE
                    err = struct.unpack_from("=i", msg, 16)[0] if length >= 20 else 0
                    if err:
                        text = None
                        if mflags & NLM_F_ACK_TLVS:
                            d, _ = attr_dict(msg[20:])
                            if NLMSGERR_ATTR_MSG in d:
                                text = get_str(d[NLMSGERR_ATTR_MSG])
                        raise NetlinkError(-err, text)
                    return out
                if mtype == NLMSG_ERROR:
                    err = struct.unpack_from("=i", msg, 16)[0]
                    text = None
                    if mflags & NLM_F_ACK_TLVS:
                        # nlmsgerr: error + the request's header (capped)
                        inner_len = 16
                        if err and not (mflags & 0x100):
                            inner_len = struct.unpack_from("=I", msg, 20)[0]
                        tlv = msg[20 + ((inner_len + 3) & ~3):]
                        d, _ = attr_dict(tlv)
                        if NLMSGERR_ATTR_MSG in d:
                            text = get_str(d[NLMSGERR_ATTR_MSG])
                    if err:
                        raise NetlinkError(-err, text)
                    return out
                cmd = msg[16]
                out.append((cmd, msg[20:]))

    def cmd(self, cmd, *attrs, dump=False):
        return self.request(self.family, cmd, b"".join(attrs), dump=dump)

    # convenience wrappers ---------------------------------------------
    def origins(self):
        res = []
        for _, a in self.cmd(SHADOW_CMD_ORIGIN_GET, dump=True):
            res.append(parse_origin_reply(a))
        return res

    def origin(self, major, minor):
        return parse_origin_reply(
            self.cmd(SHADOW_CMD_ORIGIN_GET, origin(major, minor))[0][1])

    def create(self, devs, freeze=False, timeout_ms=None, label=None):
        """devs: [(major, minor)]; returns ({(maj, min): id}, pause_us)."""
        attrs = [nest(SHADOW_A_ORIGINS, *[origin(*d) for d in devs])]
        if freeze:
            attrs.append(u32(SHADOW_A_FLAGS, SHADOW_F_FREEZE))
        if timeout_ms is not None:
            attrs.append(u32(SHADOW_A_TIMEOUT_MS, timeout_ms))
        if label is not None:
            attrs.append(string(SHADOW_A_LABEL, label))
        _, a = self.cmd(SHADOW_CMD_SNAP_CREATE, *attrs)[0]
        d, _ = attr_dict(a)
        ids = {}
        for _, o in parse_attrs(d[SHADOW_A_ORIGINS]):
            od, _ = attr_dict(o)
            ids[(get_u32(od[SHADOW_ORIGIN_A_MAJOR]),
                 get_u32(od[SHADOW_ORIGIN_A_MINOR]))] = \
                get_u32(od[SHADOW_ORIGIN_A_SNAP_ID])
        return ids, get_u64(d[SHADOW_A_PAUSE_US])

    def delete(self, dev, sid):
        self.cmd(SHADOW_CMD_SNAP_DELETE, origin(*dev), u32(SHADOW_A_SNAP_ID, sid))

    def set_ro(self, dev, sid):
        self.cmd(SHADOW_CMD_SNAP_SET_RO, origin(*dev), u32(SHADOW_A_SNAP_ID, sid))

    def snaps(self, dev):
        return [parse_snap_reply(a) for _, a in
                self.cmd(SHADOW_CMD_SNAP_GET, origin(*dev), dump=True)]

    def snap(self, dev, sid):
        return parse_snap_reply(self.cmd(SHADOW_CMD_SNAP_GET, origin(*dev),
                                         u32(SHADOW_A_SNAP_ID, sid))[0][1])

    def diff(self, dev, sid, to=None):
        attrs = [origin(*dev), u32(SHADOW_A_SNAP_ID, sid)]
        if to is not None:
            attrs.append(u32(SHADOW_A_SNAP_ID_TO, to))
        ext = []
        for _, a in self.cmd(SHADOW_CMD_DIFF_GET, *attrs, dump=True):
            for t, e in parse_attrs(a):
                if t != SHADOW_A_EXTENT:
                    continue
                ed, _ = attr_dict(e)
                ext.append((get_u64(ed[SHADOW_EXTENT_A_START]),
                            get_u64(ed[SHADOW_EXTENT_A_LEN])))
        return ext

    def set_water(self, dev, low=None, high=None):
        attrs = [origin(*dev)]
        if low is not None:
            attrs.append(u32(SHADOW_A_LOW_WATER, low))
        if high is not None:
            attrs.append(u32(SHADOW_A_HIGH_WATER, high))
        self.cmd(SHADOW_CMD_SET_WATER, *attrs)

    # events -----------------------------------------------------------
    def subscribe(self):
        self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
                             self.groups[SHADOW_GENL_MCGRP_EVENTS])

    def unsubscribe(self):
        self.sock.setsockopt(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP,
                             self.groups[SHADOW_GENL_MCGRP_EVENTS])

    def events(self, timeout=5.0):
        """Events waiting on the socket: [(seq, type, (maj, min), id)]."""
        self.sock.settimeout(timeout)
        out = []
        try:
            while True:
                data = self.sock.recv(1 << 20)
                off = 0
                while off + 16 <= len(data):
                    length, mtype = struct.unpack_from("=IH", data, off)
                    msg = data[off:off + length]
                    off += (length + 3) & ~3
                    if mtype != self.family or msg[16] != SHADOW_CMD_EVENT:
                        continue
                    d, _ = attr_dict(msg[20:])
                    od, _ = attr_dict(d[SHADOW_A_ORIGIN])
                    out.append((get_u64(d[SHADOW_A_EVENT_SEQ]),
                                get_u32(d[SHADOW_A_EVENT_TYPE]),
                                (get_u32(od[SHADOW_ORIGIN_A_MAJOR]),
                                 get_u32(od[SHADOW_ORIGIN_A_MINOR])),
                                get_u32(d[SHADOW_A_SNAP_ID]) if SHADOW_A_SNAP_ID in d else 0))
                self.sock.settimeout(0.3)
        except (socket.timeout, BlockingIOError):
            pass
        self.sock.settimeout(None)
        return out


_ORIGIN_U32 = {
    SHADOW_ORIGIN_A_MAJOR: "major", SHADOW_ORIGIN_A_MINOR: "minor",
    SHADOW_ORIGIN_A_DEV_MAJOR: "dev_major", SHADOW_ORIGIN_A_DEV_MINOR: "dev_minor",
    SHADOW_ORIGIN_A_STORE_MAJOR: "store_major",
    SHADOW_ORIGIN_A_STORE_MINOR: "store_minor",
    SHADOW_ORIGIN_A_CHUNK_SECTORS: "chunk_sectors",
    SHADOW_ORIGIN_A_NR_SNAPS: "nr_snaps", SHADOW_ORIGIN_A_EPOCH: "epoch",
    SHADOW_ORIGIN_A_STATE: "state", SHADOW_ORIGIN_A_OVERFLOW: "overflow",
    SHADOW_ORIGIN_A_LOW_WATER: "low_water",
    SHADOW_ORIGIN_A_HIGH_WATER: "high_water",
    SHADOW_ORIGIN_A_SNAP_ID: "snap_id",
}
_ORIGIN_U64 = {
    SHADOW_ORIGIN_A_SECTORS: "sectors", SHADOW_ORIGIN_A_STORE_USED: "store_used",
    SHADOW_ORIGIN_A_STORE_TOTAL: "store_total",
    SHADOW_ORIGIN_A_META_USED: "meta_used",
    SHADOW_ORIGIN_A_META_TOTAL: "meta_total",
}


def parse_origin_reply(a):
    d, _ = attr_dict(a)
    od, _ = attr_dict(d[SHADOW_A_ORIGIN])
    o = {"event_seq": get_u64(d[SHADOW_A_EVENT_SEQ])} if SHADOW_A_EVENT_SEQ in d else {}
    for t, p in od.items():
        if t in _ORIGIN_U32:
            o[_ORIGIN_U32[t]] = get_u32(p)
        elif t in _ORIGIN_U64:
            o[_ORIGIN_U64[t]] = get_u64(p)
        elif t == SHADOW_ORIGIN_A_NAME:
            o["name"] = get_str(p)
        elif t == SHADOW_ORIGIN_A_FAIL_REASON:
            o["fail_reason"] = get_str(p)
    return o


def parse_snap_reply(a):
    d, _ = attr_dict(a)
    sd, _ = attr_dict(d[SHADOW_A_SNAP])
    return {
        "id": get_u32(sd[SHADOW_SNAP_A_ID]),
        "ctime": get_u64(sd[SHADOW_SNAP_A_CTIME]),
        "readonly": SHADOW_SNAP_A_READONLY in sd,
        "invalid": SHADOW_SNAP_A_INVALID in sd,
        "label": get_str(sd[SHADOW_SNAP_A_LABEL]) if SHADOW_SNAP_A_LABEL in sd else "",
        "exclusive": get_u64(sd[SHADOW_SNAP_A_EXCLUSIVE]),
        "shared": get_u64(sd[SHADOW_SNAP_A_SHARED]),
        "private": get_u64(sd[SHADOW_SNAP_A_PRIVATE]),
        "open": get_u32(sd[SHADOW_SNAP_A_OPEN]),
    }


def devnum(path):
    st = os.stat(path)
    return (os.major(st.st_rdev), os.minor(st.st_rdev))
