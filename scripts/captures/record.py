"""What a scenario did, written as NAME.expected.json.

The record is kept by the scenario itself while it runs: the commands it
sent, the phase it was in when it sent each (its own knowledge of the
protocol state: login accepted or not, mailbox selected or not, ...), the
credentials it used and whether the server accepted them.  Nothing here
looks at the capture.

Phase conventions (SPEC.md):
  POP3  auth -> transaction (login accepted) -> update (QUIT sent in transaction)
  IMAP  auth -> authenticated (LOGIN/AUTHENTICATE OK) -> selected (SELECT/EXAMINE OK);
        CLOSE/UNSELECT or a failed SELECT -> authenticated; LOGOUT -> logout
  SMTP  EHLO/HELO are 'hello', AUTH is 'auth', MAIL/RCPT are 'envelope', DATA is 'data'
        (through the end-of-data reply), QUIT is 'quit', RSET returns to 'hello'.
A command is recorded with the phase it is sent in: for POP3 and IMAP that is
the phase before the command takes effect; for SMTP, whose phases are named
after the commands, it is the phase of the verb (SPEC's table).  Commands
whose verb does not name a phase (STARTTLS, NOOP, ...) keep the current one.
"""

import json
from collections import OrderedDict

SMTP_VERB_PHASE = {
    "EHLO": "hello", "HELO": "hello", "LHLO": "hello", "RSET": "hello",
    "AUTH": "auth",
    "MAIL": "envelope", "RCPT": "envelope",
    "DATA": "data", "BDAT": "data",
    "QUIT": "quit",
}


class Record:
    def __init__(self, protocol, server_port, client, description, first_phase=None):
        self.protocol = protocol
        self.server_port = server_port
        self.client = client
        self.description = description
        self.credentials = []
        self.verdicts = []
        self.commands = []
        self.track_commands = True
        self.phases = []
        self.phase = None
        self.tls = False
        self.keylog = None
        self.notes = None
        self.enter(first_phase or {"pop3": "auth", "imap": "auth", "smtp": "greeting"}[protocol])

    # -- phases -------------------------------------------------------------
    def enter(self, phase):
        if phase != self.phase:
            self.phase = phase
            self.phases.append(phase)

    # -- commands -----------------------------------------------------------
    def sent(self, line):
        """Record a command line the client sent (str or bytes); returns the verb."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        words = line.split()
        verb = words[0].upper() if words else ""
        if self.protocol == "imap":
            # IMAP lines start with a tag; UID FETCH etc. are two words.
            verb = words[1].upper() if len(words) > 1 else ""
            if verb == "UID" and len(words) > 2:
                verb = "UID " + words[2].upper()
        return self.sent_verb(verb)

    def sent_verb(self, verb):
        verb = verb.upper()
        if self.protocol == "smtp" and verb in SMTP_VERB_PHASE:
            self.enter(SMTP_VERB_PHASE[verb])
        if self.track_commands:
            self.commands.append(OrderedDict([("command", verb), ("phase", self.phase)]))
        if self.protocol == "pop3" and verb == "QUIT" and self.phase == "transaction":
            self.enter("update")
        if self.protocol == "imap" and verb == "LOGOUT":
            self.enter("logout")
        return verb

    def replied(self, verb, ok):
        """The server's final reply to VERB: ok True/False.  Moves the phase."""
        verb = verb.upper()
        p = self.protocol
        if p == "pop3":
            if ok and verb in ("PASS", "APOP", "AUTH") and self.phase == "auth":
                self.enter("transaction")
        elif p == "imap":
            if ok and verb in ("LOGIN", "AUTHENTICATE") and self.phase == "auth":
                self.enter("authenticated")
            elif verb in ("SELECT", "EXAMINE"):
                self.enter("selected" if ok else "authenticated")
            elif ok and verb in ("CLOSE", "UNSELECT"):
                self.enter("authenticated")

    # -- credentials ----------------------------------------------------------
    def credential(self, mechanism, username, result, password=None, password_known=None,
                   failure=None):
        c = OrderedDict([("mechanism", mechanism), ("username", username)])
        if password is not None:
            c["password"] = password
        if password_known is not None:
            c["password_known"] = password_known
        c["result"] = "success" if result in (True, "success") else "failure"
        if failure is not None:
            c["failure"] = failure
        self.credentials.append(c)
        return c

    def verdict(self, mechanism, reply, failure):
        """Every AUTH the scenario sent, credential or not, with the server's
        final reply code and what that reply says of the secret (failure:
        None when it succeeded; see smtp.py's _auth_failure)."""
        self.verdicts.append(OrderedDict([("mechanism", mechanism), ("reply", reply),
                                          ("failure", failure)]))

    # -- output -----------------------------------------------------------------
    def as_dict(self):
        d = OrderedDict()
        d["protocol"] = self.protocol
        d["server_port"] = self.server_port
        d["client"] = self.client
        d["description"] = self.description
        if self.credentials:
            d["credentials"] = self.credentials
        if self.verdicts:
            d["auth_verdicts"] = self.verdicts
        if self.track_commands and self.commands:
            d["commands"] = self.commands
        d["phases"] = self.phases
        d["tls"] = bool(self.tls)
        if self.keylog:
            d["keylog"] = self.keylog
        return d

    def to_json(self):
        """Pretty JSON with one line per credential/command (easy to diff)."""
        d = self.as_dict()
        parts = []
        for k, v in d.items():
            if isinstance(v, list) and v and isinstance(v[0], dict):
                inner = ",\n".join("    " + json.dumps(x) for x in v)
                parts.append("  %s: [\n%s\n  ]" % (json.dumps(k), inner))
            else:
                parts.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
        return "{\n" + ",\n".join(parts) + "\n}\n"

    def write(self, path):
        text = self.to_json()
        json.loads(text)
        with open(path, "w") as f:
            f.write(text)
