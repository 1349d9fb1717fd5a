"""setuptools drives CMake: `pip install --no-build-isolation .` builds the target rdpt_python (the
package python/rdpt and its native part _rdpt) and installs that folder.

It builds in build/, the folder scripts/setup.sh configures (so after setup it only copies the
module); without one it configures build/ itself, finding llama.cpp where scripts/setup.sh leaves
it and DuckDB (RDPT_CACHE, default ~/.cache/rdpt). RDPT_BUILD_DIR picks another folder; RDPT_CMAKE_ARGS
passes more CMake options (e.g. "-DRDPT_WITH_LLAMA=OFF")."""
import glob
import os
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def llama_args():
    cache = os.environ.get("RDPT_CACHE", os.path.expanduser("~/.cache/rdpt"))
    args = []
    for d in sorted(glob.glob(os.path.join(cache, "llama.cpp-*-c1")), reverse=True):
        cfg = os.path.join(d, "lib", "cmake", "llama")
        if os.path.isdir(cfg):
            args += ["-Dllama_DIR=" + cfg, "-Dggml_DIR=" + os.path.join(d, "lib", "cmake", "ggml")]
            src = glob.glob(os.path.join(cache, "src", "llama.cpp-*"))
            if src:
                args.append("-DRDPT_LLAMA_SOURCE_DIR=" + sorted(src)[-1])
            break
    duck = sorted(glob.glob(os.path.join(cache, "duckdb-*")), reverse=True)
    duck = [d for d in duck if os.path.exists(os.path.join(d, ".rdpt-ok"))]
    if duck:
        args.append("-DRDPT_DUCKDB_DIR=" + duck[0])
    return args


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.environ.get("RDPT_BUILD_DIR", os.path.join(ROOT, "build"))
        cache = os.path.join(build, "CMakeCache.txt")
        python = ""
        if os.path.exists(cache):
            for line in open(cache, encoding="utf-8", errors="replace"):
                if line.startswith(("Python3_EXECUTABLE:", "_Python3_EXECUTABLE:")):
                    python = line.split("=", 1)[1].strip()
        # A build configured for another interpreter would give a module this one cannot import.
        same_python = python and os.path.realpath(python) == os.path.realpath(sys.executable)
        if not os.path.exists(cache) or not same_python or os.environ.get("RDPT_CMAKE_ARGS"):
            args = ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DRDPT_WITH_PYTHON=ON",
                    "-DPython3_EXECUTABLE=" + sys.executable] + llama_args()
            subprocess.check_call(["cmake", "-S", ROOT, "-B", build] + args +
                                  shlex.split(os.environ.get("RDPT_CMAKE_ARGS", "")))
        subprocess.check_call(["cmake", "--build", build, "--target", "rdpt_python"])
        out = os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))
        pkg = os.path.join(build, "python", "rdpt")
        for f in os.listdir(pkg):  # the package's files only (not __pycache__ left by the tests)
            if f.endswith(".py") or (f.startswith("_rdpt") and f.endswith(".so")):
                shutil.copy2(os.path.join(pkg, f), os.path.join(out, f))


setup(
    packages=["rdpt"],
    package_dir={"rdpt": "python/rdpt"},
    ext_modules=[Extension("rdpt._rdpt", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
