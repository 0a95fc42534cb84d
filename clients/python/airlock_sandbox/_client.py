"""The client proper: one `airlock` process per call, `--json` answers."""
from __future__ import annotations

import asyncio
import base64
import errno
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

DEFAULT_READ_LIMIT = 100 * 1024 * 1024   # read_file
DEFAULT_OUTPUT_LIMIT = 10 * 1024 * 1024  # exec, per stream

class SandboxError(RuntimeError):
    """airlock refused or failed (not the command's own failure)."""


class OutputLimitError(SandboxError):
    """A stream or a file was larger than the limit asked for."""

    def __init__(self, what: str, limit: int, truncated_output: str | bytes | None = None):
        super().__init__(f"{what}: the limit of {_fmt_size(limit)} was exceeded")
        self.limit = limit
        self.truncated_output = truncated_output


def _fmt_size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


@dataclass
class ExecResult:
    success: bool
    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ns: int = 0


def _option_args(options: Mapping[str, Any]) -> list[str]:
    """create(**options) -> `airlock run` options: memory="1GiB" -> --memory 1GiB,
    allow_degraded=["cgroup"] -> --allow-degraded cgroup, read_only=True -> --read-only."""
    out: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                out += [flag, str(v)]
        elif isinstance(value, Mapping):
            for k, v in value.items():
                out += [flag, f"{k}={v}"]
        else:
            out += [flag, str(value)]
    return out


def _field_bytes(j: dict, key: str) -> bytes:
    if j.get(f"{key}_base64"):
        return base64.b64decode(j.get(key, ""))
    return j.get(key, "").encode("utf-8")


class Sandbox:
    """A live airlock session."""

    def __init__(self, sandbox_id: str, airlock: str, log: str | None = None, name: str | None = None):
        self.id = sandbox_id
        self.airlock = airlock
        self.log = log
        self.name = name
        self._closed = False

    # ---- lifecycle ----------------------------------------------------------

    @classmethod
    async def create(cls, spec: str | os.PathLike | None = None, *, airlock: str | None = None,
                     name: str | None = None, **options: Any) -> "Sandbox":
        binary = airlock or os.environ.get("AIRLOCK_BIN") or shutil.which("airlock") or "airlock"
        args = ["create", "--json"]
        if spec is not None:
            args += ["--spec", os.fspath(spec)]
        if name is not None:
            args += ["--name", name]
        args += _option_args(options)
        rc, out, err = await _run(binary, args)
        if rc != 0:
            raise SandboxError(f"airlock create failed ({rc}): {err.decode(errors='replace').strip()}")
        info = json.loads(out)
        return cls(info["id"], binary, info.get("log"), info.get("name"))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        rc, _, err = await _run(self.airlock, ["rm", self.id])
        if rc != 0:
            raise SandboxError(f"airlock rm {self.id} failed: {err.decode(errors='replace').strip()}")

    async def __aenter__(self) -> "Sandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ---- commands -----------------------------------------------------------

    async def exec(self, cmd: Sequence[str], input: str | bytes | None = None, cwd: str | None = None,
                   env: Mapping[str, str] | None = None, user: str | None = None,
                   timeout: float | None = None, max_output: int = DEFAULT_OUTPUT_LIMIT) -> ExecResult:
        """Run cmd in the sandbox. Raises TimeoutError when timeout (seconds)
        expires (the command and its process group are killed; the sandbox
        lives on), SandboxError when airlock refuses the request."""
        if not cmd:
            raise ValueError("exec: empty command")
        args = ["exec", self.id, "--json", "--max-output", str(max_output)]
        if input is not None:
            args.append("-i")
        for k, v in (env or {}).items():
            args += ["-e", f"{k}={v}"]
        if cwd is not None:
            args += ["-w", cwd]
        if user is not None:
            args += ["--user", str(user)]
        if timeout is not None:
            args += ["--timeout", f"{max(float(timeout), 0.001)}s"]
        args += ["--", *cmd]
        data = input.encode("utf-8") if isinstance(input, str) else input
        rc, out, err = await _run(self.airlock, args, data)
        try:
            j = json.loads(out)
        except ValueError:
            raise SandboxError(f"airlock exec failed ({rc}): {err.decode(errors='replace').strip()}") from None
        if j.get("timed_out"):
            raise TimeoutError(f"command timed out after {timeout} s: {list(cmd)!r}")
        ob, eb = _field_bytes(j, "stdout"), _field_bytes(j, "stderr")
        return ExecResult(
            success=j["exit_status"] == 0,
            returncode=j["exit_status"],
            stdout=ob.decode("utf-8", errors="replace"),
            stderr=eb.decode("utf-8", errors="replace"),
            stdout_bytes=ob,
            stderr_bytes=eb,
            stdout_truncated=j.get("stdout_truncated", False),
            stderr_truncated=j.get("stderr_truncated", False),
            duration_ns=j.get("duration_ns", 0),
        )

    # ---- files --------------------------------------------------------------

    async def read_file(self, path: str, text: bool = True, limit: int = DEFAULT_READ_LIMIT,
                        user: str | None = None) -> str | bytes:
        """The file's exact bytes (text: decoded as UTF-8, CRLF kept).
        FileNotFoundError / IsADirectoryError / PermissionError as Python
        raises them; OutputLimitError past limit bytes. Copied out with
        `airlock cp` (resolved inside the sandbox's root, as its user)."""
        with tempfile.TemporaryDirectory(prefix="airlock-read-") as d:
            dst = os.path.join(d, "f")
            rc, _, err = await _run(self.airlock, ["cp", "-T", "--max-size", str(max(limit, 1)),
                                                   *_user_args(user), f"{self.id}:{path}", dst])
            if rc != 0:
                msg = err.decode("utf-8", "replace")
                if "limit of" in msg:
                    raise OutputLimitError(f"read_file {path}", limit)
                _raise_file_error(msg, path)
            if os.path.isdir(dst):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
            with open(dst, "rb") as f:
                data = f.read()
        if len(data) > limit:
            raise OutputLimitError(f"read_file {path}", limit)
        if text:
            return data.decode("utf-8")  # strict: UnicodeDecodeError as Inspect expects
        return data

    async def write_file(self, path: str, contents: str | bytes, user: str | None = None) -> None:
        """Write contents to path, parents created (`airlock cp`: built
        beside the file and renamed, inside the sandbox's root, as its user
        or `user`: "root" or a uid)."""
        data = contents.encode("utf-8") if isinstance(contents, str) else bytes(contents)
        with tempfile.TemporaryDirectory(prefix="airlock-write-") as d:
            src = os.path.join(d, "f")
            with open(src, "wb") as f:
                f.write(data)
            os.chmod(src, 0o644)
            rc, _, err = await _run(self.airlock, ["cp", "-T", "--max-size", str(max(len(data), 1)),
                                                   *_user_args(user), src, f"{self.id}:{path}"])
        if rc != 0:
            _raise_file_error(err.decode("utf-8", "replace"), path)


def _user_args(user: str | None) -> list[str]:
    return ["--user", str(user)] if user is not None else []


def _raise_file_error(stderr: str, path: str) -> None:
    s = stderr.strip()
    if "Is a directory" in s:
        raise IsADirectoryError(errno.EISDIR, f"Is a directory: {s}", path)
    if "Permission denied" in s or "Read-only file system" in s:
        raise PermissionError(errno.EACCES, f"Permission denied: {s}", path)
    if "No such file" in s or "Not a directory" in s:
        raise FileNotFoundError(errno.ENOENT, f"No such file or directory: {s}", path)
    raise SandboxError(f"{path}: {s}")


async def _run(binary: str, args: list[str], data: bytes | None = None) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        binary, *args,
        stdin=asyncio.subprocess.PIPE if data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(data)
    return proc.returncode if proc.returncode is not None else -1, out, err
