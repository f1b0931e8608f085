"""Entry point logic of scripts/make-captures."""

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import traceback

from .dumpcap import Capture, stop_all
from .lab import Lab, SetupError, PORTS

SCENARIOS = []          # in the documented order
_BY_NAME = {}


def scenario(name, protocol, summary, port=None):
    """Register a scenario function f(ctx) -> Record; PORT names the server port
    (a key of lab.PORTS; default: the protocol's plain port)."""
    def deco(fn):
        if name in _BY_NAME:
            raise ValueError("duplicate scenario " + name)
        entry = {"name": name, "protocol": protocol, "summary": summary, "fn": fn,
                 "port": port or protocol}
        SCENARIOS.append(entry)
        _BY_NAME[name] = entry
        return fn
    return deco


class ScenarioError(RuntimeError):
    pass


class Ctx:
    def __init__(self, lab, out_dir, name, verbose):
        self.lab = lab
        self.out_dir = out_dir
        self.name = name
        self.verbose = verbose
        self.pcap_path = os.path.join(out_dir, name + ".pcapng")
        self.captures = []
        self.keylog_path = None

    @property
    def ports(self):
        return self.lab.ports

    @property
    def users(self):
        return self.lab.users

    def log(self, msg):
        if self.verbose:
            print("  " + msg, flush=True)

    def keylog(self, record):
        """Path of NAME.keys (removed first); noted in the record."""
        path = os.path.join(self.out_dir, self.name + ".keys")
        if os.path.exists(path):
            os.unlink(path)
        self.keylog_path = path
        record.keylog = os.path.basename(path)
        return path

    @contextlib.contextmanager
    def capture(self, port):
        cap = Capture(port, self.pcap_path)
        self.captures.append(cap)
        try:
            cap.start()
            yield cap
        except BaseException:
            cap.abort()
            raise
        closed = cap.wait_closed(timeout=10.0)
        time.sleep(0.2)    # anything that straggles after the last ACK
        cap.stop()
        s = cap.summary()
        if s["connections"] == 0:
            raise ScenarioError("no TCP connection was captured on port %d" % port)
        if not closed:
            raise ScenarioError("the session on port %d did not close within 10 s "
                                "(%d of %d connections closed)"
                                % (port, s["closed"], s["connections"]))
        self.log("captured %d packets, %d connection(s)" % (s["packets"], s["connections"]))

    def run(self, cmd, timeout=60, env=None, input=None):
        """Run a client program; returns CompletedProcess with text stdout/stderr."""
        self.log("$ " + " ".join(cmd))
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            stdin = {} if input is not None else {"stdin": subprocess.DEVNULL}
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               input=input, timeout=timeout, env=full_env, **stdin)
        except FileNotFoundError:
            raise ScenarioError("%s not found (see scripts/captures/DEPENDENCIES)" % cmd[0])
        except subprocess.TimeoutExpired:
            raise ScenarioError("%s did not finish within %d s" % (cmd[0], timeout))
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        return r

    def tmpfile(self, name, content, mode=0o600):
        path = self.lab.path("client-" + self.name + "-" + name)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, mode)
        return path


def _remove_outputs(out_dir, name):
    """A failed scenario leaves nothing behind that could pass for its result."""
    for ext in (".pcapng", ".expected.json", ".keys"):
        p = os.path.join(out_dir, name + ext)
        if os.path.exists(p):
            os.unlink(p)


def _load_scenarios():
    from . import pop3, imap, smtp, negative, tunnel, facts, negative_kv  # noqa: F401  (registration order = file order)


def write_readme(out_dir):
    from .readme import render
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(render(SCENARIOS))


def main(argv=None):
    _load_scenarios()
    ap = argparse.ArgumentParser(
        prog="make-captures",
        description="Regenerate the mailedu test captures from real servers (Dovecot, "
                    "Postfix) and real clients on loopback. Needs root (dumpcap on lo).")
    ap.add_argument("--only", metavar="NAME[,NAME...]",
                    help="only these scenarios (comma separated; prefixes such as 'pop3-' "
                         "are not expanded, use --list to see the names)")
    ap.add_argument("--out", metavar="DIR", default=None,
                    help="output directory (default: test-captures/ of the repository)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--keep-lab", action="store_true",
                    help="keep the temporary server directory (configs, logs) for debugging")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    if args.list:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        for s in SCENARIOS:
            print("%-28s %-5s %5d  %s" % (s["name"], s["protocol"], PORTS[s["port"]], s["summary"]))
        return 0

    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in _BY_NAME]
        if unknown:
            print("make-captures: unknown scenario(s): %s (try --list)" % ", ".join(unknown),
                  file=sys.stderr)
            return 2
        selected = [s for s in SCENARIOS if s["name"] in names]
    else:
        selected = list(SCENARIOS)

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_dir = os.path.abspath(args.out or os.path.join(repo, "test-captures"))
    os.makedirs(out_dir, exist_ok=True)

    if os.geteuid() != 0:
        print("make-captures: must run as root (dumpcap on lo, dovecot and postfix start-up)",
              file=sys.stderr)
        return 2

    # Make SIGTERM/SIGHUP unwind through the finally blocks that stop the servers.
    def _terminate(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    protocols = {s["protocol"] for s in selected}
    lab = Lab(keep=args.keep_lab, verbose=args.verbose)
    failed = []
    t0 = time.monotonic()
    try:
        try:
            lab.start_dovecot()      # POP3, IMAP, and SASL for Postfix
            if "smtp" in protocols:
                lab.start_postfix()
        except SetupError as e:
            print("make-captures: cannot start the test servers:\n%s" % e, file=sys.stderr)
            return 3
        for s in selected:
            t = time.monotonic()
            lab.reset_mail()
            ctx = Ctx(lab, out_dir, s["name"], args.verbose)
            print("%s ..." % s["name"], flush=True)
            # imaplib draws its tag prefix from `random`: seed it per scenario
            random.seed("mailedu:" + s["name"])
            try:
                rec = s["fn"](ctx)
                if rec.server_port != lab.ports[s["port"]]:
                    raise ScenarioError("record says port %s, registry says %s"
                                        % (rec.server_port, s["port"]))
                rec.write(os.path.join(out_dir, s["name"] + ".expected.json"))
            except Exception as e:     # noqa: BLE001 -- report and go on with the next
                _remove_outputs(out_dir, s["name"])
                failed.append(s["name"])
                print("%s FAILED: %s" % (s["name"], e), file=sys.stderr)
                if args.verbose:
                    traceback.print_exc()
                continue
            print("%s ok (%.1f s)" % (s["name"], time.monotonic() - t), flush=True)
        write_readme(out_dir)
    except KeyboardInterrupt:
        print("make-captures: interrupted", file=sys.stderr)
        return 130
    finally:
        # no second signal may cut the clean-up short
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        stop_all()
        lab.stop()
    print("%d scenario(s) in %.1f s -> %s" % (len(selected), time.monotonic() - t0, out_dir))
    if failed:
        print("make-captures: FAILED: %s" % ", ".join(failed), file=sys.stderr)
        return 1
    return 0
