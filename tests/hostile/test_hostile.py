#!/usr/bin/env python3
"""Hostile input (issue 14): each capture shape of tests/hostile/shapes.py is
read by the real tshark with the built plugin, `-V` (every tree item built),
WIRESHARK_ABORT_ON_DISSECTOR_BUG=1 and strict wmem.  Each must finish with
exit status 0, show what the bytes say (checks written from the shapes'
bytes and the RFCs, below), and keep tshark's peak RSS within RSS_LIMIT times
the peak RSS of the same run with `--disable-protocol mailedu` (Wireshark
alone); the ratio is printed for every shape.  The sequence-number shapes are
read again with the sanitized plugin (build-asan, UBSan halting on error)
when it was built.

    python3 tests/hostile/test_hostile.py [--full] [--scale F] [SHAPE...]

Limits that make the ratios hold (README "Limits"): at most
ME_MAX_FRAME_RECORDS records per frame (the rest summed up in one record
with the expert note mailedu.limit), lines cut at 16 KiB, a partial line's
buffer grown only as the line does, no state for a TCP conversation until
it carries payload.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)
import mailedu_test as mt  # noqa: E402
import shapes  # noqa: E402

RSS_LIMIT = 1.5          # mailedu's peak RSS / Wireshark alone's, per shape
MAX_RECORDS = 1000       # ME_MAX_FRAME_RECORDS (plugin/mailedu.h)
SLACK = MAX_RECORDS + 16  # plus one record per feed of the frame (held segments, 8 at most)


def run_measured(args, env_extra=()):
    """Runs tshark (as mt.tshark_cmd does) with the given args; returns
    (exit status, peak RSS in KiB, stderr, whether 'Dissector bug' was seen).
    stdout is thrown away: WIRESHARK_ABORT_ON_DISSECTOR_BUG=1 makes a dissector
    bug (the 1,000,000 tree items among them) abort tshark, so the exit
    status and stderr tell it."""
    cmd = mt.tshark_cmd(list(args))
    i = cmd.index("tshark")
    cmd = cmd[:i] + ["WIRESHARK_ABORT_ON_DISSECTOR_BUG=1", "WIRESHARK_DEBUG_WMEM_OVERRIDE=strict"] \
        + list(env_extra) + cmd[i:]
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    return p.returncode, ru.ru_maxrss, text, "Dissector bug" in text or "DISSECTOR_BUG" in text


def col(capture, field, filt=None, extra=()):
    """Values of one field over the capture (multi-occurrence split on |)."""
    out = []
    for r in mt.fields(capture, [field], filt, extra):
        if r and r[0]:
            out += r[0].split("|")
    return out


def per_frame_lines(capture):
    """Largest number of mailedu.line items in one frame (0: none)."""
    worst = 0
    for r in mt.fields(capture, ["mailedu.line"], "mailedu.line"):
        worst = max(worst, len(r[0].split("|")) if r and r[0] else 0)
    return worst


def has_expert(capture, name):
    """Some frame carries mailedu's expert item mailedu.NAME."""
    return len(mt.frames(capture, "mailedu." + name)) > 0


def check_shape(c, name, path, scale):
    """What a sane reading of each shape is (see shapes.py)."""
    n = lambda x: int(x * scale)  # noqa: E731
    if name in ("seq-2p31", "seq-wrap"):
        want = ["USER", "PASS"] + (["STAT", "QUIT"] if name == "seq-wrap" else [])
        c.eq(col(path, "mailedu.command", 'mailedu.direction == "client"'), want,
             name + ": client commands in order")
        c.eq(col(path, "mailedu.auth.result"), ["success"], name + ": the login succeeded")
    elif name in ("crlf", "held-release"):
        worst = per_frame_lines(path)
        c.check(0 < worst <= SLACK, "%s: at most %d records in a frame, got %d"
                % (name, SLACK, worst))
        c.check(has_expert(path, "limit"), name + ": a note says records were left out")
        if name == "held-release":
            c.eq(col(path, "mailedu.command", 'mailedu.command == "QUIT"'), ["QUIT"],
                 name + ": QUIT after the released segments is read")
    elif name == "sessions":
        c.eq(len(col(path, "mailedu.auth.result", 'mailedu.auth.result == "success"')), n(20000),
             name + ": every session's login succeeded")
    elif name == "synfin":
        c.eq(col(path, "mailedu.proto"), [], name + ": no mail annotation without payload")
    elif name == "literal-23":
        c.eq(col(path, "mailedu.auth.username"), [], name + ": no user name from {999...}")
        c.eq(col(path, "mailedu.auth.result"), [], name + ": no login result")
        c.check(has_expert(path, "malformed"), name + ": the LOGIN line is malformed")
    elif name == "line-20mb":
        c.check(has_expert(path, "overlong"), name + ": the line is over-long")
        c.eq(col(path, "mailedu.status", 'mailedu.direction == "server"')[-1:], ["error"],
             name + ": the -ERR reply after the line is read")
    elif name == "auth-50k":
        att = [int(x) for x in col(path, "mailedu.auth.attempt", 'mailedu.auth.result')]
        c.eq(max(att) if att else 0, n(50000), name + ": attempts counted to the last")
    elif name == "body-never-ends":
        c.eq(col(path, "mailedu.phase", "mailedu.data_len")[-1:], ["data"],
             name + ": the last frame of the body is still in phase data")
    elif name == "tls-random":
        ph = set(col(path, "mailedu.phase"))
        c.eq(ph, {"tls"}, name + ": random bytes on TLS ports are phase tls only")
    elif name in ("short-frames", "literal-max", "partial-sessions"):
        c.check(len(col(path, "mailedu.proto")) > 0, name + ": annotated as far as the bytes go")


def count_frames(path):
    """Frames in a classic pcap written by hostile_pcap (read from the file)."""
    n, off = 0, 24
    with open(path, "rb") as f:
        while True:
            f.seek(off)
            h = f.read(16)
            if len(h) < 16:
                return n
            n += 1
            off += 16 + int.from_bytes(h[8:12], "little")


# Shapes made of many packets are run at a quarter of the size by
# default (the ratio per session or attempt does not depend on it; the test
# command must stay short); --full runs them at the sizes.
QUARTER = ("partial-sessions", "sessions", "synfin", "auth-50k")


def main(argv):
    scale, full = 1.0, False
    wanted = []
    it = iter(argv)
    for a in it:
        if a == "--scale":
            scale = float(next(it))
        elif a == "--full":
            full = True
        elif a in shapes.names():
            wanted.append(a)
        else:
            print("test_hostile.py: no shape or option %r (shapes: %s)" % (a, " ".join(shapes.names())))
            sys.exit(2)
    c = mt.Checker("hostile")
    tmp = tempfile.mkdtemp(prefix="mailedu-hostile-")
    os.chmod(tmp, 0o755)
    asan_build = os.path.join(mt.ROOT, "build-asan")
    try:
        print("%-18s %6s %10s %12s %12s %6s" % ("shape", "scale", "frames", "RSS mailedu", "RSS alone", "ratio"))
        for name in wanted or shapes.names():
            k = scale * (0.25 if name in QUARTER and not full else 1.0)
            path = shapes.write(tmp, name, k)
            os.chmod(path, 0o644)
            rc, rss, err, bug = run_measured(["-n", "-V", "-r", path])
            rc0, rss0, _, _ = run_measured(["-n", "-V", "-r", path, "--disable-protocol", "mailedu"])
            ratio = rss / rss0 if rss0 else 0
            print("%-18s %6.2f %10d %10.1f M %10.1f M %6.2f" % (name, k, count_frames(path), rss / 1024,
                                                         rss0 / 1024, ratio))
            c.eq(rc, 0, name + ": tshark -V exit status (stderr: %s)" % err.strip()[-300:])
            c.check(not bug, name + ": no 'Dissector bug' in -V output")
            c.check(ratio <= RSS_LIMIT, "%s: peak RSS %.2f x Wireshark alone, limit %.1f"
                    % (name, ratio, RSS_LIMIT))
            check_shape(c, name, path, k)
            if name.startswith("seq-") and os.path.isdir(os.path.join(asan_build, "plugins")):
                saved = mt.BUILD
                mt.BUILD = asan_build
                asan = subprocess.run(["gcc", "-print-file-name=libasan.so"],
                                      stdout=subprocess.PIPE, text=True).stdout.strip()
                rc, _, err, bug = run_measured(["-n", "-V", "-r", path], [
                    "LD_PRELOAD=" + asan, "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1",
                    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1"])
                mt.BUILD = saved
                c.check(rc == 0 and "runtime error" not in err and not bug,
                        "%s: sanitized plugin, no undefined behaviour (%d: %s)"
                        % (name, rc, err.strip()[-300:]))
            os.unlink(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main(sys.argv[1:])
