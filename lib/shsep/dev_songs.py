"""The development songs: three short excerpts of real multitrack songs with stems, published in public
repositories, laid out as MUSDB18 tracks for `shsep evaluate-musdb` and notebook 06. Used to measure, never to
train; their audio is not committed (it lands in data/dev_songs/, which git ignores).

`gather` copies them from clones or snapshots of those repositories (`SOURCES`, at the commits named there);
`available` finds a folder of songs for a notebook, gathering them first where the snapshots lie beside the
project, and says why when there are none.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .paths import DATA, PROJECT_ROOT

DEV_SONGS = DATA / "dev_songs"


class DevSongError(Exception):
    """A repository's copy lacks a song file at the commit named in SOURCES."""

# name: (repository, commit or None for its newest, [(path in the repository, path under --out)])
SOURCES = {
    "sigsep-mus-eval": ("sigsep/sigsep-mus-eval", None, [
        ("tests/data/MUSDB18-7-SAMPLE/train/Music Delta - 80s Rock.stem.mp4", "Music Delta - 80s Rock.stem.mp4")]),
    "stempeg": ("faroit/stempeg", "4d514528ecdc895ab2f8c3f82fcaf44f841bec3e", [
        ("stempeg/data/The Easton Ellises - Falcon 69 (NI ALAC).stem.m4a", "The Easton Ellises - Falcon 69.stem.m4a")]),
    "mdx-starter-kit": ("AIcrowd/music-demixing-challenge-starter-kit", "b388107bd1422f9113c720e640394da5f305567c", [
        (f"data/test/Mu - Too Bright/{stem}.wav", f"Mu - Too Bright/{stem}.wav")
        for stem in ("mixture", "vocals", "drums", "bass", "other")]),
}


def default_location(repository: str) -> Path:
    """Where a snapshot of the repository is looked for when no --source names it: beside the project."""
    return PROJECT_ROOT.parent / ".mirror" / repository.replace("/", "+") / "repo"


def extract(location: Path, commit: str | None, inside: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if (location / inside).is_file():  # a working tree
        shutil.copyfile(location / inside, destination)
        return
    git_dir = location / ".git" if (location / ".git").is_dir() else location
    shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit or 'HEAD'}:{inside}"], capture_output=True)
    if shown.returncode != 0:
        raise DevSongError(f"cannot read {inside} at {commit or 'HEAD'} from {location}: "
                         f"{shown.stderr.decode().strip().splitlines()[-1]}")
    destination.write_bytes(shown.stdout)


def gather(out: Path, locations: dict[str, Path]) -> list[str]:
    """Copy every source's songs under out; returns what was missing."""
    missing = []
    for name, (repository, commit, files) in SOURCES.items():
        location = locations.get(name, default_location(repository))
        if not location.exists():
            missing.append(f"{name}: no copy of github.com/{repository} at {location} (clone it and pass "
                           f"--source {name}=PATH)")
            continue
        for inside, target in files:
            extract(location, commit, inside, out / target)
        print(f"{name}: {len(files)} file(s) from github.com/{repository}"
              + (f" at {commit[:10]}" if commit else ""))
    return missing


def available(folder=None) -> Path | None:
    """A folder of MUSDB-style tracks: `folder` if given, else data/dev_songs/, gathered now from the repositories'
    snapshots beside the project if it is not there yet. None (with a printed note) when there are none."""
    folder = Path(folder) if folder is not None else DEV_SONGS
    if folder == DEV_SONGS and not any(folder.glob("*")):
        if not any(default_location(repository).exists() for repository, _, _ in SOURCES.values()):
            print("no development songs here: `python scripts/dev_songs.py --source NAME=PATH` gathers them from "
                  "clones of " + ", ".join(f"github.com/{r}" for r, _, _ in SOURCES.values()))
            return None
        missing = gather(folder, {})
        for line in missing:
            print(line)
    if not folder.is_dir() or not any(folder.iterdir()):
        print(f"no songs in {folder}")
        return None
    return folder
