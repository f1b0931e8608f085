#!/usr/bin/env python3
"""GUI test: the real Wireshark (Qt) under xvfb-run, with the mailedu profile installed
by scripts/install-profile into a fresh configuration folder and the built plugin,
opens test-captures/pop3-userpass-fail-retry.pcapng; the screenshot's pixels must show
the profile's colors on the rows of known frames, and the Phase and User columns.

Frames, found by hand from the capture bytes (tshark -x, no plugin) and RFC 1939:
4 greeting, 6 "USER alice", 8 "+OK", 12 "USER bob", 14 "+OK": AUTHORIZATION;
9 "PASS wrongpw", 15 "PASS b0b pass": a password in clear; 11 "-ERR [AUTH]
Authentication failed.": failed login; 17 "+OK Logged in." (still AUTHORIZATION: the
line causing a transition belongs to the old phase); 18 "STAT", 19 "+OK 1 229",
20 "QUIT": TRANSACTION; 22 "+OK Logging out.": UPDATE; 2, 3, 5, 7, 10: TCP without
payload, not mail. The session's user is known from frame 17 on (bob).
Skips (exit 0, with a message) when no X server or Wireshark can be had.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_shot  # noqa: E402
from mailedu_test import CAPTURES, ROOT, Checker, temp_dir  # noqa: E402  (path set by gui_shot)

missing = gui_shot.missing_tools()
if missing:
    print("SKIP [gui] not installed: %s (scripts/install-deps --tests installs them)" % ", ".join(missing))
    sys.exit(0)

c = Checker("gui")


def profile_colors():
    """{rule name: background (r, g, b)} from profile/mailedu/colorfilters."""
    out = {}
    for line in open(os.path.join(ROOT, "profile", "mailedu", "colorfilters"), encoding="utf-8"):
        m = re.match(r"@([^@]+)@[^@]+@\[(\d+),(\d+),(\d+)\]", line)
        if m:
            out[m.group(1)] = tuple(int(v) >> 8 for v in m.groups()[1:])
    return out


def row_mode(row):
    """The most frequent color of a scanline: a packet row's background."""
    count = {}
    for px in row:
        count[px] = count.get(px, 0) + 1
    return max(count, key=count.get)


def text_segments(img, y0, y1, bg, gap=6):
    """x ranges [(x0, x1)] where the lines y0..y1 have pixels far from the background
    bg (text), with gaps up to `gap` pixels merged (letters of one word)."""
    xs = sorted({x for y in range(y0, y1) for x, px in enumerate(img[y])
                 if sum(abs(a - b) for a, b in zip(px, bg)) > 150})
    segs = []
    for x in xs:
        if segs and x - segs[-1][1] <= gap:
            segs[-1][1] = x
        else:
            segs.append([x, x])
    return [tuple(s) for s in segs]


def overlaps(seg, segs):
    return any(seg[0] <= s[1] and s[0] <= seg[1] for s in segs)


colors = profile_colors()
AUTH, CLEAR = colors["mailedu: POP3 authorization (auth)"], colors["mailedu: password or token readable"]
FAILED, TRANS = colors["mailedu: failed login"], colors["mailedu: POP3 transaction"]
UPDATE = colors["mailedu: POP3 update"]
WANT = {4: AUTH, 6: AUTH, 8: AUTH, 9: CLEAR, 11: FAILED, 12: AUTH, 14: AUTH, 15: CLEAR, 17: AUTH,
        18: TRANS, 19: TRANS, 20: TRANS, 22: UPDATE}
TCP = [2, 3, 5, 7, 10]

png = os.path.join(temp_dir("mailedu-guitest-"), "shot.png")
try:
    gui_shot.screenshot(os.path.join(CAPTURES, "pop3-userpass-fail-retry.pcapng"), png)
except RuntimeError as e:
    if "xvfb-run" in str(e) and "Xvfb" in str(e):  # no X server can be started here
        print("SKIP [gui] %s" % e)
        sys.exit(0)
    c.check(False, "screenshot: %s" % e)
    c.done()
width, height, img = gui_shot.pixels(png)
print("gui: screenshot %s (%dx%d)" % (png, width, height))
modes = [row_mode(r) for r in img]

# the first band of POP3-auth background is frame 4 (frames 1-3 are TCP), alone
# (frame 5 is TCP): its top and height give every row's place
top = next((y for y, m in enumerate(modes) if m == AUTH), None)
if not c.check(top is not None, "some row has the POP3 auth background %s" % (AUTH,)):
    c.done()
h = 0
while modes[top + h] == AUTH:
    h += 1
c.check(12 <= h <= 40, "row height %d px" % h)


def center(frame):
    return top + (frame - 4) * h + h // 2


for frame, want in sorted(WANT.items()):
    c.eq(modes[center(frame)], want, "frame %d row background" % frame)
for frame in TCP:
    c.check(modes[center(frame)] not in colors.values(), "frame %d (TCP) is not colored by mailedu: %s"
            % (frame, modes[center(frame)]))

# Columns: a column that has text on the mail rows before login (4, 6, 8: "auth") and
# none on TCP rows is the Phase column; one with text on rows 18-22 ("bob") and none
# on rows 4-8 nor TCP rows is the User column. Wireshark's default columns have neither.
segs = {f: text_segments(img, center(f) - h // 2 + 2, center(f) + h // 2 - 1, modes[center(f)])
        for f in [2, 3, 4, 5, 6, 7, 8, 18, 19, 20, 22]}
tcp_segs = [s for f in (2, 3, 5, 7) for s in segs[f]]
phase = [s for s in segs[4] if not overlaps(s, tcp_segs) and all(overlaps(s, segs[f]) for f in (6, 8))]
c.check(len(phase) == 1, "one Phase column (text on auth rows, none on TCP rows): %s" % phase)
early = tcp_segs + segs[4] + segs[6] + segs[8]
user = [s for s in segs[18] if not overlaps(s, early) and all(overlaps(s, segs[f]) for f in (19, 20, 22))]
c.check(len(user) == 1, "one User column (text once logged in, none before): %s" % user)
if phase and user:
    c.check(phase[0][1] < user[0][0], "Phase column left of User column")
c.done()
