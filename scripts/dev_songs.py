"""Gather the development songs (`shsep.dev_songs`) into data/dev_songs/, laid out as MUSDB18 tracks.

    python scripts/dev_songs.py                        # from clones or snapshots beside the project (see SOURCES)
    python scripts/dev_songs.py --source stempeg=/path/to/stempeg --out data/dev_songs
    .venv/bin/shsep evaluate-musdb data/dev_songs --out runs/dev_songs

Each --source NAME=PATH is a clone (its working tree or its .git folder) or a bare snapshot of that repository;
the files are read at the commit named in `shsep.dev_songs.SOURCES` with `git show`, or copied from a working tree.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from shsep.dev_songs import DEV_SONGS, SOURCES, DevSongError, gather


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEV_SONGS)
    parser.add_argument("--source", action="append", default=[], metavar="NAME=PATH",
                        help=f"where a repository lies; NAME one of {', '.join(SOURCES)}")
    args = parser.parse_args(argv)
    locations = {}
    for item in args.source:
        name, _, path = item.partition("=")
        if name not in SOURCES or not path:
            parser.error(f"--source takes NAME=PATH with NAME one of {', '.join(SOURCES)}, not {item!r}")
        locations[name] = Path(path)
    try:
        missing = gather(args.out, locations)
    except DevSongError as error:
        raise SystemExit(str(error)) from None
    for line in missing:
        print(line)
    print(f"development songs in {args.out}: {len(SOURCES) - len(missing)} of {len(SOURCES)}")
    if len(missing) == len(SOURCES):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
