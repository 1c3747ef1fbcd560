"""The wheel `make python-wheel` builds, as a user gets it: a manylinux wheel that auditwheel
confirms, with complete metadata, that installs into a fresh venv and works under `env -i`
(no LD_LIBRARY_PATH, no PYTHONPATH, outside the source tree) with the libcurl grafted into it."""

from __future__ import annotations

import email.parser
import glob
import os
import platform
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import HERE, KEY

PLATFORM_TAG = f"manylinux_2_34_{platform.machine()}"

SMOKE = """
import sys, himetrica
key, endpoint = sys.argv[1], sys.argv[2]
path = himetrica.library_path()
assert "site-packages" in path and path.endswith("himetrica/lib/libhimetrica.so"), path
assert "bindings" not in himetrica.__file__, himetrica.__file__
c = himetrica.Client(key, endpoint=endpoint)
c.track("wheel_smoke", visitor_id="wheel-v", properties={"ok": True})
c.identify(visitor_id="wheel-v", traits={"name": "Wheel"})
assert c.user_id("wheel-v").startswith("hm_usr_")
try:
    c.track("bad name", visitor_id="wheel-v")
except himetrica.ValidationError as e:
    assert str(e) == "eventName: may contain only letters, digits, '_' and '-'", e
assert c.flush(10)
curl = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libcurl" in line})
print("smoke ok", himetrica.library_version(), *curl)
"""


@pytest.fixture(scope="module")
def wheel() -> Path:
    folder = os.environ.get("HIMETRICA_WHEEL_DIR")
    if not folder:
        pytest.skip("HIMETRICA_WHEEL_DIR not set: `make test-python` builds the wheel and sets it")
    wheels = glob.glob(os.path.join(folder, "*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {folder} (make python-wheel), found {wheels}"
    return Path(wheels[0])


def test_wheel_is_manylinux_as_auditwheel_confirms(wheel: Path) -> None:
    assert wheel.name.endswith(f"-py3-none-{PLATFORM_TAG}.whl"), wheel.name
    shown = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True,
                           text=True, timeout=120, check=True).stdout
    assert f'consistent with the following platform tag: "{PLATFORM_TAG}"' in " ".join(shown.split()), shown
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    # libcurl and what it links are grafted in (libcurl is not on the manylinux allow-list)
    assert any(re.fullmatch(r"himetrica\.libs/libcurl-[0-9a-f]{8}\.so\.4[.0-9]*", n) for n in names), names
    assert "himetrica/lib/libhimetrica.so" in names and "himetrica/py.typed" in names


def test_wheel_metadata_is_complete(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(archive.read(info).decode())
        licenses = [n for n in archive.namelist() if ".dist-info/licenses/" in n]
    # The repository's VERSION file is the one place the version is written.
    assert meta["Version"] == (HERE.parents[2] / "VERSION").read_text().strip()
    assert meta["Name"] == "himetrica"
    assert meta["License-Expression"] == "Apache-2.0"
    assert any(n.endswith("/LICENSE") for n in licenses), licenses
    assert meta["Requires-Python"] == ">=3.9"
    classifiers = meta.get_all("Classifier") or []
    for expected in ("Operating System :: POSIX :: Linux", "Programming Language :: Python :: 3",
                     "Typing :: Typed", "Framework :: Django", "Framework :: FastAPI"):
        assert expected in classifiers, classifiers
    assert any(url.startswith("Homepage, https://") for url in meta.get_all("Project-URL") or [])
    assert meta["Summary"].startswith("Server-side Himetrica analytics")
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().startswith("# himetrica (Python)")  # the README is the description


def test_wheel_in_fresh_venv_under_env_i(wheel: Path, tmp_path: Path, server) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index",
                    "--disable-pip-version-check", str(wheel)], check=True, timeout=120)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = subprocess.run(["env", "-i", python, "-c", SMOKE, KEY, server.endpoint], cwd=outside,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "smoke ok" in result.stdout
    # the libcurl in use is the wheel's own copy, not the system's
    grafted = f"{venv}/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages/himetrica.libs/"
    curl = result.stdout.split()[3:]
    assert curl and all(path.startswith(grafted) for path in curl), result.stdout
    names = [e["body"].get("eventName") for e in server.wait_events(2, timeout=5)]
    assert "wheel_smoke" in names
