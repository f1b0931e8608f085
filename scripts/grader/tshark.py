"""Runs tshark once per capture: the mailedu sessions report (JSON, schema in
docs/sessions-schema.md) plus, when the rubric counts display-filter matches,
an io,stat report in the same run."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

BEGIN = "=== mailedu sessions (json) ==="
END = "=== end ==="
LADDER_BEGIN = "<!-- === mailedu ladder === -->"
LADDER_END = "<!-- === end === -->"
SVG_NS = "http://www.w3.org/2000/svg"
SCHEMA_VERSION = 1


class Runner:
    """How tshark is started.  plugin_dir: a folder holding
    <major>.<minor>/epan/mailedu.so (WIRESHARK_PLUGIN_DIR), or None for the
    installed plugin.  tshark ignores plugin folders when run by root, so as
    root with a plugin folder it is run as `user` (default nobody) through
    setpriv, and files it reads must be readable by that user (see .staged)."""

    def __init__(self, tshark="tshark", plugin_dir=None, user=None, lang="en",
                 show_passwords=False, timeout=120.0):
        self.tshark, self.plugin_dir, self.lang = tshark, plugin_dir, lang
        self.show_passwords, self.timeout = show_passwords, timeout
        if user is None and plugin_dir and os.geteuid() == 0:
            user = "nobody"
        self.user = user if os.geteuid() == 0 else None
        self.home = tempfile.mkdtemp(prefix="mailedu-grade-home-")
        os.chmod(self.home, 0o777)  # tshark as another user writes its config here

    @property
    def staged(self):
        """True when tshark runs as another user: inputs must be world-readable copies."""
        return self.user is not None

    def command(self, args):
        """The argv that runs tshark with args."""
        env = ["env", "HOME=" + self.home, "LC_ALL=C.UTF-8"]
        if self.plugin_dir:
            env.append("WIRESHARK_PLUGIN_DIR=" + os.path.abspath(self.plugin_dir))
        cmd = env + [self.tshark] + list(args)
        if self.user:
            group = "nogroup" if self.user == "nobody" else self.user
            cmd = ["setpriv", "--reuid=" + self.user, "--regid=" + group, "--clear-groups"] + cmd
        return cmd

    def run(self, args, timeout=None):
        """Runs tshark; returns (exit code or None on timeout, stdout, stderr)
        as text (undecodable bytes replaced)."""
        try:
            p = subprocess.run(self.command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired as e:
            return None, (e.stdout or b"").decode("utf-8", "replace"), ""
        except OSError as e:
            return 127, "", str(e)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def report_args(path, lang, show_passwords, filters, keylog=None):
    """tshark arguments for one capture: the sessions report and the ladder
    diagrams in `lang`, passwords masked unless show_passwords, and one
    io,stat column per filter."""
    args = ["-n", "-r", path, "-q",
            "-o", "mailedu.language:" + lang,
            "-o", "mailedu.mask_passwords:" + ("FALSE" if show_passwords else "TRUE"),
            "-z", "mailedu,sessions,json", "-z", "mailedu,ladder"]
    if keylog:
        args += ["-o", "tls.keylog_file:" + keylog]
    if filters:
        args += ["-z", "io,stat,0," + ",".join(filters)]
    return args


def parse_sessions(stdout):
    """The sessions document from tshark's stdout.  Raises ValueError with a
    reason when it is missing, not JSON, or of another schema version."""
    start = stdout.find(BEGIN)
    if start < 0:
        raise ValueError("tshark printed no mailedu sessions report (is the mailedu plugin loaded?)")
    start += len(BEGIN)
    end = stdout.find("\n" + END, start)
    text = stdout[start:end if end >= 0 else len(stdout)]
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError("the sessions report is not valid JSON (%s)" % e) from None
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError("sessions report schema_version %r, this grader reads %d"
                         % (doc.get("schema_version") if isinstance(doc, dict) else None, SCHEMA_VERSION))
    if not isinstance(doc.get("sessions"), list):
        raise ValueError("the sessions report has no sessions list")
    return doc


def parse_ladders(stdout):
    """{tcp.stream: <svg> Element} from the -z mailedu,ladder output (one
    session: the document element; several: its nested <svg
    id="mailedu-stream-N">).  {} when the output is missing or not XML: the
    picture is an illustration, grading does not depend on it."""
    start, end = stdout.find(LADDER_BEGIN), stdout.find(LADDER_END)
    if start < 0 or end < start:
        return {}
    try:
        root = ET.fromstring(stdout[start + len(LADDER_BEGIN):end])
    except ET.ParseError:
        return {}
    out = {}
    for el in [root] + root.findall("{%s}svg" % SVG_NS):
        m = re.fullmatch(r"mailedu-stream-(\d+)", el.get("id") or "")
        if m:
            out[int(m.group(1))] = el
    return out


_ROW = re.compile(r"^\|\s*[\d.]+\s*<>\s*(?:[\d.]+|Dur)\s*\|(.*)\|\s*$")


def parse_io_stat(stdout, n):
    """Frame counts of the n filter columns of `-z io,stat,0,F1,...,Fn`,
    summed over the rows (one row for interval 0).  Each column is
    'Frames | Bytes'; returns a list of n ints (zeros when no row)."""
    counts = [0] * n
    for line in stdout.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(1).split("|")]
        for i in range(n):
            if 2 * i < len(cells) and cells[2 * i].isdigit():
                counts[i] += int(cells[2 * i])
    return counts


def tshark_error(code, stderr):
    """A one-line reason from tshark's exit code and stderr."""
    lines = [l.strip() for l in stderr.splitlines()
             if l.strip() and "Running as user" not in l and "could be dangerous" not in l]
    msg = lines[-1] if lines else ""
    if code is not None and code < 0:
        return "tshark crashed (signal %d)%s" % (-code, ": " + msg if msg else "")
    return "tshark failed (exit %s)%s" % (code, ": " + msg if msg else "")
