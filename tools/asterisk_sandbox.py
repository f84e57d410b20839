"""A real Asterisk 22 for the demo and the tests, in a debootstrap root kept in `.cache/`.

Theory of operation: Asterisk 22 is in Debian unstable, not in the release these machines run,
so `install` builds a minimal unstable root once (`debootstrap --variant=minbase
--include=asterisk`), using the mirror named in this machine's own apt sources, into a temporary
folder that is renamed into place only when complete; later runs reuse it. Each sandbox instance
gets its own config, run, spool and log folders inside the root (named after the instance), its
own AMI port, and loads the repository's `asterisk/` files unchanged, so what admins include is
what the tests prove: the shipped AMI user (`asterisk/manager-gatekeeper.conf`, with its rights
and event filter) is `service_username`, the one `gatekeeper serve` logs in with. The tests
drive calls with a second, test-only user (`ami_username`) that may also originate, a right the
shipped user must never have. Asterisk runs in the foreground (`-f`) as a child process, in the
chroot, and is stopped with `core stop now` (then SIGTERM, then SIGKILL).

Host names (`hosts`, a name to its addresses) and the DNS server (`nameserver`) are the
instance's own: its hosts file and resolv.conf are bound over the root's in a private mount
namespace Asterisk alone runs in, so instances (and other worktrees sharing the root) never see
each other's names, and nothing is left behind when Asterisk ends. The root's own `/etc/hosts`
stays an empty file, there only as a mount point; its `/etc/host.conf` has `multi on`, so a
name listed twice resolves to both addresses.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO / ".cache" / "asterisk-root"
SNIPPETS = REPO / "asterisk"
READY_MARK = "gatekeeper-sandbox-ready"
TEST_USER_RIGHTS = (
    "read = call,system,user,dialplan,agent,reporting\nwrite = call,system,originate,reporting\n"
)
BOOT_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

MODULES = (
    "pbx_config.so",
    "res_speech.so",
    "res_agi.so",
    "app_stack.so",
    "app_dial.so",
    "app_userevent.so",
    "app_verbose.so",
    "app_exec.so",
    "func_logic.so",
    "func_strings.so",
    "func_timeout.so",
    "func_channel.so",
    "func_dialplan.so",
    "bridge_simple.so",
    "bridge_native_rtp.so",
    "res_timing_timerfd.so",
    "cdr_manager.so",
    "codec_ulaw.so",
    "format_pcm.so",
)


class SandboxError(RuntimeError):
    """The sandbox could not be installed, started or stopped."""


def apt_mirror() -> str:
    """The Debian mirror of this machine's apt sources (the security archive excluded)."""
    candidates: list[str] = []
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        text = sources.read_text(encoding="utf-8", errors="replace")
        candidates += re.findall(r"^URIs:\s*(\S+)", text, flags=re.MULTILINE)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                uri = next(p for p in parts[1:] if not p.startswith("["))
                candidates.append(uri)
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise SandboxError("no Debian mirror found in /etc/apt/sources.list{,.d/*.sources}")


def install(root: Path = DEFAULT_ROOT) -> Path:
    """Build the unstable root with Asterisk once; reuse it when present."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / READY_MARK).exists():
            return root
        if shutil.which("debootstrap") is None:
            raise SandboxError("debootstrap is missing: run tools/system-deps.sh as root")
        staging = root.with_name(f"{root.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        mirror = apt_mirror()
        print(f"installing Asterisk from Debian unstable into {root} ...", file=sys.stderr)
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=asterisk",
                "unstable",
                str(staging),
                mirror,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (staging / READY_MARK).write_text("ok\n", encoding="utf-8")
        staging.rename(root)
    return root


def free_port() -> int:
    """A loopback TCP port that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class AsteriskSandbox:
    """One running Asterisk in the root, with its own folders and AMI port."""

    agi_port: int
    root: Path = DEFAULT_ROOT
    name: str = field(default_factory=lambda: f"gk{os.getpid()}")
    ami_port: int = field(default_factory=free_port)
    ami_username: str = "gatekeeper"
    ami_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    service_username: str = "gatekeeper-service"
    service_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    agi_timeout_s: int = 3
    agi_host: str = "127.0.0.1"
    extra_dialplan: str = ""
    extra_modules: tuple[str, ...] = ()
    """Modules loaded besides MODULES, such as a dialler's dialplan needs (func_cut.so)."""
    extra_configs: Mapping[str, str] = field(default_factory=dict)
    hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Host names Asterisk resolves (through its own /etc/hosts) to these addresses, in order."""
    nameserver: str | None = None
    """The DNS server Asterisk asks (its own /etc/resolv.conf), such as a test's SRV responder."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def etc(self) -> str:
        """Config folder, as seen inside the root."""
        return f"/etc/asterisk-{self.name}"

    @property
    def log_file(self) -> Path:
        """Asterisk's full log, outside the chroot's view."""
        return self.root / f"var/log/asterisk-{self.name}/full"

    def _write_configs(self) -> None:
        etc = self.root / self.etc.lstrip("/")
        shutil.rmtree(etc, ignore_errors=True)
        etc.mkdir(parents=True)
        modules_dir = next(self.root.glob("usr/lib/*/asterisk/modules"))
        dirs = {
            "astetcdir": self.etc,
            "astmoddir": "/" + str(modules_dir.relative_to(self.root)),
            "astvarlibdir": "/var/lib/asterisk",
            "astdbdir": f"/var/lib/asterisk-{self.name}",
            "astkeydir": "/var/lib/asterisk",
            "astdatadir": "/usr/share/asterisk",
            "astagidir": "/usr/share/asterisk/agi-bin",
            "astspooldir": f"/var/spool/asterisk-{self.name}",
            "astrundir": f"/run/asterisk-{self.name}",
            "astlogdir": f"/var/log/asterisk-{self.name}",
        }
        for key in ("astdbdir", "astspooldir", "astrundir", "astlogdir"):
            (self.root / dirs[key].lstrip("/")).mkdir(parents=True, exist_ok=True)
        directories = "\n".join(f"{key} => {value}" for key, value in dirs.items())
        files = {
            "asterisk.conf": f"[directories]\n{directories}\n\n[options]\nverbose = 3\n"
            "transmit_silence = no\nhideconnect = yes\n",
            "modules.conf": "[modules]\nautoload = no\n"
            + "".join(f"load = {m}\n" for m in (*MODULES, *self.extra_modules)),
            "logger.conf": "[general]\n[logfiles]\nfull => notice,warning,error,verbose\n"
            "console => error\n",
            "manager.conf": "[general]\nenabled = yes\nbindaddr = 127.0.0.1\n"
            f"port = {self.ami_port}\n\n" + self._manager_user(),
            "extensions.conf": "[general]\nstatic = yes\nwriteprotect = yes\n\n[globals]\n"
            f"GATEKEEPER_AGI = {self.agi_host}:{self.agi_port}\n"
            f"GATEKEEPER_TIMEOUT = {self.agi_timeout_s}\n\n"
            "#include gatekeeper.conf\n#include gatekeeper-example-route.conf\n\n"
            + self.extra_dialplan,
            "cdr.conf": "[general]\nenable = yes\n",
            "cdr_manager.conf": "[general]\nenabled = yes\n",
            **self.extra_configs,
        }
        for name, text in files.items():
            (etc / name).write_text(text, encoding="utf-8")
        for snippet in ("gatekeeper.conf", "gatekeeper-example-route.conf"):
            shutil.copyfile(SNIPPETS / snippet, etc / snippet)

    def _manager_user(self) -> str:
        shipped = (SNIPPETS / "manager-gatekeeper.conf").read_text(encoding="utf-8")
        shipped = shipped.replace("[gatekeeper]", f"[{self.service_username}]")
        shipped = re.sub(
            r"^secret = .*$", f"secret = {self.service_secret}", shipped, flags=re.MULTILINE
        )
        test_user = (
            f"\n[{self.ami_username}]\nsecret = {self.ami_secret}\ndeny = 0.0.0.0/0.0.0.0\n"
            f"permit = 127.0.0.1/255.255.255.255\n{TEST_USER_RIGHTS}"
        )
        return shipped + test_user

    def _command(self, *args: str) -> list[str]:
        config = f"{self.etc}/asterisk.conf"
        return ["chroot", str(self.root), "/usr/sbin/asterisk", "-C", config, *args]

    def _start_command(self) -> list[str]:
        """Asterisk in the foreground; with its own names, in a mount namespace with its files."""
        command = self._command("-f", "-n")
        own = self.root / self.etc.lstrip("/")
        files: dict[str, str] = {}
        if self.hosts:
            files["hosts"] = "".join(
                f"{address} {name}\n" for name, ips in self.hosts.items() for address in ips
            )
        if self.nameserver:
            files["resolv.conf"] = f"nameserver {self.nameserver}\noptions timeout:1 attempts:1\n"
        binds: list[str] = []
        for name, text in files.items():
            (own / name).write_text(text, encoding="utf-8")
            mount_point = self.root / "etc" / name
            mount_point.touch(exist_ok=True)
            binds.append(
                f"mount --bind {shlex.quote(str(own / name))} {shlex.quote(str(mount_point))}"
            )
        if not binds:
            return command
        script = " && ".join([*binds, 'exec "$@"'])
        unshare = ["unshare", "--mount", "--propagation", "private", "--"]
        return [*unshare, "sh", "-c", script, "sh", *command]

    def start(self) -> None:
        """Write the configs, start Asterisk and wait until it has fully booted."""
        if not (self.root / READY_MARK).exists():
            raise SandboxError(f"no Asterisk root at {self.root}: run `make asterisk` first")
        self._write_configs()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.with_name("console").open("wb") as console:
            self.process = subprocess.Popen(
                self._start_command(),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxError(f"Asterisk exited at start; see {self.log_file}")
            done = subprocess.run(
                self._command("-rx", "core waitfullybooted"),
                capture_output=True,
                check=False,
                timeout=BOOT_TIMEOUT_S,
            )
            if done.returncode == 0 and b"fully booted" in done.stdout:
                return
            time.sleep(0.1)
        self.stop()
        raise SandboxError("Asterisk did not finish booting in time")

    def cli(self, command: str) -> str:
        """Run one Asterisk CLI command and return its output."""
        done = subprocess.run(
            self._command("-rx", command), capture_output=True, check=True, timeout=10
        )
        return done.stdout.decode("utf-8", errors="replace")

    def stop(self) -> None:
        """Stop Asterisk: politely, then firmly."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                self._command("-rx", "core stop now"), capture_output=True, timeout=5, check=False
            )
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """`install` the root, or `check` it by booting Asterisk once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=("install", "check"))
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    try:
        install(args.root)
        if args.action == "check":
            with AsteriskSandbox(agi_port=free_port(), root=args.root) as sandbox:
                print(sandbox.cli("core show version").strip())
    except (SandboxError, subprocess.CalledProcessError) as err:
        print(f"asterisk sandbox: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
