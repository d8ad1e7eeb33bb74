"""`pip wheel .` builds an installable package: mnist_small alone, with the mnist-small command."""

import subprocess
import sys
import zipfile

from .conftest import ROOT


def test_the_wheel_holds_mnist_small_only_and_the_command(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet", "--wheel-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("mnist_small-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"mnist_small", wheel.name.split("-py3")[0] + ".dist-info"}
    assert "mnist_small/__main__.py" in names and "mnist_small/preprocess/__init__.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "mnist-small = mnist_small.__main__:main" in entry_points
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "Requires-Dist: torch" in metadata and "Requires-Dist: scipy" in metadata
