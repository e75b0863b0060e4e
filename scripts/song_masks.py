"""How much of each song's voice the masks keep, against the best mask Park's 8 kHz front end allows
(`shsep.song_masks`), below 4 kHz: the voice energy missed and the accompaniment energy kept, as shares of the voice's.

    python scripts/song_masks.py                  # the development songs, the models `shsep separate` averages
    python scripts/song_masks.py data/dev_songs --checkpoint lib/shsep/weights/cpu.pt --voice-gains 1 1.5 2 3
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from shsep.audio import AudioError
from shsep.dev_songs import DEV_SONGS
from shsep.masking import SONGS_VOICE_GAIN
from shsep.musdb import find_tracks, read_track
from shsep.separate import Separator
from shsep.song_masks import diagnose


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, nargs="?", default=DEV_SONGS, help="songs with a vocal stem (MUSDB layout)")
    parser.add_argument("--checkpoint", type=Path, action="append",
                        help="a model; given more than once, their estimates averaged (default: as `shsep separate`)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8", "auto"])
    parser.add_argument("--voice-gains", type=float, nargs="+", default=[1.0, SONGS_VOICE_GAIN])
    args = parser.parse_args(argv)
    try:
        tracks = find_tracks(args.path)
    except AudioError as error:
        raise SystemExit(f"song_masks: {error}") from None
    separator = Separator.from_checkpoint(args.checkpoint, precision=args.precision, windowing="long")
    rows = [{"track": track.name} | row for track in tracks
            for row in diagnose(separator, read_track(track), tuple(args.voice_gains))]
    table = pd.DataFrame(rows)
    print(f"{len(tracks)} songs; below 4 kHz, shares of the voice's energy (downmix)")
    print(table.to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
