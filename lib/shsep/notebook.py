"""Notebook plumbing: which profile a notebook runs, the one set-up call the notebooks make, where figures go.

Figures from a run go to ``outputs/<profile>/figures/``; only ``./run_all.sh --publish`` copies them to
``figures/``, so running a notebook never changes a tracked file. Paths are printed relative to the project.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .paths import OUTPUTS, RUNS, SHIPPED_RUN, project_relative

# At most this many clips per analysis under a profile (the smoke profile keeps CI fast).
NOTEBOOK_CLIPS = {"smoke": 6}


def resolve_profile(profile: str | None = None) -> str:
    """The profile a notebook or script runs: the argument, else $SHSEP_PROFILE, else cpu/paper by hardware."""
    from .profiles import default_profile, get_profile

    name = profile or os.environ.get("SHSEP_PROFILE") or default_profile()
    get_profile(name)  # validates the name
    return name


def relative(path: str | os.PathLike) -> str:
    """A path as the reader should see it: relative to the project when inside it, never machine-specific."""
    shown = project_relative(Path(path).resolve())
    return Path(shown).name if Path(shown).is_absolute() else shown


def figures_folder(profile: str) -> Path:
    """Where a notebook run saves its figures."""
    return OUTPUTS / profile / "figures"


@dataclass
class Setup:
    """What every notebook starts from (see `setup`)."""

    profile: str
    config: object
    root: Path
    run_dir: Path
    figures_dir: Path
    max_clips: int | None

    def __iter__(self):
        return iter((self.profile, self.config, self.root, self.run_dir, self.figures_dir, self.max_clips))


def default_run_dir(profile: str, train: bool = False) -> Path:
    """The run a notebook reads: runs/<profile> when training or when it holds a trained checkpoint, else the
    shipped model's own training record (results/shipped_run/, whose model is lib/shsep/weights/cpu.pt)."""
    own = RUNS / profile
    return own if train or (own / "checkpoint.pt").is_file() else SHIPPED_RUN


def setup(profile: str | None = None, data_root=None, run_dir=None, figures_dir=None, train: bool = False) -> Setup:
    """Resolve a notebook's parameters and print what it runs on: profile, clips present, run folder.

    run_dir None: `default_run_dir`. Unpacks as ``profile, config, root, run_dir, figures_dir, max_clips``.
    """
    from .data import find_root, index_clips
    from .profiles import get_profile

    profile = resolve_profile(profile)
    root = find_root(data_root)
    run_dir = Path(run_dir) if run_dir else default_run_dir(profile, train)
    figures_dir = Path(figures_dir) if figures_dir else figures_folder(profile)
    max_clips = NOTEBOOK_CLIPS.get(profile)
    present = {split: len(index_clips(root, split)) for split in ("train", "test")}
    print(f"profile {profile}; MIR-1K: {present['train']} training and {present['test']} test clips present "
          f"(of 175 and 825); run folder {relative(run_dir)}; figures to {relative(figures_dir)}"
          + (f"; at most {max_clips} clips per analysis" if max_clips else ""))
    return Setup(profile, get_profile(profile), root, run_dir, figures_dir, max_clips)
