"""Test messages and the Maildirs that hold them.

Every mailbox is rebuilt before each scenario with fixed file names and a
fixed dovecot-uidlist (UIDVALIDITY, UIDs), so POP3 UIDLs, IMAP UIDs and
sizes are the same on every run.
"""

import os

UIDVALIDITY = 1700000000

# Message 1 of alice: its body holds lines that look like POP3, IMAP and SMTP
# traffic.  A lone "." and a line starting with "." are dot-stuffed by POP3
# RETR (".." and "..hidden").
PROTOCOL_LOOKALIKE = """\
Return-Path: <mallory@example.test>
From: Mallory <mallory@example.test>
To: Alice <alice@example.test>
Subject: Lines that look like mail protocol
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <lookalike-1@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

The following lines are message content, not commands or replies:
+OK fake
USER mallory
PASS stolen
-ERR nope
a1 LOGIN x y
* OK fake
.
.hidden line that starts with a dot
MAIL FROM:<x@y>
RCPT TO:<x@y>
AUTH PLAIN AGFAYg==
QUIT
End of the message.
"""

SHORT_NOTE = """\
Return-Path: <bob@example.test>
From: Bob <bob@example.test>
To: Alice <alice@example.test>
Subject: Lab meeting
Date: Tue, 02 Jan 2024 09:30:00 +0000
Message-ID: <note-2@example.test>

See you at the lab at ten.
"""

FOR_BOB = """\
Return-Path: <alice@example.test>
From: Alice <alice@example.test>
To: Bob <bob@example.test>
Subject: Hello Bob
Date: Wed, 03 Jan 2024 08:00:00 +0000
Message-ID: <bob-1@example.test>

Hello Bob, this is a short message.
"""

FOR_CAROL = """\
Return-Path: <alice@example.test>
From: Alice <alice@example.test>
To: Carol <carol@example.test>
Subject: Hello Carol
Date: Wed, 03 Jan 2024 08:05:00 +0000
Message-ID: <carol-1@example.test>

Hello Carol, this is a short message.
"""

LATE_ARRIVAL = """\
Return-Path: <bob@example.test>
From: Bob <bob@example.test>
To: Alice <alice@example.test>
Subject: New message during IDLE
Date: Thu, 04 Jan 2024 12:00:00 +0000
Message-ID: <idle-3@example.test>

This message arrived while the client was idling.
"""

MAILBOXES = {
    "alice": [PROTOCOL_LOOKALIKE, SHORT_NOTE],
    "bob": [FOR_BOB],
    "carol": [FOR_CAROL],
}


def _write(path, text, uid, gid):
    with open(path, "w", newline="\n") as f:
        f.write(text)
    os.chown(path, uid, gid)


def _vsize(text):
    """Size with CRLF line ends (what POP3 and IMAP report)."""
    return len(text.encode()) + text.count("\n")


def file_name(n, text):
    return "%d.M%dP1.mailedu,S=%d,W=%d" % (UIDVALIDITY - 1000 + n, n, len(text.encode()),
                                            _vsize(text))


def build_home(home, user, uid, gid):
    md = os.path.join(home, "Maildir")
    for d in (home, md, md + "/cur", md + "/new", md + "/tmp"):
        os.makedirs(d, exist_ok=True)
        os.chown(d, uid, gid)
        os.chmod(d, 0o700)
    lines = []
    msgs = MAILBOXES.get(user, [])
    for n, text in enumerate(msgs, 1):
        name = file_name(n, text)
        _write(os.path.join(md, "cur", name + ":2,"), text, uid, gid)
        lines.append("%d :%s" % (n, name))
    uidlist = "3 V%d N%d G%032x\n" % (UIDVALIDITY, len(msgs) + 1, 0x6d61696c656475) + \
        "".join(l + "\n" for l in lines)
    _write(os.path.join(md, "dovecot-uidlist"), uidlist, uid, gid)


def drop_new(home, n, text, uid, gid):
    md = os.path.join(home, "Maildir")
    name = file_name(n, text)
    tmp = os.path.join(md, "tmp", name)
    _write(tmp, text, uid, gid)
    os.rename(tmp, os.path.join(md, "new", name))
    return name
