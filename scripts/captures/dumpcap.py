"""Run dumpcap on the loopback interface for one scenario.

dumpcap writes pcapng to a pipe (it flushes every packet when its output
is a pipe), and a reader thread follows the blocks as they arrive.  That lets
us know (1) when the capture filter is in place (the interface description
block has been written) and (2) when every TCP connection seen has finished
(FIN both ways and the last ACK, or a RST), so the capture is stopped only
after the last packet of the session.
"""

import os
import signal
import struct
import subprocess
import threading
import time

BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_EPB = 0x00000006

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


class CaptureError(RuntimeError):
    pass


_LIVE = set()     # captures whose dumpcap may still run


def stop_all():
    """Kill every dumpcap this process started and has not stopped yet."""
    for cap in list(_LIVE):
        cap.abort()


class _Conn:
    __slots__ = ("fins", "last_fin_from", "closed", "packets")

    def __init__(self):
        self.fins = set()
        self.last_fin_from = None
        self.closed = False
        self.packets = 0


class Capture:
    """Capture `tcp port PORT` on lo into PATH (pcapng)."""

    def __init__(self, port, path, ready_timeout=10.0):
        self.port = port
        self.path = path
        self.ready_timeout = ready_timeout
        self.proc = None
        self.buf = bytearray()
        self.pos = 0
        self.endian = "<"
        self.linktypes = []
        self.conns = {}
        self.npackets = 0
        self.idb_seen = threading.Event()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.reader = None
        self.stderr_text = ""

    # -- pcapng parsing -------------------------------------------------
    def _parse(self):
        while True:
            if len(self.buf) - self.pos < 12:
                return
            btype = struct.unpack_from(self.endian + "I", self.buf, self.pos)[0]
            if btype == BT_SHB:
                magic = bytes(self.buf[self.pos + 8:self.pos + 12])
                self.endian = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
            blen = struct.unpack_from(self.endian + "I", self.buf, self.pos + 4)[0]
            if blen < 12 or len(self.buf) - self.pos < blen:
                return
            body = bytes(self.buf[self.pos + 8:self.pos + blen - 4])
            self.pos += blen
            if btype == BT_IDB:
                self.linktypes.append(struct.unpack_from(self.endian + "H", body, 0)[0])
                self.idb_seen.set()
            elif btype == BT_EPB:
                ifid, _th, _tl, caplen, _olen = struct.unpack_from(self.endian + "IIIII", body, 0)
                self._packet(self.linktypes[ifid] if ifid < len(self.linktypes) else 1,
                             body[20:20 + caplen])

    def _packet(self, linktype, data):
        self.npackets += 1
        if linktype == 1:            # Ethernet (what Linux lo reports)
            if len(data) < 14:
                return
            etype = struct.unpack_from("!H", data, 12)[0]
            ip = data[14:]
        elif linktype == 113:        # Linux cooked
            etype = struct.unpack_from("!H", data, 14)[0]
            ip = data[16:]
        else:
            return
        if etype == 0x0800 and len(ip) >= 20:
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 6:
                return
            src, dst = ip[12:16], ip[16:20]
            tcp = ip[ihl:]
        elif etype == 0x86DD and len(ip) >= 40:
            if ip[6] != 6:
                return
            src, dst = ip[8:24], ip[24:40]
            tcp = ip[40:]
        else:
            return
        if len(tcp) < 14:
            return
        sport, dport = struct.unpack_from("!HH", tcp, 0)
        flags = tcp[13]
        a, b = (src, sport), (dst, dport)
        key = (a, b) if a < b else (b, a)
        conn = self.conns.get(key)
        if conn is None or (flags & SYN and not flags & ACK and conn.closed):
            conn = self.conns[key] = _Conn()
        conn.packets += 1
        if flags & RST:
            conn.closed = True
        elif flags & FIN:
            conn.fins.add(a)
            conn.last_fin_from = a
        elif len(conn.fins) == 2 and a != conn.last_fin_from:
            conn.closed = True       # the ACK of the second FIN

    def _read(self):
        out = self.proc.stdout
        while True:
            chunk = out.read1(65536) if hasattr(out, "read1") else os.read(out.fileno(), 65536)
            if not chunk:
                break
            with self.changed:
                self.buf += chunk
                self._parse()
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    # -- control ---------------------------------------------------------
    def start(self):
        cmd = ["dumpcap", "-q", "-i", "lo", "-f", "tcp port %d" % self.port, "-w", "-"]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise CaptureError("dumpcap not found (install the wireshark-common package)")
        _LIVE.add(self)
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + self.ready_timeout
        while not self.idb_seen.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._kill()
                raise CaptureError("dumpcap did not start capturing on lo: %s"
                                   % self.stderr_text.strip())
        # The filter is attached before the header is written; a short pause
        # lets the capture socket settle before the client connects.
        time.sleep(0.15)
        return self

    def _read_stderr(self):
        data = self.proc.stderr.read()
        self.stderr_text = data.decode("utf-8", "replace") if data else ""

    def wait_closed(self, timeout=8.0):
        """Wait until every connection seen is closed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                if self.conns and all(c.closed for c in self.conns.values()):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.changed.wait(min(left, 0.1))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
        self.reader.join(timeout=5)
        self._stderr_thread.join(timeout=5)
        _LIVE.discard(self)
        with open(self.path, "wb") as f:
            f.write(bytes(self.buf))

    def abort(self):
        """Stop dumpcap without writing anything."""
        self._kill()
        _LIVE.discard(self)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def summary(self):
        return {"packets": self.npackets, "connections": len(self.conns),
                "closed": sum(1 for c in self.conns.values() if c.closed)}
