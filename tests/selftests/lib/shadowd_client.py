# SPDX-License-Identifier: GPL-2.0
"""A small client of shadowd's control socket (Documentation/shadowd.rst)
and helpers to run the daemon, for 120-shadowd.sh and make demo."""

import json
import os
import signal
import socket
import subprocess
import time


class Client:
    """One connection; call() sends one request and reads its reply."""

    def __init__(self, path, timeout=300):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_line(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("shadowd closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, op, **args):
        args["op"] = op
        self.send_raw(json.dumps(args).encode() + b"\n")
        return self.read_line()

    def close(self):
        self.sock.close()


class Daemon:
    """shadowd in the foreground, its log in a file."""

    def __init__(self, binary, config, socket_path, log):
        self.binary, self.config = binary, config
        self.socket_path, self.log = socket_path, log
        self.proc = None

    def start(self, wait=120):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([self.binary, "--foreground",
                                      "--config", self.config],
                                     stdout=logf, stderr=logf)
        logf.close()
        end = time.time() + wait
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("shadowd exited with %d" %
                                   self.proc.returncode)
            try:
                c = Client(self.socket_path)
                if c.call("version").get("ok"):
                    return c
                c.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("shadowd did not answer within %d s" % wait)

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill9()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        """Everything shadowd has logged so far."""
        with open(self.log, errors="replace") as f:
            return f.read()


def wait_for(cond, secs, step=0.5):
    """True as soon as cond() is, polling every step seconds; else what
    cond() says once secs have passed."""
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def mounts_under(prefix):
    """Mount points under prefix, from /proc/self/mounts."""
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mp = line.split()[1].replace("\\040", " ")
            if mp == prefix or mp.startswith(prefix.rstrip("/") + "/"):
                out.append(mp)
    return out


def dm_names(prefix=""):
    r = subprocess.run(["dmsetup", "ls"], capture_output=True, text=True)
    names = []
    for line in r.stdout.splitlines():
        if line.startswith("No devices"):
            continue
        n = line.split()[0] if line.split() else ""
        if n.startswith(prefix):
            names.append(n)
    return names


def not_frozen(path):
    """fsfreeze -u fails with EINVAL on a filesystem that is not frozen
    (and would thaw one that is)."""
    r = subprocess.run(["fsfreeze", "-u", path], capture_output=True,
                       text=True)
    return r.returncode != 0 and "Invalid argument" in r.stderr


def main(argv):
    """shadowd_client.py SOCKET OP [KEY=VALUE ...]: one request; prints
    the reply; exit 0 when it is ok.  A VALUE that parses as JSON (a
    number, true, a list) is sent as such, else as a string."""
    if len(argv) < 3:
        print("usage: shadowd_client.py SOCKET OP [KEY=VALUE ...]")
        return 2
    args = {}
    for kv in argv[3:]:
        k, _, v = kv.partition("=")
        try:
            args[k] = json.loads(v)
        except ValueError:
            args[k] = v
    r = Client(argv[1]).call(argv[2], **args)
    print(json.dumps(r, indent=1))
    return 0 if r.get("ok") else 1


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv))
