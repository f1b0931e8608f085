"""Private mail servers on loopback: one Dovecot (POP3/IMAP) and one Postfix (SMTP).

Everything lives in a temporary directory: configuration, TLS certificate,
mailboxes, sockets, logs and queues.  The servers are started in the
foreground with known PIDs and stopped by `Lab.stop()` (called from a
`finally` block and from signal handlers in the entry point).
"""

import os
import pwd
import grp
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time

from . import mailboxes

HOSTNAME = "mail.example.test"

PORTS = {
    "pop3": 11110,
    "pop3s": 11995,
    "imap": 11143,
    "imaps": 11993,
    "smtp": 11025,          # plain relay listener, no AUTH
    "submission": 11587,    # AUTH (Dovecot SASL) + STARTTLS
    "smtps": 11465,         # AUTH (Dovecot SASL) on implicit TLS
}

# user -> password.  bob's contains a space, carol's a double quote and a
# backslash (IMAP quoting).
USERS = {
    "alice": "alicepw",
    "bob": "b0b pass",
    "carol": 'c"q\\x',
}

MAIL_UID = 65534   # nobody
MAIL_GID = 65534   # nogroup

REJECTED_RCPT = "nobody@example.test"


class SetupError(RuntimeError):
    pass


def _listening(port, host="127.0.0.1"):
    """True if something listens on host:port (read from /proc, no connection made)."""
    want_port = "%04X" % port
    want_host = "".join("%02X" % int(x) for x in reversed(host.split(".")))
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                addr, state = parts[1], parts[3]
                h, p = addr.split(":")
                if p == want_port and state == "0A" and h in (want_host, "00000000"):
                    return True
    except OSError:
        pass
    return False


def _which(tool):
    """Path of an admin tool, also when /usr/sbin is not on PATH."""
    found = shutil.which(tool)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/bin"):
        p = os.path.join(d, tool)
        if os.access(p, os.X_OK):
            return p
    return None


def _run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        raise SetupError("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd),
                                                          r.stdout.decode("utf-8", "replace")))
    return r.stdout.decode("utf-8", "replace")


def _tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log at %s)" % path


class Lab:
    def __init__(self, keep=False, verbose=False):
        self.keep = keep
        self.verbose = verbose
        self.dir = tempfile.mkdtemp(prefix="mailedu-captures-")
        os.chmod(self.dir, 0o755)   # the mail uid and postfix must traverse it
        self.dovecot = None
        self.postfix = None
        self.postfix_dir = os.path.join(self.dir, "postfix")
        self.cert = os.path.join(self.dir, "tls", "cert.pem")
        self.key = os.path.join(self.dir, "tls", "key.pem")
        self.ports = dict(PORTS)
        self.users = dict(USERS)
        self.hostname = HOSTNAME
        self.auth_socket = os.path.join(self.dir, "dovecot-run", "auth-postfix")

    def log(self, msg):
        if self.verbose:
            print("  [lab] " + msg, flush=True)

    # -- common ------------------------------------------------------------
    def path(self, *p):
        return os.path.join(self.dir, *p)

    def make_cert(self):
        if os.path.exists(self.cert):
            return
        os.makedirs(os.path.dirname(self.cert), exist_ok=True)
        _run([_which("openssl") or "openssl", "req", "-x509", "-newkey", "ec",
              "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", self.key, "-out", self.cert, "-days", "3650",
              "-subj", "/CN=" + HOSTNAME,
              "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % HOSTNAME])
        os.chmod(self.key, 0o600)

    def check_ports_free(self, names):
        busy = [n for n in names if _listening(self.ports[n])]
        if busy:
            raise SetupError("port(s) already in use on 127.0.0.1: %s -- stop whatever listens "
                             "there (a previous run?) and try again"
                             % ", ".join("%s=%d" % (n, self.ports[n]) for n in busy))

    def wait_listening(self, names, proc, what, log, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            if all(_listening(self.ports[n]) for n in names):
                return
            if proc.poll() is not None:
                raise SetupError("%s exited during start-up (status %s). Log tail:\n%s"
                                 % (what, proc.returncode, _tail(log)))
            if time.monotonic() > deadline:
                raise SetupError("%s did not listen on %s within %.0f s. Log tail:\n%s"
                                 % (what, ", ".join(str(self.ports[n]) for n in names),
                                    timeout, _tail(log)))
            time.sleep(0.05)

    # -- mailboxes ---------------------------------------------------------
    def reset_mail(self):
        """Give every user a fresh Maildir with the same messages and UIDs."""
        home_root = self.path("home")
        if os.path.isdir(home_root):
            shutil.rmtree(home_root)
        os.makedirs(home_root)
        os.chmod(home_root, 0o755)
        for user in self.users:
            mailboxes.build_home(os.path.join(home_root, user), user, MAIL_UID, MAIL_GID)

    def deliver_now(self, user, name, text):
        """Drop a message into user's Maildir/new (as a local delivery agent would)."""
        return mailboxes.drop_new(self.path("home", user), name, text, MAIL_UID, MAIL_GID)

    # -- dovecot -----------------------------------------------------------
    def start_dovecot(self):
        for tool in ("dovecot", "openssl"):
            if _which(tool) is None:
                raise SetupError("%s not found: install dovecot-core dovecot-pop3d "
                                 "dovecot-imapd openssl" % tool)
        for u in ("dovecot", "dovenull"):
            try:
                pwd.getpwnam(u)
            except KeyError:
                raise SetupError("system user %r missing: is dovecot-core installed?" % u)
        self.check_ports_free(["pop3", "pop3s", "imap", "imaps"])
        self.make_cert()
        self.reset_mail()
        for d in ("dovecot-run", "dovecot-state"):
            os.makedirs(self.path(d), exist_ok=True)
        passwd = self.path("dovecot-passwd")
        with open(passwd, "w") as f:
            for user, pw in self.users.items():
                if ":" in pw or "\n" in pw:
                    raise SetupError("password of %s cannot go in a passwd-file" % user)
                f.write("%s:{PLAIN}%s\n" % (user, pw))
        os.chown(passwd, 0, grp.getgrnam("dovecot").gr_gid)
        os.chmod(passwd, 0o640)   # read by the auth process (user dovecot)
        p = self.ports
        dh = "/usr/share/dovecot/dh.pem"
        conf = textwrap.dedent("""\
            # generated by scripts/make-captures -- private test instance
            base_dir = {dir}/dovecot-run
            state_dir = {dir}/dovecot-state
            instance_name = mailedu-captures
            log_path = {dir}/dovecot.log
            info_log_path = {dir}/dovecot.log
            debug_log_path = {dir}/dovecot.log
            protocols = pop3 imap
            listen = 127.0.0.1
            hostname = {host}
            login_greeting = mailedu test server ready.
            disable_plaintext_auth = no
            auth_mechanisms = plain login cram-md5 apop
            auth_failure_delay = 0
            auth_verbose = yes
            ssl = yes
            ssl_cert = <{cert}
            ssl_key = <{key}
            {dh_line}
            ssl_min_protocol = TLSv1.2
            mail_location = maildir:~/Maildir
            mail_uid = {uid}
            mail_gid = {gid}
            first_valid_uid = 1
            pop3_uidl_format = %08Xu%08Xv
            mailbox_list_index = no
            # COMPRESS=DEFLATE (RFC 4978) for the imap-compress scenario
            mail_plugins = $mail_plugins zlib
            protocol imap {{
              mail_plugins = $mail_plugins imap_zlib
            }}
            shutdown_clients = yes
            passdb {{
              driver = passwd-file
              args = scheme=PLAIN {passwd}
            }}
            userdb {{
              driver = static
              args = uid={uid} gid={gid} home={dir}/home/%u
            }}
            namespace inbox {{
              inbox = yes
              separator = /
            }}
            service pop3-login {{
              inet_listener pop3 {{
                address = 127.0.0.1
                port = {pop3}
              }}
              inet_listener pop3s {{
                address = 127.0.0.1
                port = {pop3s}
                ssl = yes
              }}
            }}
            service imap-login {{
              inet_listener imap {{
                address = 127.0.0.1
                port = {imap}
              }}
              inet_listener imaps {{
                address = 127.0.0.1
                port = {imaps}
                ssl = yes
              }}
            }}
            # no growing delay after failed logins (several scenarios fail on purpose)
            service anvil {{
              unix_listener anvil-auth-penalty {{
                mode = 0
              }}
            }}
            service auth {{
              unix_listener auth-postfix {{
                mode = 0666
              }}
            }}
            """).format(dir=self.dir, host=HOSTNAME, cert=self.cert, key=self.key,
                        dh_line=("ssl_dh = <%s" % dh) if os.path.exists(dh) else "",
                        uid=MAIL_UID, gid=MAIL_GID, passwd=passwd, sock=self.auth_socket,
                        pop3=p["pop3"], pop3s=p["pop3s"], imap=p["imap"], imaps=p["imaps"])
        conf_path = self.path("dovecot.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        log = self.path("dovecot.log")
        self.log("starting dovecot -F -c %s" % conf_path)
        self.dovecot = subprocess.Popen([_which("dovecot"), "-F", "-c", conf_path],
                                        stdin=subprocess.DEVNULL,
                                        stdout=open(self.path("dovecot.out"), "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_listening(["pop3", "pop3s", "imap", "imaps"], self.dovecot, "dovecot",
                                self.path("dovecot.out") if not os.path.exists(log) else log)
            deadline = time.monotonic() + 10
            while not os.path.exists(self.auth_socket):
                if time.monotonic() > deadline:
                    raise SetupError("dovecot auth socket %s did not appear" % self.auth_socket)
                time.sleep(0.05)
        except SetupError as e:
            out = _tail(self.path("dovecot.out"))
            self.stop_dovecot()
            raise SetupError("%s\ndovecot output:\n%s" % (e, out))
        self.log("dovecot pid %d" % self.dovecot.pid)

    def stop_dovecot(self):
        proc, self.dovecot = self.dovecot, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # dovecot's master stops its children; make sure none of the
        # session we created survives it.
        _kill_group(proc.pid)

    # -- postfix -----------------------------------------------------------
    def start_postfix(self):
        if self.dovecot is None:
            raise SetupError("postfix needs the dovecot auth socket: start dovecot first")
        if _which("postfix") is None:
            raise SetupError("postfix not found: install the postfix package")
        for u, g in (("postfix", "postfix"), (None, "postdrop")):
            try:
                if u:
                    pwd.getpwnam(u)
                grp.getgrnam(g)
            except KeyError:
                raise SetupError("system user/group for postfix missing: is postfix installed?")
        self.check_ports_free(["smtp", "submission", "smtps"])
        self.make_cert()
        d = self.postfix_dir
        conf_dir = os.path.join(d, "etc")
        queue = os.path.join(d, "queue")
        data = os.path.join(d, "data")
        os.makedirs(conf_dir, exist_ok=True)
        os.makedirs(queue, exist_ok=True)
        os.makedirs(data, exist_ok=True)
        os.chmod(d, 0o755)
        pf = pwd.getpwnam("postfix")
        os.chown(data, pf.pw_uid, pf.pw_gid)
        log = os.path.join(d, "postfix.log")
        access = os.path.join(conf_dir, "recipient_access")
        with open(access, "w") as f:
            f.write("%s 550 5.1.1 No such user here\n"
                    % REJECTED_RCPT)
        main_cf = textwrap.dedent("""\
            # generated by scripts/make-captures -- private test instance
            compatibility_level = 3.6
            queue_directory = {queue}
            data_directory = {data}
            mail_owner = postfix
            setgid_group = postdrop
            myhostname = {host}
            mydomain = example.test
            myorigin = $mydomain
            mydestination = example.test, $myhostname, localhost
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            smtp_dns_support_level = disabled
            disable_dns_lookups = yes
            smtpd_banner = $myhostname ESMTP mailedu test server
            maillog_file = {log}
            maillog_file_prefixes = {d}
            biff = no
            alias_maps =
            alias_database =
            local_recipient_maps =
            default_transport = discard:
            relay_transport = discard:
            local_transport = discard:
            virtual_transport = discard:
            smtpd_recipient_restrictions =
              check_recipient_access texthash:{access},
              permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
            smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
              reject_unauth_destination
            smtpd_sasl_type = dovecot
            smtpd_sasl_path = {sock}
            smtpd_sasl_auth_enable = no
            smtpd_tls_cert_file = {cert}
            smtpd_tls_key_file = {key}
            smtpd_tls_security_level = none
            smtpd_tls_loglevel = 1
            message_size_limit = 20480000
            """).format(queue=queue, data=data, host=HOSTNAME, log=log, access=access,
                        sock=self.auth_socket, cert=self.cert, key=self.key, d=d)
        p = self.ports
        master_cf = textwrap.dedent("""\
            # generated by scripts/make-captures -- private test instance
            127.0.0.1:{smtp} inet n - n - - smtpd
              -o syslog_name=postfix/relay
            127.0.0.1:{sub} inet n - n - - smtpd
              -o syslog_name=postfix/submission
              -o smtpd_sasl_auth_enable=yes
              -o smtpd_tls_security_level=may
              -o smtpd_tls_auth_only=no
            127.0.0.1:{smtps} inet n - n - - smtpd
              -o syslog_name=postfix/smtps
              -o smtpd_tls_wrappermode=yes
              -o smtpd_sasl_auth_enable=yes
            cleanup   unix n - n - 0 cleanup
            qmgr      unix n - n 300 1 qmgr
            tlsmgr    unix - - n 1000? 1 tlsmgr
            rewrite   unix - - n - - trivial-rewrite
            bounce    unix - - n - 0 bounce
            defer     unix - - n - 0 bounce
            trace     unix - - n - 0 bounce
            verify    unix - - n - 1 verify
            flush     unix n - n 1000? 0 flush
            proxymap  unix - - n - - proxymap
            proxywrite unix - - n - 1 proxymap
            smtp      unix - - n - - smtp
            relay     unix - - n - - smtp
            showq     unix n - n - - showq
            error     unix - - n - - error
            retry     unix - - n - - error
            discard   unix - - n - - discard
            local     unix - n n - - local
            virtual   unix - n n - - virtual
            lmtp      unix - - n - - lmtp
            anvil     unix - - n - 1 anvil
            scache    unix - - n - 1 scache
            postlog   unix-dgram n - n - 1 postlogd
            """).format(smtp=p["smtp"], sub=p["submission"], smtps=p["smtps"])
        with open(os.path.join(conf_dir, "main.cf"), "w") as f:
            f.write(main_cf)
        with open(os.path.join(conf_dir, "master.cf"), "w") as f:
            f.write(master_cf)
        env = dict(os.environ)
        env.pop("MAIL_CONFIG", None)
        # 'postfix check' creates the queue directories with the right owners.
        try:
            _run([_which("postfix"), "-c", conf_dir, "check"], env=env)
        except SetupError as e:
            # postfix reports to syslog unless stderr is a terminal: get its words
            r = subprocess.run(["script", "-qec", "%s -c %s check" % (_which("postfix"), conf_dir),
                                "/dev/null"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            raise SetupError("%s%s" % (e, r.stdout.decode("utf-8", "replace")))
        self.log("starting postfix -c %s start-fg" % conf_dir)
        self.postfix_conf = conf_dir
        self.postfix = subprocess.Popen([_which("postfix"), "-c", conf_dir, "start-fg"],
                                        stdin=subprocess.DEVNULL,
                                        stdout=open(os.path.join(d, "postfix.out"), "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=env)
        try:
            self.wait_listening(["smtp", "submission", "smtps"], self.postfix, "postfix", log)
        except SetupError as e:
            out = _tail(os.path.join(d, "postfix.out"))
            self.stop_postfix()
            raise SetupError("%s\npostfix output:\n%s" % (e, out))
        self.log("postfix started (process group %d)" % self.postfix.pid)

    def stop_postfix(self):
        proc, self.postfix = self.postfix, None
        if proc is None:
            return
        master = None
        try:
            with open(os.path.join(self.postfix_dir, "queue", "pid", "master.pid")) as f:
                master = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        subprocess.run([_which("postfix") or "postfix", "-c", self.postfix_conf, "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if master:
            # master runs in a session of its own; it stops its children itself
            deadline = time.monotonic() + 10
            while _alive(master) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(master):
                _kill_group(master)
        # start-fg runs postfix-script, which runs master in its own process
        # group (the session we created): stop whatever is left of it.
        _kill_group(proc.pid)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    # -- all -----------------------------------------------------------------
    def stop(self):
        try:
            self.stop_postfix()
        finally:
            try:
                self.stop_dovecot()
            finally:
                # Anything still running from our directory is ours (e.g. a
                # postfix master interrupted half-way through its start-up).
                _sweep(self.dir)
                if not self.keep:
                    shutil.rmtree(self.dir, ignore_errors=True)
                else:
                    print("lab directory kept: %s" % self.dir)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def _pids_under(directory):
    """PIDs of processes whose working directory lies in DIRECTORY (our temp dir)."""
    pids = []
    prefix = os.path.realpath(directory)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % entry)
        except OSError:
            continue
        cwd = cwd[:-len(" (deleted)")] if cwd.endswith(" (deleted)") else cwd
        if (cwd == prefix or cwd.startswith(prefix + "/")) and _alive(int(entry)):
            pids.append(int(entry))
    return pids


def _sweep(directory):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _pids_under(directory)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)


def _kill_group(pgid):
    """Stop what remains of the process group (session) we created for a server."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        for _ in range(40):
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
