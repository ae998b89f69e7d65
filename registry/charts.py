"""Model charts: pure functions from a run's numbers to Plotly figures, no ORM and no MLflow inside."""

from __future__ import annotations

import plotly.graph_objects as go

FONT = dict(family="-apple-system, Segoe UI, Roboto, DejaVu Sans, Arial, sans-serif", size=12, color="#1b2430")
VALID_COLOUR = "#2563eb"
TRAIN_COLOUR = "#98a2b3"
BEST_COLOUR = "#15803d"

# How the trainers' metric names read on an axis.
METRIC_LABELS = {
    "mae": "MAE", "rmse": "RMSE", "r2": "R²", "auc": "AUC", "log_loss": "log loss", "accuracy": "accuracy",
    "loss": "loss", "baseline_mae": "baseline MAE (mean)", "best_iteration": "best iteration",
    "positive_rate": "positive rate",
}


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " "))


def _series_label(key: str) -> tuple[str, str]:
    """``valid_mae`` -> ("validation", "mae")."""
    part, _, metric = key.partition("_")
    return {"valid": "validation", "train": "training"}.get(part, part), metric


def _layout(fig: go.Figure, *, height: int, **extra) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=50, r=20, t=10, b=40),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=FONT,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        **extra,
    )
    return fig


def training_curve_figure(history: dict[str, list[tuple[int, float]]], *, best_iteration: int | None = None,
                          iteration_label: str = "Iteration") -> go.Figure:
    """One line per logged series (``valid_mae``, ``train_mae``, ``train_loss``...) over the iterations.

    The validation series is the one that matters and is drawn solid and first; a training series
    of the same metric shares its axis (the gap between them shows over-fitting); a series of another
    metric (the MLP's training loss) gets its own axis on the right. ``best_iteration`` marks the
    iteration the model was kept at.
    """
    keys = sorted(history, key=lambda k: (not k.startswith("valid_"), k))
    main_metric = next((_series_label(k)[1] for k in keys if k.startswith("valid_")), None)
    if main_metric is None and keys:
        main_metric = _series_label(keys[0])[1]
    fig = go.Figure()
    secondary = False
    for key in keys:
        points = history[key]
        if not points:
            continue
        part, metric = _series_label(key)
        own_axis = metric != main_metric
        secondary = secondary or own_axis
        fig.add_trace(go.Scatter(
            x=[step for step, _ in points], y=[value for _, value in points], mode="lines",
            name=f"{part} {metric_label(metric)}",
            line=dict(color=VALID_COLOUR if part == "validation" else TRAIN_COLOUR, width=2.2 if part == "validation" else 1.6,
                      dash="solid" if part == "validation" else ("dot" if own_axis else "dash")),
            yaxis="y2" if own_axis else "y",
            hovertemplate=f"{iteration_label} %{{x}}: %{{y:.4g}}<extra>{part} {metric_label(metric)}</extra>",
        ))
    if best_iteration:
        fig.add_vline(x=best_iteration, line=dict(color=BEST_COLOUR, width=1.5, dash="dot"),
                      annotation_text=f"kept: {best_iteration}", annotation_position="top left",
                      annotation_font=dict(color=BEST_COLOUR, size=11))
    extra = dict(
        xaxis=dict(title=iteration_label, gridcolor="#e2e7ee", zeroline=False),
        yaxis=dict(title=metric_label(main_metric or ""), gridcolor="#e2e7ee", zeroline=False),
        hovermode="x unified",
    )
    if secondary:
        extra["yaxis2"] = dict(title="training loss", overlaying="y", side="right", showgrid=False, zeroline=False)
    return _layout(fig, height=320, **extra)


def feature_importance_figure(importance: dict[str, float], *, top: int = 20) -> go.Figure:
    """Horizontal bars, the most important feature on top, as shares of the total."""
    ranked = sorted(importance.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    ranked.reverse()  # Plotly draws the first bar at the bottom
    names = [name for name, _ in ranked]
    values = [value for _, value in ranked]
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h", marker_color=VALID_COLOUR,
        text=[f"{v:.0%}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%} of the total<extra></extra>",
    ))
    return _layout(
        fig, height=max(180, 40 + 28 * len(ranked)),
        xaxis=dict(tickformat=".0%", gridcolor="#e2e7ee", rangemode="tozero", range=[0, max(values or [0]) * 1.18 or 1]),
        yaxis=dict(automargin=True),
        showlegend=False,
    )
