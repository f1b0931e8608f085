#!/usr/bin/env python3
"""Screenshots of the real Wireshark (Qt) with a mailedu profile, under Xvfb.

Used by tests/gui/test_gui.py and scripts/make-screenshots. Wireshark ignores plugin
folders when run by root, so when we are root it runs (with xvfb-run) as `nobody`,
with a throwaway HOME and WIRESHARK_CONFIG_DIR into which scripts/install-profile
put the profiles. Run as `gui_shot.py --inner OUT.png CMD...` inside the X server,
it starts CMD, waits until the screen stops changing and saves a screenshot.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

# the system's Python: nobody may not be able to run the caller's (e.g. one under /root)
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TOOLS = ("xvfb-run", "wireshark", "import", "convert", "setpriv")


def missing_tools():
    """Names of the programs a screenshot needs that are not installed."""
    return [t for t in TOOLS if shutil.which(t) is None]


def _inner(out, cmd, timeout=90, settle=3):
    """Inside X: start cmd, screenshot the root window once a second until the
    picture has not changed for `settle` seconds (after 6 s at least), save it to out."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shot = out + ".tmp.png"
    last, same, start = None, 0, time.time()
    try:
        while time.time() - start < timeout:
            time.sleep(1)
            if proc.poll() is not None:
                print("gui_shot: %s exited with status %d" % (cmd[0], proc.returncode), file=sys.stderr)
                return 1
            if subprocess.run(["import", "-window", "root", shot], stderr=subprocess.DEVNULL).returncode:
                continue
            data = open(shot, "rb").read()
            same = same + 1 if data == last else 0
            last = data
            if same >= settle and time.time() - start >= 6:
                os.replace(shot, out)
                return 0
        print("gui_shot: the screen did not settle in %d s" % timeout, file=sys.stderr)
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _open_all(path):
    for d, _, files in os.walk(path):
        os.chmod(d, 0o777)
        for f in files:
            os.chmod(os.path.join(d, f), 0o666)


def screenshot(capture, out, profile="mailedu", size=(1600, 1000), upper_pane=560, extra=()):
    """Writes to `out` a PNG of the whole screen (size) showing Wireshark with the
    built plugin and `profile` (installed fresh) on `capture`. Raises RuntimeError
    with the reason when Wireshark cannot be run or shows nothing."""
    from mailedu_test import BUILD, _stage
    tmp = tempfile.mkdtemp(prefix="mailedu-gui-")
    try:
        conf = os.path.join(tmp, "conf")
        p = subprocess.run([os.path.join(ROOT, "scripts", "install-profile")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=dict(os.environ, WIRESHARK_CONFIG_DIR=conf))
        if p.returncode:
            raise RuntimeError("install-profile failed: " + p.stdout)
        # window placement and size (no window manager under Xvfb), the packet list's height
        with open(os.path.join(conf, "recent_common"), "w") as f:
            f.write("gui.geometry_main_x: 0\ngui.geometry_main_y: 0\n"
                    "gui.geometry_main_width: %d\ngui.geometry_main_height: %d\n"
                    "gui.geometry_main_maximized: FALSE\n" % size)
        with open(os.path.join(conf, "profiles", profile, "recent"), "a") as f:  # keep the column widths
            f.write("gui.geometry_main_upper_pane: %d\n" % upper_pane)
        _open_all(tmp)
        plugins = os.path.join(BUILD, "plugins")
        inner = os.path.abspath(__file__)
        if os.geteuid() == 0:
            plugins, capture, inner = _stage(plugins), _stage(capture), _stage(inner)
        shot = os.path.join(tmp, "shot.png")
        cmd = ["env", "HOME=" + tmp, "WIRESHARK_CONFIG_DIR=" + conf, "WIRESHARK_PLUGIN_DIR=" + plugins,
               "TZ=UTC", "LC_ALL=C.UTF-8", "XDG_RUNTIME_DIR=" + tmp,
               "xvfb-run", "-a", "-s", "-screen 0 %dx%dx24" % size,
               PYTHON, inner, "--inner", shot, "wireshark", "-C", profile, "-r", capture] + list(extra)
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180)
        if p.returncode or not os.path.isfile(shot):
            raise RuntimeError("no screenshot (status %d): %s" % (p.returncode, p.stdout[-2000:]))
        shutil.copyfile(shot, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pixels(png):
    """(width, height, rows) of a PNG read through ImageMagick: rows[y][x] = (r, g, b)."""
    data = subprocess.run(["convert", png, "-depth", "8", "ppm:-"], stdout=subprocess.PIPE, check=True).stdout
    # header: P6, width, height, maxval, each followed by whitespace; then the pixels
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    w, h = int(fields[1]), int(fields[2])
    raw = data[pos + 1:]  # exactly one whitespace byte after maxval
    rows = [[tuple(raw[(y * w + x) * 3:(y * w + x) * 3 + 3]) for x in range(w)] for y in range(h)]
    return w, h, rows


if __name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "--inner":
    sys.exit(_inner(sys.argv[2], sys.argv[3:]))
