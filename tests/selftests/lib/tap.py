# SPDX-License-Identifier: GPL-2.0
"""TAP output for selftests written in Python (see test_common.sh)."""

import sys

KSFT_PASS = 0
KSFT_FAIL = 1


class Tap:
    """TAP lines.  With header=False the numbers go on from a shell
    test's tap_header; done(state=FILE) then writes "<n> <failed>" to FILE
    for the shell to carry on (see 116-group-cut.sh)."""

    def __init__(self, plan=None, header=True):
        self.n = 0
        self.failed = 0
        if header:
            print("TAP version 13")
            if plan:
                print("1..%d" % plan)
        sys.stdout.flush()

    def check(self, cond, what):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, what))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, what))
        sys.stdout.flush()
        return cond

    def diag(self, what):
        print("# %s" % what)
        sys.stdout.flush()

    def done(self, state=None):
        if state:
            with open(state, "w") as f:
                f.write("%d %d\n" % (self.n, self.failed))
            sys.exit(0)
        print("1..%d" % self.n)
        if self.failed:
            self.diag("%d of %d failed" % (self.failed, self.n))
        sys.exit(KSFT_FAIL if self.failed else KSFT_PASS)
