"""Build glue: the wheel carries libhimetrica.so, so it is platform-tagged (py3-none-<platform>).

The library is copied from HIMETRICA_WHEEL_LIBRARY or, in a source checkout, from the
repository's build/lib/libhimetrica.so (`make lib`).
"""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent


def _library() -> Path:
    env = os.environ.get("HIMETRICA_WHEEL_LIBRARY")
    path = Path(env) if env else HERE.parent.parent / "build" / "lib" / "libhimetrica.so"
    if not path.is_file():
        raise SystemExit(f"libhimetrica.so not found at {path}: run `make lib` (or set HIMETRICA_WHEEL_LIBRARY)")
    return path


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "himetrica" / "lib"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(_library(), target / "libhimetrica.so")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


cmdclass = {"build_py": BuildWithLibrary}
try:
    from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _python, _abi, platform = super().get_tag()
            return "py3", "none", platform  # ctypes only: any CPython 3, no ABI dependence

    cmdclass["bdist_wheel"] = PlatformWheel
except ImportError:  # pragma: no cover
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
