"""Figures of the course; each function returns a matplotlib Figure (the page places it)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np


def gradient_norms_over_time(norms: Mapping[str, np.ndarray], title: str = ""):
    """Semilog plot of gradient norms against the time step (chapter 4).

    Parameters
    ----------
    norms : label -> (T,) array with the norm at time steps 1 .. T.
    title : optional axes title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    for label, values in norms.items():
        values = np.asarray(values, dtype=np.float64)
        ax.semilogy(np.arange(1, values.size + 1), values, marker="o", markersize=3, label=label)
    ax.set_xlabel("time step $t$")
    ax.set_ylabel(r"$\|\mathrm{d}L/\mathrm{d}\mathbf{h}_t\|$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig
