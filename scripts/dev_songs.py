"""Gather the development songs: three short excerpts of real multitrack songs with stems, published in public
repositories, laid out as MUSDB18 tracks for `shsep evaluate-musdb`. Used to measure, never to train; their audio
is not committed (it lands in data/dev_songs/, which git ignores).

    python scripts/dev_songs.py                        # from clones or snapshots beside the project (see SOURCES)
    python scripts/dev_songs.py --source stempeg=/path/to/stempeg --out data/dev_songs
    .venv/bin/shsep evaluate-musdb data/dev_songs --out runs/dev_songs

Each --source NAME=PATH is a clone (its working tree or its .git folder) or a bare snapshot of that repository;
the files are read at the commit given below with `git show`, or copied from a working tree.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    return ROOT.parent / ".mirror" / repository.replace("/", "+") / "repo"


def extract(location: Path, commit: str | None, inside: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if (location / inside).is_file():  # a working tree
        shutil.copyfile(location / inside, destination)
        return
    git_dir = location / ".git" if (location / ".git").is_dir() else location
    shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit or 'HEAD'}:{inside}"], capture_output=True)
    if shown.returncode != 0:
        raise SystemExit(f"cannot read {inside} at {commit or 'HEAD'} from {location}: "
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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "dev_songs")
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                        help=f"where a repository lies; NAME one of {', '.join(SOURCES)}")
    args = parser.parse_args(argv)
    locations = {}
    for item in args.source:
        name, _, path = item.partition("=")
        if name not in SOURCES or not path:
            parser.error(f"--source takes NAME=PATH with NAME one of {', '.join(SOURCES)}, not {item!r}")
        locations[name] = Path(path)
    missing = gather(args.out, locations)
    for line in missing:
        print(line)
    print(f"development songs in {args.out}: {len(SOURCES) - len(missing)} of {len(SOURCES)}")
    if len(missing) == len(SOURCES):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
