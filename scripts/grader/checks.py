"""Rubric checks: each takes a student's View and an item's parameters and
returns (fraction of the item achieved 0..1, evidence list, missing text,
expected values for the teacher).  Evidence entries are dicts
{file, stream, frame, text, lines: [{frame, dir, text}]}; every text comes from
the sessions report (docs/sessions-schema.md) and is escaped by the writers."""
import re

from .texts import tr

NAMES = {"pop3": "POP3", "smtp": "SMTP", "imap": "IMAP", "any": "mail"}


class View:
    """What the checks see of one student: sessions of all their captures
    (each tagged with '_file'), display-filter counts summed over files,
    answers (dict) or answers_error, and the language of messages."""

    def __init__(self, lang="en"):
        self.lang, self.sessions, self.filter_counts = lang, [], {}
        self.answers, self.answers_error = None, None
        self.show_secrets = False  # --show-passwords: digests too are shown


def _of(view, proto):
    return [s for s in view.sessions if proto == "any" or s.get("protocol") == proto]


def _endpoint(e):
    return "%s:%s" % ((e or {}).get("address", "?"), (e or {}).get("port", "?"))


def _lines(s, frame, n=3):
    """Up to n transcript lines of session s from `frame` on."""
    out = [l for l in s.get("lines", []) if isinstance(l.get("frame"), int) and l["frame"] >= (frame or 0)]
    return [{"frame": l["frame"], "dir": l.get("dir", ""), "text": l.get("text", "")} for l in out[:n]]


def _ev(s, frame, text, n=3):
    return {"file": s.get("_file", ""), "stream": s.get("stream"), "frame": frame, "text": text,
            "lines": _lines(s, frame, n) if frame else []}


def check_session(view, p):
    """At least p['min'] sessions of p['protocol'] (partial: n/min)."""
    ss, L, proto = _of(view, p["protocol"]), view.lang, NAMES[p["protocol"]]
    ev = [_ev(s, s.get("first_frame"), tr(L, "session_ev", proto=NAMES.get(s.get("protocol"), "?"),
              stream=s.get("stream"), client=_endpoint(s.get("client")), server=_endpoint(s.get("server")),
              first=s.get("first_frame"), last=s.get("last_frame")), 2) for s in ss[:5]]
    if not ss:
        return 0.0, ev, tr(L, "no_session", proto=proto), None
    if len(ss) < p["min"]:
        return len(ss) / p["min"], ev, tr(L, "few_sessions", n=len(ss), proto=proto, min=p["min"]), None
    return 1.0, ev, "", None


def check_phase(view, p):
    """A session of p['protocol'] entered p['phase'] (SPEC phase model)."""
    ss, L = _of(view, p["protocol"]), view.lang
    if not ss:
        return 0.0, [], tr(L, "no_session", proto=NAMES[p["protocol"]]), None
    for s in ss:
        for ph in s.get("phases", []):
            if ph.get("phase") == p["phase"]:
                return 1.0, [_ev(s, ph.get("frame"), tr(L, "phase_ev", phase=p["phase"], frame=ph.get("frame"),
                                                        stream=s.get("stream")))], "", None
    seen = []
    for s in ss:
        seen += [ph.get("phase") for ph in s.get("phases", []) if ph.get("phase") not in seen]
    return 0.0, [], tr(L, "phase_missing", phase=p["phase"], seen=", ".join(seen) or tr(L, "none")), None


def _attempts(view, p):
    """(session, login) pairs of the protocol, in capture order, filtered by mechanism/user."""
    out = []
    for s in _of(view, p["protocol"]):
        for a in s.get("logins", []):
            if p.get("mechanism") and (a.get("mechanism") or "").upper() != p["mechanism"].upper():
                continue
            if p.get("user") and a.get("username") != p["user"]:
                continue
            out.append((s, a))
    return out


def _login_ev(L, s, a, show_secrets=False):
    """A login attempt as evidence.  An APOP or CRAM-MD5 digest is no password
    but lets anyone try passwords offline (RFC 1939 §7, RFC 2195 §5), so it is
    masked as passwords are unless the teacher asked to see secrets."""
    res = {"success": "success", "failure": "failure"}.get(a.get("result"), "noreply")
    secret = a.get("password") if a.get("password") is not None else a.get("token")
    key = "login_ev"
    if secret is None and a.get("digest"):
        key, secret = "login_ev_digest", a["digest"] if show_secrets else "********"
    end = a.get("result_frame") or a.get("secret_frame") or a.get("start_frame")
    result = tr(L, res)
    if res == "failure" and a.get("failure") in ("credentials", "authorization", "refused", "cancelled"):
        result += " (" + tr(L, "fail_" + a["failure"]) + ")"
    text = tr(L, key, n=a.get("attempt"), stream=s.get("stream"), mech=a.get("mechanism"),
              user=a.get("username"), pw=secret if secret is not None else "-", result=result,
              start=a.get("start_frame"), end=end)
    return _ev(s, a.get("start_frame"), text, 4)


def check_login(view, p):
    """Login outcome p['outcome'] among the protocol's attempts (failure_then_success: 0.5 for one of them)."""
    L, atts = view.lang, _attempts(view, p)
    ev = [_login_ev(L, s, a, view.show_secrets) for s, a in atts[:6]]
    ok = [i for i, (_, a) in enumerate(atts) if a.get("result") == "success"]
    # the lab's failed login is a wrong password: a mechanism refused, a cancel
    # or a right password for a locked mailbox is not one ("failure" absent: an
    # older report, which did not tell)
    bad = [i for i, (_, a) in enumerate(atts)
           if a.get("result") == "failure" and a.get("failure", "credentials") == "credentials"]
    want = p["outcome"]
    if p["protocol"] != "any" and not _of(view, p["protocol"]):  # a login in another protocol is not this one
        return 0.0, [], tr(L, "no_session", proto=NAMES[p["protocol"]]), None
    if want == "any":
        return (1.0, ev, "", None) if atts else (0.0, ev, tr(L, "login_none"), None)
    if want == "success":
        return (1.0, ev, "", None) if ok else (0.0, ev, tr(L, "login_no_success"), None)
    if want == "failure":
        return (1.0, ev, "", None) if bad else (0.0, ev, tr(L, "login_no_failure"), None)
    if bad and ok and bad[0] < ok[-1]:
        return 1.0, ev, "", None
    return (0.5 if bad or ok else 0.0), ev, tr(L, "login_no_order"), None


def check_cleartext(view, p):
    """expect=true: a secret crossed readable; false: sessions exist, none in clear, and logins used TLS."""
    L, ss = view.lang, _of(view, p["protocol"])
    clear = [(s, a) for s in ss for a in s.get("logins", []) if a.get("cleartext")]
    ev = [_ev(s, a.get("secret_frame"), tr(L, "clear_ev", mech=a.get("mechanism"), user=a.get("username"),
                                           frame=a.get("secret_frame")), 2) for s, a in clear[:5]]
    if p["expect"]:
        return (1.0, ev, "", None) if clear else (0.0, ev, tr(L, "clear_missing"), None)
    if not ss:
        return 0.0, [], tr(L, "no_session", proto=NAMES[p["protocol"]]), None
    if clear:
        return 0.0, ev, tr(L, "secure_clear", frame=clear[0][1].get("secret_frame")), None
    plain = [s for s in ss if (s.get("tls") or {}).get("mode", "none") == "none" and (s.get("logins") or s.get("cleartext"))]
    if plain or all((s.get("tls") or {}).get("mode", "none") == "none" for s in ss):
        s = (plain or ss)[0]
        return 0.0, [], tr(L, "secure_no_tls", stream=s.get("stream")), None
    good = [s for s in ss if (s.get("tls") or {}).get("mode") != "none"]
    return 1.0, [_ev(s, s.get("first_frame"), tr(L, "secure_ev", proto=NAMES.get(s.get("protocol")), stream=s.get("stream"),
                                                 mode=s["tls"]["mode"]), 0) for s in good[:5]], "", None


def check_tls(view, p):
    """A session used TLS in p['mode'] (and decrypted or not when p['decrypted'] is set)."""
    L = view.lang
    hits = []
    for s in _of(view, p["protocol"]):
        t = s.get("tls") or {}
        if t.get("mode", "none") == "none" or (p["mode"] != "any" and t.get("mode") != p["mode"]):
            continue
        if p["decrypted"] is not None and bool(t.get("decrypted")) != bool(p["decrypted"]):
            continue
        hits.append(s)
    ev = [_ev(s, s.get("first_frame"), tr(L, "tls_ev", proto=NAMES.get(s.get("protocol")), stream=s.get("stream"),
                                          mode=s["tls"]["mode"], dec=tr(L, "tls_dec") if s["tls"].get("decrypted") else ""), 0)
          for s in hits[:5]]
    if hits:
        return 1.0, ev, "", None
    # the student asked for TLS and the server said no: the lab server's setup, not the student
    refused = [s for s in _of(view, p["protocol"]) if (s.get("tls") or {}).get("refused")]
    missing = tr(L, "tls_missing", mode=p["mode"])
    if refused:
        missing += "; " + tr(L, "tls_refused", proto=NAMES.get(refused[0].get("protocol")),
                             stream=refused[0].get("stream"))
    return 0.0, [], missing, None


def _phase_frame(s, phase):
    return next((ph.get("frame") for ph in s.get("phases", []) if ph.get("phase") == phase), None)


def check_sent_to(view, p):
    """A recipient at p['domain'] accepted (2xx) and DATA sent in the same SMTP session (RFC 5321 §3.3)."""
    L, dom = view.lang, p["domain"].lower().lstrip("@")
    accepted = []
    for s in _of(view, p["protocol"]):
        for r in s.get("rcpt_accepted", []):
            if r.lower().strip("<>").endswith("@" + dom):
                accepted.append((s, r))
    for s, r in accepted:
        frame = _phase_frame(s, "data")
        if frame:
            return 1.0, [_ev(s, frame, tr(L, "sent_ev", rcpt=r, stream=s.get("stream"), frame=frame))], "", None
    if accepted:
        return 0.0, [], tr(L, "sent_nodata", rcpt=accepted[0][1]), None
    return 0.0, [], tr(L, "sent_missing", domain=dom), None


def check_mailbox(view, p):
    """An IMAP mailbox (p['name'], or any) was selected or examined (RFC 9051 §6.3.2)."""
    L, want = view.lang, p.get("name")
    for s in _of(view, p["protocol"]):
        for m in s.get("mailboxes", []):
            if want is None or m == want or (want.upper() == "INBOX" and m.upper() == "INBOX"):
                frame = _phase_frame(s, "selected") or s.get("first_frame")
                return 1.0, [_ev(s, frame, tr(L, "mailbox_ev", name=m, stream=s.get("stream"), frame=frame), 2)], "", None
    return 0.0, [], tr(L, "mailbox_missing", name=want or tr(L, "any")), None


def check_filter(view, p):
    """The display filter matched at least p['min'] packets (io,stat counts; partial: n/min)."""
    L, n = view.lang, view.filter_counts.get(p["filter"], 0)
    ev = [{"file": "", "stream": None, "frame": None, "text": tr(L, "filter_ev", filter=p["filter"], n=n), "lines": []}]
    if n >= p["min"]:
        return 1.0, ev, "", None
    return n / p["min"], ev, tr(L, "filter_missing", filter=p["filter"], n=n, min=p["min"]), None


def check_warning(view, p):
    """The expert item p['name'] occurred (expect=true) or not in any session (expect=false)."""
    L, ss, name = view.lang, _of(view, p["protocol"]), p["name"]
    hits = [(s, l) for s in ss for l in s.get("lines", []) if name in (l.get("warnings") or [])]
    counted = [s for s in ss if (s.get("warnings") or {}).get(name)]
    ev = [_ev(s, l.get("frame"), tr(L, "warn_ev", name=name, frame=l.get("frame")), 1) for s, l in hits[:5]]
    if not ev and counted:
        ev = [_ev(s, s.get("first_frame"), tr(L, "warn_ev", name=name, frame="?"), 0) for s in counted[:5]]
    found = bool(hits or counted)
    if p["expect"]:
        return (1.0, ev, "", None) if found else (0.0, [], tr(L, "warn_missing", name=name), None)
    if found:
        return 0.0, ev, tr(L, "warn_ev", name=name, frame=ev[0]["frame"]), None
    if not ss:
        return 0.0, [], tr(L, "no_session", proto=NAMES[p["protocol"]]), None
    return 1.0, [{"file": "", "stream": None, "frame": None, "lines": [],
                  "text": tr(L, "warn_none_ev", name=name, n=len(ss))}], "", None


# The state a successful login's reply moves the session into: RFC 1939 §4
# ("the POP3 session is now in the TRANSACTION state" once the server says
# +OK) and RFC 9051 §3.2 (a successful LOGIN or AUTHENTICATE enters
# Authenticated).  mailedu labels that reply with the old phase and the next
# line with the new one, so a student who names the reply that made the change
# read the RFC right, and the grader accepts both frames.
LOGIN_ENTERS = {"pop3": "transaction", "imap": "authenticated"}
# The same for the other IMAP commands whose success changes the state
# (RFC 9051 §3.3, §6.3.2, §6.3.3, §6.4.1, RFC 3691): their tagged OK.
IMAP_ENTERS = {"SELECT": "selected", "EXAMINE": "selected", "CLOSE": "authenticated",
               "UNSELECT": "authenticated"}


def _imap_oks(s, phase):
    """Frames of the tagged OKs that completed an IMAP command entering `phase`."""
    waiting, out = set(), []
    for l in s.get("lines", []):
        w = (l.get("text") or "").split()
        if len(w) < 2:
            continue
        if l.get("dir") == "C" and l.get("kind") == "command":
            (waiting.add if IMAP_ENTERS.get(w[1].upper()) == phase else waiting.discard)(w[0])
        elif l.get("dir") == "S" and w[0] in waiting and w[0] != "*":
            waiting.discard(w[0])
            if w[1].upper() == "OK" and isinstance(l.get("frame"), int):
                out.append(l["frame"])
    return out


def _entering_replies(s, phase):
    """Frames of the success replies after which `phase` begins (in session s
    of the sessions report), for an answer of where that phase starts: a
    reply counts when the next phase mailedu marks after it is `phase`."""
    cands = []
    if LOGIN_ENTERS.get(s.get("protocol")) == phase:
        cands += [a.get("result_frame") for a in s.get("logins", []) if a.get("result") == "success"]
    if s.get("protocol") == "imap":
        cands += _imap_oks(s, phase)
    starts = sorted((ph.get("frame"), ph.get("phase")) for ph in s.get("phases", [])
                    if isinstance(ph.get("frame"), int))
    out = []
    for r in cands:
        if not isinstance(r, int) or r in out:
            continue
        after = next((ph for f, ph in starts if f > r), None)
        if after == phase:
            out.append(r)
    return out


def facts(view, p):
    """Values the capture gives for an answer's fact: a list of (value, session)."""
    f, out = p["fact"], []
    for s in _of(view, p["protocol"]):
        logins = s.get("logins", [])
        vals = {
            "server_address": [(s.get("server") or {}).get("address")],
            "server_port": [(s.get("server") or {}).get("port")],
            "client_address": [(s.get("client") or {}).get("address")],
            "client_port": [(s.get("client") or {}).get("port")],
            # "the user name that logged in": successful attempts and the session's
            # user (set by mailedu only on success), not the name of a failed attempt
            "username": [a.get("username") for a in logins if a.get("result") == "success"] + [s.get("user")],
            "mechanism": [a.get("mechanism") for a in logins],
            "phase_frame": [ph.get("frame") for ph in s.get("phases", []) if ph.get("phase") == p.get("phase")]
            + _entering_replies(s, p.get("phase")),
            "login_frame": [a.get(k) for a in logins for k in ("start_frame", "secret_frame")],
            "result_frame": [a.get("result_frame") for a in logins],
            "mailbox": s.get("mailboxes", []), "rcpt": s.get("rcpt_to", []), "mail_from": s.get("mail_from", []),
        }.get(f, [])
        out += [(v, s) for v in vals if v is not None and v != ""]
    if f == "sessions":
        out = [(len(_of(view, p["protocol"])), None)]
    return out


def _norm(v):
    """An answer or fact for comparison: whole numbers as ints, text folded,
    <> stripped.  A number with a fraction stays as it is: int() would
    truncate 23.9 to frame 23."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, (int, float)):
        return v
    t = str(v).strip().strip("<>").casefold()
    m = re.fullmatch(r"(?:frame|paket|no\.?|#)?\s*(\d+)", t)
    return int(m.group(1)) if m else t


def check_answer(view, p):
    """answers.toml's p['key'] equals one value of fact p['fact'] of the student's own capture."""
    L, key = view.lang, p["key"]
    if view.answers_error:
        return 0.0, [], tr(L, "ans_bad", err=view.answers_error), None
    if view.answers is None:
        return 0.0, [], tr(L, "ans_none", key=key), None
    if key not in view.answers:
        return 0.0, [], tr(L, "ans_no_key", key=key), None
    given, known = view.answers[key], facts(view, p)
    expected = sorted({str(v) for v, _ in known})
    if not known:
        return 0.0, [], tr(L, "ans_no_fact", fact=p["fact"], key=key), expected
    for v, s in known:
        if _norm(v) == _norm(given):
            frame = v if p["fact"].endswith("_frame") else (s or {}).get("first_frame")
            ev = _ev(s, frame, tr(L, "ans_ok", key=key, value=given), 2) if s else \
                {"file": "", "stream": None, "frame": None, "lines": [], "text": tr(L, "ans_ok", key=key, value=given)}
            return 1.0, [ev], "", expected
    return 0.0, [], tr(L, "ans_wrong", key=key, value=given), expected


CHECKS = {"session": check_session, "phase": check_phase, "login": check_login, "cleartext": check_cleartext,
          "tls": check_tls, "sent_to": check_sent_to, "mailbox": check_mailbox, "filter": check_filter,
          "warning": check_warning, "answer": check_answer}


def grade(rubric, view):
    """Scores every rubric item on a View.  Returns (items, score) where items
    are dicts {id, title, points, max, passed, evidence, missing, expected}."""
    items, total = [], 0.0
    for it in rubric.items:
        frac, ev, missing, expected = CHECKS[it.check](view, it.params)
        frac = max(0.0, min(1.0, frac))
        pts = it.points if frac >= 1.0 else (round(it.points * frac, 2) if it.partial else 0.0)
        total += pts
        items.append({"id": it.id, "title": it.title.get(view.lang) or it.title["en"], "points": pts,
                      "max": it.points, "passed": frac >= 1.0, "evidence": ev,
                      "missing": missing + ((" — " + it.hint[view.lang]) if missing and it.hint else ""),
                      "expected": expected})
    return items, round(total, 2)
