"""Gathering the development songs: a copy without the song is a clear error, not an exit from the library."""
import subprocess

import pytest

from shsep.dev_songs import DevSongError, extract


def test_a_copy_without_the_file_is_a_clear_error(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    with pytest.raises(DevSongError, match="cannot read data/song.wav at HEAD"):
        extract(tmp_path / "repo", None, "data/song.wav", tmp_path / "out" / "song.wav")
    (tmp_path / "tree" / "data").mkdir(parents=True)
    (tmp_path / "tree" / "data" / "song.wav").write_bytes(b"RIFF")
    extract(tmp_path / "tree", None, "data/song.wav", tmp_path / "out" / "song.wav")  # a working tree: copied
    assert (tmp_path / "out" / "song.wav").read_bytes() == b"RIFF"
