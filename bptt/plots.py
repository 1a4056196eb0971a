"""Figures of the course; each function returns a matplotlib Figure (the page places it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


# Colours of the diagrams of chapter 1: inputs, hidden states and outputs as in
# the usual sequence-shape pictures; parameters shaded grey as in D2L figure 9.7.2.
_INPUT_COLOUR = "#f4cccc"
_HIDDEN_COLOUR = "#d9ead3"
_OUTPUT_COLOUR = "#cfe2f3"
_PARAMETER_COLOUR = "#b7b7b7"


def _box(ax, x: float, y: float, label: str, facecolor: str = "white",
         width: float = 0.8, height: float = 0.6, fontsize: float = 11) -> None:
    """A labelled rectangle centred at (x, y)."""
    ax.add_patch(plt.Rectangle((x - width / 2, y - height / 2), width, height,
                               facecolor=facecolor, edgecolor="black", linewidth=1.0, zorder=2))
    ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, zorder=3)


def _circle(ax, x: float, y: float, label: str, radius: float = 0.3,
            fontsize: float = 10) -> None:
    """A labelled circle centred at (x, y), the symbol of an operator."""
    ax.add_patch(plt.Circle((x, y), radius, facecolor="white", edgecolor="black",
                            linewidth=1.0, zorder=2))
    ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, zorder=3)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float],
           color: str = "black") -> None:
    """A straight arrow from start to end, drawn below the boxes."""
    ax.annotate("", xy=end, xytext=start, zorder=1,
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.1, shrinkA=0, shrinkB=0,
                                mutation_scale=11))


def sequence_shapes(steps: int = 3):
    """The five shapes of a sequence problem, as boxes and arrows (chapter 1).

    Each panel is one network unrolled over time, from left to right: inputs
    (red, bottom), hidden states (green, middle) and outputs (blue, top).
    A vertical arrow is a computation within a step, a horizontal arrow
    carries the hidden state to the next step.

    Parameters
    ----------
    steps : number of time steps drawn for a sequence (at least 2); the
        encoder-decoder panel reads ``steps`` inputs and writes ``steps - 1``
        outputs, to show that the two lengths may differ.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if int(steps) != steps or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2, got {steps!r}")
    n = int(steps)
    everywhere, last = list(range(n)), [n - 1]
    # title, example task, columns, steps with an input, steps with an output
    panels = [("one-to-one", "classify\none image", 1, [0], [0]),
              ("one-to-many", "caption\nan image", n, [0], everywhere),
              ("many-to-one", "rate the sentiment\nof a review", n, everywhere, last),
              ("many-to-many, aligned", "tag every word\nof a sentence", n, everywhere,
               everywhere),
              ("many-to-many, encoder-decoder", "translate\na sentence", 2 * n - 1,
               everywhere, list(range(n, 2 * n - 1)))]
    step, gap = 1.1, 1.0
    width = sum(cols for _, _, cols, _, _ in panels) * step + gap * (len(panels) - 1)
    fig, ax = plt.subplots(figsize=(0.62 * width + 0.4, 3.5), layout="constrained")
    left = 0.0
    for title, task, cols, inputs, outputs in panels:
        xs = [left + step * (k + 0.5) for k in range(cols)]
        for k, x in enumerate(xs):
            t = k + 1
            _box(ax, x, 1.4, rf"$\mathbf{{h}}_{t}$", _HIDDEN_COLOUR)
            if k in inputs:
                _box(ax, x, 0.0, rf"$\mathbf{{x}}_{t}$", _INPUT_COLOUR)
                _arrow(ax, (x, 0.3), (x, 1.1))
            if k in outputs:
                _box(ax, x, 2.8, rf"$\mathbf{{o}}_{t}$", _OUTPUT_COLOUR)
                _arrow(ax, (x, 1.7), (x, 2.5))
            if k + 1 < cols:
                _arrow(ax, (x + 0.4, 1.4), (xs[k + 1] - 0.4, 1.4))
        centre = (xs[0] + xs[-1]) / 2
        ax.text(centre, 3.55, title, ha="center", va="bottom", fontsize=10, weight="bold")
        ax.text(centre, -0.55, task, ha="center", va="top", fontsize=9, style="italic")
        left += cols * step + gap
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-1.45, 4.0)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


def unrolled_computational_graph(T: int = 3):
    """The computational graph of the tanh RNN unrolled over T steps (chapter 1).

    Drawn in the manner of D2L figure 9.7.2: variables are unshaded boxes,
    the parameters ``W_hx``, ``W_hh`` and ``W_qh`` are shaded boxes, and
    operators are circles. Each parameter has an edge (in its own colour)
    to the operator of every time step. The biases are left out; they would
    be further shaded boxes with one edge per step.

    Parameters
    ----------
    T : number of time steps, from 1 to 5 (more would not fit the width).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if int(T) != T or not 1 <= T <= 5:
        raise ValueError(f"T must be an integer from 1 to 5, got {T!r}")
    T = int(T)
    col = 3.0
    x_f = [col * t - 1.2 for t in range(1, T + 1)]     # operator f_t and input x_t
    x_h = [col * t for t in range(1, T + 1)]           # h_t, o_t, l_t
    y_x, y_h, y_g, y_o, y_l, y_lt, y_mean, y_L = 0.0, 1.7, 3.0, 4.2, 5.5, 6.8, 8.0, 9.1
    fig, ax = plt.subplots(figsize=(2.3 * T + 3.0, 7.0), layout="constrained")

    _box(ax, 0.0, y_h, r"$\mathbf{h}_0$")
    for t in range(T):
        xf, xh, s = x_f[t], x_h[t], t + 1
        _box(ax, xf, y_x, rf"$\mathbf{{x}}_{s}$")
        _circle(ax, xf, y_h, r"$f$")
        _box(ax, xh, y_h, rf"$\mathbf{{h}}_{s}$")
        _circle(ax, xh, y_g, r"$g$")
        _box(ax, xh, y_o, rf"$\mathbf{{o}}_{s}$")
        _box(ax, xf, y_l, rf"$y_{s}$")
        _circle(ax, xh, y_l, r"$l$")
        _box(ax, xh, y_lt, rf"$l_{s}$")
        _arrow(ax, (xf, y_x + 0.3), (xf, y_h - 0.3))
        _arrow(ax, ((x_h[t - 1] if t else 0.0) + 0.4, y_h), (xf - 0.3, y_h))
        _arrow(ax, (xf + 0.3, y_h), (xh - 0.4, y_h))
        _arrow(ax, (xh, y_h + 0.3), (xh, y_g - 0.3))
        _arrow(ax, (xh, y_g + 0.3), (xh, y_o - 0.3))
        _arrow(ax, (xh, y_o + 0.3), (xh, y_l - 0.3))
        _arrow(ax, (xf + 0.4, y_l), (xh - 0.3, y_l))
        _arrow(ax, (xh, y_l + 0.3), (xh, y_lt - 0.3))
    x_mean = (x_h[0] + x_h[-1]) / 2
    _circle(ax, x_mean, y_mean, "mean", radius=0.38, fontsize=8)
    _box(ax, x_mean, y_L, r"$L$")
    _arrow(ax, (x_mean, y_mean + 0.38), (x_mean, y_L - 0.3))
    for xh in x_h:
        dx, dy = xh - x_mean, y_lt + 0.3 - y_mean
        scale = 0.38 / np.hypot(dx, dy)
        _arrow(ax, (xh, y_lt + 0.3), (x_mean + scale * dx, y_mean + scale * dy))

    # Each parameter runs along its own lane and branches into the operator of
    # every step, so the T edges of one parameter stay apart from the data flow.
    params = [(r"$\mathbf{W}_{hx}$", 0.8, x_f, y_h, "tab:red"),
              (r"$\mathbf{W}_{hh}$", 2.45, x_f, y_h, "tab:green"),
              (r"$\mathbf{W}_{qh}$", 3.6, x_h, y_g, "tab:blue")]
    for label, lane, targets, ty, colour in params:
        _box(ax, -1.3, lane, label, _PARAMETER_COLOUR, width=1.0)
        branch = [tx - 0.75 for tx in targets]
        ax.plot([-0.8, branch[-1]], [lane, lane], color=colour, lw=1.3, zorder=1)
        for bx, tx in zip(branch, targets):
            dx, dy = bx - tx, lane - ty
            scale = 0.3 / np.hypot(dx, dy)
            _arrow(ax, (bx, lane), (tx + scale * dx, ty + scale * dy), color=colour)
    ax.set_xlim(-2.0, x_h[-1] + 0.7)
    ax.set_ylim(-0.5, y_L + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


def forward_reverse_costs(T_values, costs_vs_T: Mapping[str, np.ndarray], h_values,
                          costs_vs_h: Mapping[str, np.ndarray], fixed_h: int, fixed_T: int):
    """Cost of forward-mode and reverse-mode differentiation of an RNN (chapter 2).

    A 2 x 2 grid of log-log plots: multiply-adds (top) and numbers stored
    (bottom), against the sequence length T at hidden size ``fixed_h`` (left)
    and against the hidden size h at length ``fixed_T`` (right).

    Parameters
    ----------
    T_values : (n_T,) sequence lengths.
    costs_vs_T : mode label -> (2, n_T) array; row 0 holds multiply-adds, row 1
        numbers stored, at the lengths ``T_values``.
    h_values : (n_h,) hidden sizes.
    costs_vs_h : mode label -> (2, n_h) array, rows as in ``costs_vs_T``, at the
        sizes ``h_values``.
    fixed_h, fixed_T : the size held fixed in each column, for the titles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 6.0), layout="constrained")
    columns = ((np.asarray(T_values), costs_vs_T, "sequence length $T$", f"$h = {fixed_h}$"),
               (np.asarray(h_values), costs_vs_h, "hidden size $h$", f"$T = {fixed_T}$"))
    for col, (sizes, costs, xlabel, fixed) in enumerate(columns):
        for row, quantity in enumerate(("multiply-adds", "numbers stored")):
            ax = axes[row, col]
            for (label, values), marker in zip(costs.items(), "os^D"):
                values = np.asarray(values, dtype=np.float64)
                ax.loglog(sizes, values[row], marker=marker, markersize=4, label=label)
            ax.set_xscale("log", base=2)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(quantity)
            ax.set_title(f"{quantity}, {fixed}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend()
    return fig


def jacobian_norms_and_bound(gaps, norms: Mapping[str, np.ndarray],
                             bounds: Mapping[str, np.ndarray]):
    """Measured norms of a product of Jacobians beside their bound (chapter 2).

    One semilog panel per recurrent weight matrix: the spectral norm of
    ``dh_t/dh_k`` (markers) and the bound ``||W_hh||_2^(t - k)`` (dashed line).

    Parameters
    ----------
    gaps : (n,) the gaps ``t - k``.
    norms : panel title -> (n,) measured norms at the gaps.
    bounds : panel title -> (n,) bounds at the gaps; the same keys as ``norms``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    gaps = np.asarray(gaps)
    fig, axes = plt.subplots(1, len(norms), figsize=(3.2 * len(norms), 3.4),
                             layout="constrained", squeeze=False)
    for ax, (title, values) in zip(axes[0], norms.items()):
        ax.semilogy(gaps, np.asarray(bounds[title], dtype=np.float64), linestyle="--",
                    color="black", label=r"bound $\|\mathbf{W}_{hh}\|_2^{\,t-k}$")
        ax.semilogy(gaps, np.asarray(values, dtype=np.float64), marker="o", markersize=3,
                    linestyle="none", color="tab:blue",
                    label=r"$\|\mathrm{d}\mathbf{h}_t/\mathrm{d}\mathbf{h}_k\|_2$")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("gap $t - k$")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    return fig


# Chapter 3: truncation.

_SEGMENT_COLOURS = ("#cfe2f3", "#fce5cd")


def _check_tiling(label: str, spans: Sequence[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The spans in order; raises ValueError unless they tile range(n) without gaps."""
    ordered = sorted(spans)
    if (not ordered or ordered[0][0] != 0 or ordered[-1][1] != n
            or any(a[1] != b[0] for a, b in zip(ordered[:-1], ordered[1:]))):
        raise ValueError(f"the segments of {label!r} do not tile the {n} characters")
    return ordered


def truncation_segments(text: str, rows: Mapping[str, Sequence[tuple[int, int]]]):
    """A text cut into the segments of several truncation strategies (chapter 3).

    In the manner of D2L figure 9.7.1: one row per strategy, the characters
    of ``text`` in a line, each segment of the backward pass a coloured span
    behind the characters it covers; neighbouring segments alternate colours.

    Parameters
    ----------
    text : the characters, one per time step.
    rows : strategy label -> (start, stop) index ranges that tile ``range(len(text))``,
        as ``bptt.truncation.segments`` returns them; drawn top to bottom.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(text)
    fig, ax = plt.subplots(figsize=(0.125 * n + 0.5, 0.75 * len(rows) + 0.2),
                           layout="constrained")
    for r, (label, spans) in enumerate(rows.items()):
        y = -1.5 * r
        for k, (start, stop) in enumerate(_check_tiling(label, spans, n)):
            ax.add_patch(plt.Rectangle((start - 0.45, y - 0.45), stop - start - 0.1, 0.9,
                                       facecolor=_SEGMENT_COLOURS[k % 2], edgecolor="black",
                                       linewidth=0.6))
        for i, char in enumerate(text):
            ax.text(i, y, char, ha="center", va="center", family="monospace", fontsize=9)
        ax.text(-0.5, y + 0.6, label, ha="left", va="bottom", fontsize=9)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(-1.5 * (len(rows) - 1) - 0.6, 1.3)
    ax.axis("off")
    return fig


def monte_carlo_convergence(running_mean: np.ndarray, standard_error: np.ndarray,
                            exact: float, references: Mapping[str, float], ylabel: str):
    """Running Monte Carlo mean of an estimator with its 95 % band (chapter 3).

    Parameters
    ----------
    running_mean : (N,) mean of the first n samples, n = 1..N.
    standard_error : (N,) standard error of that mean; the band is mean +- 1.96 SE.
    exact : the value the estimator is unbiased for, drawn as a black line.
    references : label -> a deterministic value to compare with (dashed lines).
    ylabel : what is estimated.

    Returns
    -------
    matplotlib.figure.Figure
    """
    running_mean = np.asarray(running_mean, dtype=np.float64)
    band = 1.96 * np.asarray(standard_error, dtype=np.float64)
    n = np.arange(1, running_mean.size + 1)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax.fill_between(n, running_mean - band, running_mean + band, color="tab:blue", alpha=0.25,
                    linewidth=0, label="95 % confidence band")
    ax.plot(n, running_mean, color="tab:blue", label="running mean of the estimates")
    ax.axhline(exact, color="black", label="exact gradient")
    for (label, value), colour in zip(references.items(), ("tab:red", "tab:orange", "tab:green")):
        ax.axhline(value, color=colour, linestyle="--", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("number of samples $n$")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def bias_variance(taus, strategies: Mapping[str, Mapping[str, np.ndarray]]):
    """Relative bias, variance and mean squared error of gradient estimators (chapter 3).

    Three log-log panels against the (mean) segment length tau. Values that
    are zero or NaN (a strategy that does not exist at that tau, a variance
    that is exactly zero) are not drawn.

    Parameters
    ----------
    taus : (n,) segment lengths.
    strategies : label -> {"bias", "variance", "mse"}: (n,) arrays at ``taus``; an
        optional "noise" (n,) array is drawn dotted in the bias panel, the level
        below which a measured bias cannot be told from zero.

    Returns
    -------
    matplotlib.figure.Figure
    """
    taus = np.asarray(taus, dtype=np.float64)
    g, g_hat, mean = r"\mathbf{g}", r"\hat{\mathbf{g}}", r"\mathbb{E}\,"
    panels = (("bias", rf"relative bias $\|{mean}{g_hat} - {g}\| / \|{g}\|$"),
              ("variance", rf"relative variance ${mean}\|{g_hat} - {mean}{g_hat}\|^2 / \|{g}\|^2$"),
              ("mse", rf"relative MSE ${mean}\|{g_hat} - {g}\|^2 / \|{g}\|^2$"))
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.6), layout="constrained")
    for (label, values), marker, colour in zip(strategies.items(), "os^D",
                                               ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        for ax, (key, _) in zip(axes, panels):
            y = np.asarray(values[key], dtype=np.float64)
            shown = np.isfinite(y) & (y > 0)
            if shown.any():
                ax.loglog(taus[shown], y[shown], marker=marker, markersize=4, color=colour,
                          label=label)
        noise = np.asarray(values.get("noise", np.zeros(taus.size)), dtype=np.float64)
        shown = np.isfinite(noise) & (noise > 0)
        if shown.any():
            axes[0].loglog(taus[shown], noise[shown], linestyle=":", color=colour)
    axes[0].plot([], [], linestyle=":", color="grey", label="Monte Carlo noise")
    for ax, (_, title) in zip(axes, panels):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(r"(mean) segment length $\tau$")
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(handles=axes[0].get_lines()[-1:], fontsize=8, loc="lower left")
    axes[2].legend(fontsize=8)
    return fig


def influence_horizon(window: np.ndarray, chunk_average: np.ndarray, steady_state: float):
    """What a truncated gradient believes dh_{t,1}/dw to be, against its horizon (chapter 3).

    Parameters
    ----------
    window : (K,) the derivative seen by a gradient that looks k = 1..K steps back.
    chunk_average : (K,) its mean over a chunk of length tau = 1..K, as regular
        truncation sees it on average.
    steady_state : the true long-run derivative.

    Returns
    -------
    matplotlib.figure.Figure
    """
    window = np.asarray(window, dtype=np.float64)
    chunk_average = np.asarray(chunk_average, dtype=np.float64)
    k = np.arange(1, window.size + 1)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax.plot(k, window, color="tab:blue", label="sliding window of $K$ steps")
    ax.plot(k, chunk_average, color="tab:orange", label=r"mean over a chunk of $\tau$ steps")
    ax.axhline(steady_state, color="black", linestyle="--", label="true long-run derivative")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    for values, colour in ((window, "tab:blue"), (chunk_average, "tab:orange")):
        negative = np.flatnonzero(values < 0)
        if negative.size:
            ax.axvline(k[negative[0]], color=colour, linestyle=":")
    ax.set_xlabel(r"horizon $K$ or $\tau$ (steps)")
    ax.set_ylabel(r"believed $\mathrm{d}h_{t,1}/\mathrm{d}w$")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def influence_balancing_runs(panels: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
                             w_star: float):
    """Distance of the weight w from its optimum during online training (chapter 3).

    One semilog panel per group of strategies, side by side with a shared y axis.

    Parameters
    ----------
    panels : panel title -> (strategy label -> list of (steps,) trajectories of w, one
        per seed); NaN marks the steps after a run diverged.
    w_star : the optimum.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8),
                             layout="constrained", sharey=True, squeeze=False)
    colours = plt.get_cmap("tab10").colors
    first = 0
    for ax, (title, runs) in zip(axes[0], panels.items()):
        for (label, trajectories), colour in zip(runs.items(), colours[first:]):
            for m, w in enumerate(trajectories):
                distance = np.abs(np.asarray(w, dtype=np.float64) - w_star)
                ax.semilogy(np.arange(1, distance.size + 1), distance, color=colour,
                            linewidth=0.8 if len(trajectories) > 1 else 1.6,
                            label=label if m == 0 else None)
        first += len(runs)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step $t$")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0, 0].set_ylabel(r"$|w - w^*|$")
    return fig


def stream_vs_windows(lags, losses: Mapping[str, np.ndarray], floor: np.ndarray,
                      position_loss: Mapping[str, np.ndarray] | None = None):
    """Held-out loss of truncated training with carried state or independent windows (chapter 3).

    Parameters
    ----------
    lags : (n,) the memory each task needs.
    losses : label -> (n,) held-out losses at ``lags``.
    floor : (n,) the loss that a model without memory across windows cannot go below,
        drawn dashed.
    position_loss : optional label -> (tau,) held-out loss at each position of a
        chunk, for one lag, drawn in a second panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    lags = np.asarray(lags)
    panels = 2 if position_loss else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.6), layout="constrained",
                             squeeze=False)
    ax = axes[0, 0]
    for (label, values), marker in zip(losses.items(), "os^D"):
        ax.semilogy(lags, np.asarray(values, dtype=np.float64), marker=marker, label=label)
    ax.semilogy(lags, np.asarray(floor, dtype=np.float64), linestyle="--", color="black",
                label="floor without memory across windows")
    ax.set_xlabel("lag of the target")
    ax.set_ylabel("held-out loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if position_loss:
        ax = axes[0, 1]
        for (label, values), marker in zip(position_loss.items(), "os^D"):
            values = np.asarray(values, dtype=np.float64)
            ax.semilogy(np.arange(1, values.size + 1), values, marker=marker, label=label)
        ax.set_xlabel("position in the chunk")
        ax.set_ylabel("held-out loss")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


# Chapter 5: vanishing and exploding gradients.


def jacobian_norms_by_activation(gaps,
                                 panels: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]):
    """Measured norms of dh_T/dh_k beside the bound (beta_W beta_phi)^(T - k) (chapter 5).

    One semilog panel per activation; in each, one colour per recurrent weight
    matrix: the measured spectral norms (markers) and their bound (dashed line).

    Parameters
    ----------
    gaps : (n,) the gaps ``T - k``.
    panels : panel title -> (curve label -> ((n,) measured norms, (n,) bounds) at ``gaps``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    gaps = np.asarray(gaps)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8),
                             layout="constrained", sharey=True, squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for (label, (norms, bounds)), colour in zip(curves.items(), colours):
            ax.semilogy(gaps, np.asarray(bounds, dtype=np.float64), linestyle="--",
                        color=colour, linewidth=1.0)
            ax.semilogy(gaps, np.asarray(norms, dtype=np.float64), marker="o", markersize=3,
                        linestyle="none", color=colour, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("gap $T - k$")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel(r"$\|\mathrm{d}\mathbf{h}_T/\mathrm{d}\mathbf{h}_k\|_2$ (dots), "
                          "bound (dashed)")
    axes[0, 0].legend(fontsize=8)
    return fig


def matrix_power_norms(k, norms: Mapping[str, np.ndarray], beta_W: Mapping[str, float],
                       radius: Mapping[str, float], transient: int = 60):
    """Norms of the powers of matrices against beta_W^k and rho^k (chapter 5).

    Left: ``||W_hh^k||_2`` (solid) with ``beta_W^k`` (dashed) and ``rho^k``
    (dotted) for the first ``transient`` powers, semilog. Right, for all
    powers: ``||W_hh^k||_2^(1/k)``, which tends to the spectral radius
    (Gelfand's formula), with ``rho`` dotted and ``beta_W`` dashed.

    Parameters
    ----------
    k : (n,) the powers 1, 2, ..., n.
    norms : matrix label -> (n,) ``||W_hh^k||_2`` at ``k``.
    beta_W : matrix label -> largest singular value of the matrix, ``||W_hh||_2``.
    radius : matrix label -> spectral radius of the matrix.
    transient : how many powers the left panel shows.

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = np.asarray(k, dtype=np.float64)
    near = k <= transient
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    lowest, highest = np.inf, 0.0
    for (label, values), colour in zip(norms.items(), plt.get_cmap("tab10").colors):
        values = np.asarray(values, dtype=np.float64)
        lowest, highest = min(lowest, values[near].min()), max(highest, values[near].max())
        axes[0].semilogy(k[near], values[near], color=colour,
                         label=rf"$\|\mathbf{{W}}_{{hh}}^k\|_2$, {label}")
        axes[0].semilogy(k[near], beta_W[label] ** k[near], color=colour, linestyle="--",
                         linewidth=1.0)
        axes[0].semilogy(k[near], radius[label] ** k[near], color=colour, linestyle=":",
                         linewidth=1.5)
        axes[1].plot(k, values ** (1.0 / k), color=colour, label=label)
        axes[1].axhline(beta_W[label], color=colour, linestyle="--", linewidth=1.0)
        axes[1].axhline(radius[label], color=colour, linestyle=":", linewidth=1.5)
    axes[0].set_ylim(lowest / 3, highest * 30)
    axes[0].plot([], [], color="grey", linestyle="--", label=r"$\beta_W^k$")
    axes[0].plot([], [], color="grey", linestyle=":", label=r"$\rho^k$")
    axes[0].set_ylabel("norm of the power")
    axes[1].set_ylabel(r"$\|\mathbf{W}_{hh}^k\|_2^{1/k}$")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_xlabel("power $k$")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def cliff_trajectories(w, b, loss: np.ndarray, paths: Mapping[str, np.ndarray],
                       path_losses: Mapping[str, np.ndarray]):
    """Gradient descent on a loss surface with a cliff, with and without clipping (chapter 5).

    Left: ``log10`` of the loss over the (b_h, w_h) grid with the trajectories; a
    step that leaves the plotted window is drawn up to the window's edge, and
    its end point is written beside the legend entry. Right: the loss along
    each trajectory against the step, semilog.

    Parameters
    ----------
    w : (m,) values of the recurrent weight w_h (the y axis).
    b : (n,) values of the bias b_h (the x axis).
    loss : (m, n) the loss at every (w_h, b_h).
    paths : label -> (steps + 1, 2) parameters (w_h, b_h) after each step, the start first.
    path_losses : label -> (steps + 1,) the loss at those parameters.

    Returns
    -------
    matplotlib.figure.Figure
    """
    w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.4), layout="constrained",
                             gridspec_kw={"width_ratios": (1.2, 1.0)})
    ax = axes[0]
    mesh = ax.pcolormesh(b, w, np.log10(np.asarray(loss, dtype=np.float64)), shading="auto",
                         cmap="viridis", rasterized=True)
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10} L$")
    styles = zip(("tab:red", "white", "tab:orange", "tab:pink"), ("o", "s", "^", "D"))
    for (name, path), (colour, marker) in zip(paths.items(), styles):
        path = np.asarray(path, dtype=np.float64)
        shown = name
        if (path[:, 0].min() < w[0] or path[:, 0].max() > w[-1]
                or path[:, 1].min() < b[0] or path[:, 1].max() > b[-1]):
            shown = f"{name}, ends at (w_h, b_h) = ({path[-1, 0]:.3g}, {path[-1, 1]:.3g})"
        ax.plot(path[:, 1], path[:, 0], color=colour, marker=marker, markersize=3,
                linewidth=1.0, label=shown)
        axes[1].semilogy(np.arange(path.shape[0]), np.asarray(path_losses[name], dtype=np.float64),
                         color="black" if colour == "white" else colour, linewidth=0.8,
                         label=name)
    first = np.asarray(next(iter(paths.values())), dtype=np.float64)[0]
    ax.plot(first[1], first[0], marker="*", markersize=12, color="black", linestyle="none",
            label="start")
    ax.set_xlim(b[0], b[-1])
    ax.set_ylim(w[0], w[-1])
    ax.set_xlabel("bias $b_h$")
    ax.set_ylabel("recurrent weight $w_h$")
    ax.legend(fontsize=7, loc="upper left")
    axes[1].set_xlabel("gradient descent step")
    axes[1].set_ylabel("loss $L$")
    axes[1].grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    return fig


def errors_by_length(lengths, errors: Mapping[str, np.ndarray], baseline: float, solved: float):
    """Held-out error of several models against the sequence length (chapter 5).

    Parameters
    ----------
    lengths : (n,) sequence lengths T.
    errors : model label -> (n,) held-out mean squared errors at ``lengths``.
    baseline : the error of a model that ignores its input, drawn dashed.
    solved : the threshold below which a length counts as solved, drawn dotted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    lengths = np.asarray(lengths)
    fig, ax = plt.subplots(figsize=(8.0, 3.8), layout="constrained")
    for (label, values), marker in zip(errors.items(), "os^Dv"):
        ax.semilogy(lengths, np.asarray(values, dtype=np.float64), marker=marker, label=label)
    ax.axhline(baseline, color="black", linestyle="--", label="baseline: predict the mean")
    ax.axhline(solved, color="black", linestyle=":", label="solved below this line")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(T) for T in lengths])
    ax.set_xlabel("sequence length $T$")
    ax.set_ylabel("held-out mean squared error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def gradient_flow(norms: Mapping[str, np.ndarray]):
    """Norms of total derivatives of a last-step loss with respect to the states (chapter 5).

    Parameters
    ----------
    norms : curve label (which state, which model) -> (T,) norms at time steps 1 .. T.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for (label, values), colour in zip(norms.items(), plt.get_cmap("tab10").colors):
        values = np.asarray(values, dtype=np.float64)
        ax.semilogy(np.arange(1, values.size + 1), values, color=colour, label=label)
    ax.set_xlabel("time step $t$")
    ax.set_ylabel("norm of the total derivative of $L$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# Chapter 6: exercises on the eigenvalues of M^k.


def direction_cosine_histograms(samples: Mapping[int, np.ndarray], grid: np.ndarray,
                                densities: Mapping[int, np.ndarray], bins: int = 40):
    """Histograms of the cosine between Gaussian vectors and a fixed unit vector (chapter 6).

    One panel per dimension n: the histogram of the sampled cosines, scaled to a
    density, and the density formula drawn as a line.

    Parameters
    ----------
    samples : dimension n -> (N,) sampled cosines in [-1, 1].
    grid : (m,) points in [-1, 1] at which the densities are given.
    densities : dimension n -> (m,) the density at ``grid``; the same keys as ``samples``.
    bins : number of equal bins on [-1, 1].

    Returns
    -------
    matplotlib.figure.Figure
    """
    grid = np.asarray(grid, dtype=np.float64)
    fig, axes = plt.subplots(1, len(samples), figsize=(3.4 * len(samples), 3.2),
                             layout="constrained", squeeze=False)
    for ax, (n, values) in zip(axes[0], samples.items()):
        ax.hist(np.asarray(values, dtype=np.float64), bins=bins, range=(-1.0, 1.0),
                density=True, color="tab:blue", alpha=0.5, label="Monte Carlo")
        ax.plot(grid, np.asarray(densities[n], dtype=np.float64), color="black",
                label="density formula")
        ax.set_title(f"$n = {n}$", fontsize=10)
        ax.set_xlabel(r"$c = \mathbf{g}\cdot\mathbf{v}_1 / \|\mathbf{g}\|$")
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("density")
    axes[0, -1].legend(fontsize=8, loc="upper left")
    return fig


def gradient_norms_by_loss(panels: Mapping[str, Mapping[str, np.ndarray]]):
    """Semilog plots of ||dL/dh_t|| against t, one panel per loss (chapter 6).

    Parameters
    ----------
    panels : panel title -> (curve label -> (T,) norms at time steps 1 .. T).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6),
                             layout="constrained", squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items()):
        for (label, values), colour in zip(curves.items(), plt.get_cmap("tab10").colors):
            values = np.asarray(values, dtype=np.float64)
            ax.semilogy(np.arange(1, values.size + 1), values, color=colour, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("time step $t$")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel(r"$\|\mathrm{d}L/\mathrm{d}\mathbf{h}_t\|$")
    axes[0, 0].legend(fontsize=8)
    return fig


# Chapter 7: beyond plain BPTT.


def schedule_cost_against_budget(T: int, budgets, optimal, uniform_states, uniform_steps):
    """Forward steps per time step against the memory budget, for one sequence length (chapter 7).

    Parameters
    ----------
    T : the sequence length.
    budgets : (n,) memory budgets m (states held at once).
    optimal : (n,) forward steps of the optimal schedule at ``budgets``.
    uniform_states, uniform_steps : (k,) states held and forward steps of checkpoints every
        k steps, one entry per k; drawn as a staircase, the fewest steps of those that fit
        in each budget.

    Returns
    -------
    matplotlib.figure.Figure
    """
    states = np.asarray(uniform_states)
    steps = np.asarray(uniform_steps, dtype=np.float64)
    order = np.argsort(states, kind="stable")
    fitting = np.minimum.accumulate(steps[order])
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    ax.plot(np.asarray(budgets), np.asarray(optimal, dtype=np.float64) / T, color="tab:blue",
            label="optimal schedule (dynamic programme)")
    ax.step(states[order], fitting / T, where="post", color="tab:orange",
            label="best checkpoint spacing $k$ that fits in $m$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("memory budget $m$ (states held at once)")
    ax.set_ylabel("forward steps / $T$")
    ax.set_title(f"$T = {T}$", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def memory_and_time_against_length(lengths, peak_bytes: Mapping[str, np.ndarray],
                                   seconds: Mapping[str, np.ndarray]):
    """Peak memory and run time of several methods against the sequence length (chapter 7).

    Parameters
    ----------
    lengths : (n,) sequence lengths T.
    peak_bytes : method label -> (n,) peak memory in bytes at ``lengths``.
    seconds : method label -> (n,) run times in seconds at ``lengths``; the same keys.

    Returns
    -------
    matplotlib.figure.Figure with two log-log panels.
    """
    lengths = np.asarray(lengths)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), layout="constrained")
    for (label, values), marker in zip(peak_bytes.items(), "os^Dv"):
        axes[0].loglog(lengths, np.asarray(values, dtype=np.float64) / 2**20, marker=marker,
                       label=label)
        axes[1].loglog(lengths, np.asarray(seconds[label], dtype=np.float64), marker=marker,
                       label=label)
    axes[0].set_ylabel("peak memory (MiB)")
    axes[1].set_ylabel("time (s)")
    for ax in axes:
        ax.set_xlabel("sequence length $T$")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    return fig


def rtrl_cost(h_values, seconds, multiply_adds, peak_bytes, K_bytes, slope: float,
              intercept: float, fitted):
    """Time per step and memory of RTRL against the hidden size h (chapter 7).

    Parameters
    ----------
    h_values : (n,) hidden sizes.
    seconds : (n,) measured time of one RTRL step at ``h_values``.
    multiply_adds : (n,) multiply-adds of one step, drawn dotted and scaled to meet the
        last measured time, so that its slope can be compared with the measured one.
    peak_bytes : (n,) measured peak memory of RTRL at ``h_values``.
    K_bytes : (n,) the size of one sensitivity matrix K_t in bytes, drawn as a line.
    slope, intercept : the fitted power law ``log seconds = slope log h + intercept``.
    fitted : (n,) bool, the sizes the fit used; the line is drawn over them.

    Returns
    -------
    matplotlib.figure.Figure with two log-log panels.
    """
    h_values = np.asarray(h_values, dtype=np.float64)
    fitted = np.asarray(fitted, dtype=bool)
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6), layout="constrained")
    axes[0].loglog(h_values, np.asarray(seconds, dtype=np.float64), marker="o",
                   linestyle="none", label="measured")
    line = h_values[fitted]
    axes[0].loglog(line, np.exp(intercept) * line ** slope, color="black", linestyle="--",
                   label=f"fit: $h^{{{slope:.2f}}}$")
    count = np.asarray(multiply_adds, dtype=np.float64)
    axes[0].loglog(h_values, count * (float(np.asarray(seconds)[-1]) / count[-1]), color="grey",
                   linestyle=":", label="multiply-adds (scaled)")
    axes[0].set_ylabel("time per step (s)")
    axes[1].loglog(h_values, np.asarray(peak_bytes, dtype=np.float64), marker="s",
                   linestyle="none", color="tab:orange", label="measured peak")
    axes[1].loglog(h_values, np.asarray(K_bytes, dtype=np.float64), color="grey",
                   linestyle=":", label=r"size of $\mathbf{K}_t$")
    axes[1].set_ylabel("peak memory (bytes)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden size $h$")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def uoro_variance(T_values, by_T: Mapping[str, np.ndarray], h_values,
                  by_h: Mapping[str, np.ndarray], fixed_h: int, fixed_T: int):
    """Relative variance of UORO's gradient estimates against T and against h (chapter 7).

    Parameters
    ----------
    T_values : (n,) stream lengths; by_T : label -> (n,) relative variances at ``T_values``.
    h_values : (m,) hidden sizes; by_h : label -> (m,) relative variances at ``h_values``.
    fixed_h, fixed_T : the size held fixed in each panel, for the titles.

    Returns
    -------
    matplotlib.figure.Figure with two log-log panels.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6), layout="constrained", sharey=True)
    for ax, sizes, values, xlabel, title in (
            (axes[0], T_values, by_T, "stream length $T$", f"$h = {fixed_h}$"),
            (axes[1], h_values, by_h, "hidden size $h$", f"$T = {fixed_T}$")):
        for (label, y), marker in zip(values.items(), "os^D"):
            ax.loglog(np.asarray(sizes), np.asarray(y, dtype=np.float64), marker=marker,
                      label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("relative variance")
    axes[0].legend(fontsize=8)
    return fig


def online_learning_curves(steps, curves: Mapping[str, Sequence[np.ndarray]], floor: float,
                           lowest: float | None = None):
    """Running loss of online training runs against the step (chapter 7).

    Parameters
    ----------
    steps : (n,) the step at the end of each averaging window.
    curves : label -> list of (n,) mean losses over the windows, one per run (seed); NaN
        marks windows after a run diverged.
    floor : the loss of a model that ignores the input the target needs, drawn dashed.
    lowest : optional bottom of the loss axis; curves that go below it leave the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    colours = plt.get_cmap("tab10").colors
    for (label, runs), colour in zip(curves.items(), colours):
        for k, values in enumerate(runs):
            ax.semilogy(np.asarray(steps), np.asarray(values, dtype=np.float64), color=colour,
                        linewidth=0.9 if len(runs) > 1 else 1.6,
                        label=label if k == 0 else None)
    ax.axhline(floor, color="black", linestyle="--", linewidth=0.9, zorder=1,
               label="without the lagged input")
    if lowest is not None:
        ax.set_ylim(bottom=lowest)
    ax.set_xlabel("step $t$")
    ax.set_ylabel("mean loss $l_t$ over the last window")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig
