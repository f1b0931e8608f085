"""Shared helpers for integration tests: run the real tshark with the built
plugin and read mailedu fields.

tshark ignores plugin folders when it runs as root (it treats root as
privileged), so when we are root the tests run it as the unprivileged user
`nobody` with WIRESHARK_PLUGIN_DIR pointing at the build's plugin folder.
Environment: MAILEDU_BUILD (default: build), SHARED (default: ../shared).
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("MAILEDU_BUILD", os.path.join(ROOT, "build")))
SHARED = os.path.abspath(os.environ.get("SHARED", os.path.join(ROOT, "..", "shared")))
PUBLIC = os.path.join(SHARED, "captures", "public")
CAPTURES = os.path.join(ROOT, "test-captures")

_home = tempfile.mkdtemp(prefix="mailedu-home-")
os.chmod(_home, 0o777)


def tshark_cmd(args):
    env = ["env", "HOME=" + _home, "TZ=UTC", "LC_ALL=C.UTF-8",
           "WIRESHARK_PLUGIN_DIR=" + os.path.join(BUILD, "plugins")]
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + env + ["tshark"] + args
    return env + ["tshark"] + args


def tshark(args, check=True):
    """Runs tshark, returns stdout (text). Fails on a non-zero exit."""
    p = subprocess.run(tshark_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if check and p.returncode not in (0,):
        # tshark exits 2 on a truncated file; the caller decides via check=False
        raise AssertionError("tshark %s failed (%d): %s" % (" ".join(args), p.returncode, err))
    return out


def fields(capture, names, filt=None, extra=(), two_pass=False):
    """Rows of -T fields output: one list of strings per packet (multi-values joined by ',')."""
    args = ["-n", "-r", capture, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
            "-E", "aggregator=|"]
    if two_pass:
        args.append("-2")
    for n in names:
        args += ["-e", n]
    if filt:
        args += ["-Y", filt]
    args += list(extra)
    out = tshark(args, check=False)
    rows = []
    for line in out.splitlines():
        rows.append(line.split("\t"))
    return rows


def frames(capture, filt, extra=(), two_pass=False):
    """Frame numbers matching a display filter."""
    return [int(r[0]) for r in fields(capture, ["frame.number"], filt, extra, two_pass) if r and r[0]]


class Checker:
    """Counts checks; prints failures; exit status for the test runner."""

    def __init__(self, name):
        self.name, self.failures, self.checks = name, 0, 0

    def check(self, cond, what):
        self.checks += 1
        if not cond:
            self.failures += 1
            print("FAIL [%s] %s" % (self.name, what))
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def done(self):
        print("%s: %d checks, %d failures" % (self.name, self.checks, self.failures))
        sys.exit(1 if self.failures else 0)
