"""Headless figures: matplotlib's object API on the Agg canvas, written atomically.

No ``pyplot`` and no global backend switch: a figure made here never needs a display, and a
caller's interactive backend stays as it was.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ssrec.utils.io import _atomic


def new_figure(width: float, height: float) -> Any:
    """A ``matplotlib.figure.Figure`` of ``width × height`` inches on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (its pixel size is the figure size × dpi:
    no tight bounding box); returns the path."""
    return _atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi))
