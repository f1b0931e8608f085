"""Rubric files (TOML): loading and validation against the checks the grader
knows and the sessions report schema (protocols, phases, warnings)."""
import math
import os
import re
import tomllib

PROTOCOLS = ("pop3", "smtp", "imap")
# SPEC phase model (docs/sessions-schema.md `phases`)
PHASES = {"pop3": ("auth", "transaction", "update", "tls"),
          "imap": ("auth", "authenticated", "selected", "logout", "tls"),
          "smtp": ("greeting", "hello", "auth", "envelope", "data", "quit", "tls")}
OUTCOMES = ("success", "failure", "failure_then_success", "any")
TLS_MODES = ("starttls", "implicit", "any")
FACTS = ("server_address", "server_port", "client_address", "client_port", "username",
         "mechanism", "phase_frame", "login_frame", "result_frame", "mailbox", "rcpt",
         "mail_from", "sessions")
# check name -> (required keys, optional keys with defaults)
CHECKS = {
    "session": ((), {"protocol": "any", "min": 1}),
    "phase": (("protocol", "phase"), {}),
    "login": ((), {"protocol": "any", "outcome": "success", "mechanism": None, "user": None}),
    "cleartext": ((), {"protocol": "any", "expect": True}),
    "tls": ((), {"protocol": "any", "mode": "any", "decrypted": None}),
    "sent_to": (("domain",), {"protocol": "smtp"}),
    "mailbox": ((), {"protocol": "imap", "name": None}),
    "filter": (("filter",), {"min": 1}),
    "warning": (("name",), {"protocol": "any", "expect": True}),
    "answer": (("key", "fact"), {"protocol": "any", "phase": None}),
}
ITEM_KEYS = {"id", "title", "points", "check", "partial", "hint"}
# parameter -> type its value must have (a wrong one failed every student at grading time)
TYPES = {"protocol": str, "phase": str, "outcome": str, "mechanism": str, "user": str, "expect": bool,
         "mode": str, "decrypted": bool, "domain": str, "name": str, "key": str, "fact": str, "partial": bool}
# mailedu's expert items: the third argument of each ME_WARNING row (the name after "mailedu.")
WARNINGS_DEF = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            "plugin", "warnings.def")


def warning_names(path=WARNINGS_DEF):
    """The expert item names of mailedu, read from plugin/warnings.def (the
    one list the plugin is built from); None when the grader runs without
    the source tree beside it (names are then not checked)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    return tuple(re.findall(r'^ME_WARNING\(\s*\w+\s*,\s*\d+\s*,\s*"([^"]+)"', text, re.M)) or None


class RubricError(ValueError):
    """A rubric that cannot be used; the message names the file and item."""


class Item:
    """One rubric item: id, titles {'en','id'}, points, check name and its
    parameters (defaults filled in), partial credit allowed, hints."""

    def __init__(self, d):
        self.id, self.points, self.check = d["id"], float(d["points"]), d["check"]
        self.title, self.hint = d["title"], d.get("hint", {})
        self.partial = bool(d.get("partial", False))
        req, opt = CHECKS[self.check]
        self.params = dict(opt)
        self.params.update({k: v for k, v in d.items() if k not in ITEM_KEYS})


class Rubric:
    """A loaded rubric: id, titles, items in file order, and the display
    filters its `filter` items need (one io,stat column each)."""

    def __init__(self, path, doc, items):
        self.path, self.items = path, items
        meta = doc.get("rubric", {})
        self.id = meta.get("id", "rubric")
        self.title = meta.get("title", {"en": self.id, "id": self.id})
        self.filters = [i.params["filter"] for i in items if i.check == "filter"]

    @property
    def max_points(self):
        return sum(i.points for i in self.items)


def _text(where, value, name):
    """A {en, id} text from a TOML table, or a RubricError."""
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value.get(k) for k in ("en", "id")):
        raise RubricError("%s: %s needs both %s.en and %s.id (English and Bahasa Indonesia)" % (where, name, name, name))
    return value


def _check_params(where, d):
    """Validates one item's check parameters (names, types, values)."""
    req, opt = CHECKS[d["check"]]
    for k in req:
        if k not in d:
            raise RubricError("%s: check %r needs %r" % (where, d["check"], k))
    for k in d:
        if k not in ITEM_KEYS and k not in req and k not in opt:
            raise RubricError("%s: unknown key %r for check %r (known: %s)"
                              % (where, k, d["check"], ", ".join(list(req) + list(opt))))
    for k, t in TYPES.items():
        if k in d and not isinstance(d[k], t):
            raise RubricError("%s: %s must be %s, not %r" % (where, k, "true or false" if t is bool else "a string", d[k]))
    for k in ("domain", "key", "name", "mechanism", "user"):
        if isinstance(d.get(k), str) and not d[k].strip():
            raise RubricError("%s: %s is empty" % (where, k))
    if d["check"] == "warning":
        known = warning_names()
        if known is not None and d["name"] not in known:
            raise RubricError("%s: warning %r is not one of mailedu's expert items (%s)" % (where, d["name"], ", ".join(known)))
    proto = d.get("protocol", "any")
    if proto not in PROTOCOLS + ("any",):
        raise RubricError("%s: protocol %r is not one of %s" % (where, proto, ", ".join(PROTOCOLS + ("any",))))
    if "phase" in d and d["phase"] is not None:
        allowed = PHASES.get(proto, ())
        if d["phase"] not in allowed:
            raise RubricError("%s: phase %r is not a %s phase (%s)" % (where, d["phase"], proto, ", ".join(allowed) or "give a protocol"))
    if d["check"] == "answer" and d["fact"] == "phase_frame" and not d.get("phase"):
        raise RubricError("%s: fact 'phase_frame' needs a phase (and a protocol)" % where)
    for key, allowed in (("outcome", OUTCOMES), ("mode", TLS_MODES), ("fact", FACTS)):
        if key in d and d[key] not in allowed:
            raise RubricError("%s: %s %r is not one of %s" % (where, key, d[key], ", ".join(allowed)))
    if "min" in d and (not isinstance(d["min"], int) or d["min"] < 1):
        raise RubricError("%s: min must be a whole number >= 1" % where)
    if "filter" in d and (not isinstance(d["filter"], str) or "," in d["filter"] or not d["filter"].strip()):
        raise RubricError("%s: filter must be a non-empty display filter without commas" % where)


def _finite(where, value, key=""):
    """Every number in a TOML value is finite: TOML allows nan and inf, which
    pass `> 0` tests and end as `Score: nan` and invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RubricError("%s: %s is %r; every number in a rubric must be finite" % (where, key or "a value", value))
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(where, v, "%s.%s" % (key, k) if key else k)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            _finite(where, v, "%s[%d]" % (key, n))


def _item(where, d, seen):
    """Validates one [[item]] table; returns an Item."""
    if not isinstance(d.get("id"), str) or not d["id"]:
        raise RubricError("%s: every item needs an id" % where)
    where = "%s item %r" % (where, d["id"])
    if d["id"] in seen:
        raise RubricError("%s: the id is used twice" % where)
    seen.add(d["id"])
    _finite(where, d)
    _text(where, d.get("title"), "title")
    if "hint" in d:
        _text(where, d["hint"], "hint")
    if not isinstance(d.get("points"), (int, float)) or isinstance(d.get("points"), bool) or d["points"] <= 0:
        raise RubricError("%s: points must be a number > 0" % where)
    if d.get("check") not in CHECKS:
        raise RubricError("%s: check %r is not one of %s" % (where, d.get("check"), ", ".join(CHECKS)))
    _check_params(where, d)
    return Item(d)


def load(path):
    """Reads and validates a rubric file.  Returns a Rubric; raises
    RubricError with the file, the item and what is wrong."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise RubricError("rubric %s: %s" % (path, e.strerror or e)) from None
    except UnicodeDecodeError as e:  # tomllib reads bytes as UTF-8 and lets this through
        raise RubricError("rubric %s: not UTF-8 text (byte 0x%02x at offset %d); save it as UTF-8"
                          % (path, e.object[e.start], e.start)) from None
    except tomllib.TOMLDecodeError as e:
        raise RubricError("rubric %s: not valid TOML: %s" % (path, e)) from None
    items = doc.get("item")
    if not isinstance(items, list) or not items:
        raise RubricError("rubric %s: no [[item]] tables" % path)
    if "rubric" in doc:
        _finite("rubric %s [rubric]" % path, doc["rubric"])
        _text("rubric %s" % path, doc["rubric"].get("title"), "title")
    seen = set()
    rub = Rubric(path, doc, [_item("rubric %s" % path, d, seen) for d in items])
    if not math.isfinite(rub.max_points):
        raise RubricError("rubric %s: the points add up to %r" % (path, rub.max_points))
    return rub
