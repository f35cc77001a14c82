"""The report's one figure style, a figure's words and its file.

The style is seaborn's (white grid, colour-blind-safe palette) sized for the site's content
column: figures are at most `WIDTH` inches wide and drawn at `DPI`, so a figure is shown at about
two thirds of its pixel width and its smallest text (8 pt) stays legible. A model has one
colour in every figure (`model_color`).

Every figure also says what it shows in words (`describe`, `description`): its title and what
is plotted, with the numbers that matter, written by the function that draws it. `save` puts
that text in the PNG's `Description` field, in the saved file and in the notebook's output, and
the site's Sphinx extension (`fmnist.sphinx_ext`) makes it the image's alt text.
"""

from __future__ import annotations

import base64
import functools
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib import cycler
from matplotlib.ticker import FixedLocator, MaxNLocator

from fmnist.chapters import MODELS
from fmnist.plots import PNG_DESCRIPTION

WIDTH = 7.5  # inches: the content column (688 px) at two thirds of DPI
DPI = 144
_SAVED_PNG = "_fmnist_saved_png"  # a saved figure's PNG, on the figure


def _theme() -> dict[str, Any]:
    return {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.9),
            "axes.prop_cycle": cycler(color=sns.color_palette("colorblind")),
            "figure.dpi": DPI, "savefig.dpi": DPI, "figure.constrained_layout.use": True,
            "axes.titleweight": "bold", "legend.frameon": False}


def styled(plot: Callable[..., plt.Figure]) -> Callable[..., plt.Figure]:
    """Draw `plot`'s figure in the report's style (a context: importing this module sets none)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs) -> plt.Figure:
        # Only the theme's own keys are set and restored: `plt.rc_context` restores every key,
        # `interactive` included, and so undid the notebook backend's showing of figures when
        # that backend first loaded inside the context.
        theme = _theme()
        saved = {key: plt.rcParams[key] for key in theme}
        plt.rcParams.update(theme)
        try:
            fig = plot(*args, **kwargs)
        finally:
            plt.rcParams.update(saved)
        if not getattr(fig, "description", ""):  # a figure without words is a bug here
            raise RuntimeError(f"{plot.__name__} drew a figure without describing it")
        return fig

    return wrapper


def _title(fig: plt.Figure) -> str:
    """The figure's title: its suptitle, or its panels' titles, on one line."""
    suptitle = fig.get_suptitle()
    titles = [suptitle] if suptitle else [ax.get_title() for ax in fig.axes if ax.get_title()]
    return "; ".join(" ".join(title.split()) for title in titles)


def describe(fig: plt.Figure, shows: str) -> plt.Figure:
    """Attach to `fig` what it shows in words, after its title (its images' alt text)."""
    title = _title(fig)
    fig.description = f"{title}. {shows}" if title else shows
    return fig


def description(fig: plt.Figure) -> str:
    """What `fig` shows in words (`describe`); its title when nothing more was said."""
    return getattr(fig, "description", "") or _title(fig)


def png_bytes(fig: plt.Figure) -> bytes:
    """The figure as the report shows it: a PNG at `DPI` carrying its title and description."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight",
                metadata={"Title": _title(fig), PNG_DESCRIPTION: description(fig)})
    return buffer.getvalue()


def _png_for_notebook(fig: plt.Figure) -> str:
    saved = getattr(fig, _SAVED_PNG, None)
    png = saved if saved is not None and not fig.stale else png_bytes(fig)
    return base64.b64encode(png).decode("ascii")


def _describe_in_notebook() -> None:
    """In a Jupyter kernel, show figures as PNGs that carry their description.

    matplotlib's inline backend draws a figure's output without any text of its own; the site
    reads the description from the image itself, so the output must carry it.
    """
    if "IPython" not in sys.modules:  # a plain script: there is no notebook output
        return
    # Loaded already (checked just above); a runtime without the report extra may lack it.
    from IPython import get_ipython  # noqa: PLC0415

    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        shell.display_formatter.formatters["image/png"].for_type(plt.Figure, _png_for_notebook)


def model_color(name: str) -> tuple[float, float, float]:
    """The colour of a model in every figure, by its chapter's slug or display name; a label
    that adds a note in parentheses ("Tuned CNN (retrain)") takes its model's colour; grey
    for anything else. The pipeline's order (`chapters.MODELS`) sets each model's colour."""
    palette = sns.color_palette("colorblind")
    model = name.split(" (", 1)[0]
    for i, (slug, display) in enumerate(MODELS.items()):
        if model in (slug, display):
            return palette[i]
    return palette[7]


def save(fig: plt.Figure, folder: str | Path | None, name: str) -> plt.Figure:
    """Save `fig` as `<folder>/<name>.png` when a folder is given; return it for display.

    The PNG, saved or shown in a notebook, carries the figure's description (`describe`).
    """
    if folder is not None:
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        png = png_bytes(fig)
        path.write_bytes(png)
        # The notebook shows these very bytes unless the figure changes before it is shown
        # (any change marks it stale): drawing it again costs as much as the first time and,
        # under constrained layout, gives other pixels than the file's.
        setattr(fig, _SAVED_PNG, png)
        fig.stale = False
    _describe_in_notebook()
    return fig


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def epoch_axis(ax, n: int) -> None:
    """Whole numbers 1..n (epochs, trials), never fractions, whatever n."""
    locator = FixedLocator(range(1, n + 1)) if n <= 12 else MaxNLocator(integer=True)
    ax.xaxis.set_major_locator(locator)
    ax.set_xlim(0.5, n + 0.5)
