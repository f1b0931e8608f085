"""Session-fact scenarios (issue 15): what a POP3 client does with the mail
(leave it on the server, or retrieve and delete it) and who talks SMTP to whom
(a mail program submitting, a mail server relaying).  Each scenario writes the
mode or role it performed into its expected JSON under "facts", from what it
did itself (its client options, its own protocol log), never from mailedu.

The relay scenario starts a second, private Postfix ("relay.example.test")
whose only route is the lab Postfix's relay port: a message injected with its
sendmail travels MTA -> MTA, sent by Postfix's own SMTP client."""

import os
import re
import subprocess
import textwrap
import time
from collections import OrderedDict

from .cli import scenario, ScenarioError
from .clients import PopLib
from .lab import _which, _run, _alive, _kill_group
from .record import Record

RELAY_HOST = "relay.example.test"


class FactsRecord(Record):
    """A Record that also says, under "facts", which mode or role the scenario performed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.facts = OrderedDict()

    def as_dict(self):
        d = super().as_dict()
        d["facts"] = self.facts
        return d


def _expect(cond, what):
    if not cond:
        raise ScenarioError(what)


# --------------------------------------------------------------------------- POP3
def _fetchmail(ctx, rec, options, server_options=""):
    """Runs fetchmail for alice with `options` (fetchmailrc user options) and
    server_options (poll options such as uidl); returns the
    POP3 commands it logged (its -v protocol log: 'POP3> VERB ...')."""
    port = ctx.ports["pop3"]
    pw = ctx.users["alice"]
    home = ctx.lab.path("fetchmail-home-" + ctx.name)
    os.makedirs(home, exist_ok=True)
    os.chmod(home, 0o700)
    rc = ctx.tmpfile("fetchmailrc",
                     "set no syslog\n"
                     "poll 127.0.0.1 with proto POP3 port %d %s auth password\n"
                     "  user \"alice\" there with password \"%s\" is \"root\" here\n"
                     "  options %s sslproto '' mda \"/bin/cat >/dev/null\"\n"
                     % (port, server_options, pw, options))
    with ctx.capture(port):
        r = ctx.run(["fetchmail", "-v", "--nodetach", "--nosyslog", "-f", rc,
                     "--pidfile", os.path.join(home, "fetchmail.pid")],
                    env={"HOME": home, "FETCHMAILHOME": home}, timeout=60)
    log = r.stdout + r.stderr
    ctx.log(log)
    sent = re.findall(r"POP3> (\S+)(?: (\S+))?", log)
    ok = r.returncode == 0 and "POP3< +OK Logged in" in log
    rec.credential("USER-PASS", "alice", ok, password=pw)
    _expect(ok, "fetchmail failed (exit %d):\n%s" % (r.returncode, log))
    _expect("STLS" not in [v for v, _ in sent], "fetchmail used STLS")
    _expect(("QUIT", "") in sent, "fetchmail sent no QUIT")
    rec.enter("transaction")
    rec.enter("update")
    return sent


@scenario("pop3-fetchmail-keep", "pop3",
          "fetchmail 'keep uidl': retrieves both messages, compares UIDL, deletes nothing")
def pop3_fetchmail_keep(ctx):
    rec = FactsRecord("pop3", ctx.ports["pop3"], "fetchmail",
                      "fetchmail -v with 'keep uidl fetchall' (leave mail on the server): "
                      "USER/PASS, UIDL, RETR of both messages, no DELE, QUIT")
    rec.track_commands = False
    sent = _fetchmail(ctx, rec, "keep fetchall", "uidl")
    verbs = [v for v, _ in sent]
    _expect("RETR" in verbs or "TOP" in verbs, "fetchmail retrieved nothing")
    _expect("DELE" not in verbs, "fetchmail deleted although told to keep")
    _expect("UIDL" in verbs, "fetchmail did not ask UIDL")
    rec.facts["pop3_mode"] = "leave-on-server"
    rec.facts["uidl"] = True
    rec.facts["retrieved"] = sorted({a for v, a in sent if v in ("RETR", "TOP")}, key=int)
    rec.facts["deleted"] = []
    return rec


@scenario("pop3-fetchmail-delete", "pop3",
          "fetchmail 'nokeep': retrieves both messages, DELE each, QUIT (retrieve and delete)")
def pop3_fetchmail_delete(ctx):
    rec = FactsRecord("pop3", ctx.ports["pop3"], "fetchmail",
                      "fetchmail -v with 'nokeep fetchall' (the 'offline' way): USER/PASS, "
                      "RETR and DELE of both messages, QUIT so the server deletes them")
    rec.track_commands = False
    sent = _fetchmail(ctx, rec, "nokeep fetchall")
    dele = sorted({a for v, a in sent if v == "DELE"}, key=int)
    _expect(dele, "fetchmail sent no DELE although told not to keep")
    rec.facts["pop3_mode"] = "retrieve-and-delete"
    rec.facts["retrieved"] = sorted({a for v, a in sent if v in ("RETR", "TOP")}, key=int)
    rec.facts["deleted"] = dele
    return rec


@scenario("pop3-poplib-keep", "pop3",
          "poplib USER/PASS, UIDL, RETR 2, QUIT: the message stays on the server")
def pop3_poplib_keep(ctx):
    port = ctx.ports["pop3"]
    rec = FactsRecord("pop3", port, "python-poplib",
                      "USER/PASS, UIDL (compare unique ids), RETR 2, no DELE, QUIT")
    with ctx.capture(port):
        s = PopLib(rec, port)
        _expect(s.login("alice", ctx.users["alice"]), "alice's login was refused")
        s.p.uidl()
        s.p.retr(2)
        s.quit()
    rec.facts["pop3_mode"] = "leave-on-server"
    rec.facts["uidl"] = True
    rec.facts["retrieved"] = ["2"]
    rec.facts["deleted"] = []
    return rec


@scenario("pop3-poplib-no-quit", "pop3",
          "poplib RETR 1, DELE 1, then the connection is closed without QUIT (nothing deleted)")
def pop3_poplib_no_quit(ctx):
    port = ctx.ports["pop3"]
    rec = FactsRecord("pop3", port, "python-poplib",
                      "USER/PASS, RETR 1, DELE 1, then the socket is closed without QUIT: "
                      "the server never enters UPDATE and deletes nothing (RFC 1939 §6)")
    with ctx.capture(port):
        s = PopLib(rec, port)
        _expect(s.login("alice", ctx.users["alice"]), "alice's login was refused")
        s.p.retr(1)
        s.p.dele(1)
        s.p.close()
    rec.facts["pop3_mode"] = "undecided"
    rec.facts["retrieved"] = ["1"]
    rec.facts["deleted"] = ["1"]
    return rec


# --------------------------------------------------------------------------- SMTP
class RelayMTA:
    """A second Postfix whose every message goes to [127.0.0.1]:RELAY_PORT by
    Postfix's SMTP client, with its own queue and config under the lab folder."""

    def __init__(self, lab, to_port):
        self.lab, self.to_port, self.proc = lab, to_port, None
        self.dir = lab.path("postfix-relay")
        self.conf = os.path.join(self.dir, "etc")
        self.log = os.path.join(self.dir, "postfix.log")

    def _write_config(self):
        queue, data = os.path.join(self.dir, "queue"), os.path.join(self.dir, "data")
        for d in (self.conf, queue, data):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.dir, 0o755)
        import pwd
        pf = pwd.getpwnam("postfix")
        os.chown(data, pf.pw_uid, pf.pw_gid)
        main_cf = textwrap.dedent("""\
            # generated by scripts/make-captures (facts.py) -- private relaying MTA
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = {host}
            mydomain = relay.example.test
            myorigin = example.test
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            relayhost = [127.0.0.1]:{port}
            default_transport = smtp
            smtp_dns_support_level = disabled
            disable_dns_lookups = yes
            smtp_tls_security_level = none
            smtp_connection_cache_on_demand = no
            maillog_file = {log}
            maillog_file_prefixes = {d}
            biff = no
            alias_maps =
            alias_database =
            """).format(queue=queue, data=data, host=RELAY_HOST, port=self.to_port, log=self.log,
                    d=self.dir)
        master_cf = textwrap.dedent("""\
            # no listener: mail enters through sendmail/postdrop only
            pickup    unix n - n 60 1 pickup
            cleanup   unix n - n - 0 cleanup
            qmgr      unix n - n 300 1 qmgr
            rewrite   unix - - n - - trivial-rewrite
            bounce    unix - - n - 0 bounce
            defer     unix - - n - 0 bounce
            trace     unix - - n - 0 bounce
            verify    unix - - n - 1 verify
            flush     unix n - n 1000? 0 flush
            proxymap  unix - - n - - proxymap
            smtp      unix - - n - - smtp
            relay     unix - - n - - smtp
            showq     unix n - n - - showq
            error     unix - - n - - error
            retry     unix - - n - - error
            discard   unix - - n - - discard
            anvil     unix - - n - 1 anvil
            scache    unix - - n - 1 scache
            postlog   unix-dgram n - n - 1 postlogd
            """)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main_cf)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master_cf)

    def start(self):
        self._write_config()
        env = dict(os.environ)
        env.pop("MAIL_CONFIG", None)
        postfix = _which("postfix")
        _run([postfix, "-c", self.conf, "check"], env=env)
        self.proc = subprocess.Popen([postfix, "-c", self.conf, "start-fg"],
                                     stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.dir, "postfix.out"), "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env)
        pid = os.path.join(self.dir, "queue", "pid", "master.pid")
        deadline = time.monotonic() + 15
        while not os.path.exists(pid):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ScenarioError("the relaying postfix did not start")
            time.sleep(0.05)
        time.sleep(0.5)   # qmgr and pickup come up after master

    def send(self, sender, rcpt, text):
        """Injects a message with this instance's sendmail (postdrop -> pickup)."""
        r = subprocess.run([_which("sendmail") or "sendmail", "-C", self.conf, "-f", sender, rcpt],
                           input=text.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        if r.returncode != 0:
            raise ScenarioError("sendmail -C failed: %s" % r.stdout.decode("utf-8", "replace"))

    def wait_sent(self, timeout=40.0):
        """Waits for the relay's log to say the message left (status=sent)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.log, errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
            if "status=sent" in text:
                return
            if "status=deferred" in text or "status=bounced" in text:
                raise ScenarioError("the relay could not pass the message on:\n" + text[-2000:])
            time.sleep(0.2)
        raise ScenarioError("the relay sent nothing within %.0f s" % timeout)

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        master = None
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                master = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        subprocess.run([_which("postfix") or "postfix", "-c", self.conf, "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if master:
            deadline = time.monotonic() + 10
            while _alive(master) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(master):
                _kill_group(master)


MESSAGE = ("From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\n"
           "Subject: Relayed by a mail server\r\nMessage-ID: <relay-1@example.test>\r\n"
           "\r\nThis message went MUA -> MTA (relay.example.test) -> MTA (mail.example.test).\r\n")


@scenario("smtp-relay-mta", "smtp",
          "a second Postfix (relay.example.test) relays a message to the lab Postfix: MTA -> MTA",
          port="smtp")
def smtp_relay_mta(ctx):
    port = ctx.ports["smtp"]
    rec = FactsRecord("smtp", port, "postfix-smtp",
                      "Postfix's own SMTP client (a second instance, myhostname %s, relayhost "
                      "the lab Postfix) passes one message on: EHLO %s, MAIL, RCPT, DATA, QUIT; "
                      "no AUTH" % (RELAY_HOST, RELAY_HOST))
    rec.track_commands = False
    mta = RelayMTA(ctx.lab, port)
    try:
        mta.start()
        with ctx.capture(port):
            mta.send("alice@example.test", "bob@example.test", MESSAGE)
            mta.wait_sent()
    finally:
        mta.stop()
    for p in ("hello", "envelope", "data", "quit"):
        rec.enter(p)
    rec.facts["smtp_role"] = "relay"
    rec.facts["messages"] = 1
    return rec


@scenario("smtp-submission-swaks", "smtp",
          "swaks as a mail program: EHLO with an address literal, AUTH PLAIN on the submission "
          "port, one message (MUA -> MTA)",
          port="submission")
def smtp_submission_swaks(ctx):
    port = ctx.ports["submission"]
    pw = ctx.users["alice"]
    rec = FactsRecord("smtp", port, "swaks",
                      "swaks --ehlo [127.0.0.1] --auth PLAIN (alice) on the submission port: "
                      "a mail program hands one message to its server")
    rec.track_commands = False
    with ctx.capture(port):
        r = ctx.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                     "--ehlo", "[127.0.0.1]", "--from", "alice@example.test",
                     "--to", "bob@example.test", "--auth", "PLAIN", "--auth-user", "alice",
                     "--auth-password", pw, "--timeout", "20"])
    ctx.log(r.stdout + r.stderr)
    sent = re.findall(r"^ *-> (.*)$", r.stdout, re.M)
    ok = r.returncode == 0
    rec.credential("PLAIN", "alice", ok, password=pw)
    _expect(ok, "swaks failed (exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    _expect(any(l.upper().startswith("AUTH PLAIN") for l in sent), "swaks did not use AUTH PLAIN")
    for p in ("hello", "auth", "envelope", "data", "quit"):
        rec.enter(p)
    rec.facts["smtp_role"] = "submission"
    rec.facts["messages"] = 1
    return rec


@scenario("smtp-mua-noauth", "smtp",
          "swaks as an old mail program: EHLO with a bare computer name, no AUTH, on the "
          "relay port (MUA -> MTA without login)",
          port="smtp")
def smtp_mua_noauth(ctx):
    port = ctx.ports["smtp"]
    rec = FactsRecord("smtp", port, "swaks",
                      "swaks --ehlo LAB-PC-07 (a workstation name, as desktop mail programs "
                      "send) without AUTH on the relay port: one message")
    rec.track_commands = False
    with ctx.capture(port):
        r = ctx.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                     "--ehlo", "LAB-PC-07", "--from", "alice@example.test",
                     "--to", "bob@example.test", "--timeout", "20"])
    ctx.log(r.stdout + r.stderr)
    _expect(r.returncode == 0, "swaks failed (exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    for p in ("hello", "envelope", "data", "quit"):
        rec.enter(p)
    rec.facts["smtp_role"] = "submission"
    rec.facts["messages"] = 1
    return rec
