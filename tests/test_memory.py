"""`shsep.memory`: the process settings `shsep separate` makes so that each block reuses freed memory."""
import platform
import subprocess
import sys


def test_reuse_freed_memory_turns_off_numpy_huge_pages_and_keeps_glibc_blocks():
    probe = ("from shsep.memory import reuse_freed_memory; from numpy._core.multiarray import _get_madvise_hugepage;"
             "applied = reuse_freed_memory(); print(applied['numpy_huge_pages_off'], applied['glibc_heap_reuse'],"
             "_get_madvise_hugepage())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    huge_off, heap_reuse, still_advised = done.stdout.split()
    assert (huge_off, still_advised) == ("True", "False")
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert heap_reuse == "True"


def test_separate_makes_the_settings_before_it_separates(monkeypatch, tmp_path):
    import shsep.cli as cli
    import shsep.memory as memory

    calls = []
    monkeypatch.setattr(memory, "reuse_freed_memory", lambda keep_heap: calls.append(keep_heap) or {})
    assert cli.main(["separate", str(tmp_path / "missing.wav"), "-o", str(tmp_path)]) == 2  # refused, after the call
    assert cli.main(["separate", str(tmp_path / "missing.wav"), "-o", str(tmp_path), "--wiener", "1"]) == 2
    assert calls == [True, False]  # the Wiener path keeps glibc's defaults (its peak memory)
