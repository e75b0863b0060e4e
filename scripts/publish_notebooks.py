"""Copy executed notebooks (outputs/<profile>/) over notebooks/, outputs included, and their figures
(outputs/<profile>/figures/) over figures/, for committing.

Drops widget views (they need a live kernel) and papermill's injected-parameters cell, so the committed notebooks still take their profile from
$SHSEP_PROFILE (nbval runs them under smoke) while showing the outputs of the real run.
Usage: python scripts/publish_notebooks.py outputs/cpu [notebooks/05_evaluation.ipynb ...]
"""
import shutil
import sys
from pathlib import Path

import nbformat


ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def publish(source: Path, names: list[str] | None = None, destination: Path = ROOT / "notebooks",
            figures: Path = ROOT / "figures") -> None:
    """Publish the executed notebooks in source (only those named, if names are given) and their figures."""
    for path in sorted(source.glob("0*.ipynb")):
        if names and path.name not in names:
            continue
        notebook = nbformat.read(path, as_version=4)
        notebook.cells = [c for c in notebook.cells if "injected-parameters" not in c.metadata.get("tags", [])]
        notebook.metadata.pop("papermill", None)
        notebook.metadata.pop("widgets", None)
        for cell in notebook.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
            # a widget needs its kernel: a saved view only shows a stale text fallback, so it is not published
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
        nbformat.write(notebook, destination / path.name)
        print(f"{path} -> {destination / path.name} ({(destination / path.name).stat().st_size / 1e6:.2f} MB)")
    prefixes = tuple(name[:2] for name in names) if names else ("",)
    for figure in sorted((source / "figures").glob("*.png")):
        if not figure.name.startswith(prefixes):
            continue
        shutil.copyfile(figure, figures / figure.name)
        print(f"{figure} -> {figures / figure.name}")


if __name__ == "__main__":
    publish(Path(sys.argv[1]), [Path(name).name for name in sys.argv[2:]])
