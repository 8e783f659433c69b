#!/usr/bin/env python3
"""`make hil`: the emulated kiosk. Builds the Debian package from a signed release, finds or
builds the cached system image (scripts/hil/image), boots it in QEMU with real emulated devices
wired to the host simulators, installs the kiosk by its own install path, waits for systemd's
kiosk.service (READY=1), runs `kiosk diag --json` in the guest on the real drivers, takes
screendumps, and writes out/hil/report.json. Exit 0 only when every step passed.

    scripts/hil/run.py [--out out/hil] [--accel auto|kvm|tcg] [--power-cuts N]

Environment: CARGO_TARGET_DIR (the builds: production/kiosk from `make production`, packaged for
the guest, and release/kiosk-hil-sim, a demo build, on the host), KIOSK_PRODUCTION_BIN (the
production binary, default $CARGO_TARGET_DIR/production/kiosk),
KIOSK_HIL_CACHE (image cache, default /var/cache/kiosk-hil).
"""

import argparse
import base64
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qemu import GuestAgent, Qmp  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", "/var/cache/kiosk-target"))
KIOSK = Path(os.environ.get("KIOSK_PRODUCTION_BIN", TARGET / "production" / "kiosk"))
SIM = TARGET / "release" / "kiosk-hil-sim"
WIDTH, HEIGHT = 800, 480
KIOSK_ID = "KIOSK-HIL-0001"
SITE = "HIL-01"
CORE_HOST = "core.hil.test"
KVM_BOOT_TIMEOUT = 90
TCG_BOOT_TIMEOUT = 420
# The simulated passport's DG2 photo (a face from models/MANIFEST.toml).
PASSPORT_PHOTO = REPO / "models" / "faces" / "obama3.jpg"
# The face recogniser: a release without it never becomes ready (the failed update).
RECOGNISER_PREFIX = "face_recognition_sface"


class StepFailed(Exception):
    pass


class Run:
    def __init__(self, out, accel, power_cuts=0):
        self.out = out
        self.power_cuts = power_cuts
        # The people at the kiosk (HIL_PEOPLE=1): under TCG the face step outlasted the
        # watchdog in the first runs (see the README); off by default until it passes.
        self.people = os.environ.get("HIL_PEOPLE", "0") == "1"
        self.boots = 0
        self.work = out / "work"
        self.screens = out / "screens"
        self.accel_choice = accel
        self.steps = []
        self.facts = {}
        self.procs = []
        self.qemu = None
        self.qmp = None
        self.qga = None
        self.screen_no = 0

    # ---- bookkeeping -------------------------------------------------------------------
    def step(self, name, fn):
        start = time.monotonic()
        print(f"hil: {name} ...", flush=True)
        try:
            detail = fn() or {}
            result = "pass"
        except Exception as error:  # every failure is reported, the run goes on to cleanup
            detail = {"error": str(error)}
            result = "fail"
        duration = round(time.monotonic() - start, 1)
        self.steps.append({"name": name, "result": result, "duration_s": duration, "detail": detail})
        print(f"hil: {name}: {result} in {duration} s {json.dumps(detail)[:400]}", flush=True)
        if result == "fail":
            raise StepFailed(name)

    def sh(self, *argv, **kw):
        return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, **kw)

    def screendump(self, label):
        self.screen_no += 1
        path = self.screens / f"{self.screen_no:02d}-{label}.png"
        self.qmp.screendump(path.resolve())
        return str(path.relative_to(self.out))

    # ---- host side: package, keys, media ----------------------------------------------
    def package(self):
        for binary in (KIOSK, SIM):
            if not binary.exists():
                raise StepFailed(f"{binary} missing: `make hil` builds it (make production, and kiosk-hil-sim with --features demo)")
        build = self.sh(KIOSK, "--version").stdout
        if "(production build: no simulators)" not in build:
            raise StepFailed(f"{KIOSK} is not a production build: {build.strip()}")
        key = self.work / "release-signing.key"
        self.sh(KIOSK, "release", "keygen", "--out", key)
        # The release carries the binary without its debug information (signed as shipped).
        binary = self.work / "kiosk"
        self.sh("strip", "--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", "-o", binary, KIOSK)
        release = self.work / "release"
        self.sh(REPO / "scripts/release", "--key", key, "--out", release, "--binary", binary)
        deb = Path(self.sh(REPO / "scripts/deb", "--release", release, "--out", self.work / "deb").stdout.strip())
        self.version = (release / "VERSION").read_text().strip()
        self.updates = {"good": bump(self.version, 1), "bad": bump(self.version, 2)}
        broken_models = self.work / "models-without-recogniser"
        shutil.copytree(REPO / "models", broken_models,
                        ignore=lambda _, names: [n for n in names if n.startswith(RECOGNISER_PREFIX)])
        for kind, models in (("good", REPO / "models"), ("bad", broken_models)):
            self.sh(REPO / "scripts/release", "--key", key, "--out", self.work / f"update-{kind}", "--binary", binary,
                    "--version", self.updates[kind], "--models", models)
        info = self.sh("dpkg-deb", "-f", deb, "Package", "Version", "Depends").stdout
        lint = subprocess.run(["lintian", "--no-tag-display-limit", str(deb)], capture_output=True, text=True)
        tags = [line for line in lint.stdout.splitlines() if re.match(r"^[EWIN]: ", line)]
        errors = [t for t in tags if t.startswith("E: ")]
        (self.out / "lintian.txt").write_text(lint.stdout + lint.stderr)
        self.deb = deb
        detail = {"deb": deb.name, "bytes": deb.stat().st_size, "control": info.strip().splitlines(),
                  "updates": self.updates,
                  "lintian_errors": errors, "lintian_warnings": [t for t in tags if t.startswith("W: ")]}
        if errors:
            raise StepFailed(f"lintian errors: {errors}")
        return detail

    def tls(self):
        d = self.work / "tls"
        d.mkdir()
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        self.sh("openssl", "req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "core-ca.pem", "-days", "365",
                "-subj", "/CN=HIL test CA")
        for name, subj, ext in (("core", f"/CN={CORE_HOST}", f"subjectAltName=DNS:{CORE_HOST}\nextendedKeyUsage=serverAuth"),
                                ("kiosk", f"/CN={KIOSK_ID}", "extendedKeyUsage=clientAuth")):
            self.sh("openssl", "req", *ec, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr", "-subj", subj)
            (d / f"{name}.ext").write_text(f"basicConstraints=CA:FALSE\n{ext}\n")
            self.sh("openssl", "x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "core-ca.pem", "-CAkey", d / "ca.key",
                    "-CAcreateserial", "-days", "365", "-extfile", d / f"{name}.ext", "-out", d / f"{name}.pem")
        return {"ca": "P-256, 365 days", "server": CORE_HOST, "client": KIOSK_ID}

    def media(self):
        m = self.work / "media"
        (m / "tls").mkdir(parents=True)
        shutil.copy(self.deb, m / self.deb.name)
        shutil.copy(self.work / "release-signing.key.pub", m / "release-signing.pub")
        shutil.copy(REPO / "scripts/hil/site.toml", m / "site.toml")
        # The run's CSCA (written by the card reader simulator), for the guest's trust folder.
        (m / "csca").mkdir()
        shutil.copy(self.work / "csca" / "hil-run-csca.der", m / "csca" / "hil-run-csca.der")
        # Two later releases for scripts/update: a good one, and one without the face recogniser
        # (signed and valid, but `kiosk run` cannot load its models: it never becomes ready).
        shutil.copytree(self.work / "update-good", m / "update-good")
        shutil.copytree(self.work / "update-bad", m / "update-bad")
        for src, dst in (("core-ca.pem", "core-ca.pem"), ("kiosk.pem", "kiosk.pem"), ("kiosk.key", "kiosk.key")):
            shutil.copy(self.work / "tls" / src, m / "tls" / dst)
        size_mb = int(sum(f.stat().st_size for f in m.rglob("*") if f.is_file()) / 2**20 * 1.3) + 32
        img = self.work / "install.img"
        self.sh("mkfs.ext4", "-q", "-L", "kioskinst", "-d", m, img, f"{size_mb}M")
        return {"install_disk_mb": size_mb}

    def image(self):
        start = time.monotonic()
        out = self.sh(REPO / "scripts/hil/image", self.deb)
        self.image_dir = Path(out.stdout.strip().splitlines()[-1])
        built = "assembling" in out.stderr or "debootstrap" in out.stderr
        self.sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", self.image_dir / "rootfs.qcow2",
                self.work / "disk.qcow2")
        return {"image": str(self.image_dir), "cache": "built" if built else "hit",
                "seconds": round(time.monotonic() - start, 1)}

    # ---- host simulators ---------------------------------------------------------------
    def spawn(self, name, argv):
        log = open(self.work / f"{name}.log", "w")
        proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def simulators(self):
        # A CSCA made for this run (random label): the guest is a production kiosk, it trusts
        # this CSCA only; the simulator's passport is signed by its Document Signer.
        (self.work / "csca").mkdir()
        csca = self.work / "csca" / "hil-run-csca.der"
        self.spawn("reader", [SIM, "card-reader", "--link", self.work / "reader.pty",
                              "--pki-label", f"hil-run-{secrets.token_hex(16)}", "--csca-out", csca,
                              "--passport-photo", PASSPORT_PHOTO])
        self.spawn("printer", [SIM, "printer", "--link", self.work / "printer.pty",
                               "--transcript", self.out / "printer.txt"])
        for link in ("reader.pty", "printer.pty"):
            wait_for(lambda: (self.work / link).exists(), 20, f"simulator {link}")
        csca_sha = self.sh("sha256sum", csca).stdout.split()[0]
        return {"reader": os.readlink(self.work / "reader.pty"), "printer": os.readlink(self.work / "printer.pty"),
                "csca_sha256": csca_sha}

    # ---- the virtual machine ----------------------------------------------------------
    def qemu_argv(self, accel):
        w = self.work.resolve()
        wav = "speech.wav" if self.boots <= 1 else f"speech-boot{self.boots}.wav"
        fwd = w / "core-forward.sh"
        fwd.write_text(f'#!/bin/sh\n# One guest connection to {CORE_HOST}:8443 -> the host core simulator.\n'
                       f'exec socat - "TCP:127.0.0.1:$(cat {w}/core.port)"\n')
        fwd.chmod(0o755)
        # Nested KVM here refuses the host's IA32_ARCH_CAPABILITIES MSR: leave it out.
        cpu = "host,-arch-capabilities" if accel == "kvm" else "max"
        # no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer test can miss its
        # ticks and panic ("IO-APIC + timer doesn't work", seen here at load 11).
        return [
            "qemu-system-x86_64", "-name", "kiosk-hil", "-machine", f"q35,accel={accel}", "-cpu", cpu,
            "-m", "2048", "-smp", "2", "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", self.image_dir / "vmlinuz", "-initrd", self.image_dir / "initrd.img",
            "-append", "root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 systemd.show_status=1 vt.global_cursor_default=0 "
            "no_timer_check",
            # Root disk: no host cache, so a killed QEMU loses what a power cut loses.
            "-drive", f"file={w}/disk.qcow2,if=none,id=root,format=qcow2,cache=none,aio=threads",
            "-device", "virtio-blk-pci,drive=root",
            "-drive", f"file={w}/install.img,if=none,id=inst,format=raw,readonly=on",
            "-device", "virtio-blk-pci,drive=inst,serial=kioskinstall",
            # ttyS0: console -> console.log; ttyS1: card reader; ttyS2: receipt printer.
            # append: the boots after a power cut follow the first in one console.log.
            "-chardev", f"file,id=con,path={self.out.resolve()}/console.log,append=on", "-serial", "chardev:con",
            "-chardev", f"serial,id=reader,path={w}/reader.pty", "-serial", "chardev:reader",
            "-chardev", f"serial,id=printer,path={w}/printer.pty", "-serial", "chardev:printer",
            # Display: DRM (bochs-drm) with fbdev emulation /dev/fb0; touch: virtio tablet (evdev).
            "-vga", "none", "-device", f"bochs-display,xres={WIDTH},yres={HEIGHT}",
            "-device", "virtio-tablet-pci",
            # Sound card -> WAV file on the host.
            "-audiodev", f"wav,id=snd,path={self.out.resolve()}/{wav}",
            "-device", "intel-hda", "-device", "hda-output,audiodev=snd",
            # User networking, isolated: only the core forward leaves the guest.
            "-netdev", f"user,id=net,restrict=on,guestfwd=tcp:10.0.2.100:8443-cmd:{fwd}",
            "-device", "virtio-net-pci,netdev=net",
            "-chardev", f"socket,id=qga,path={w}/qga.sock,server=on,wait=off",
            "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
            # Camera: the simulated person's frames into the guest's vivid (kiosk-hil-camera.service).
            "-chardev", f"socket,id=camera,path={w}/camera.sock,server=on,wait=off",
            "-device", "virtserialport,chardev=camera,name=kiosk.camera",
            "-qmp", f"unix:{w}/qmp.sock,server=on,wait=off",
            # The person's own monitor: they look at the screen and tap it while the run uses its own.
            "-qmp", f"unix:{w}/qmp-person.sock,server=on,wait=off",
            "-rtc", "base=utc",
        ]

    def start_qemu(self, accel):
        for sock in ("qmp.sock", "qga.sock", "qmp-person.sock", "camera.sock"):
            (self.work / sock).unlink(missing_ok=True)
        self.boots += 1
        # Not niced: the guest's timing is part of what the run checks, and a niced TCG guest
        # loses its CPU to any build on the host (its challenge then times out).
        self.qemu = subprocess.Popen([str(a) for a in self.qemu_argv(accel)],
                                     stdout=open(self.work / "qemu.log", "a"), stderr=subprocess.STDOUT)
        wait_for(lambda: (self.work / "qmp.sock").exists() or self.qemu.poll() is not None, 20, "QMP socket")
        if self.qemu.poll() is not None:
            raise StepFailed(f"qemu exited {self.qemu.returncode}: {(self.work / 'qemu.log').read_text()[-800:]}")
        self.qmp = Qmp(str(self.work / "qmp.sock"))

    def stop_qemu(self):
        # QMP quit first: QEMU then closes speech.wav with its header (a kill leaves it empty).
        if self.qemu and self.qemu.poll() is None and self.qmp:
            try:
                self.qmp.execute("quit")
                self.qemu.wait(15)
            except Exception:
                pass
        if self.qemu and self.qemu.poll() is None:
            self.qemu.kill()
            self.qemu.wait()
        for c in (self.qga, self.qmp):
            try:
                c and c.close()
            except OSError:
                pass
        self.qga = self.qmp = None

    def connect_agent(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.qemu.poll() is not None:
                raise StepFailed(f"qemu exited {self.qemu.returncode}")
            panic = kernel_panic(self.out / "console.log")
            if panic:
                raise StepFailed(f"the guest kernel panicked: {panic}")
            try:
                self.qga = GuestAgent(str(self.work / "qga.sock"), timeout=5)
                self.qga.call("guest-ping")
                # Answering: from now on a slow answer is load on the host, not a dead guest
                # (seen: more than 5 s at load 11).
                self.qga.io.sock.settimeout(120)
                return True
            except (OSError, Exception):
                if self.qga:
                    self.qga.close()
                self.qga = None
                time.sleep(2)
        return False

    def boot(self):
        accels = {"auto": ["kvm", "tcg"], "kvm": ["kvm"], "tcg": ["tcg"]}[self.accel_choice]
        tried = []
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            accels = [a for a in accels if a != "kvm"] or ["tcg"]
        elif Path("/sys/module/kvm_pvm").exists() and self.accel_choice == "auto":
            # This host's /dev/kvm is PVM (kvm_pvm: no VMX/SVM; guests run on shadow page tables)
            # and runs only kernels built as PVM guests: Debian's stalls in its decompressor.
            accels = ["tcg"]
            tried.append({"accel": "kvm", "ok": False, "error": "skipped: /dev/kvm is kvm_pvm, which boots "
                          "only PVM-guest kernels (Debian's linux-image-amd64 hangs in its decompressor)"})
        console = self.out / "console.log"
        for accel in accels:
            start = time.monotonic()
            try:
                self.start_qemu(accel)
                # A KVM guest that prints nothing on its console for 30 s has hung (seen with PVM
                # here); a TCG guest on a loaded host may take longer than that (seen at load 12),
                # and has the agent's timeout and the panic check.
                if accel == "kvm":
                    wait_for(lambda: console.exists() and console.stat().st_size > 0, 30, "kvm: first console output")
                ok = self.connect_agent(KVM_BOOT_TIMEOUT if accel == "kvm" else TCG_BOOT_TIMEOUT)
                error = None if ok else "no guest agent"
            except Exception as e:
                ok, error = False, str(e)
            agent_s = round(time.monotonic() - start, 1)
            tried.append({"accel": accel, "agent_after_s": agent_s, "ok": ok, "error": error})
            if ok:
                code, state, _ = self.qga.run(["/bin/systemctl", "is-system-running", "--wait"], timeout=600)
                _, analyze, _ = self.qga.run(["/usr/bin/systemd-analyze"], timeout=60)
                self.facts.update(accel=accel, boot_s=round(time.monotonic() - start, 1))
                return {"accel": accel, "attempts": tried, "system": state.strip(),
                        "systemd_analyze": analyze.strip().splitlines()[:1], "boot_s": self.facts["boot_s"]}
            self.stop_qemu()
            if console.exists():
                console.rename(self.out / f"console-{accel}-failed.log")
            # A fresh disk for the next try: nothing of a half boot carries over.
            self.sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    self.image_dir / "rootfs.qcow2", self.work / "disk.qcow2")
        raise StepFailed(f"the guest agent never answered: {tried}")

    # ---- in the guest ------------------------------------------------------------------
    def guest(self, script, timeout=300, check=True):
        code, out, err = self.qga.sh(script, timeout=timeout)
        if check and code != 0:
            raise StepFailed(f"`{script[:120]}` exit {code}: {(out + err)[-1500:]}")
        return code, out, err

    def devices(self):
        _, out, _ = self.guest(
            "ls -l /dev/fb0 /dev/dri/card0 /dev/input/kiosk-touch /dev/video0 /dev/ttyS1 /dev/ttyS2 && "
            "cat /sys/class/graphics/fb0/virtual_size /sys/class/graphics/fb0/bits_per_pixel && "
            "cat /proc/asound/cards && v4l2-ctl -d /dev/video0 --info | head -n 5")
        return {"listing": out.strip().splitlines()}

    def touch(self):
        """The host's taps (QMP) reach the guest's evdev device as absolute touches."""
        pid = self.qga.call("guest-exec", path="/bin/sh",
                            arg=["-c", "timeout 15 cat /dev/input/kiosk-touch >/run/touch.bin; "
                                        "od -An -v -tx1 -w24 /run/touch.bin"],
                            **{"capture-output": True})["pid"]
        # Taps over 12 s, each at another pixel (evdev reports an unchanged axis once): a guest
        # slowed by a loaded host may open the device late (seen: the first taps missed).
        for i in range(12):
            time.sleep(1)
            self.qmp.tap(WIDTH // 2 + i, HEIGHT // 2 + i, WIDTH, HEIGHT)
        deadline, status = time.monotonic() + 30, {}
        while time.monotonic() < deadline:
            status = self.qga.call("guest-exec-status", pid=pid)
            if status.get("exited"):
                break
            time.sleep(0.5)
        lines = base64.b64decode(status.get("out-data", "")).decode().splitlines()
        # struct input_event on x86-64: 16 bytes of time, then type, code (u16) and value (s32).
        events = []
        for line in lines:
            b = bytes.fromhex(line.replace(" ", ""))
            if len(b) == 24:
                events.append((int.from_bytes(b[16:18], "little"), int.from_bytes(b[18:20], "little"),
                               int.from_bytes(b[20:24], "little", signed=True)))
        abs_events = [e for e in events if e[0] == 3]
        presses = [e for e in events if e[0] == 1 and e[2] == 1]
        detail = {"records": len(events), "abs": abs_events[:4], "presses": presses[:3]}
        if not abs_events or not presses:
            raise StepFailed(f"no touch reached /dev/input/kiosk-touch: {detail}")
        return detail

    def install(self):
        script = ("set -e; mkdir -p /media/kiosk; mount -o ro /dev/disk/by-id/virtio-kioskinstall /media/kiosk; "
                  "cd /media/kiosk; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ./kiosk_*.deb; "
                  # The bank's CSCA masterlist goes where card_reader.csca_dir says (docs/DEPLOY.md).
                  "install -d -m 0755 /etc/kiosk/csca; install -m 0644 csca/*.der /etc/kiosk/csca/; "
                  "KIOSK_READY_TIMEOUT=300 /opt/kiosk/current/scripts/install --trust-key release-signing.pub --config site.toml "
                  f"--site {SITE} --tls-dir tls")
        start = time.monotonic()
        code, out, err = self.guest(script, timeout=900, check=False)
        (self.out / "install.log").write_text(out + err)
        if code != 0:
            raise StepFailed(f"install exit {code}: {(out + err)[-1500:]}")
        key = re.search(r"public key: ([0-9a-f]{64})", out + err)
        if not key:
            raise StepFailed("scripts/install printed no public key (provisioning)")
        self.kiosk_key = key.group(1)
        _, modes, _ = self.guest("stat -c '%a %U:%G %n' /etc/kiosk /etc/kiosk/tls /etc/kiosk/tls/kiosk.key "
                                 "/etc/kiosk/site.toml /var/lib/kiosk /opt/kiosk/current; id kiosk")
        return {"seconds": round(time.monotonic() - start, 1), "modes": modes.strip().splitlines()}

    def core(self):
        d = self.work / "tls"
        self.spawn("core", [SIM, "core", "--server-cert", d / "core.pem", "--server-key", d / "core.key",
                            "--client-ca", d / "core-ca.pem", "--kiosk-key", self.kiosk_key,
                            "--port-file", self.work / "core.port", "--record", self.out / "core-record.json"])
        wait_for(lambda: (self.work / "core.port").exists(), 20, "core simulator port")
        return {"port": (self.work / "core.port").read_text()}

    def service_active(self, timeout=180):
        deadline = time.monotonic() + timeout
        props = {}
        while time.monotonic() < deadline:
            _, out, _ = self.guest("systemctl show kiosk.service -p ActiveState -p SubState -p NRestarts "
                                   "-p Type -p StatusText -p MainPID", check=False)
            props = dict(line.split("=", 1) for line in out.strip().splitlines() if "=" in line)
            # Type=notify: "active" only after READY=1; the status text is the service's own.
            if props.get("ActiveState") == "active" and props.get("StatusText") == "serving":
                return props
            time.sleep(2)
        raise StepFailed(f"kiosk.service not active with READY=1 within {timeout} s: {props}")

    def wait_service(self):
        props = self.service_active()
        shot = self.screendump("service-ready")
        return {"unit": props, "screen": shot}

    def diag(self):
        self.guest("systemctl stop kiosk.service")
        # As docs/DEPLOY.md says: as root (keys.kek opens the sealed credential in
        # /etc/kiosk/credentials, 0700 root), in the release folder (relative paths of the
        # configuration, such as models/, resolve there).
        cmd = ["/bin/sh", "-c", "cd /opt/kiosk/current && exec bin/kiosk --config /etc/kiosk/site.toml diag --json"]
        pid = self.qga.call("guest-exec", path=cmd[0], arg=cmd[1:], **{"capture-output": True})["pid"]
        start, status, shots, last, taps, bars = time.monotonic(), {}, [], None, 0, None
        while time.monotonic() - start < 300:
            status = self.qga.call("guest-exec-status", pid=pid)
            if status.get("exited"):
                break
            # Every screen diag shows is kept once (PNG); the host reads the test pattern's bars
            # from the raw screendump (PPM).
            probe = self.work / "probe.ppm"
            self.qmp.execute("screendump", filename=str(probe.resolve()))
            picture = probe.read_bytes()
            if picture != last:
                last = picture
                shots.append(self.screendump("diag"))
                bars = bars or colour_bars(picture)
            # input.touch waits for a touch: the host taps near the middle of the screen, never
            # twice on the same pixel, as a finger does (evdev reports an unchanged axis once).
            taps += 1
            self.qmp.tap(WIDTH // 2 + taps % 17, HEIGHT // 2 + taps % 13, WIDTH, HEIGHT)
            time.sleep(1)
        else:
            raise StepFailed("kiosk diag did not finish in 300 s")
        out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
        (self.out / "diag.json").write_text(out)
        (self.out / "diag.stderr").write_text(err)
        try:
            report = json.loads(out)
        except json.JSONDecodeError as error:
            raise StepFailed(f"diag printed no JSON ({error}); exit {status.get('exitcode')}: {err[-800:]}")
        checks = report.get("checks", [])
        by_status = {}
        for c in checks:
            by_status.setdefault(c.get("status"), []).append(c.get("id"))
        failed = [(c.get("id"), c.get("value"), c.get("action")) for c in checks if c.get("status") == "fail"]
        touch = next((c.get("value", "") for c in checks if c.get("id") == "input.touch"), "")
        detail = {"exit": status.get("exitcode"), "counts": {k: len(v) for k, v in by_status.items()},
                  "warn": by_status.get("warn", []), "fail": failed, "screens": shots,
                  "test_pattern_seen_by_host": bars is not None, "touch": touch,
                  "tapped_near": [WIDTH // 2, HEIGHT // 2]}
        m = re.search(r"\((\d+), (\d+)\)", touch)
        if not m or abs(int(m.group(1)) - WIDTH // 2) > 20 or abs(int(m.group(2)) - HEIGHT // 2) > 20:
            # The onboarding taps buttons: a touch read elsewhere than tapped fails the run.
            failed.append(("input.touch", touch, f"tapped near ({WIDTH // 2}, {HEIGHT // 2})"))
        if failed or not checks or bars is None:
            raise StepFailed(json.dumps(detail))
        return detail

    def passport_read(self):
        """The simulator's passport read over ttyS1 by the guest's production kiosk: passive
        authentication against the run's CSCA in /etc/kiosk/csca (the only one it trusts)."""
        code, out, err = self.guest("cd /opt/kiosk/current && /usr/sbin/runuser -u kiosk -- "
                                    "bin/kiosk --config /etc/kiosk/site.toml card read --json --wait 60",
                                    timeout=240, check=False)
        try:
            report = json.loads(out)
        except json.JSONDecodeError:
            raise StepFailed(f"card read printed no JSON, exit {code}: {(out + err)[-1200:]}")
        (self.out / "card-read.json").write_text(json.dumps(redact(report), indent=2) + "\n")
        detail = {"exit": code, "trusted": report.get("trusted"),
                  "passive_authentication": report.get("passive_authentication", report.get("authentication"))}
        if code != 0 or report.get("trusted") is not True:
            raise StepFailed(f"the run's passport is not trusted by the guest: {json.dumps(detail)[:1200]}")
        return detail

    CARD_READ = ["/bin/sh", "-c", "cd /opt/kiosk/current && exec /usr/sbin/runuser -u kiosk -- "
                 "bin/kiosk --config /etc/kiosk/site.toml card read --json --wait 90"]

    def unplugged_reader(self):
        """The reader's serial line is pulled during a chip read (QMP chardev-change to a null
        backend: the guest's ttyS1 hears nothing) and put back 5 s later. The read must recover
        or fail cleanly (no panic), and the next read must be trusted again."""
        w = self.work.resolve()
        pid = self.qga.call("guest-exec", path=self.CARD_READ[0], arg=self.CARD_READ[1:],
                            **{"capture-output": True})["pid"]
        pulled_after = round(random.uniform(1.0, 3.0), 1)
        time.sleep(pulled_after)
        self.qmp.execute("chardev-change", id="reader", backend={"type": "null", "data": {}})
        time.sleep(5)
        self.qmp.execute("chardev-change", id="reader",
                         backend={"type": "serial", "data": {"device": str(w / "reader.pty")}})
        deadline, status = time.monotonic() + 180, {}
        while time.monotonic() < deadline:
            status = self.qga.call("guest-exec-status", pid=pid)
            if status.get("exited"):
                break
            time.sleep(1)
        else:
            raise StepFailed("the card read hung after the reader was plugged back (180 s)")
        out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
        (self.out / "unplugged-read.stderr").write_text(err)
        code = status.get("exitcode", -1)
        try:
            during = json.loads(out).get("trusted")
        except json.JSONDecodeError:
            during = None
        clean = code in (0, 1, 2) and "panicked" not in err
        # After the line is back, a read works again (the simulator kept its pty).
        code2, out2, err2 = self.guest(" ".join(self.CARD_READ[2:]), timeout=240, check=False)
        try:
            after = json.loads(out2).get("trusted")
        except json.JSONDecodeError:
            after = None
        self.guest("systemctl start kiosk.service")
        detail = {"pulled_after_s": pulled_after, "unplugged_s": 5,
                  "read_during": {"exit": code, "trusted": during,
                                  "message": re.sub(r"\x1b\[[0-9;]*m", "", err).strip().splitlines()[-1:]},
                  "read_after": {"exit": code2, "trusted": after},
                  "outcome": "recovered" if during is True else "failed cleanly" if clean else "unclean"}
        if not clean or after is not True:
            raise StepFailed(json.dumps(detail)[:1500])
        return detail

    def back_in_service(self):
        props = self.service_active()
        return {"unit": props, "screen": self.screendump("back-in-service")}

    # ---- people at the kiosk --------------------------------------------------------------
    def person(self, number, faces, print_receipt, read_aloud=False):
        """A person walks up: `kiosk-hil-sim person` looks at the guest's screen, taps what it
        offers and shows their face to the camera; the passport lies on the reader."""
        report = self.out / f"person-{number}.json"
        seen = self.out / f"person-{number}-saw"
        seen.mkdir()
        argv = [SIM, "person", "--qmp", self.work / "qmp-person.sock", "--camera", self.work / "camera.sock",
                "--models", REPO / "models", "--report", report, "--timeout-s", "900", "--seen", seen,
                "--faces", *faces]
        if print_receipt:
            argv.insert(2, "--print-receipt")
        if read_aloud:
            argv.insert(2, "--read-aloud")
        proc = self.spawn(f"person-{number}", argv)
        try:
            proc.wait(960)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise StepFailed(f"person {number} still at the kiosk after 960 s")
        if proc.returncode != 0 or not report.exists():
            log = (self.work / f"person-{number}.log").read_text()[-1500:]
            raise StepFailed(f"person {number} exited {proc.returncode}: {log}")
        result = json.loads(report.read_text())
        result["screen"] = self.screendump(f"person-{number}-done")
        return result

    def onboarding(self):
        """The passport holder: consent, chip, live face with the head turn asked, account,
        receipt printed, no social payments, goodbye. The account is in the guest's store and
        reaches the core."""
        wav = self.out / ("speech.wav" if self.boots <= 1 else f"speech-boot{self.boots}.wav")
        heard_before = speech_seconds(wav)
        result = self.person(1, [REPO / "models" / "faces" / "obama3.jpg", REPO / "models" / "faces" / "obama2.jpg"],
                             print_receipt=True, read_aloud=True)
        if result.get("outcome") != "account_issued":
            raise StepFailed(f"the holder was not issued an account: {json.dumps(result)[:1500]}")
        if not result.get("turns"):
            raise StepFailed(f"account issued, but the person never read a head-turn challenge: {result}")
        deadline, counts = time.monotonic() + 180, ""
        while time.monotonic() < deadline:
            _, counts, _ = self.guest("sqlite3 -readonly /var/lib/kiosk/kiosk.db \"select (select count(*) from accounts), "
                                      "(select count(*) from outbox where sent_at is null)\"", check=False)
            if counts.strip() == "1|0":
                break
            time.sleep(5)
        else:
            raise StepFailed(f"accounts|unsent outbox rows in the guest store: {counts.strip()} (expected 1|0 within 180 s)")
        result["store_accounts_unsent"] = counts.strip()
        # "Read aloud" was pressed: espeak-ng in the guest spoke the screens through ALSA into
        # QEMU's sound card, which writes what it plays to the WAV file on the host.
        heard = speech_seconds(wav) - heard_before
        result["speech"] = {"wav": wav.name, "seconds_heard": round(heard, 1)}
        if heard < 2.0:
            raise StepFailed(f"read aloud was on, but {wav.name} holds {heard:.1f} s of sound from the session (expected >= 2 s)")
        result["token_verified"] = self.verify_token(result.get("token"))
        result["core"] = self.accounts_at_core_once()
        return result

    def verify_token(self, token):
        """The QR code the person read off the screen, verified offline as the mobile bank
        would: `kiosk token verify` on the host with the key the kiosk registered at install."""
        if not token:
            raise StepFailed("the person read no QR code on the account screen")
        done = subprocess.run([str(KIOSK), "token", "verify", token, "--public-key", self.kiosk_key],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise StepFailed(f"kiosk token verify exit {done.returncode}: {(done.stdout + done.stderr)[-800:]}")
        claims = json.loads(done.stdout)
        _, ids, _ = self.guest("sqlite3 -readonly /var/lib/kiosk/kiosk.db 'select id from accounts'", check=False)
        if claims.get("kiosk_id") != KIOSK_ID or str(claims.get("account_id")) not in ids.split():
            raise StepFailed(f"the token's claims name another kiosk or account: {claims}, guest accounts {ids.split()}")
        return {k: claims.get(k) for k in ("kiosk_id", "account_id", "expires_at")}

    def accounts_at_core_once(self, timeout=120):
        """Every account in the guest's store is at the host core exactly once (one distinct
        account_opened message each), and the core holds no other."""
        deadline, held, ids = time.monotonic() + timeout, {}, []
        while time.monotonic() < deadline:
            _, out, _ = self.guest("sqlite3 -readonly /var/lib/kiosk/kiosk.db 'select id from accounts'", check=False)
            ids = sorted(out.split())
            record = self.out / "core-record.json"
            held = json.loads(record.read_text()).get("accounts", {}) if record.exists() else {}
            if sorted(held) == ids and all(n == 1 for n in held.values()):
                return {"accounts": len(ids), "each_once": True}
            time.sleep(3)
        raise StepFailed(f"guest accounts {ids} vs the core's record {held} (account id: distinct messages)")

    def refused_person(self):
        """Someone else with the same passport: the kiosk must refuse them (the face does not
        match the chip, or the document already has an account), and issue nothing."""
        result = self.person(2, [REPO / "models" / "faces" / "biden.jpg"], print_receipt=False)
        if result.get("outcome") != "refused" or result.get("refusal") not in ("FaceMismatch", "AlreadyEnrolled"):
            raise StepFailed(f"the impostor was not refused: {json.dumps(result)[:1500]}")
        _, counts, _ = self.guest("sqlite3 -readonly /var/lib/kiosk/kiosk.db 'select count(*) from accounts'", check=False)
        if counts.strip() != "1":
            raise StepFailed(f"{counts.strip()} accounts in the store after the refusal, expected 1")
        return result

    # ---- faults ------------------------------------------------------------------------
    def unit(self):
        _, out, _ = self.guest("systemctl show kiosk.service -p ActiveState -p SubState -p NRestarts "
                               "-p StatusText -p MainPID", check=False)
        return dict(line.split("=", 1) for line in out.strip().splitlines() if "=" in line)

    def why_not_started(self):
        """What systemd knows about a kiosk.service that did not start: its load and enable
        state, the jobs it waits on, the unit file as it is on the disk, this boot's warnings."""
        probes = {
            "unit": "systemctl show kiosk.service -p LoadState -p UnitFileState -p ActiveState -p SubState "
                    "-p FragmentPath -p Result -p ConditionResult",
            "jobs": "systemctl list-jobs --no-pager",
            "files": "ls -la /etc/systemd/system/kiosk.service /etc/systemd/system/multi-user.target.wants/ "
                     "/opt/kiosk/ /etc/kiosk/credentials/",
            "chain": "systemd-analyze critical-chain kiosk.service --no-pager",
            "warnings": "journalctl -b -p warning --no-pager -o short-monotonic | tail -n 25",
        }
        found = {}
        for name, script in probes.items():
            _, out, err = self.guest(script, check=False)
            found[name] = (out + err).strip().splitlines()[-25:]
        (self.out / "why-not-started.json").write_text(json.dumps(found, indent=2))
        return found

    def hung_service(self):
        """SIGSTOP: the process stops pinging; systemd's watchdog (WatchdogSec) must kill and
        restart it, and the new process must serve again."""
        before = self.unit()
        pid, restarts = before.get("MainPID"), int(before.get("NRestarts", "0"))
        start = time.monotonic()
        self.guest(f"kill -STOP {pid}")
        deadline, now = time.monotonic() + 300, {}
        while time.monotonic() < deadline:
            now = self.unit()
            if (int(now.get("NRestarts", "0")) > restarts and now.get("MainPID") not in (pid, "0")
                    and now.get("ActiveState") == "active" and now.get("StatusText") == "serving"):
                break
            time.sleep(2)
        else:
            raise StepFailed(f"not restarted and serving 300 s after SIGSTOP: before {before}, now {now}")
        _, journal, _ = self.guest("journalctl -b -u kiosk.service --no-pager -o cat | grep -i watchdog | tail -n 3",
                                   check=False)
        if "watchdog" not in journal.lower():
            raise StepFailed(f"restarted, but systemd logged no watchdog timeout: {journal[-600:]}")
        return {"stopped_pid": pid, "new_pid": now.get("MainPID"), "restarts": [restarts, int(now["NRestarts"])],
                "serving_again_after_s": round(time.monotonic() - start, 1),
                "journal": journal.strip().splitlines(), "screen": self.screendump("after-watchdog-restart")}

    def run_update(self, kind):
        code, out, err = self.guest(f"KIOSK_READY_TIMEOUT=300 /media/kiosk/update-{kind}/scripts/update",
                                    timeout=900, check=False)
        (self.out / f"update-{kind}.log").write_text(out + err)
        _, link, _ = self.guest("readlink /opt/kiosk/current; readlink /opt/kiosk/previous || true", check=False)
        return code, (out + err).strip().splitlines(), link.split()

    def failed_update(self):
        code, log, links = self.run_update("bad")
        props = self.service_active()
        expected = f"releases/{self.version}"
        detail = {"to": self.updates["bad"], "exit": code, "log": log[-4:], "current": links[:1], "unit": props}
        if code == 0 or links[:1] != [expected] or not any("rolled back" in line for line in log):
            raise StepFailed(f"the update that never becomes ready was not rolled back to {expected}: {detail}")
        return detail

    def good_update(self):
        code, log, links = self.run_update("good")
        props = self.service_active()
        expected = [f"releases/{self.updates['good']}", f"releases/{self.version}"]
        detail = {"to": self.updates["good"], "exit": code, "log": log[-3:], "current_previous": links, "unit": props,
                  "screen": self.screendump("after-good-update")}
        if code != 0 or links[:2] != expected:
            raise StepFailed(f"the good update did not switch: {detail}")
        self.version = self.updates["good"]
        return detail

    def power_cut(self, number):
        """SIGKILL of QEMU (the root disk has no host cache) at a random moment of a service
        restart, or (every second cut, with the people at the kiosk) of someone's onboarding;
        the guest must come back by itself with an intact store and audit chain."""
        person = None
        if self.people and number % 2 == 0:
            # Someone at the kiosk: the cut lands in their consent, chip read or face step.
            during = "onboarding"
            seen = self.out / f"power-cut-{number}-person-saw"
            seen.mkdir()
            person = self.spawn(f"power-cut-{number}-person", [
                SIM, "person", "--qmp", self.work / "qmp-person.sock", "--camera", self.work / "camera.sock",
                "--models", REPO / "models", "--report", self.out / f"power-cut-{number}-person.json",
                "--timeout-s", "600", "--seen", seen, "--faces", REPO / "models" / "faces" / "biden.jpg"])
            delay = round(random.uniform(5.0, 60.0), 1)
        else:
            during = "service restart"
            self.qga.call("guest-exec", path="/bin/systemctl", arg=["restart", "--no-block", "kiosk.service"])
            delay = round(random.uniform(0.5, 20.0), 1)
        time.sleep(delay)
        self.qemu.kill()
        self.qemu.wait()
        if person:
            person.kill()
            person.wait()
        for c in (self.qga, self.qmp):
            try:
                c and c.close()
            except OSError:
                pass
        self.qga = self.qmp = None
        start = time.monotonic()
        self.start_qemu(self.facts.get("accel", "tcg"))
        if not self.connect_agent(TCG_BOOT_TIMEOUT):
            raise StepFailed(f"no guest agent {TCG_BOOT_TIMEOUT} s after power cut {number}")
        try:
            props = self.service_active(300)
        except StepFailed as failed:
            raise StepFailed(f"{failed} after power cut {number} (killed {delay} s into a restart); "
                             f"{json.dumps(self.why_not_started())}") from None
        boot_s = round(time.monotonic() - start, 1)
        _, integrity, _ = self.guest("sqlite3 -readonly /var/lib/kiosk/kiosk.db 'PRAGMA integrity_check'", check=False)
        # As root: the keyed chain needs the KEK from the sealed credential.
        code, audit, audit_err = self.guest("cd /opt/kiosk/current && bin/kiosk --config /etc/kiosk/site.toml "
                                            "audit verify", check=False)
        detail = {"during": during, "killed_after_s": delay, "serving_after_boot_s": boot_s, "integrity_check": integrity.strip(),
                  "audit_verify": {"exit": code, "out": (audit + audit_err).strip().splitlines()[-2:]},
                  "unit": props, "screen": self.screendump(f"after-power-cut-{number}")}
        if integrity.strip() != "ok" or code != 0:
            raise StepFailed(json.dumps(detail))
        return detail

    # ---- driver ------------------------------------------------------------------------
    def execute(self):
        if self.out.exists():
            shutil.rmtree(self.out)
        self.screens.mkdir(parents=True)
        self.work.mkdir()
        started = time.monotonic()
        self.expected_steps = 18 + (3 if self.people else 0) + self.power_cuts
        try:
            self.step("package", self.package)
            self.step("tls", self.tls)
            self.step("simulators", self.simulators)
            self.step("install-media", self.media)
            self.step("image", self.image)
            self.step("boot", self.boot)
            self.step("guest-devices", self.devices)
            self.step("touch-reaches-evdev", self.touch)
            self.step("install", self.install)
            self.step("core", self.core)
            self.step("service-ready", self.wait_service)
            self.step("diag", self.diag)
            self.step("passport-read-run-csca", self.passport_read)
            self.step("fault-unplugged-reader", self.unplugged_reader)
            self.step("service-ready-after-diag", self.back_in_service)
            if self.people:
                self.step("onboarding-holder", self.onboarding)
                self.step("refused-impostor", self.refused_person)
            if os.environ.get("HIL_SKIP_FAULTS") == "1":
                # Working on the people at the kiosk: no faults, no updates, no power cuts.
                self.expected_steps = len(self.steps)
                return all(s["result"] == "pass" for s in self.steps)
            self.step("fault-hung-service", self.hung_service)
            self.step("fault-failed-update-rolls-back", self.failed_update)
            self.step("good-update-switches", self.good_update)
            for i in range(1, self.power_cuts + 1):
                self.step(f"fault-power-cut-{i}", lambda i=i: self.power_cut(i))
            if self.people:
                # After every cut: each account the guest issued is at the core exactly once.
                self.step("accounts-at-core-once", lambda: self.accounts_at_core_once(300))
        except StepFailed:
            pass
        finally:
            self.finish(started)
        return all(s["result"] == "pass" for s in self.steps) and len(self.steps) == self.expected_steps

    def finish(self, started):
        if self.qga:
            try:
                _, journal, _ = self.qga.sh("journalctl -b -u kiosk.service --no-pager -o cat | tail -n 300", timeout=60)
                (self.out / "kiosk-journal.log").write_text(journal)
            except Exception:
                pass
        self.stop_qemu()
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        passed = all(s["result"] == "pass" for s in self.steps)
        report = {"schema": "kiosk-hil/1", "verdict": "pass" if passed else "fail",
                  "total_s": round(time.monotonic() - started, 1), **self.facts, "steps": self.steps,
                  "not_yet": NOT_YET}
        (self.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")


# What issue 13 asks that this run does not do yet (also in the README).
NOT_YET = [
    "the people at the kiosk (onboarding with the QR code verified, speech heard, the account at the core once; "
    "the refused person; power cuts during onboarding) only with HIL_PEOPLE=1: the holder passes the head-turn "
    "challenge under TCG (3.1-4.9 s a frame in the window around the face), but not always at the first attempt, "
    "and the second person's session never starts (README)",
    "power cuts: the count the boot time allows (--power-cuts), not 20",
]


def speech_seconds(wav):
    """Seconds of sound (20 ms windows swinging over 2% of full scale) in QEMU's WAV capture of the
    guest's sound card: 16-bit stereo at 44.1 kHz, QEMU's defaults. The file may still be open
    (its header's sizes are written only at exit), so the samples are read after the header."""
    if not wav.exists():
        return 0.0
    data = wav.read_bytes()[44:]
    window = 44100 * 2 * 2 // 50
    loud = 0
    for start in range(0, len(data) - window + 1, window):
        chunk = memoryview(data[start:start + window]).cast("h")
        if max(chunk) - min(chunk) > 1310:
            loud += 1
    return loud / 50.0


BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]


def colour_bars(ppm):
    """True when a binary PPM (P6) shows diag's 8 vertical colour bars, white to black."""
    parts = ppm.split(b"\n", 3)
    if len(parts) < 4 or parts[0] != b"P6":
        return None
    width, height = map(int, parts[1].split())
    pixels = parts[3]
    for i, expected in enumerate(BARS):
        x, y = (2 * i + 1) * width // 16, height // 2
        got = tuple(pixels[(y * width + x) * 3:(y * width + x) * 3 + 3])
        if any(abs(a - b) > 24 for a, b in zip(got, expected)):
            return None
    return True


def kernel_panic(console):
    """The guest kernel's panic line in the console log, or None."""
    try:
        text = console.read_bytes().decode(errors="replace")
    except OSError:
        return None
    m = re.search(r"Kernel panic - not syncing: [^\r\n\]]*", text)
    return m.group(0) if m else None


def bump(version, by):
    """The version `by` patch levels above `version` (a later release for scripts/update)."""
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)", version)
    if not m:
        raise StepFailed(f"release version {version!r} is not MAJOR.MINOR.PATCH")
    return f"{m.group(1)}.{m.group(2)}.{int(m.group(3)) + by}"


def redact(report):
    """The card read report without the holder's data (names, numbers, dates): it is written to disk."""
    if isinstance(report, dict):
        return {k: ("<redacted>" if k in ("mrz", "document", "holder", "name", "surname", "given_names",
                                            "document_number", "birth_date", "date_of_birth", "expiry",
                                            "nationality", "personal_number", "photo") else redact(v))
                for k, v in report.items()}
    if isinstance(report, list):
        return [redact(v) for v in report]
    return report


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise StepFailed(f"{what}: not there after {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/hil", type=Path)
    parser.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    parser.add_argument("--power-cuts", type=int, default=int(os.environ.get("HIL_POWER_CUTS", "1")),
                        help="power cuts after the other faults (each one a boot: ~4 min under TCG)")
    args = parser.parse_args()
    run = Run(args.out, args.accel, args.power_cuts)
    ok = run.execute()
    passed = sum(s["result"] == "pass" for s in run.steps)
    print(f"hil: {'PASS' if ok else 'FAIL'}: {args.out}/report.json")
    print(f"hil: {passed} passed, {run.expected_steps - passed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
