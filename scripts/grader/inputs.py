"""Finds the submissions: a folder of capture files, a folder of per-student
folders, or a learning platform's .zip (Moodle's `Full Name_123_assignsubmission_file_`
folders or file-name prefixes).  Zip entries are extracted under generated
names, so hostile names (`../`, quotes, non-ASCII) never touch the file system
outside the work folder; they are kept as text for the reports."""
import csv
import os
import re
import struct
import unicodedata
import zipfile

CAPTURE_EXTS = (".pcapng", ".pcap", ".cap")
KEYLOG_EXTS = (".keys", ".keylog")
ANSWERS = "answers.toml"
MOODLE_DIR = re.compile(r"^(.*?)_(\d+)_assign(?:submission|feedback)_[a-z]+_?$")
MOODLE_FILE = re.compile(r"^(.*?)_(\d+)_assignsubmission_[a-z]+_(.+)$")


def shown(name):
    """A file-system name as text every report can encode.  os.listdir gives
    bytes that are not UTF-8 as lone surrogates, which no UTF-8 writer
    accepts: each such byte is written as \\xNN ('caf\\xe9'), so that two
    names differing only there stay two students.  The path on disk keeps
    the original name."""
    raw = name.encode("utf-8", "surrogateescape" if _escaped_only(name) else "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def _escaped_only(name):
    """True when every surrogate in name is an escaped byte (U+DC80..U+DCFF)."""
    return all(not 0xD800 <= ord(ch) <= 0xDFFF or 0xDC80 <= ord(ch) <= 0xDCFF for ch in name)


class FileRef:
    """One submitted file: `name` as the student gave it (report text),
    `path` on disk (None when it could not be read), `status`/`reason` set
    when it was rejected before reading (too large in a zip, unreadable)."""

    def __init__(self, name, path, status=None, reason=""):
        self.name, self.path, self.status, self.reason = name, path, status, reason
        self.keylog = None


class Submission:
    """One student's submission: name, roster id, files, answers file."""

    def __init__(self, student):
        self.student, self.student_id = student, ""
        self.files, self.answers, self.note = [], None, ""


def strip_exts(name):
    """File name without .gz and a capture extension: 'Budi.pcapng.gz' -> 'Budi'."""
    base = name[:-3] if name.lower().endswith(".gz") else name
    for ext in CAPTURE_EXTS:
        if base.lower().endswith(ext):
            return base[:-len(ext)]
    return os.path.splitext(base)[0] or base


def _companion(name):
    """True for files that accompany captures (keys, answers) or are hidden."""
    low = name.lower()
    return (low.startswith(".") or low.endswith(KEYLOG_EXTS) or low == ANSWERS
            or low.endswith("." + ANSWERS) or low == "__macosx")


def student_from_dir(name):
    """Student name from a per-student folder name (Moodle suffix removed)."""
    m = MOODLE_DIR.match(name)
    return m.group(1) if m else name


def _attach_companions(sub, names_paths):
    """Answers and key logs among (name, path) pairs of one student.  A key
    log named like a capture goes with it; a lone one goes with every capture."""
    keylogs = {}
    for name, path in names_paths:
        low = os.path.basename(name).lower()
        if low == ANSWERS or low.endswith("." + ANSWERS):
            sub.answers = path
        elif low.endswith(KEYLOG_EXTS):
            keylogs[strip_exts(os.path.splitext(os.path.basename(name))[0] + ".pcap")] = path
    for f in sub.files:
        stem = strip_exts(os.path.basename(f.name))
        f.keylog = keylogs.get(stem) or (next(iter(keylogs.values())) if len(keylogs) == 1 else None)


def _flat(entries):
    """Submissions from (name, path, reject) of files directly in the folder:
    one per capture, named after the file (Moodle file prefixes understood)."""
    subs, companions = {}, []
    for name, path, reject in entries:
        if _companion(os.path.basename(name)):
            if not reject:  # a key log linked to /etc/shadow would be staged for tshark
                companions.append((name, path))
            continue
        m = MOODLE_FILE.match(name)
        student = m.group(1) if m else strip_exts(name)
        sub = subs.setdefault(student, Submission(student))
        sub.files.append(FileRef(name, path, *reject))
    for sub in subs.values():
        stems = {strip_exts(os.path.basename(f.name)) for f in sub.files}
        mine = [(n, p) for n, p in companions
                if strip_exts(os.path.basename(n).split(".")[0] + ".pcap") in stems]
        _attach_companions(sub, mine)
    return list(subs.values())


def _grouped(groups):
    """Submissions from {folder name: [(name, path, reject)]}, one per folder."""
    subs = []
    for folder, entries in sorted(groups.items()):
        sub = Submission(student_from_dir(folder))
        for name, path, reject in sorted(entries, key=lambda e: e[0]):
            if not _companion(os.path.basename(name)):
                sub.files.append(FileRef(name, path, *reject))
        _attach_companions(sub, [(n, p) for n, p, reject in entries if not reject])  # see _flat
        if not sub.files:
            sub.note = "no file in the folder"
        subs.append(sub)
    return subs


OUTSIDE = ("unreadable", "a symbolic link to a file outside the submissions folder (not read)")


def _link_out(path, inside):
    """The reject tuple of a symbolic link that leads out of the folder
    `inside` (a real path), else ().  The grader may run as root and hands
    tshark a world-readable copy: a link to /etc/shadow must not be read."""
    if not os.path.islink(path):
        return ()
    target = os.path.realpath(path)
    return () if target.startswith(inside + os.sep) else OUTSIDE


def _walk_folder(root):
    """(flat entries, {folder: entries}) of a submissions folder."""
    flat, groups = [], {}
    inside = os.path.realpath(root)
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.isdir(path) and not os.path.islink(path):
            if name.startswith(".") or name == "__MACOSX":
                continue
            entries = groups.setdefault(shown(name), [])
            for dirpath, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    rel = os.path.relpath(os.path.join(dirpath, f), root)
                    full = os.path.join(dirpath, f)
                    entries.append((shown(rel), full, _link_out(full, inside)))
        else:
            flat.append((shown(name), path, _link_out(path, inside)))
    return flat, groups


def _parts(entry_name):
    """Path components of a zip entry, without '', '.', '..' (zip slip)."""
    return [p for p in entry_name.replace("\\", "/").split("/") if p not in ("", ".", "..")]


def _extract(zf, info, dest, max_bytes):
    """Extracts one zip entry to dest, at most max_bytes; returns a reject
    tuple (status, reason) or () when written."""
    if info.file_size > max_bytes:
        return ("too_large", "%d bytes once unzipped, over the limit of %d (--max-size)"
                % (info.file_size, max_bytes))
    try:
        with zf.open(info) as src, open(dest, "wb") as out:
            left = max_bytes + 1
            while left > 0:
                chunk = src.read(min(1 << 20, left))
                if not chunk:
                    return ()
                out.write(chunk)
                left -= len(chunk)
        return ("too_large", "over the limit of %d bytes once unzipped (--max-size)" % max_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as e:
        return ("unreadable", "cannot be unzipped: %s" % e)  # ValueError: a name that is not UTF-8


class _NoUtf8Flag:
    """A zip file read with the UTF-8 name flag (bit 11) cleared in every
    header.  zipfile decodes a flagged name strictly and raises on the first
    name that is not UTF-8, losing the whole class; without the flag it
    decodes names as cp437, from which the bytes come back unchanged.
    `flagged[i]`: entry i of the central directory had the flag."""

    def __init__(self, path):
        self.f = open(path, "rb")
        try:
            self.patch, self.flagged = _utf8_flag_offsets(self.f)
        except Exception:
            self.f.close()
            raise

    def read(self, n=-1):
        pos = self.f.tell()
        data = self.f.read(n)
        hits = [o for o in self.patch if pos <= o < pos + len(data)]
        if not hits:
            return data
        buf = bytearray(data)
        for o in hits:
            buf[o - pos] &= ~0x08  # bit 11 of a little-endian 16-bit field
        return bytes(buf)

    def seek(self, *a):
        return self.f.seek(*a)

    def tell(self):
        return self.f.tell()

    def seekable(self):
        return True

    def close(self):
        self.f.close()


def _utf8_flag_offsets(f):
    """(offsets of the flag bytes to clear, [flag set] per central directory
    entry) of a zip: the high byte of the general-purpose flags in each
    central header and in its local header.  Raises ValueError for a zip
    it cannot walk (no end record, ZIP64)."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - 65557))
    tail = f.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) < end + 22:
        raise ValueError("no end of central directory")
    count, cd_size, cd_off = struct.unpack("<HII", tail[end + 10:end + 20])
    if cd_off == 0xFFFFFFFF or count == 0xFFFF:
        raise ValueError("ZIP64 archive")
    f.seek(cd_off)
    cd = f.read(cd_size)
    patch, flagged, off = set(), [], 0
    while off + 46 <= len(cd) and cd[off:off + 4] == b"PK\x01\x02":
        flags = struct.unpack("<H", cd[off + 8:off + 10])[0]
        n, m, k = struct.unpack("<HHH", cd[off + 28:off + 34])
        local = struct.unpack("<I", cd[off + 42:off + 46])[0]
        flagged.append(bool(flags & 0x800))
        if flags & 0x800:
            patch.update((cd_off + off + 9, local + 7))
        off += 46 + n + m + k
    return patch, flagged


def _open_zip(path):
    """(ZipFile, names, file to close after it or None) of a zip; names are
    the entries' names, bytes that are not UTF-8 in a name flagged UTF-8
    as surrogate escapes (like os.listdir's; see shown())."""
    try:
        zf = zipfile.ZipFile(path)
        return zf, [info.filename for info in zf.infolist()], None
    except UnicodeDecodeError:
        pass
    raw = _NoUtf8Flag(path)
    try:
        zf = zipfile.ZipFile(raw)
    except Exception:
        raw.close()
        raise
    names = [info.filename.encode("cp437").decode("utf-8", "surrogateescape") if flag else info.filename
             for info, flag in zip(zf.infolist(), raw.flagged)]
    return zf, names, raw


def _walk_zip(path, stage, max_bytes):
    """(flat entries, {folder: entries}) of a zip, extracted into stage."""
    flat, groups = [], {}
    zf, names, raw = _open_zip(path)
    try:
        for i, info in enumerate(zf.infolist()):
            parts = [shown(p) for p in _parts(names[i])]  # after the split: shown() writes backslashes
            if info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1].startswith("."):
                continue
            dest = os.path.join(stage, "z%05d%s" % (i, _safe_ext(parts[-1])))
            entry = ("/".join(parts), dest, _extract(zf, info, dest, max_bytes))
            if len(parts) == 1:
                flat.append(entry)
            else:
                groups.setdefault(parts[0], []).append(entry)
    finally:
        zf.close()
        if raw:
            raw.close()
    return flat, groups


def _safe_ext(name):
    """The extensions of a name, kept only when plain ASCII letters (for tshark's eyes)."""
    m = re.search(r"(\.[A-Za-z0-9]{1,8}){1,2}$", name)
    return m.group(0).lower() if m else ""


def collect(source, stage, max_bytes):
    """Submissions in `source` (folder or .zip), sorted by student name.
    Zip entries are extracted into `stage` (an existing folder).  Raises
    ValueError with a message when source is neither."""
    if os.path.isdir(source):
        flat, groups = _walk_folder(source)
    elif zipfile.is_zipfile(source):
        try:
            flat, groups = _walk_zip(source, stage, max_bytes)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise ValueError("%s: cannot read the zip: %s" % (source, e)) from None
    elif os.path.exists(source):
        raise ValueError("%s: not a folder or a .zip of submissions (for one capture, use --check)" % source)
    else:
        raise ValueError("%s: no such file or folder" % source)
    subs = _flat(flat) + _grouped(groups)
    subs.sort(key=lambda s: normalize_name(s.student))
    return subs


def normalize_name(name):
    """A name for matching: accents removed, case folded, runs of
    non-alphanumerics turned into one space ('budi_santoso' == 'Budi Santoso')."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.split(r"[^0-9a-z]+", text)).strip() if text.isascii() else \
        " ".join(re.split(r"[\W_]+", text)).strip()


NAME_COLS = ("name", "full name", "nama", "nama lengkap", "student", "student name")
ID_COLS = ("id", "student id", "student_id", "nim", "npm", "id number", "idnumber", "identifier", "nis")


def read_roster(path):
    """A roster CSV (header row naming a name column and an id column, e.g.
    `name,id` or Moodle's `Full name,ID number`) -> list of (name, id).
    Raises ValueError with a message when the columns are not found."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError("roster %s: %s" % (path, e)) from None
    if not rows:
        raise ValueError("roster %s: empty file" % path)
    head = [h.strip().casefold() for h in rows[0]]
    ncol = next((head.index(c) for c in NAME_COLS if c in head), None)
    icol = next((head.index(c) for c in ID_COLS if c in head), None)
    if ncol is None or icol is None:
        raise ValueError("roster %s: the first row must name a name column (%s) and an id column (%s); got %s"
                         % (path, "/".join(NAME_COLS), "/".join(ID_COLS), ", ".join(rows[0])))
    return [(r[ncol].strip(), r[icol].strip()) for r in rows[1:] if len(r) > max(ncol, icol) and r[ncol].strip()]


def apply_roster(subs, roster):
    """Sets student_id from the roster (by name, or by a file named after
    the id) and returns the roster entries nobody submitted for."""
    by_name = {normalize_name(n): (n, i) for n, i in roster}
    by_id = {i: (n, i) for n, i in roster if i}
    used = set()
    for sub in subs:
        hit = by_name.get(normalize_name(sub.student)) or by_id.get(sub.student.strip())
        if hit:
            sub.student, sub.student_id = hit
            used.add(hit)
        else:
            sub.note = (sub.note + "; " if sub.note else "") + "not in the roster"
    return [e for e in roster if e not in used]
