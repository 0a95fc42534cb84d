"""The Python client (clients/python/airlock_sandbox) against the real
binary: the properties Inspect AI's sandbox self-check asks of a provider
(file round trips, errors as Python raises them, limits, timeouts, working
directories), and Inspect's tool-injection sequence."""
import asyncio
import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import is_rootless

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
from airlock_sandbox import OutputLimitError, Sandbox  # noqa: E402


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def sb(airlock_bin):
    opts = {"allow_degraded": ["cgroup"]} if is_rootless() else {}
    box = run(Sandbox.create(airlock=str(airlock_bin), **opts))
    yield box
    run(box.close())


def test_text_binary_utf_and_crlf_round_trips(sb):
    async def go():
        await sb.write_file("t.txt", "great #content\nincluding newlines")
        assert await sb.read_file("t.txt") == "great #content\nincluding newlines"
        await sb.write_file("crlf.txt", "a\r\nb\r\n")
        assert await sb.read_file("crlf.txt") == "a\r\nb\r\n"
        await sb.write_file("u.txt", "✨☽︎✨🌞︎︎✨🚀✨")
        assert await sb.read_file("u.txt") == "✨☽︎✨🌞︎︎✨🚀✨"
        await sb.write_file("b.bin", b"\xc3\x28")
        assert await sb.read_file("b.bin", text=False) == b"\xc3\x28"
        with pytest.raises(UnicodeDecodeError):
            await sb.read_file("b.bin", text=True)
        big = os.urandom(5_000_000)
        await sb.write_file("big.bin", big)
        assert await sb.read_file("big.bin", text=False) == big
        await sb.write_file("empty", b"")
        assert await sb.read_file("empty", text=False) == b""
        assert await sb.read_file("empty") == ""
        await sb.write_file("file with space", "to the moon")
        assert await sb.read_file("file with space") == "to the moon"
        await sb.write_file("exists", "one")
        await sb.write_file("exists", "two")
        assert await sb.read_file("exists") == "two"
    run(go())


def test_parents_created_absolute_and_relative(sb):
    async def go():
        await sb.write_file("/tmp/abs_dir/deeper/f", "absolutely")
        assert await sb.read_file("/tmp/abs_dir/deeper/f") == "absolutely"
        await sb.write_file("rel_dir/f", "relatively")
        assert await sb.read_file("rel_dir/f") == "relatively"
        r = await sb.exec(["ls", "rel_dir"])
        assert r.stdout == "f\n"
    run(go())


def test_file_errors_as_python_raises_them(sb):
    async def go():
        with pytest.raises(FileNotFoundError) as e:
            await sb.read_file("nonexistent")
        assert "nonexistent" in str(e.value)
        with pytest.raises(FileNotFoundError) as e:
            await sb.read_file("https:/en.wikipedia.org/wiki/x%C5%82y")
        assert "wikipedia" in str(e.value)
        with pytest.raises(IsADirectoryError) as e:
            await sb.read_file("/etc")
        assert "directory" in str(e.value)
        await sb.write_file("noread", "x")
        await sb.exec(["chmod", "-r", "noread"])
        with pytest.raises(PermissionError) as e:
            await sb.read_file("noread")
        assert "noread" in str(e.value)
        await sb.write_file("/tmp/isdir/file", "x")
        with pytest.raises(IsADirectoryError):
            await sb.write_file("/tmp/isdir", "into a directory")
        with pytest.raises(IsADirectoryError):
            await sb.write_file("/tmp/isdir", b"\xc3\x28")
        await sb.write_file("nowrite", "x")
        await sb.exec(["chmod", "-w", "nowrite"])
        with pytest.raises(PermissionError) as e:
            await sb.write_file("nowrite", "this won't stick")
        assert "nowrite" in str(e.value)
        # the read limit: a clear error, not a short read
        await sb.write_file("large", "a" * 2048)
        with pytest.raises(OutputLimitError) as e:
            await sb.read_file("large", limit=1024)
        assert "limit of 1 KiB was exceeded" in str(e.value)
        assert await sb.read_file("large", limit=2048) == "a" * 2048
    run(go())


def test_exec_output_status_timeout_and_cwd(sb):
    async def go():
        r = await sb.exec(["sh", "-c", "echo foo; echo bar"])
        assert r.success and r.returncode == 0 and r.stdout == "foo\nbar\n"
        r = await sb.exec(["sh", "-c", "echo e >&2; exit 3"])
        assert not r.success and r.returncode == 3 and r.stderr == "e\n"
        r = await sb.exec(["/etc/passwd"])
        assert r.returncode == 126
        r = await sb.exec(["cat"], input="piped in")
        assert r.stdout == "piped in"
        r = await sb.exec(["sh", "-c", "echo $A"], env={"A": "b c"})
        assert r.stdout == "b c\n"
        with pytest.raises(TimeoutError):
            await sb.exec(["sleep", "4"], timeout=1)
        assert (await sb.exec(["true"])).success  # the sandbox outlives the timeout
        await sb.write_file("cwd_unspecified.file", "ls me")
        assert "cwd_unspecified.file" in (await sb.exec(["ls", "-1"])).stdout
        assert "env" in (await sb.exec(["ls"], cwd="/usr/bin")).stdout.split()
        await sb.exec(["mkdir", "-p", "subdir"])
        await sb.write_file("subdir/rel.file", "x")
        assert "rel.file" in (await sb.exec(["ls"], cwd="subdir")).stdout
        assert (await sb.exec(["pwd"], cwd="/tmp")).stdout == "/tmp\n"
        r = await sb.exec(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a"], max_output=1000)
        assert r.stdout_truncated and len(r.stdout) == 1000
        r = await sb.exec(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a >&2"], max_output=1000)
        assert r.stderr_truncated and len(r.stderr) == 1000
    run(go())


def test_tool_injection_sequence(sb, tmp_path):
    """Inspect's tool support: a directory under /var/tmp, a tarball written
    into it, unpacked with tar, chmod 700, the extracted binary run."""
    tool = Path("/usr/bin/true").read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("tools/inspect-tool")
        info.size = len(tool)
        info.mode = 0o644
        tf.addfile(info, io.BytesIO(tool))

    async def go():
        d = "/var/tmp/.inspect-tools-1234"
        assert (await sb.exec(["mkdir", "-p", d])).success
        await sb.write_file(f"{d}/tools.tar.gz", buf.getvalue())
        r = await sb.exec(["tar", "xzf", f"{d}/tools.tar.gz", "-C", d])
        assert r.success, r.stderr
        assert (await sb.exec(["chmod", "700", f"{d}/tools/inspect-tool"])).success
        r = await sb.exec([f"{d}/tools/inspect-tool"])
        assert r.success and r.returncode == 0, r
    run(go())


def test_context_manager_removes_the_sandbox(airlock_bin, airlock):
    opts = {"allow_degraded": ["cgroup"]} if is_rootless() else {}

    async def go():
        async with await Sandbox.create(airlock=str(airlock_bin), name=f"py{os.getpid()}", **opts) as box:
            assert (await box.exec(["echo", "hi"])).stdout == "hi\n"
            ident = box.id
        return ident

    ident = run(go())
    import json
    live = {s["id"] for s in json.loads(airlock.run("ls", "--json").stdout)}
    assert ident not in live
