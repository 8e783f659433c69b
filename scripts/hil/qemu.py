"""QMP and guest-agent clients for scripts/hil/run.py (Python standard library only).

Both protocols are JSON objects over a Unix socket, one per line. QMP is QEMU's own monitor
(screendump, input-send-event, quit); the guest agent (qemu-guest-agent in the guest, on a
virtio serial port) runs commands in the guest and returns their output.
"""

import base64
import json
import socket
import time


class ProtocolError(Exception):
    pass


class _JsonSocket:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\n")

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProtocolError("socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        # The guest agent answers guest-sync-delimited after a 0xFF byte.
        line = line.lstrip(b"\xff").strip()
        if not line:
            return self.recv()
        return json.loads(line)

    def close(self):
        self.sock.close()


class Qmp:
    def __init__(self, path, timeout=30):
        self.io = _JsonSocket(path, timeout)
        greeting = self.io.recv()
        if "QMP" not in greeting:
            raise ProtocolError(f"not a QMP greeting: {greeting}")
        self.execute("qmp_capabilities")

    def execute(self, command, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.io.send(msg)
        while True:
            answer = self.io.recv()
            if "event" in answer:
                continue
            if "error" in answer:
                raise ProtocolError(f"{command}: {answer['error']}")
            return answer.get("return")

    def screendump(self, path):
        self.execute("screendump", filename=str(path), format="png")

    def tap(self, x, y, width, height):
        """A touch at display pixel (x, y): absolute axes span 0..0x7fff in QEMU."""
        ax = round(x * 0x7FFF / max(width - 1, 1))
        ay = round(y * 0x7FFF / max(height - 1, 1))
        move = [{"type": "abs", "data": {"axis": "x", "value": ax}},
                {"type": "abs", "data": {"axis": "y", "value": ay}}]
        self.execute("input-send-event", events=move + [{"type": "btn", "data": {"down": True, "button": "left"}}])
        time.sleep(0.1)
        self.execute("input-send-event", events=[{"type": "btn", "data": {"down": False, "button": "left"}}])

    def close(self):
        self.io.close()


class GuestAgent:
    def __init__(self, path, timeout=10):
        self.io = _JsonSocket(path, timeout)
        self.sync()

    def sync(self):
        token = int(time.time() * 1000) % 2**31
        self.io.sock.sendall(b"\xff")
        self.io.send({"execute": "guest-sync-delimited", "arguments": {"id": token}})
        while True:
            answer = self.io.recv()
            if answer.get("return") == token:
                return

    def call(self, command, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.io.send(msg)
        answer = self.io.recv()
        if "error" in answer:
            raise ProtocolError(f"{command}: {answer['error']}")
        return answer.get("return")

    def run(self, argv, timeout=300, env=None):
        """Runs argv in the guest; returns (exit code, stdout, stderr)."""
        args = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
        if env:
            args["env"] = [f"{k}={v}" for k, v in env.items()]
        pid = self.call("guest-exec", **args)["pid"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.call("guest-exec-status", pid=pid)
            if status.get("exited"):
                out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
                code = status.get("exitcode", -status.get("signal", 0) or -1)
                return code, out, err
            time.sleep(0.5)
        raise TimeoutError(f"{' '.join(argv)} still running after {timeout} s")

    def sh(self, script, timeout=300):
        return self.run(["/bin/sh", "-c", script], timeout=timeout)

    def close(self):
        self.io.close()
