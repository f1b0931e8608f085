#!/usr/bin/env python3
"""shapes.py - writes the hostile capture shapes of issue 14, one pcap each.

    python3 tests/hostile/shapes.py OUTDIR [--scale F] [SHAPE...]

--scale multiplies every size (1 is what the test uses; the issue's
measurements were made at 0.5, 1 and 2 of its sizes).  Each shape is a
function below; its docstring says what it is and what a sane reading is.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_pcap import Conn, Pcap  # noqa: E402


def pop3_login(c):
    c.s(b"+OK POP3 ready\r\n")
    c.c(b"USER alice\r\n")
    c.s(b"+OK\r\n")
    c.c(b"PASS secret\r\n")
    c.s(b"+OK logged in\r\n")


def seq_2p31(p, k):
    """A POP3 client segment whose sequence number is exactly 2^31 away from
    the expected one (RFC 9293 §3.4: neither before nor after; read as old
    bytes), between USER and PASS.  Sane: USER and PASS both read, login ok."""
    c = Conn(p, 40000, 110)
    c.handshake()
    c.s(b"+OK POP3 ready\r\n")
    c.c(b"USER alice\r\n")
    c.s(b"+OK\r\n")
    c.raw("c", c.seq["c"] + 2 ** 31, b"NOOP\r\n")
    c.raw("c", c.seq["c"] - 2 ** 31, b"NOOP\r\n")
    c.c(b"PASS secret\r\n")
    c.s(b"+OK logged in\r\n")
    c.fin()


def seq_wrap(p, k):
    """A POP3 session whose sequence numbers wrap past 2^32 on both sides in
    the middle of the dialogue.  Sane: USER, PASS, STAT, QUIT read in order."""
    c = Conn(p, 40001, 110, cisn=0xFFFFFFF8, sisn=0xFFFFFFF0)
    c.handshake()
    pop3_login(c)
    c.c(b"STAT\r\n")
    c.s(b"+OK 0 0\r\n")
    c.c(b"QUIT\r\n")
    c.s(b"+OK bye\r\n")
    c.fin()


def crlf(p, k):
    """A POP3 client sending 4 MB x scale of empty lines (CRLF) in 64 KB segments."""
    c = Conn(p, 40002, 110)
    c.handshake()
    c.s(b"+OK POP3 ready\r\n")
    c.c(b"\r\n" * int(2 * 1024 * 1024 * k))
    c.fin()


def held_release(p, k):
    """Eight POP3 client segments of 30 KB of CRLF held out of order, then the
    missing first one: all released onto one frame (about 135,000 lines)."""
    c = Conn(p, 40003, 110)
    c.handshake()
    c.s(b"+OK POP3 ready\r\n")
    seg = b"\r\n" * 15000
    base = c.seq["c"]
    for i in range(1, 9):
        c.raw("c", base + i * len(seg), seg)
    c.raw("c", base, seg)
    c.seq["c"] = base + 9 * len(seg)
    c.c(b"QUIT\r\n")
    c.fin()


def partial_sessions(p, k):
    """20,000 x scale POP3 sessions with a partial line on both sides."""
    for n in range(int(20000 * k)):
        c = Conn(p, 10000 + n % 50000, 110, n=n)
        c.handshake()
        c.s(b"+OK POP3 rea")
        c.c(b"USER al")
        c.fin()


def sessions(p, k):
    """20,000 x scale short POP3 sessions, lines whole: login, QUIT."""
    for n in range(int(20000 * k)):
        c = Conn(p, 10000 + n % 50000, 110, n=n)
        c.handshake()
        pop3_login(c)
        c.c(b"QUIT\r\n")
        c.s(b"+OK bye\r\n")
        c.fin()


def synfin(p, k):
    """20,000 x scale TCP conversations on port 110 without a byte of payload."""
    for n in range(int(20000 * k)):
        c = Conn(p, 10000 + n % 50000, 110, n=n)
        c.handshake()
        c.fin()


def literal_23(p, k):
    """IMAP LOGIN whose literal length has 23 digits (more than any 64-bit
    number, RFC 9051 §4.3 number64), and a server that says OK.  Sane: the
    line is malformed and no credential is reported."""
    c = Conn(p, 40004, 143)
    c.handshake()
    c.s(b"* OK IMAP4rev1 ready\r\n")
    c.c(b"a1 LOGIN {99999999999999999999999}\r\n")
    c.s(b"a1 OK done\r\n")
    c.c(b"a2 LOGOUT\r\n")
    c.s(b"* BYE\r\na2 OK\r\n")
    c.fin()


def literal_max(p, k):
    """IMAP LOGIN with a literal of 4294967295 bytes (2^32 - 1), the server's
    go-ahead, then 1 MB x scale of literal bytes and the end of the capture."""
    c = Conn(p, 40005, 143)
    c.handshake()
    c.s(b"* OK IMAP4rev1 ready\r\n")
    c.c(b"a1 LOGIN {4294967295}\r\n")
    c.s(b"+ go ahead\r\n")
    c.c(b"x" * int(1024 * 1024 * k))
    c.fin()


def line_20mb(p, k):
    """A POP3 client line of 20 MB x scale without a line end, then CRLF."""
    c = Conn(p, 40006, 110)
    c.handshake()
    c.s(b"+OK POP3 ready\r\n")
    c.c(b"A" * int(20 * 1024 * 1024 * k) + b"\r\n")
    c.s(b"-ERR line too long\r\n")
    c.fin()


def auth_50k(p, k):
    """50,000 x scale failed SMTP AUTH PLAIN attempts in one session, as a
    password-guessing client sends them: each AUTH waits for its 535 (RFC 4954
    §4: AUTH is not pipelined)."""
    c = Conn(p, 40007, 587)
    c.handshake()
    c.s(b"220 mail ESMTP\r\n")
    c.c(b"EHLO me\r\n")
    c.s(b"250-mail\r\n250 AUTH PLAIN\r\n")
    for _ in range(int(50000 * k)):
        c.c(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n")
        c.s(b"535 5.7.8 Authentication failed\r\n")
    c.fin()


def body_never_ends(p, k):
    """SMTP DATA followed by 20 MB x scale of message lines and no final dot."""
    c = Conn(p, 40008, 25)
    c.handshake()
    c.s(b"220 mail ESMTP\r\n")
    c.c(b"HELO me\r\n")
    c.s(b"250 mail\r\n")
    c.c(b"MAIL FROM:<a@b>\r\n")
    c.s(b"250 ok\r\n")
    c.c(b"RCPT TO:<c@d>\r\n")
    c.s(b"250 ok\r\n")
    c.c(b"DATA\r\n")
    c.s(b"354 go\r\n")
    c.c(b"Subject: x\r\n\r\n" + b"never ending line of the body\r\n" * int(20 * 1024 * 1024 * k / 31))
    c.fin()


def tls_random(p, k):
    """Random bytes (not TLS) both ways on the implicit-TLS ports 993, 995 and
    465, 1 MB x scale each."""
    rnd = random.Random(14)
    for i, port in enumerate((993, 995, 465)):
        c = Conn(p, 40010 + i, port)
        c.handshake()
        for _ in range(int(16 * k)):
            c.s(bytes(rnd.getrandbits(8) for _ in range(32768)))
            c.c(bytes(rnd.getrandbits(8) for _ in range(32768)))
        c.fin()


def short_frames(p, k):
    """A POP3 dialogue whose frames were cut at 60 bytes (6 bytes of payload),
    the rest of each frame longer than captured."""
    c = Conn(p, 40020, 110)
    c.handshake()
    for a, b in ((b"+OK POP3 ready\r\n", None), (b"USER alice\r\n", None), (b"+OK\r\n", None),
                 (b"PASS secret\r\n", None), (b"+OK logged in\r\n", None), (b"QUIT\r\n", None)):
        side = "s" if a.startswith(b"+") else "c"
        c.send(side, a, caplen=60)
    c.fin()


SHAPES = [seq_2p31, seq_wrap, crlf, held_release, partial_sessions, sessions, synfin, literal_23,
          literal_max, line_20mb, auth_50k, body_never_ends, tls_random, short_frames]


def write(outdir, name, scale=1.0):
    """Writes OUTDIR/NAME.pcap for one shape; returns its path."""
    fn = {f.__name__.replace("_", "-"): f for f in SHAPES}[name]
    path = os.path.join(outdir, name + ".pcap")
    p = Pcap(path)
    fn(p, scale)
    p.close()
    return path


def names():
    return [f.__name__.replace("_", "-") for f in SHAPES]


def main(argv):
    scale = 1.0
    args = []
    it = iter(argv)
    for a in it:
        if a == "--scale":
            scale = float(next(it))
        else:
            args.append(a)
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    outdir, wanted = args[0], args[1:] or names()
    os.makedirs(outdir, exist_ok=True)
    for n in wanted:
        if n not in names():
            print("shapes.py: no shape %r (have: %s)" % (n, ", ".join(names())), file=sys.stderr)
            return 2
        print(write(outdir, n, scale))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
