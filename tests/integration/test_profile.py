#!/usr/bin/env python3
"""The mailedu Wireshark profiles (profile/mailedu, profile/mailedu-id), installed by
scripts/install-profile into a fresh WIRESHARK_CONFIG_DIR and used by the real tshark
with the built plugin: the columns, the language, the colors `tshark -C mailedu --color`
prints, the zip for Wireshark's import, and the contrast of every color.

Frames below were found by hand from the capture bytes (tshark -x, no plugin):
pop3-userpass-fail-retry: 6 "USER alice" (before login: AUTHORIZATION), 9 "PASS wrongpw"
(a password in clear), 11 "-ERR [AUTH] Authentication failed.", 17 "+OK Logged in." for
bob, 18 "STAT" (first command of TRANSACTION), 22 "+OK Logging out." (reply to QUIT: UPDATE).
pop3-stls: 11 "+OK Begin TLS negotiation now.", 12 on: TLS records (0x16 0x03 ...).
pop3-wrong-phase: 6 "STAT" sent before any login (RFC 1939 §5: only in TRANSACTION).
"""
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

from mailedu_test import CAPTURES, ROOT, Checker, tshark, tshark_cmd

c = Checker("profile")
PROFILE = os.path.join(ROOT, "profile")
INSTALL = os.path.join(ROOT, "scripts", "install-profile")


def read_rules(name):
    """[(rule name, filter, background rgb8, foreground rgb8)] of a profile's colorfilters."""
    rules = []
    for line in open(os.path.join(PROFILE, name, "colorfilters"), encoding="utf-8"):
        m = re.match(r"@([^@]+)@([^@]+)@\[(\d+),(\d+),(\d+)\]\[(\d+),(\d+),(\d+)\]$", line.rstrip("\n"))
        if line.startswith("@"):
            c.check(m is not None, "%s colorfilters: unreadable line %r" % (name, line))
        if m:
            ch = [int(x) >> 8 for x in m.groups()[2:]]
            rules.append((m.group(1), m.group(2), tuple(ch[:3]), tuple(ch[3:])))
    return rules


def luminance(rgb):
    """WCAG 2 relative luminance of an 8-bit sRGB color."""
    lin = [(v / 255) / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# --- the rules: same filters and colors in both languages, readable colors ---
en, idn = read_rules("mailedu"), read_rules("mailedu-id")
c.eq(len(en), 17, "number of coloring rules")
c.eq([r[1:] for r in idn], [r[1:] for r in en], "mailedu-id has the same filters and colors as mailedu")
rule = {r[0]: r for r in en}
for name, filt, bg, fg in en:
    if "encrypted" in name:  # subdued on purpose, still readable (WCAG AA, 4.5:1)
        c.check(contrast(bg, fg) >= 4.5, "%s: contrast %.1f" % (name, contrast(bg, fg)))
    else:  # black text on a light background
        c.eq(fg, (0, 0, 0), name + ": black text")
        c.check(contrast(bg, fg) >= 6, "%s: contrast %.1f with black" % (name, contrast(bg, fg)))
# the rows a teacher points at come first (first match wins), encrypted ones before phases
c.eq([r[0] for r in en[:4]], ["mailedu: password or token readable", "mailedu: failed login",
                             "mailedu: command in the wrong phase", "mailedu: encrypted (tls)"],
     "priority rules first")
for proto, phases in (("pop3", ["auth", "transaction", "update"]),
                      ("imap", ["auth", "authenticated", "selected", "logout"]),
                      ("smtp", ["greeting", "hello", "auth", "envelope", "data", "quit"])):
    for ph in phases:
        want = 'mailedu.phase == "%s" && mailedu.proto == "%s"' % (ph, proto)
        c.check(any(r[1] == want for r in en), "a rule for %s %s" % (proto, ph))

# --- column widths (recent): one per column of gui.column.format, in its order; the
# Phase column holds the longest phase name ("authenticated", 13 characters, about
# 100 px in Wireshark's default 10-point font) without eliding it ---
for prof in ("mailedu", "mailedu-id"):
    prefs = open(os.path.join(PROFILE, prof, "preferences")).read()
    block = prefs.split("gui.column.format:")[1].split("\n\n")[0]
    formats = re.findall(r'"[^"]*",\s*"([^"]*)"', block)
    formats = [("%Cus:" + f.split(":")[1]) if f.startswith("%Cus:") else f for f in formats]
    recent = open(os.path.join(PROFILE, prof, "recent")).read()
    line = [l for l in recent.splitlines() if l.startswith("column.width:")]
    pairs = re.findall(r'("[^"]*"|%[A-Za-z]+),\s*(\d+)', line[0]) if line else []
    c.eq([f.strip('"') for f, _ in pairs], formats, prof + ": recent column.width lists the columns in order")
    widths = {f.strip('"'): int(w) for f, w in pairs}
    c.check(widths.get("%Cus:mailedu.phase", 0) >= 110, prof + ": Phase column at least 110 px wide")

# --- install into a fresh configuration folder, without root's help ---
tmp = tempfile.mkdtemp(prefix="mailedu-profile-")
os.chmod(tmp, 0o755)
conf = os.path.join(tmp, "conf")
env = dict(os.environ, WIRESHARK_CONFIG_DIR=conf)
p = subprocess.run([INSTALL], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
c.eq(p.returncode, 0, "install-profile exit status (%s)" % p.stdout.strip())
for prof in ("mailedu", "mailedu-id"):
    for f in ("colorfilters", "preferences", "dfilter_buttons", "recent"):
        c.check(os.path.isfile(os.path.join(conf, "profiles", prof, f)), "installed %s/%s" % (prof, f))
# without WIRESHARK_CONFIG_DIR: the XDG folder Wireshark uses on Linux
home = os.path.join(tmp, "home")
os.mkdir(home)
env2 = {k: v for k, v in os.environ.items() if k not in ("WIRESHARK_CONFIG_DIR", "XDG_CONFIG_HOME")}
env2["HOME"] = home
p = subprocess.run([INSTALL], env=env2, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
c.check(os.path.isfile(os.path.join(home, ".config", "wireshark", "profiles", "mailedu", "colorfilters")),
        "install-profile honours HOME when WIRESHARK_CONFIG_DIR is unset (%s)" % p.stdout.strip())
p = subprocess.run([INSTALL, "--zip", os.path.join(tmp, "nozip.txt")], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True)
c.check(p.returncode == 2 and ".zip" in p.stdout, "a bad zip name gets a clear message: %r" % p.stdout)
for d, _, files in os.walk(tmp):
    os.chmod(d, 0o755)
    for f in files:
        os.chmod(os.path.join(d, f), 0o644)
os.environ["WIRESHARK_CONFIG_DIR"] = conf  # tshark_cmd passes the environment on

# --- the zip for Configuration Profiles > Import: one folder per profile at the top ---
z = os.path.join(tmp, "mailedu-profiles.zip")
p = subprocess.run([INSTALL, "--zip", z], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
c.eq(p.returncode, 0, "install-profile --zip (%s)" % p.stdout.strip())
names = sorted(n for n in zipfile.ZipFile(z).namelist() if not n.endswith("/"))
c.eq(names, sorted("%s/%s" % (pr, f) for pr in ("mailedu", "mailedu-id")
                   for f in ("colorfilters", "dfilter_buttons", "preferences", "recent")), "zip contents")
for n in names:
    c.eq(zipfile.ZipFile(z).read(n), open(os.path.join(PROFILE, n), "rb").read(), "zip " + n)

# --- tshark -C mailedu: the profile loads cleanly and has the Phase and User columns ---
cap = os.path.join(CAPTURES, "pop3-userpass-fail-retry.pcapng")
p = subprocess.run(tshark_cmd(["-C", "mailedu", "-r", cap, "-c", "1"]), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
c.eq((p.returncode, p.stderr), (0, ""), "tshark -C mailedu runs without complaint")
psml = tshark(["-C", "mailedu", "-T", "psml", "-r", cap])
head = re.findall(r"<section>([^<]*)</section>", psml.split("</structure>")[0])
c.eq(head, ["No.", "Time", "Source", "Destination", "Protocol", "Phase", "User", "Info"], "columns")
packets = {}
for block in psml.split("<packet")[1:]:
    cells = re.findall(r"<section>([^<]*)</section>", block)
    packets[int(cells[0])] = cells
c.eq(packets[6][5:7], ["auth", ""], "frame 6 USER alice: Phase, User")
c.eq(packets[18][5:7], ["transaction", "bob"], "frame 18 STAT: Phase, User")
c.eq(packets[22][5:7], ["update", "bob"], "frame 22 QUIT reply: Phase, User")
psml = tshark(["-C", "mailedu-id", "-T", "psml", "-r", cap, "-Y", "frame.number == 18"])
c.eq(re.findall(r"<section>([^<]*)</section>", psml.split("</structure>")[0])[5:7], ["Fase", "Pengguna"],
     "mailedu-id column titles")
expl = {prof: tshark(["-C", prof, "-r", cap, "-Y", "frame.number == 6", "-T", "fields", "-e", "mailedu.explain"])
        for prof in ("mailedu", "mailedu-id")}
c.check("klien" in expl["mailedu-id"] and "client" in expl["mailedu"]
        and expl["mailedu"] != expl["mailedu-id"], "mailedu-id explains in Indonesian: %r" % expl)


def ansi_colors(capture, profile="mailedu"):
    """{frame: (background, foreground)} from `tshark -C profile --color` on a terminal
    that declares 24-bit color (tshark colors only a terminal)."""
    import pty
    master, slave = pty.openpty()
    env = dict(os.environ, COLORTERM="truecolor", TERM="xterm-256color")
    proc = subprocess.Popen(tshark_cmd(["-C", profile, "--color", "-r", capture]), stdout=slave,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(master)
    got = {}
    for line in out.decode("utf-8", "replace").split("\n"):
        m = re.match(r"(?:\x1b\[0m)?\x1b\[38;2;(\d+);(\d+);(\d+)m\x1b\[48;2;(\d+);(\d+);(\d+)m\s*(\d+) ", line)
        if m:
            v = [int(x) for x in m.groups()]
            got[v[6]] = (tuple(v[3:6]), tuple(v[0:3]))
    return got


def colors_of(name):
    r = rule[name]
    return (r[2], r[3])


got = ansi_colors(cap)
c.eq(got.get(6), colors_of("mailedu: POP3 authorization (auth)"), "--color: frame 6 USER (auth)")
c.eq(got.get(18), colors_of("mailedu: POP3 transaction"), "--color: frame 18 STAT (transaction)")
c.eq(got.get(9), colors_of("mailedu: password or token readable"), "--color: frame 9 PASS (cleartext)")
c.eq(got.get(11), colors_of("mailedu: failed login"), "--color: frame 11 -ERR (failed login)")
c.eq(got.get(22), colors_of("mailedu: POP3 update"), "--color: frame 22 (update)")
c.check(1 not in got, "--color: frame 1 (TCP SYN) is not colored by mailedu")
got = ansi_colors(os.path.join(CAPTURES, "pop3-stls.pcapng"))
c.eq(got.get(12), colors_of("mailedu: encrypted (tls)"), "--color: frame 12 TLS record after STLS")
got = ansi_colors(os.path.join(CAPTURES, "pop3-wrong-phase.pcapng"))
c.eq(got.get(6), colors_of("mailedu: command in the wrong phase"), "--color: frame 6 STAT before login")

# --- quickstart installs what running mailedu needs, no servers (issue 10 item 9) ---
deps = os.path.join(ROOT, "scripts", "install-deps")
run_pkgs = subprocess.run([deps, "--print"], stdout=subprocess.PIPE, text=True).stdout.split()
test_pkgs = subprocess.run([deps, "--tests", "--print"], stdout=subprocess.PIPE, text=True).stdout.split()
SERVERS = {"dovecot-core", "dovecot-pop3d", "dovecot-imapd", "postfix", "vsftpd", "openssh-server"}
c.eq(sorted(SERVERS & set(run_pkgs)), [], "install-deps (quickstart) installs no server")
c.check("tshark" in run_pkgs and "libwireshark-dev" in run_pkgs, "install-deps: tshark and headers")
c.eq(sorted(SERVERS - set(test_pkgs)), [], "install-deps --tests installs the capture servers")
c.check({"xvfb", "wireshark", "imagemagick"} <= set(test_pkgs), "install-deps --tests: the GUI test's tools")
qs = open(os.path.join(ROOT, "scripts", "quickstart")).read()
c.check(re.search(r"^scripts/install-deps$", qs, re.M) is not None and "--tests" not in qs.split("set -eu")[1],
        "quickstart calls install-deps without --tests")

shutil.rmtree(tmp, ignore_errors=True)
c.done()
