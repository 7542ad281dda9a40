"""Fixtures for test_download.py: a tiny real checkpoint, tarballs of it, a per-test
MUSE_HOME with its own registry file, and a real HTTP server that misbehaves on request.

Its fixtures reach every test through conftest.py's ``pytest_plugins``.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import socket
import tarfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

TINY_CONFIG = "cat-mel_2bar_small"
TINY_HPARAMS = {"z_size": 8, "enc_rnn_size": [16], "dec_rnn_size": [16, 16]}
CHECKPOINT_FILES = ("checkpoint", "model.ckpt.data-00000-of-00001", "model.ckpt.index")


@dataclass(frozen=True)
class Tarballs:
    dir: Path  # the tiny checkpoint itself
    nested: bytes  # tiny/model.ckpt.*, like Magenta's tarballs
    flat: bytes  # model.ckpt.* at the top

    @staticmethod
    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()


def make_tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def checkpoint_members(folder: Path, prefix: str = "tiny/", truncate: bool = False):
    """(TarInfo, bytes) for the tiny checkpoint's files under ``prefix``."""
    members = []
    for name in CHECKPOINT_FILES:
        data = (folder / name).read_bytes()
        if truncate and ".data-" in name:
            data = data[: len(data) // 2]
        members.append((tarfile.TarInfo(prefix + name), data))
    return members


@pytest.fixture(scope="session")
def tarballs(tiny_checkpoint) -> Tarballs:
    """Tarballs of conftest.py's tiny checkpoint (cat-mel_2bar_small classes, TINY_HPARAMS)."""
    assert json.loads((tiny_checkpoint / "muse.json").read_text())["hparams"] == TINY_HPARAMS
    return Tarballs(
        dir=tiny_checkpoint,
        nested=make_tar(checkpoint_members(tiny_checkpoint)),
        flat=make_tar(checkpoint_members(tiny_checkpoint, prefix="")),
    )


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


class Env:
    """MUSE_HOME and a MUSE_REGISTRY file of test entries."""

    def __init__(self, home: Path, registry_file: Path):
        self.home = home
        self.registry_file = registry_file
        self.entries: dict[str, dict] = {}
        self._write()

    def register(self, name: str, **fields) -> None:
        entry = {"config": TINY_CONFIG, "hparams": TINY_HPARAMS, "sha256": "", "size": 0, "sampling": True}
        entry.update(fields)
        self.entries[name] = entry
        self._write()

    def _write(self) -> None:
        lines = []
        for name, fields in self.entries.items():
            lines.append(f'[checkpoints."{name}"]')
            lines += [f"{k} = {_toml(v)}" for k, v in fields.items()]
        self.registry_file.write_text("\n".join(lines) + "\n")

    @property
    def checkpoints(self) -> Path:
        return self.home / "checkpoints"

    @property
    def downloads(self) -> Path:
        return self.home / "downloads"

    def files(self) -> list[str]:
        """Every file under MUSE_HOME, relative to it."""
        return (
            sorted(str(p.relative_to(self.home)) for p in self.home.rglob("*") if not p.is_dir())
            if self.home.exists()
            else []
        )


@pytest.fixture
def env(muse_home, tmp_path, monkeypatch) -> Env:
    """conftest.py's per-test MUSE_HOME, plus MUSE_REGISTRY pointing at test entries."""
    e = Env(muse_home, tmp_path / "registry.toml")
    monkeypatch.setenv("MUSE_REGISTRY", str(e.registry_file))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return e


@dataclass
class Request:
    path: str
    range: str | None
    status: int = 0
    sent: int = 0  # body bytes written


class Server:
    """Files by URL path, with a queue of misbehaviours per path (then ``default``, then "ok").

    Actions: "ok" (honours Range), "ignore-range" (always 200), an int status (404, 500, ...),
    ("cut", n): send the headers and n body bytes, then drop the connection,
    ("gate", n, event): send n body bytes, wait until ``event`` is set, send the rest.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.default: dict[str, object] = {}
        self.requests: list[Request] = []
        self._plans: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def plan(self, path: str, actions: list) -> None:
        self._plans[path].extend(actions)

    def _next(self, path: str):
        with self._lock:
            plan = self._plans[path]
            return plan.popleft() if plan else self.default.get(path, "ok")

    def sent_so_far(self, path: str) -> int:
        return sum(r.sent for r in self.requests if r.path == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        server: Server = self.server.owner
        path = urlsplit(self.path).path
        record = Request(path=path, range=self.headers.get("Range"))
        with server._lock:
            server.requests.append(record)
        action = server._next(path)
        body = server.files.get(path)
        try:
            if body is None or isinstance(action, int):
                record.status = 404 if body is None else action
                self._plain(record.status)
                return
            start = 0
            if record.range and action != "ignore-range":
                start = int(record.range.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    record.status = 416
                    self._plain(416, {"Content-Range": f"bytes */{len(body)}"})
                    return
            payload = body[start:]
            record.status = 206 if start else 200
            self.send_response(record.status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if isinstance(action, tuple) and action[0] == "cut":
                self._send(record, payload[: action[1]])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif isinstance(action, tuple) and action[0] == "gate":
                self._send(record, payload[: action[1]])
                action[2].wait(180)
                self._send(record, payload[action[1] :])
            else:
                self._send(record, payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, record: Request, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        record.sent += len(data)

    def _plain(self, status: int, headers: dict | None = None) -> None:
        body = f"status {status}\n".encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()
