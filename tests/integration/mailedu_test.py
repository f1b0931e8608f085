"""Shared helpers for integration tests: run the real tshark with the built
plugin and read mailedu fields.

tshark ignores plugin folders when it runs as root (it treats root as
privileged), so when we are root the tests run it as the unprivileged user
`nobody` with WIRESHARK_PLUGIN_DIR pointing at the build's plugin folder.
Environment: MAILEDU_BUILD (default: build), SHARED (default: ../shared).
"""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile

# tshark's exit status for a capture cut short in the middle of a packet (read
# to its last whole packet, then an error): 2 in Wireshark 4.0 and 4.4,
# WS_EXIT_READ_ERROR (14, ws_exit_codes.h) in 4.6
CUT_SHORT_EXIT = (2, 14)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("MAILEDU_BUILD", os.path.join(ROOT, "build")))
SHARED = os.path.abspath(os.environ.get("SHARED", os.path.join(ROOT, "..", "shared")))
PUBLIC = os.path.join(SHARED, "captures", "public")
CAPTURES = os.path.join(ROOT, "test-captures")

_home = tempfile.mkdtemp(prefix="mailedu-home-")
_temp_dirs = [_home]


def _remove_temp_dirs():
    for d in _temp_dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_temp_dirs)


def temp_dir(prefix):
    """A new directory under the system's temporary one, removed when the
    test process exits (each run used to leave its directories behind)."""
    d = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(d)
    return d


def _tshark_version():
    out = subprocess.run(["tshark", "--version"], stdout=subprocess.PIPE, text=True).stdout
    m = re.search(r"TShark \(Wireshark\) (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


# From 4.2 on, -T fields prints booleans as True/False and escapes backslashes
# (and tabs, newlines) in strings; the tests compare values as 4.0 prints them.
_NEW_FIELDS = _tshark_version() >= (4, 2)


def normalize(cell):
    """One -T fields cell as tshark 4.0 prints it, whatever the tshark version."""
    if not _NEW_FIELDS:
        return cell
    cell = "|".join({"True": "1", "False": "0"}.get(x, x) for x in cell.split("|"))
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), cell)
os.chmod(_home, 0o777)


_stage_dir = None
_staged_files = {}


def _nobody_can_read(path):
    """True if every folder above path is searchable and path readable by others."""
    path = os.path.abspath(path)
    try:
        if not os.stat(path).st_mode & 0o004:
            return False
        d = os.path.dirname(path)
        while True:
            if not os.stat(d).st_mode & 0o001:
                return False
            if d == os.path.dirname(d):
                return True
            d = os.path.dirname(d)
    except OSError:
        return False


def _stage(path):
    """A copy of path that `nobody` can read, when the checkout lives where it
    cannot (e.g. under /root): tshark runs as nobody when the tests run as root."""
    global _stage_dir
    if _nobody_can_read(path) and (not os.path.isdir(path) or _nobody_can_read(os.path.join(path, "."))):
        return path
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_mtime, st.st_size)
    if key not in _staged_files:
        if _stage_dir is None:
            _stage_dir = temp_dir("mailedu-stage-")
            os.chmod(_stage_dir, 0o755)
        dst = os.path.join(_stage_dir, "%d-%s" % (len(_staged_files), os.path.basename(path)))
        if os.path.isdir(path):
            shutil.copytree(path, dst)
            for root, dirs, files in os.walk(dst):
                os.chmod(root, 0o755)
                for f in files:
                    os.chmod(os.path.join(root, f), 0o644)
        else:
            shutil.copyfile(path, dst)
            os.chmod(dst, 0o644)
        _staged_files[key] = dst
    return _staged_files[key]


def tshark_cmd(args):
    plugins = os.path.join(BUILD, "plugins")
    if os.geteuid() == 0:
        plugins = _stage(plugins)
        staged = []
        for a in args:
            if a.startswith("tls.keylog_file:") and os.path.isfile(a.split(":", 1)[1]):
                a = "tls.keylog_file:" + _stage(a.split(":", 1)[1])
            elif os.path.isfile(a):
                a = _stage(a)
            staged.append(a)
        args = staged
    env = ["env", "HOME=" + _home, "TZ=UTC", "LC_ALL=C.UTF-8",
           "WIRESHARK_PLUGIN_DIR=" + plugins]
    if os.environ.get("MAILEDU_PRELOAD"):  # the ASan runtime, for a sanitized plugin
        env += ["LD_PRELOAD=" + os.environ["MAILEDU_PRELOAD"],
                "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1",
                "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1",
                "WIRESHARK_ABORT_ON_DISSECTOR_BUG=1",
                # every allocation its own, freed when its scope ends: a record
                # or text used after its packet's pool is gone is an ASan error
                "WIRESHARK_DEBUG_WMEM_OVERRIDE=strict"]
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
        rows.append([normalize(x) for x in line.split("\t")])
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


DECODE_AS = {"pop3": "pop", "smtp": "smtp", "imap": "imap"}


def decode_args(expected):
    """-d option for a test capture on a non-standard port."""
    port = expected.get("server_port")
    if port in (None, 110, 25, 587, 143) or "tunnel" in expected:
        return []  # a tunnel's proxy dissector (SOCKS, HTTP) hands the mail to SMTP itself
    return ["-d", "tcp.port==%d,%s" % (port, DECODE_AS[expected["protocol"]])]


def attempts(capture, extra=(), filt=None):
    """Login attempts as mailedu reports them, in order: a list of dicts with
    mechanism, username, password, token, result, frames.  Built from every
    record that carries mailedu.auth.attempt."""
    names = ["frame.number", "mailedu.auth.attempt", "mailedu.auth.mechanism",
             "mailedu.auth.username", "mailedu.auth.password", "mailedu.auth.token",
             "mailedu.auth.result", "tcp.stream", "mailedu.auth.digest"]
    out = {}
    order = []
    for r in fields(capture, names, filt or "mailedu.auth.attempt", extra):
        r = r + [""] * (len(names) - len(r))
        frame, att, mech, user, pw, tok, res, stream, dig = r
        for i, a in enumerate(att.split("|")):
            if not a:
                continue
            key = (stream, int(a))
            if key not in out:
                out[key] = {"mechanism": "", "username": "", "password": None, "token": None,
                            "result": "", "frames": [], "stream": stream, "digest": None}
                order.append(key)
            d = out[key]
            pick = lambda v: v.split("|")[i] if i < len(v.split("|")) else v.split("|")[-1]
            d["frames"].append(int(frame))
            if mech:
                d["mechanism"] = pick(mech)
            if user:
                d["username"] = pick(user)
            if pw:
                d["password"] = pick(pw)
            if tok:
                d["token"] = pick(tok)
            if res:
                d["result"] = pick(res)
            if dig:
                d["digest"] = pick(dig)
    return [out[k] for k in order]


def credentials(attempt_list):
    """The attempts in which a credential crossed the wire: a secret (password,
    token, digest), or a user name that got an answer.  An AUTH cancelled
    before anything was sent, or a USER followed by QUIT, is not one."""
    return [a for a in attempt_list
            if a["password"] is not None or a["token"] or a["digest"]
            or (a["username"] and a["result"])]


def check_expected(c, capture, expected, extra=()):
    """Compares mailedu's view of a generated capture with what the scenario did."""
    name = os.path.basename(capture)
    args = decode_args(expected) + list(extra)
    got = credentials(attempts(capture, args))
    want = expected.get("credentials", [])
    c.eq(len(got), len(want), name + ": number of login attempts")
    for i, (g, w) in enumerate(zip(got, want)):
        what = "%s attempt %d" % (name, i + 1)
        c.eq(g["mechanism"], w["mechanism"], what + " mechanism")
        c.eq(g["username"], w["username"], what + " username")
        if "password" in w:
            c.eq(g["password"], w["password"], what + " password")
        if "token" in w:
            c.eq(g["token"], w["token"], what + " token")
        c.eq(g["result"], w["result"], what + " result")
    if "commands" in expected:
        rows = fields(capture, ["mailedu.command", "mailedu.phase"],
                      'mailedu.direction == "client" && mailedu.command', args)
        seen = []
        for r in rows:
            r = r + [""] * (2 - len(r))
            phases = r[1].split("|")
            for cmd in r[0].split("|"):
                if cmd != "DONE":  # the end of IMAP IDLE is not a command (RFC 2177)
                    seen.append((cmd, phases))
        want_cmds = [(w["command"], w["phase"]) for w in expected["commands"]]
        c.eq([s[0] for s in seen], [w[0] for w in want_cmds], name + ": client commands")
        for (cmd, phases), (wcmd, wph) in zip(seen, want_cmds):
            c.check(wph in phases, "%s: %s sent in phase %s, mailedu says %s" % (name, cmd, wph, phases))
    if "phases" in expected and not expected.get("tls"):
        rows = fields(capture, ["mailedu.phase"], "mailedu.phase.start == 1", args)
        starts = []
        for r in rows:
            for ph in r[0].split("|"):
                if not starts or starts[-1] != ph:
                    starts.append(ph)
        c.eq(starts, expected["phases"], name + ": phases in order")
