"""--image DIR: a rootfs directory instead of the host's /usr. Evidence that
the sandbox is built from the image and nothing else: the image's own /etc
content is there (read-only), airlock's synthesized files win over the
image's, the host's /usr is absent, and the image cannot be written."""
import os
import shutil
import stat
from pathlib import Path

import pytest

from conftest import mkdtemp_world

BUSYBOX = Path("/bin/busybox")


@pytest.fixture
def rootfs():
    if not BUSYBOX.exists() or not _static(BUSYBOX):
        pytest.skip("needs busybox-static (apt-get install busybox-static)")
    root = Path(mkdtemp_world("airlock-image-"))
    (root / "bin").mkdir()
    (root / "etc").mkdir()
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "cat", "ls", "id", "touch", "echo"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "motd").write_text("from-the-image\n")
    (root / "etc" / "passwd").write_text("imageuser:x:1000:1000::/:/bin/sh\n")
    (root / "etc" / "shadow").write_text("imageuser:$6$hash:1::::::\n")
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() or p.name == "busybox" else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _static(path):
    """The image has no libc: the busybox in it must be static (busybox-static)."""
    import subprocess
    out = subprocess.run(["ldd", str(path)], capture_output=True)
    return b"not a dynamic executable" in out.stdout + out.stderr


def test_image_etc_is_the_images_but_synthesized_files_win(airlock, rootfs):
    res = airlock.run("run", *airlock.extra, "--image", str(rootfs), "--", "/bin/sh", "-c",
                      "exec 2>&1; cat /etc/motd; id -un; ls /usr 2>&1; echo x > /bin/new 2>&1; "
                      "echo x > /etc/motd 2>&1; cat /etc/shadow 2>&1; true")
    out = res.stdout.decode()
    assert res.rc == 0, res.describe()
    assert "from-the-image" in out                  # the image's /etc content is there
    assert "agent" in out and "imageuser" not in out  # airlock's passwd wins
    assert "/usr: No such file or directory" in out  # no host /usr: only the image
    assert out.count("Read-only file system") >= 2 or "Permission denied" in out, out
    assert "$6$hash" not in out                      # the image's password hashes stay out
    assert not (rootfs / "bin" / "new").exists()
    assert (rootfs / "etc" / "motd").read_text() == "from-the-image\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root (mknod)")
def test_device_node_in_a_hostile_image_opens_nothing(airlock):
    """A hostile --image rootfs may carry device nodes (one gave read access
    to the host console): every image bind is nodev, so the node is there
    but cannot be opened. /dev/null's numbers: harmless if this ever fails."""
    root = Path(mkdtemp_world("airlock-image-"))
    try:
        for d in ("bin", "usr", "etc", "etc/sub"):
            (root / d).mkdir()
            (root / d).chmod(0o755)
        shutil.copy(airlock.probe_dir / "probe", root / "bin" / "probe")
        (root / "bin" / "probe").chmod(0o755)
        os.mknod(root / "usr" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(root / "etc" / "sub" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        res = airlock.run("run", *airlock.extra, "--image", str(root), "--user", "0", "--",
                          "/bin/probe", "stat", "/usr/null", ",", "read", "/usr/null", ",",
                          "write", "/usr/null", "x", ",", "read", "/etc/sub/null")
        assert res.rc == 0, res.describe()
        assert res.one("stat")["ok"], res.describe()          # the node is visible...
        for rec in res.all("read") + res.all("write"):         # ...and opens nothing
            assert rec["ok"] is False and rec["errno"] == "EACCES", res.describe()
    finally:
        shutil.rmtree(root, ignore_errors=True)
