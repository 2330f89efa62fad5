"""The wheel carries the kv files and assets the panel loads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_kv_and_assets(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("panel-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    kv_files = sorted(p.name for p in (ROOT / "kv").glob("*.kv"))
    assert kv_files, "the source tree has kv files"
    for name in kv_files:
        assert f"panel/kv/{name}" in names
    for asset in (ROOT / "assets").rglob("*"):
        if asset.is_file() and asset.name != ".keep":
            assert f"panel/assets/{asset.relative_to(ROOT / 'assets')}" in names
    assert "panel/lab/idp.py" in names and "panel/cli.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "panel = panel.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
