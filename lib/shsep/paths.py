"""Where things live: the project's folders, and one way to write a file so that it is whole or absent.

Every other module takes its locations from here. Read-only material from ``../shared/`` (MIR-1K, the report's
outputs) is found beside the project unless an environment variable points elsewhere (see `data`, `report`).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE.parents[1]
SHARED = PROJECT_ROOT.parent / "shared"      # read where it lies, never copied into the project
RUNS = PROJECT_ROOT / "runs"                 # training runs (ignored by git)
OUTPUTS = PROJECT_ROOT / "outputs"           # executed notebooks, their figures, scratch results (ignored by git)
RESULTS = PROJECT_ROOT / "results"           # committed experiment logs
FIGURES = PROJECT_ROOT / "figures"           # committed (published) figures
DATA = PROJECT_ROOT / "data"                 # a local MIR-1K and the spectrogram cache (ignored by git)
# Two models ship. The cpu profile's, best on Park's protocol (MIR-1K), is what `shsep evaluate` and the notebooks
# score; the songs profile's, without the dense layers across frequency, led on the development songs' vocals.
# `shsep separate` and `shsep evaluate-musdb` average the two (SONGS_MODELS), ahead of either alone in the
# development songs' median. Each model has its training record (logs and config, no weights).
SHIPPED_MODEL = PACKAGE / "weights" / "cpu.pt"
SHIPPED_RUN = RESULTS / "shipped_run"
SONGS_MODEL = PACKAGE / "weights" / "songs.pt"
SONGS_RUN = RESULTS / "songs_run"
SONGS_MODELS = (SONGS_MODEL, SHIPPED_MODEL)


def project_relative(path: str | os.PathLike) -> str:
    """A path relative to the project when inside it (how records and printouts name the project's own files,
    without this machine's prefix), else as given."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path` to write to; on success it replaces `path` in one rename.

    An interrupted write leaves the old file (or none), never half a file. The temporary name keeps the suffix,
    so writers that pick a format by extension (numpy, pandas, torch) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
