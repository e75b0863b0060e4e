"""Progress for long loops that suits where it goes: a live bar on a terminal, sparse whole lines in a log file.

On a terminal (stderr is a TTY) `Progress` draws a tqdm bar. Elsewhere (stderr redirected to a file, a pipe,
a notebook run by papermill) it writes one line at most every `every_fraction` of the work or every
`every_seconds`, whichever comes first, and a last line at the end, with the same information the bar shows:
done/total, percent, elapsed, remaining and the caller's figures (loss, learning rate ...).
"""
from __future__ import annotations

import sys
import time


def format_seconds(seconds: float) -> str:
    """'42 s', '7 min 05 s', '1 h 40 min'."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Progress:
    """Counts `total` units from `initial`. update(n, **figures) advances; close() ends.

    milestone_lines=True also writes a whole line on a terminal at every `every_fraction` (above the bar), so
    that a long run leaves a record in the scroll-back (training uses it, every 5 %).
    """

    def __init__(self, total: int, description: str, initial: int = 0, unit: str = "it", every_fraction: float = 0.1,
                 every_seconds: float = 30.0, enabled: bool = True, stream=None, terminal: bool | None = None,
                 milestone_lines: bool = False):
        self.total, self.description, self.unit = int(total), description, unit
        self.done = self.started_at = int(initial)
        self.enabled = enabled and self.total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.every_fraction = every_fraction
        self.every_units = max(1, round(every_fraction * self.total))
        self.every_seconds = every_seconds
        self.milestone_lines = milestone_lines
        self.figures: dict = {}
        self.start_time = self.last_time = time.monotonic()
        self.last_milestone = self.done // self.every_units
        self.bar = None
        if self.enabled and self.terminal:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, desc=description, unit=unit, file=self.stream)

    def update(self, n: int = 1, **figures) -> None:
        self.done += n
        self.figures = figures or self.figures
        if not self.enabled:
            return
        milestone = self.done // self.every_units
        reached = milestone > self.last_milestone
        if reached:
            self.last_milestone = milestone
        if self.bar is not None:
            self.bar.update(n)
            if figures:
                self.bar.set_postfix(figures, refresh=False)
            if reached and self.milestone_lines and self.done < self.total:
                self.bar.write(self.line(), file=self.stream)
        elif self.done < self.total and (reached or time.monotonic() - self.last_time >= self.every_seconds):
            self._write(self.line())

    def set_total(self, total: int) -> None:
        """A new total, counted from here on (a time budget's steps fitted again mid-run)."""
        self.total = int(total)
        self.every_units = max(1, round(self.every_fraction * self.total))
        self.last_milestone = self.done // self.every_units
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def line(self) -> str:
        """One line: description, done/total (percent), elapsed, remaining, the caller's figures."""
        elapsed = time.monotonic() - self.start_time
        counted = self.done - self.started_at
        remaining = elapsed / counted * (self.total - self.done) if counted else float("nan")
        parts = [f"{self.description}: {self.done}/{self.total} {self.unit} ({100 * self.done / self.total:.0f} %)",
                 f"elapsed {format_seconds(elapsed)}"]
        if self.done < self.total and counted:
            parts.append(f"remaining ~{format_seconds(remaining)}")
        parts += [f"{name} {value}" for name, value in self.figures.items()]
        return ", ".join(parts)

    def _write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        self.last_time = time.monotonic()

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.done > self.started_at:
            self._write(self.line())
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress_over(items, total: int | None = None, description: str = "", enabled: bool = True, **options):
    """Iterate `items`, reporting progress as `Progress` does (a bar on a terminal, sparse lines elsewhere)."""
    total = len(items) if total is None else total
    with Progress(total, description, enabled=enabled and total > 0, **options) as progress:
        for item in items:
            yield item
            progress.update(1)
