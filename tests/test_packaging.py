"""The built wheel, installed into a fresh venv as a user would, runs and serves the panel."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.daemon_proc import make_daemon


@pytest.mark.timeout(600)
def test_wheel_installs_into_a_fresh_venv_and_serves_the_panel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("sessiond-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # The repo's daemon/, cli/ and ui/ folders install as one `sessiond` package.
    assert {n.split("/")[0] for n in names} == {"sessiond", wheel.name.split("-py3")[0] + ".dist-info"}
    for shipped in ("sessiond/ui/index.html", "sessiond/ui/app.js", "sessiond/ui/icon.png",
                    "sessiond/systemd/sessiond.service", "sessiond/launchd/dev.sessiond.plist"):
        assert shipped in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=400)
    version = subprocess.run([str(env_dir / "bin" / "sessiond"), "--version"],
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("sessiond, version ")

    proc = make_daemon(tmp_path / "d")
    proc.python = str(python)
    proc.start()
    try:
        status, page = proc.get("/")
        assert status == 200 and "sessiond" in page
        assert proc.token not in page  # the page holds no secret: the cookie does
        for module in ("app.js", "board.js", "cards.js", "focus.js", "model.js", "names.js"):
            assert proc.get(f"/{module}")[0] == 200, module
        assert proc.get("/icon.png")[0] == 200
    finally:
        proc.kill()
