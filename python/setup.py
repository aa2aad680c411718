"""Build step of `pip install ./python`: put libgrappo.so inside the package.

The library is found (in this order) at $GRAPPO_LIBRARY, or in the repository's build
directory (../build/libgrappo.so), which is built with `make build/libgrappo.so` when missing
and the repository's Makefile is there. No compiler step beyond the C library's own build.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def find_library() -> Path:
    env = os.environ.get("GRAPPO_LIBRARY")
    if env:
        return Path(env)
    built = ROOT / "build" / "libgrappo.so"
    if not built.exists() and (ROOT / "Makefile").exists():
        subprocess.run(["make", "-C", str(ROOT), "build/libgrappo.so"], check=True)
    if not built.exists():
        raise RuntimeError("libgrappo.so not found: build it (make) or set GRAPPO_LIBRARY")
    return built


class BuildWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        dest = Path(self.build_lib) / "grappo" / "libgrappo.so"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(find_library(), dest)
        policy = ROOT / "policies" / "default.bin"  # the shipped policy of ppo and ppo+bo
        if policy.exists():
            (dest.parent / "policies").mkdir(exist_ok=True)
            shutil.copy2(policy, dest.parent / "policies" / "default.bin")


setup(cmdclass={"build_py": BuildWithLibrary})
