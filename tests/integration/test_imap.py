#!/usr/bin/env python3
"""IMAP engine with the real tshark and the built plugin.

    MAILEDU_BUILD=build python3 tests/integration/test_imap.py

Expected values come from reading the captures by hand (tshark -x, follow tcp
stream; see captures/public/SOURCES.md) or from independent decoding done here
(the NTLM message, the SELECT/CLOSE walk below), never from mailedu's output.
"""
import base64
import glob
import json
import os
import re
import zlib
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailedu_test as m  # noqa: E402

C = m.Checker("test_imap")

IMAP_PUBLIC = [
    "imap-login-exchange.pcap",
    "imap-login-caps.pcap",
    "imap-starttls.pcap",
    "imaps-993-implicit-tls.pcap",
    "mail-ntlm-synthetic-ipv6.pcap",
    "smtp-relay-plus-imap-starttls.pcapng",
]
IMAP = 'mailedu.proto == "imap"'


def pub(name):
    return os.path.join(m.PUBLIC, name)


def col(rows, i):
    return [r[i] if len(r) > i else "" for r in rows]


# Fields read once per capture (two passes, so that response_in is known).
FIELDS = ["frame.number", "tcp.srcport", "tcp.dstport", "tcp.len", "mailedu.proto", "mailedu.direction",
          "mailedu.phase", "mailedu.phase.start", "mailedu.command", "mailedu.tag", "mailedu.status",
          "mailedu.explain", "mailedu.auth.mechanism", "mailedu.auth.username", "mailedu.auth.password",
          "mailedu.auth.result", "mailedu.auth.attempt", "mailedu.auth.domain", "mailedu.auth.host", "mailedu.request_in",
          "mailedu.response_in", "mailedu.mailbox", "mailedu.session.user", "mailedu.tls",
          "imap.request.username", "imap.request.password", "tcp.payload"]
_cache = {}


def table(capture, extra=()):
    key = (capture, tuple(extra))
    if key not in _cache:
        t = {}
        for r in m.fields(capture, FIELDS, None, extra, two_pass=True):
            r = (r + [""] * len(FIELDS))[:len(FIELDS)]
            if r[0]:
                t[int(r[0])] = dict(zip(FIELDS, r))
        _cache[key] = t
    return _cache[key]


def one(capture, field, frame, extra=()):
    return table(capture, extra).get(frame, {}).get(field, "")


def frameset(capture, filt, extra=()):
    return set(m.frames(capture, filt, extra))


# ---------------------------------------------------------------- sanity

def plugin_loaded():
    out = m.tshark(["-G", "protocols"], check=False)
    # 4.0 prints name, short name, filter name; later versions add columns
    return any(line.split("\t")[2:3] == ["mailedu"] for line in out.splitlines())


# ---------------------------------------------------------------- generic

def check_clean(capture, extra=(), server_ports=(143, 993)):
    """Every IMAP packet annotated; nothing malformed caused by us."""
    name = os.path.basename(capture)
    t = table(capture, extra)
    mail = set(f for f, r in t.items() if r["tcp.len"] not in ("", "0") and
               (int(r["tcp.srcport"] or 0) in server_ports or int(r["tcp.dstport"] or 0) in server_ports))
    ours = set(f for f, r in t.items() if r["mailedu.proto"] == "imap")
    C.check(mail and mail <= ours, "%s: IMAP packets without mailedu: %s" % (name, sorted(mail - ours)[:10]))
    with_plugin = frameset(capture, "_ws.malformed", extra)
    without = frameset(capture, "_ws.malformed", list(extra) + ["--disable-protocol", "mailedu"])
    if with_plugin != without:
        print("  %s: malformed with mailedu %s, without %s" % (name, sorted(with_plugin), sorted(without)))
    C.eq(with_plugin, without, "%s: _ws.malformed frames with vs without mailedu" % name)
    bad = frameset(capture, IMAP + " && (mailedu.malformed || mailedu.overlong || mailedu.wrong_phase)", extra)
    C.eq(bad, set(), "%s: mailedu malformed/overlong/wrong-phase experts on fine traffic" % name)
    # one pass and two passes give the same annotation
    names = ["frame.number", "mailedu.phase", "mailedu.command", "mailedu.auth.username",
             "mailedu.auth.password", "mailedu.request_in", "mailedu.mailbox", "mailedu.explain"]
    one_pass = m.fields(capture, names, IMAP, extra)
    C.eq(one_pass, [[t[int(r[0])][n] for n in names] for r in one_pass if r and r[0]],
         "%s: one-pass and two-pass output" % name)


def tshark_credentials(capture, extra=()):
    """(frame, username) pairs that tshark -z credentials lists for IMAP."""
    out = m.tshark(["-n", "-r", capture, "-q", "-z", "credentials", "--disable-protocol", "mailedu"] + list(extra),
                   check=False)  # Wireshark alone: mailedu feeds this tap too
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 3 and f[0].isdigit() and f[1] == "IMAP":
            res.append((int(f[0]), f[2]))
    return res


def unquote(s):
    """An IMAP astring as the server reads it (tshark keeps the quotes)."""
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return re.sub(r'\\(.)', r'\1', s[1:-1])
    return s


def check_superset(capture, passwords, extra=()):
    """mailedu's credentials include everything tshark's credentials tap lists."""
    name = os.path.basename(capture)
    theirs = tshark_credentials(capture, extra)
    rows = [[r["mailedu.auth.username"], r["mailedu.auth.password"]]
            for r in table(capture, extra).values() if r["mailedu.proto"] == "imap"]
    ours_users = set(u for r in rows for u in r[0].split("|") if u)
    ours_pw = set(p for r in rows if len(r) > 1 for p in r[1].split("|") if p)
    for frame, user in theirs:
        C.check(unquote(user) in ours_users,
                "%s: tshark credential %r (frame %d) missing from mailedu %r" % (name, user, frame, ours_users))
        if unquote(user) in passwords:
            C.check(passwords[unquote(user)] in ours_pw,
                    "%s: password of %s: want %r in %r" % (name, user, passwords[unquote(user)], ours_pw))
    return theirs


# ---------------------------------------------------------------- an independent walk

def walk_phases(capture, server_port, extra=()):
    """Frames that hold a line of the selected state, found by a small
    independent IMAP reader: literals skipped by count, tags matched.
    The line that causes a transition belongs to the old phase.  After the OK
    to COMPRESS DEFLATE both directions are inflated (Python's zlib, raw
    DEFLATE: RFC 4978 §2) before they are read."""
    rows = m.fields(capture, ["frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.payload"],
                    "tcp.port == %d && tcp.len > 0 && !tcp.analysis.retransmission" % server_port, extra)
    streams = {}
    selected = set()
    for r in rows:
        if len(r) < 5 or not r[4]:
            continue
        frame, stream = int(r[0]), r[1]
        srv = int(r[2]) == server_port
        data = bytes.fromhex(r[4].replace(":", ""))
        st = streams.setdefault(stream, {"phase": "auth", "buf": [b"", b""], "count": [0, 0],
                                         "sync": None, "pend": {}, "tls": False, "z": [None, None]})
        if st["tls"]:
            continue
        d = 1 if srv else 0
        if st["z"][d]:
            data = st["z"][d].decompress(data)
        phases = {st["phase"]}
        i = 0
        while i < len(data):
            if st["count"][d]:
                take = min(st["count"][d], len(data) - i)
                st["count"][d] -= take
                i += take
                continue
            nl = data.find(b"\n", i)
            if nl < 0:
                st["buf"][d] += data[i:]
                break
            line = (st["buf"][d] + data[i:nl]).rstrip(b"\r")
            st["buf"][d] = b""
            i = nl + 1
            phases.add(st["phase"])
            lit = re.search(rb"\{(\d+)(\+?)\}$", line)
            if not srv:
                words = line.split(b" ")
                if len(words) >= 2:
                    verb = words[1].upper()
                    if verb in (b"SELECT", b"EXAMINE", b"CLOSE", b"UNSELECT", b"STARTTLS", b"COMPRESS"):
                        st["pend"][words[0]] = verb
                    elif verb == b"LOGOUT":
                        st["phase"] = "logout"
                if lit:
                    if lit.group(2):
                        st["count"][0] = int(lit.group(1))
                    else:
                        st["sync"] = int(lit.group(1))
            else:
                if line.startswith(b"+") and st["sync"] is not None:
                    st["count"][0], st["sync"] = st["sync"], None
                    continue
                words = line.split(b" ")
                if line.startswith(b"* ") and lit:
                    st["count"][1] = int(lit.group(1))
                elif len(words) >= 2 and words[0] in st["pend"]:
                    verb = st["pend"].pop(words[0])
                    ok = words[1].upper() == b"OK"
                    if verb in (b"SELECT", b"EXAMINE"):
                        st["phase"] = "selected" if ok else ("authenticated" if st["phase"] == "selected" else st["phase"])
                    elif verb in (b"CLOSE", b"UNSELECT") and ok:
                        st["phase"] = "authenticated"
                    elif verb == b"STARTTLS" and ok:
                        st["tls"] = True
                        break
                    elif verb == b"COMPRESS" and ok:
                        st["z"] = [zlib.decompressobj(wbits=-15), zlib.decompressobj(wbits=-15)]
                        data = data[:i] + st["z"][d].decompress(data[i:])
        if "selected" in phases:
            selected.add(frame)
    return selected


def check_selected(capture, server_port, extra=()):
    name = os.path.basename(capture)
    want = walk_phases(capture, server_port, extra)
    got = frameset(capture, IMAP + ' && mailedu.phase == "selected"', extra)
    C.eq(sorted(got), sorted(want), "%s: frames in the selected phase" % name)
    return want


# ---------------------------------------------------------------- public captures

def public_captures():
    for name in IMAP_PUBLIC:
        check_clean(pub(name))

    # imap-login-caps: "C00001 LOGIN samir pfres" (frame 11, atoms), OK in frame 12
    cap = pub("imap-login-caps.pcap")
    C.eq(one(cap, "mailedu.auth.username", 11), "samir", "caps: username")
    C.eq(one(cap, "mailedu.auth.password", 11), "pfres", "caps: password")
    C.eq(one(cap, "mailedu.auth.mechanism", 11), "IMAP-LOGIN", "caps: mechanism")
    C.eq(one(cap, "mailedu.tag", 11), "C00001", "caps: tag")
    ws_pw = one(cap, "imap.request.password", 11)
    C.check(ws_pw != "pfres" and ws_pw in "pfres",
            "caps: Wireshark's own imap.request.password is truncated (%r)" % ws_pw)
    C.eq(one(cap, "mailedu.auth.result", 12), "success", "caps: result")
    C.eq(one(cap, "mailedu.request_in", 12), "11", "caps: reply linked to LOGIN")
    C.eq(one(cap, "mailedu.response_in", 11), "12", "caps: LOGIN linked to its reply")
    C.eq(one(cap, "mailedu.phase", 11), "auth", "caps: LOGIN in auth")
    C.eq(one(cap, "mailedu.phase", 14), "authenticated", "caps: LIST after login")
    C.eq(one(cap, "mailedu.phase.start", 14), "1", "caps: phase start on LIST")
    C.eq(one(cap, "mailedu.command", 29), "UID FETCH", "caps: UID FETCH as two words")
    C.eq(one(cap, "mailedu.mailbox", 29), "INBOX", "caps: mailbox while selected")
    C.eq(one(cap, "mailedu.session.user", 29), "samir", "caps: session user")
    C.check(frameset(cap, "mailedu.cleartext") == {11}, "caps: cleartext warning only on LOGIN")
    check_superset(cap, {"samir": "pfres"})
    check_selected(cap, 143)

    # imap-login-exchange: a0001 LOGIN "neulingern" "XXXXXX" (frame 8)
    cap = pub("imap-login-exchange.pcap")
    C.eq(one(cap, "mailedu.auth.username", 8), "neulingern", "exchange: username unquoted")
    C.eq(one(cap, "mailedu.auth.password", 8), "XXXXXX", "exchange: password unquoted")
    C.check(one(cap, "imap.request.username", 8) != "neulingern",
            "exchange: Wireshark's own username keeps the quotes")
    C.eq(one(cap, "mailedu.auth.result", 9), "success", "exchange: result")
    C.eq(one(cap, "mailedu.explain", 118).startswith("CLOSE"), True, "exchange: CLOSE explained")
    C.eq(one(cap, "mailedu.phase", 119), "selected", "exchange: CLOSE's OK still selected")
    sel = check_selected(cap, 143)
    C.check(12 not in sel and 14 in sel and 119 in sel, "exchange: selected from FETCH (14) to CLOSE OK (119)")
    # the FETCH literals are data: no line inside them is a command or reply
    C.eq(frameset(cap, IMAP + " && mailedu.direction == \"server\" && mailedu.command"), set(),
         "exchange: no server line taken for a command")
    check_superset(cap, {"neulingern": "XXXXXX"})

    # imap-starttls: ". STARTTLS" (10), ". OK Begin TLS negotiation now" (11), then TLS
    cap = pub("imap-starttls.pcap")
    C.eq(one(cap, "mailedu.phase", 11), "auth", "starttls: the OK is in auth")
    C.check(11 in frameset(cap, "mailedu.tls_start"), "starttls: TLS start expert on frame 11")
    after = frameset(cap, "tcp.port == 143 && tcp.len > 0 && frame.number > 11")
    C.eq(frameset(cap, IMAP + ' && mailedu.phase == "tls"'), after, "starttls: every later packet is tls")
    C.eq(one(cap, "mailedu.phase.start", 14), "1", "starttls: tls phase starts at frame 14")
    C.eq(one(cap, "mailedu.tag", 10), ".", "starttls: tag '.'")
    C.eq(frameset(cap, "mailedu.auth.username"), set(), "starttls: no credentials")

    # smtp-relay-plus-imap-starttls: Dovecot with LOGINDISABLED, "1 STARTTLS" (21), OK (23)
    cap = pub("smtp-relay-plus-imap-starttls.pcapng")
    C.check(23 in frameset(cap, "mailedu.tls_start"), "relay: TLS start on frame 23")
    C.eq(frameset(cap, IMAP + ' && mailedu.phase == "tls"'),
         frameset(cap, "tcp.port == 143 && tcp.len > 0 && frame.number > 23"), "relay: tls after STARTTLS")

    # imaps: only TLS
    cap = pub("imaps-993-implicit-tls.pcap")
    C.eq(frameset(cap, IMAP + ' && mailedu.phase != "tls"'), set(), "imaps: all tls")

    # mail-ntlm-synthetic-ipv6: a001 AUTHENTICATE NTLM over IPv6; type 3 in frame 172
    cap = pub("mail-ntlm-synthetic-ipv6.pcap")
    payload = one(cap, "tcp.payload", 172)
    msg = base64.b64decode(bytes.fromhex(payload.replace(":", "")).strip())

    def secbuf(off):
        ln, _, at = struct.unpack("<HHI", msg[off:off + 8])
        return msg[at:at + ln].decode("utf-16-le")
    C.eq(msg[:8], b"NTLMSSP\0", "ntlm: by hand: signature")
    C.eq(struct.unpack("<I", msg[8:12])[0], 3, "ntlm: by hand: type 3")
    user, domain, host = secbuf(36), secbuf(28), secbuf(44)
    C.eq((user, domain), ("kate", "IMAPDOM"), "ntlm: by hand: user and domain")
    C.eq(one(cap, "mailedu.auth.mechanism", 172), "NTLM", "ntlm: mechanism")
    C.eq(one(cap, "mailedu.auth.username", 172), user, "ntlm: username")
    C.eq(one(cap, "mailedu.auth.domain", 172), domain, "ntlm: domain")
    C.eq(one(cap, "mailedu.auth.host", 172), host, "ntlm: workstation")
    C.eq(one(cap, "mailedu.auth.result", 174), "success", "ntlm: result")
    C.eq(one(cap, "mailedu.request_in", 174), "164", "ntlm: reply linked to AUTHENTICATE")
    C.eq(one(cap, "mailedu.command", 164), "AUTHENTICATE", "ntlm: command")
    C.eq(one(cap, "mailedu.status", 166), "continue", "ntlm: '+' is a continuation")
    C.eq(one(cap, "mailedu.phase", 176), "authenticated", "ntlm: LOGOUT sent in authenticated")
    C.eq(one(cap, "mailedu.phase", 178), "logout", "ntlm: BYE and OK in logout")
    C.eq(one(cap, "mailedu.phase.start", 178), "1", "ntlm: logout starts at 178")
    C.check(172 in frameset(cap, "mailedu.hash_exposed"), "ntlm: hash exposure note")
    check_superset(cap, {})

    for name in ("imap-starttls.pcap", "imaps-993-implicit-tls.pcap", "smtp-relay-plus-imap-starttls.pcapng"):
        check_superset(pub(name), {})


# ---------------------------------------------------------------- helper-made captures

def imap_rows(capture, extra):
    return [r for f, r in sorted(table(capture, extra).items()) if r["mailedu.proto"] == "imap"]


def attempts(capture, extra):
    """Login attempts as mailedu reports them, by attempt number."""
    res = {}
    keys = ("mechanism", "username", "password", "result")
    for r in imap_rows(capture, extra):
        atts = r["mailedu.auth.attempt"].split("|")
        cols = [r["mailedu.auth." + k].split("|") for k in keys]
        for k, att in enumerate(atts):
            if not att:
                continue
            a = res.setdefault(int(att), dict((key, "") for key in keys))
            for key, vals in zip(keys, cols):
                v = vals[k] if k < len(vals) and len(vals) == len(atts) else (vals[0] if len(vals) == 1 else "")
                if v:
                    a[key] = v
    return [res[k] for k in sorted(res)]


def commands(capture, extra):
    out = []
    for r in imap_rows(capture, extra):
        if r["mailedu.direction"] != "client":
            continue
        cmds = [c for c in r["mailedu.command"].split("|") if c and c != "DONE"]
        phases = r["mailedu.phase"].split("|")
        for i, c in enumerate(cmds):
            out.append({"command": c, "phase": phases[min(i, len(phases) - 1)]})
    return out


def phase_sequence(capture, extra, skip=()):
    seq = []
    for r in imap_rows(capture, extra):
        for p in r["mailedu.phase"].split("|"):
            if p and p not in skip and (not seq or seq[-1] != p):
                seq.append(p)
    return seq


def helper_captures():
    files = sorted(glob.glob(os.path.join(m.CAPTURES, "imap-*.pcapng")))
    files = [f for f in files if os.path.exists(f[:-len(".pcapng")] + ".expected.json")]
    if not files:
        print("note: no helper-made IMAP captures in %s yet; skipped" % m.CAPTURES)
        return
    for cap in files:
        base = cap[:-len(".pcapng")]
        name = os.path.basename(base)
        with open(base + ".expected.json") as f:
            exp = json.load(f)
        port = exp.get("server_port", 143)
        extra = ["-d", "tcp.port==%d,imap" % port]
        keys = exp.get("keylog") and os.path.join(os.path.dirname(cap), exp["keylog"])
        if keys and os.path.exists(keys):
            extra += ["-o", "tls.keylog_file:" + keys]
        check_clean(cap, extra, server_ports=(port,))
        decrypted = any(r["mailedu.tls"] == "1" and r["mailedu.command"] for r in imap_rows(cap, extra))
        limited = exp.get("tls") and not decrypted
        if limited:
            print("note: %s: the session inside TLS is not annotated by this build; "
                  "checking the clear-text part only" % name)

        got = attempts(cap, extra)
        want = exp.get("credentials", [])
        if limited:
            C.eq(got, [], "%s: no credential read through TLS" % name)
        else:
            C.eq(len(got), len(want), "%s: number of login attempts" % name)
            for i, (g, w) in enumerate(zip(got, want)):
                C.eq(g["mechanism"], w["mechanism"], "%s: attempt %d mechanism" % (name, i + 1))
                C.eq(g["username"], w["username"], "%s: attempt %d username" % (name, i + 1))
                C.eq(g["password"], w.get("password", ""), "%s: attempt %d password" % (name, i + 1))
                C.eq(g["result"], w["result"], "%s: attempt %d result" % (name, i + 1))
            check_superset(cap, {w["username"]: w["password"] for w in want if "password" in w}, extra)

        if "commands" in exp:
            gc = commands(cap, extra)
            wc = exp["commands"]
            if limited:
                wc = wc[:len(gc)]
                C.check(any(c["command"] == "STARTTLS" for c in gc), "%s: STARTTLS seen" % name)
            C.eq(gc, wc, "%s: commands and their phases" % name)
        if not limited:
            # with the key log, the TLS handshake itself stays "tls": the logical sequence skips it
            C.eq(phase_sequence(cap, extra, ("tls",) if exp.get("tls") else ()), exp["phases"],
                 "%s: phase sequence" % name)
            if not exp.get("tls"):
                check_selected(cap, port, extra)
        else:
            seq = phase_sequence(cap, extra)
            C.eq(seq[-1:], ["tls"], "%s: ends in tls without keys" % name)


def compressed_info():
    """imap-compress: after COMPRESS DEFLATE the bytes on the wire are DEFLATE
    (RFC 4978), so the builtin dissector's Info is noise; the Info column shows
    the inflated line instead, e.g. the SELECT the client sent (its text is in
    the scenario, scripts/captures/imap.py imap_compress)."""
    cap = os.path.join(m.CAPTURES, "imap-compress.pcapng")
    rows = m.fields(cap, ["frame.number", "_ws.col.Info"], 'mailedu.command == "SELECT"',
                    ["-d", "tcp.port==11143,imap"])
    C.eq([r[1] for r in rows], ["[authenticated] C: a3 SELECT INBOX"],
         "imap-compress: the Info column shows the inflated command")


def main():
    if not plugin_loaded():
        print("FAIL: tshark does not load mailedu from %s (set MAILEDU_BUILD)" % m.BUILD)
        sys.exit(1)
    public_captures()
    helper_captures()
    compressed_info()
    C.done()


if __name__ == "__main__":
    main()
