"""muse download: a real HTTP server on 127.0.0.1, a tiny real checkpoint, real tarballs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest_download import CHECKPOINT_FILES, TINY_HPARAMS, checkpoint_members, make_tar

from muse_cli import download, registry
from muse_cli.cli.download import _Reporter, download_command
from muse_cli.errors import CheckpointError, DownloadError, IntegrityError, UsageError

FAST = download.Retry(retries=3, backoff=0.01, timeout=5)
PATH = "/c/tiny.tar"
ROOT = Path(__file__).resolve().parent.parent
MUSE = str(Path(sys.executable).parent / "muse")  # the installed command, as a user runs it
INSTALLED = sorted(CHECKPOINT_FILES + ("muse.json", "weights.npz"))  # weights.npz: the NumPy engine's


def _serve(env, server, data: bytes, sha: bool = True, **fields) -> str:
    server.files[PATH] = data
    env.register("tiny", url=server.url(PATH), sha256=download_sha(data) if sha else "", **fields)
    return download_sha(data)


def download_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _installed(env) -> list[str]:
    target = env.checkpoints / "tiny"
    return sorted(p.name for p in target.iterdir()) if target.exists() else []


def _messages(events) -> list[str]:
    return [e.message for e in events if e.state != "bytes"]


def test_happy_path_installs_verifies_and_resolves(env, server, tarballs):
    sha = _serve(env, server, tarballs.nested)
    events = []
    done = download.download("tiny", retry=FAST, report=events.append)

    target = env.checkpoints / "tiny"
    assert (done.path, done.sha256, done.trust, done.reused) == (target, sha, "registry", False)
    assert _installed(env) == INSTALLED
    assert (target / "model.ckpt.index").read_bytes() == (tarballs.dir / "model.ckpt.index").read_bytes()
    manifest = json.loads((target / "muse.json").read_text())
    assert {k: manifest[k] for k in ("name", "config", "url", "sha256", "size", "trust")} == {
        "name": "tiny",
        "config": "cat-mel_2bar_small",
        "url": server.url(PATH),
        "sha256": sha,
        "size": len(tarballs.nested),
        "trust": "registry",
    }
    assert manifest["installed_at"].endswith("+00:00")
    assert [e.state for e in events if e.state != "bytes"] == [
        "connecting",
        "downloading",
        "verifying",
        "unpacking",
        "checking",
        "exporting",
        "installed",
    ]
    assert f"downloading {len(tarballs.nested)} bytes" in _messages(events)
    assert [e.done for e in events if e.state == "bytes"][-1] == len(tarballs.nested)
    assert env.files() == [f"checkpoints/tiny/{n}" for n in INSTALLED]  # no .part, no lock, no temp dir

    resolved = registry.resolve("tiny")
    assert (resolved.path, resolved.sha256, resolved.hparams) == (target, sha, TINY_HPARAMS)
    from muse_cli.engines import weights

    export = weights.locations(target)[0]
    assert export == target / "weights.npz" and weights._belongs(weights._read(export)[0], target)

    again = download.download("tiny", retry=FAST)
    assert again.reused and again.sha256 == sha
    assert [(r.range, r.status) for r in server.requests] == [(None, 200)]  # nothing fetched again


def test_cli_trust_on_first_use_through_mirror(env, server, tarballs, monkeypatch):
    """No sha256 in the registry: recorded on first use; a changed file is refused even with --force."""
    env.register("tiny", url=download.MAGENTA_BASE + "/models/music_vae/checkpoints/tiny.tar")
    mirrored = "/mirror/magenta/models/music_vae/checkpoints/tiny.tar"
    server.files[mirrored] = tarballs.nested
    monkeypatch.setenv("MUSE_MIRROR", server.url("/mirror/magenta/"))
    sha = download_sha(tarballs.nested)
    runner = CliRunner()

    result = runner.invoke(download_command, ["tiny", "--retries", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"sha256 {sha} (trusted on first use" in result.stdout
    assert "use it: muse sample --checkpoint tiny" in result.stdout
    assert result.stderr.splitlines() == [
        f"connecting to {server.base.removeprefix('http://')}",
        f"downloading {len(tarballs.nested)} bytes",
        "verifying sha256",
        f"unpacking into {env.checkpoints}",
        "checking variables against config cat-mel_2bar_small",
        "exporting the weights for the NumPy engine",
        f"installed tiny in {env.checkpoints / 'tiny'}",
    ]
    assert [r.path for r in server.requests] == [mirrored]
    manifest = json.loads((env.checkpoints / "tiny" / "muse.json").read_text())
    assert (manifest["trust"], manifest["sha256"], manifest["url"]) == ("first-use", sha, server.url(mirrored))
    assert json.loads((env.home / "known_hashes.json").read_text())["tiny"]["sha256"] == sha

    # The same file again with --force: checked against the recorded hash.
    result = runner.invoke(download_command, ["tiny", "--force", "-q"], catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == ""
    assert f"sha256 {sha} (matches the hash recorded on first use)" in result.stdout

    # The file changes upstream: refused, and the installed checkpoint is left as it was.
    server.files[mirrored] = tarballs.flat
    result = runner.invoke(download_command, ["tiny", "--force", "-q"])
    assert isinstance(result.exception, IntegrityError) and result.exception.exit_code == 6
    message = str(result.exception)
    assert f"is {download_sha(tarballs.flat)}, expected {sha} from the hash recorded on first use" in message
    assert "known_hashes.json" in message and "\n" not in message
    assert json.loads((env.checkpoints / "tiny" / "muse.json").read_text())["sha256"] == sha
    assert env.files() == [f"checkpoints/tiny/{n}" for n in INSTALLED] + ["known_hashes.json"]


def test_cut_connection_resumes_with_range(env, server, tarballs):
    half = len(tarballs.nested) // 2
    sha = _serve(env, server, tarballs.nested)
    server.plan(PATH, [("cut", half)])
    events = []
    done = download.download("tiny", retry=FAST, report=events.append)
    assert done.sha256 == sha and _installed(env) == INSTALLED
    assert [(r.range, r.status, r.sent) for r in server.requests] == [
        (None, 200, half),
        (f"bytes={half}-", 206, len(tarballs.nested) - half),
    ]
    assert f"resuming at byte {half} of {len(tarballs.nested)}" in _messages(events)
    assert any(m.startswith(f"connection cut at byte {half} of") for m in _messages(events))


def test_stalled_transfer_times_out_and_resumes(env, server, tarballs):
    sha = _serve(env, server, tarballs.nested)
    never = threading.Event()
    server.plan(PATH, [("gate", 1000, never)])
    events = []
    try:
        done = download.download(
            "tiny", retry=download.Retry(retries=1, backoff=0.01, timeout=0.5), report=events.append
        )
    finally:
        never.set()
    assert done.sha256 == sha
    assert f"no data for 0.5 s at byte 1000 of {len(tarballs.nested)}" in _messages(events)[2]
    assert [(r.range, r.status) for r in server.requests] == [(None, 200), ("bytes=1000-", 206)]


def test_server_that_ignores_range_starts_over(env, server, tarballs):
    sha = _serve(env, server, tarballs.nested)
    server.plan(PATH, [("cut", 1000)])
    server.default[PATH] = "ignore-range"
    events = []
    done = download.download("tiny", retry=FAST, report=events.append)
    assert done.sha256 == sha and _installed(env) == INSTALLED
    assert [(r.range, r.status) for r in server.requests] == [(None, 200), ("bytes=1000-", 200)]
    assert any("ignored the Range request (HTTP 200): starting over" in m for m in _messages(events))


def test_404_is_a_clear_error_and_leaves_nothing(env, server, tarballs):
    env.register("tiny", url=server.url("/missing.tar"))
    with pytest.raises(DownloadError) as err:
        download.download("tiny", retry=FAST)
    assert str(err.value) == (
        f"{server.url('/missing.tar')} answered HTTP 404 Not Found; check the "
        "checkpoint name and the URL (--url, MUSE_MIRROR)"
    )
    assert err.value.exit_code == 6
    assert len(server.requests) == 1  # a 404 is not retried
    assert env.files() == []


def test_5xx_is_retried_then_succeeds(env, server, tarballs):
    sha = _serve(env, server, tarballs.nested)
    server.plan(PATH, [500, 503])
    events = []
    assert download.download("tiny", retry=FAST, report=events.append).sha256 == sha
    assert [r.status for r in server.requests] == [500, 503, 200]
    retries = [m for m in _messages(events) if "retrying in" in m]
    assert retries[0].startswith(f"{server.base.removeprefix('http://')} answered HTTP 500")
    assert "try 2 of 4" in retries[0] and "try 3 of 4" in retries[1]


def test_5xx_until_retries_run_out_leaves_nothing(env, server, tarballs):
    _serve(env, server, tarballs.nested)
    server.default[PATH] = 500
    with pytest.raises(DownloadError, match=r"failed after 3 tries: .* answered HTTP 500"):
        download.download("tiny", retry=download.Retry(retries=2, backoff=0.01))
    assert len(server.requests) == 3 and env.files() == []


def test_wrong_sha256_installs_nothing(env, server, tarballs):
    server.files[PATH] = tarballs.nested
    env.register("tiny", url=server.url(PATH), sha256="0" * 64)
    with pytest.raises(IntegrityError) as err:
        download.download("tiny", retry=FAST)
    assert f"sha256 of tiny is {download_sha(tarballs.nested)}, expected {'0' * 64} from the registry" in str(err.value)
    assert env.files() == [] and not (env.checkpoints / "tiny").exists()


def test_size_that_differs_from_the_registry_stops_before_the_body(env, server, tarballs):
    _serve(env, server, tarballs.nested, size=len(tarballs.nested) + 1)
    with pytest.raises(IntegrityError, match="offers .* bytes but the registry says"):
        download.download("tiny", retry=FAST)
    assert env.files() == []


def test_not_enough_disk_space(env, server, tarballs, monkeypatch):
    _serve(env, server, tarballs.nested)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(DownloadError, match=r"not enough disk space in .*downloads: need 0\.2 MB .* 0\.0 MB free"):
        download.download("tiny", retry=FAST)
    assert env.files() == []


def _evil(kind: str, folder: Path, outside: Path) -> tuple[bytes, str]:
    members = checkpoint_members(folder)
    if kind == "dotdot":
        info, why = tarfile.TarInfo("tiny/../../evil.txt"), "points outside the target folder ('..')"
        members.append((info, b"evil"))
    elif kind == "absolute":
        info, why = tarfile.TarInfo(str(outside)), "has an absolute path"
        members.append((info, b"evil"))
    elif kind == "symlink":
        info = tarfile.TarInfo("tiny/model.ckpt.meta")
        info.type, info.linkname = tarfile.SYMTYPE, str(outside)
        why = f"is a symbolic link (to {str(outside)!r})"
        members.append((info, None))
    elif kind == "hardlink":
        info = tarfile.TarInfo("tiny/model.ckpt.meta")
        info.type, info.linkname, why = tarfile.LNKTYPE, "tiny/checkpoint", "is a hard link (to 'tiny/checkpoint')"
        members.append((info, None))
    else:
        info = tarfile.TarInfo("tiny/null")
        info.type, why = tarfile.CHRTYPE, "is a device or pipe"
        members.append((info, None))
    return make_tar(members), f"member {info.name!r} {why}"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_unsafe_tarballs_are_refused(env, server, tarballs, tmp_path, kind):
    outside = tmp_path / "evil.txt"
    data, why = _evil(kind, tarballs.dir, outside)
    if kind == "dotdot":  # through the server ...
        _serve(env, server, data)
        with pytest.raises(IntegrityError) as err:
            download.download("tiny", retry=FAST)
    else:  # ... and from a file
        env.register("tiny", sha256=download_sha(data))
        (tmp_path / "evil.tar").write_bytes(data)
        with pytest.raises(IntegrityError) as err:
            download.install_file("tiny", tmp_path / "evil.tar")
    assert str(err.value) == f"refusing unsafe archive tiny.tar: {why}; nothing was installed"
    assert env.files() == [] and not outside.exists() and not (env.home / "evil.txt").exists()


def test_checkpoint_that_does_not_match_its_config_is_refused(env, server, tarballs):
    _serve(env, server, tarballs.nested, sha=False, hparams={**TINY_HPARAMS, "z_size": 4})
    with pytest.raises(CheckpointError) as err:
        download.download("tiny", retry=FAST)
    assert str(err.value) == (
        "checkpoint tiny does not match config cat-mel_2bar_small: "
        "encoder/mu/kernel is [32, 8], expected [32, 4] (and 5 more differences)"
    )
    assert err.value.exit_code == 5
    assert env.files() == []  # nothing installed, no hash recorded on first use


def test_truncated_checkpoint_is_refused(env, tarballs, tmp_path):
    data = make_tar(checkpoint_members(tarballs.dir, truncate=True))
    (tmp_path / "t.tar").write_bytes(data)
    env.register("tiny")
    with pytest.raises(CheckpointError, match=r"checkpoint tiny is truncated: its data files hold \d+ bytes"):
        download.install_file("tiny", tmp_path / "t.tar")
    assert env.files() == []


def test_two_concurrent_downloads_make_one_install(env, server, tarballs):
    sha = _serve(env, server, tarballs.nested)
    b_waits = threading.Event()
    server.default[PATH] = ("gate", 1000, b_waits)  # a's body stalls until b waits for the lock
    results, errors, events = {}, [], {"a": [], "b": []}

    def run(tag):
        def report(event):
            events[tag].append(event)
            if tag == "b" and event.state == "waiting":
                b_waits.set()

        try:
            results[tag] = download.download("tiny", retry=FAST, report=report)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    first = threading.Thread(target=run, args=("a",))
    first.start()
    deadline = time.monotonic() + 10
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    second = threading.Thread(target=run, args=("b",))
    second.start()
    first.join(30)
    second.join(30)
    assert not errors
    assert (results["a"].reused, results["b"].reused) == (False, True)
    assert results["a"].sha256 == results["b"].sha256 == sha
    assert "waiting" in [e.state for e in events["b"]]
    assert len(server.requests) == 1 and server.requests[0].sent == len(tarballs.nested)
    assert env.files() == [f"checkpoints/tiny/{n}" for n in INSTALLED]


def test_cut_run_keeps_its_partial_file_and_the_next_run_resumes(env, server, tarballs):
    half = len(tarballs.nested) // 2
    sha = _serve(env, server, tarballs.nested)
    server.plan(PATH, [("cut", half)])
    with pytest.raises(DownloadError) as err:
        download.download("tiny", retry=download.Retry(retries=0))
    part = env.downloads / "tiny.tar.part"
    assert f"run the same command again to resume from byte {half} (partial file kept: {part})" in str(err.value)
    assert part.read_bytes() == tarballs.nested[:half]
    assert env.files() == ["downloads/tiny.tar.part", "downloads/tiny.tar.part.json"]

    assert download.download("tiny", retry=FAST).sha256 == sha
    assert server.requests[-1].range == f"bytes={half}-" and server.requests[-1].status == 206
    assert env.files() == [f"checkpoints/tiny/{n}" for n in INSTALLED]


def test_interrupted_process_is_resumed_by_the_next_run(env, server, tarballs):
    """Ctrl-C in a real `download` process keeps the partial file; the next run asks for the rest."""
    sha = _serve(env, server, tarballs.nested)
    release = threading.Event()
    quarter = len(tarballs.nested) // 4
    server.default[PATH] = ("gate", quarter, release)
    part = env.downloads / "tiny.tar.part"
    # preexec_fn: a shell that ran the tests in the background leaves SIGINT ignored; restore the default.
    proc = subprocess.Popen(
        [MUSE, "download", "tiny"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120  # generous: a loaded 2-core CI machine starts processes slowly
    while (not part.exists() or part.stat().st_size < quarter) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    release.set()
    assert proc.returncode == 130 and stderr.splitlines()[-1] == b"muse: interrupted"
    held = part.stat().st_size
    assert held == quarter and part.read_bytes() == tarballs.nested[:held]
    assert not (env.downloads / "tiny.lock").exists()

    server.default[PATH] = "ok"
    assert download.download("tiny", retry=FAST).sha256 == sha
    assert (server.requests[-1].range, server.requests[-1].status) == (f"bytes={held}-", 206)
    assert _installed(env) == INSTALLED


def test_cli_file_flat_tarball_quietly_then_list(env, tarballs, tmp_path):
    (tmp_path / "flat.tar").write_bytes(tarballs.flat)
    sha = download_sha(tarballs.flat)
    env.register("tiny", sha256=sha)
    runner = CliRunner()
    result = runner.invoke(
        download_command, ["tiny", "--file", str(tmp_path / "flat.tar"), "--quiet"], catch_exceptions=False
    )
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == [
        f"tiny: {env.checkpoints / 'tiny'} ({len(tarballs.flat) / 1000:.1f} kB tarball)",
        f"sha256 {sha} (matches the registry)",
        "use it: muse sample --checkpoint tiny",
    ]
    manifest = json.loads((env.checkpoints / "tiny" / "muse.json").read_text())
    assert manifest["url"] == (tmp_path / "flat.tar").as_uri() and manifest["trust"] == "registry"
    assert _installed(env) == INSTALLED

    result = runner.invoke(download_command, ["--list"], catch_exceptions=False)
    lines = result.stdout.splitlines()
    rows = {line[2:].split()[0]: line[2:].split() for line in lines[1:]}
    size = sum(p.stat().st_size for p in (env.checkpoints / "tiny").glob("model.ckpt*"))  # the model's files
    assert lines[0].split() == ["NAME", "STATE", "SIZE", "CONFIG", "PLAYS", "DESCRIPTION"]
    assert rows["tiny"][1:4] == ["installed", f"{size / 1000:.1f}", "kB"]  # no size in the registry: its files
    assert rows["cat-mel_2bar_big"][1:4] == ["not", "installed", "-"]  # Magenta publishes no size
    assert f"installed in {env.checkpoints}" in result.stderr


def test_cli_usage_errors(env):
    runner = CliRunner()
    for args, text in [
        ([], "give a checkpoint name"),
        (["tiny", "--url", "http://x/a.tar", "--file", __file__], "not both"),
        (["--list", "tiny"], "--list takes no"),
    ]:
        result = runner.invoke(download_command, args)
        assert isinstance(result.exception, UsageError) and text in str(result.exception), args
    result = runner.invoke(download_command, ["no-such-checkpoint"])
    assert isinstance(result.exception, CheckpointError)
    assert "unknown checkpoint 'no-such-checkpoint'" in str(result.exception)


def test_source_url_and_mirror(env, monkeypatch):
    entry = registry.Entry(name="x", config="c", url=download.MAGENTA_BASE + "/models/music_vae/checkpoints/x.tar")
    assert download.source_url(entry) == entry.url
    monkeypatch.setenv("MUSE_MIRROR", "http://m.lan/magenta")
    assert download.source_url(entry) == "http://m.lan/magenta/models/music_vae/checkpoints/x.tar"
    assert download.source_url(entry, "https://elsewhere/x.tar") == "https://elsewhere/x.tar"
    other = registry.Entry(name="y", config="c", url="https://example.org/magentadata/y.tar")
    assert download.source_url(other) == other.url  # only Magenta's prefix is replaced
    with pytest.raises(DownloadError, match="only http:// and https://"):
        download.source_url(entry, "ftp://m.lan/x.tar")
    with pytest.raises(DownloadError, match="has no url in the registry"):
        download.source_url(registry.Entry(name="z", config="c"))


def test_progress_bar_and_lines(capsys):
    report = _Reporter(tty=True)
    report(download.Event("downloading", "downloading 2900000 bytes", total=2_900_000))
    report(download.Event("bytes", done=1_200_000, total=2_900_000))
    report(download.Event("bytes", done=2_900_000, total=2_900_000))
    report(download.Event("verifying", "verifying sha256"))
    err = capsys.readouterr().err
    assert err.startswith("downloading 2900000 bytes\n\r") and err.endswith("\nverifying sha256\n")
    assert "[########################]  100%  2.9 MB / 2.9 MB" in err  # the bar of muse_cli.progress
    report = _Reporter(tty=False)  # a log: the state lines alone
    report(download.Event("downloading", "downloading 100 bytes", total=100))
    report(download.Event("bytes", done=100, total=100))
    report(download.Event("verifying", "verifying sha256"))
    assert capsys.readouterr().err == "downloading 100 bytes\nverifying sha256\n"


def test_import_keeps_tensorflow_out():
    code = "import sys, muse_cli.cli.download; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_installed_muse_download_exit_codes(env, server):
    env.register("tiny", url=server.url("/missing.tar"))
    run = subprocess.run([MUSE, "download", "tiny", "--retries", "0"], capture_output=True, text=True)
    assert run.returncode == 6 and run.stdout == ""
    assert run.stderr.splitlines()[-1] == (
        f"muse: error: {server.url('/missing.tar')} answered HTTP 404 Not Found; "
        "check the checkpoint name and the URL (--url, MUSE_MIRROR)"
    )
    run = subprocess.run([MUSE, "download", "nope"], capture_output=True, text=True)
    assert run.returncode == 5 and "unknown checkpoint 'nope'" in run.stderr


def test_cache_folder_precedence(monkeypatch, tmp_path):
    """MUSE_HOME, else $XDG_CACHE_HOME/muse, else ~/.cache/muse (platformdirs on Linux)."""
    from muse_cli import settings

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MUSE_HOME", str(tmp_path / "muse-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.home() == tmp_path / "muse-home"
    monkeypatch.delenv("MUSE_HOME")
    assert settings.home() == tmp_path / "xdg" / "muse"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert settings.home() == tmp_path / "home" / ".cache" / "muse"
