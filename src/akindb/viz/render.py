"""Draw a ``SpaceMap``: a PNG with matplotlib, or one self-contained interactive HTML file
(inline SVG and a few lines of JavaScript: hover for a point's text, type to highlight; no
network, no external files)."""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.viz.space_map import SpaceMap

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip


def colour(cluster: int) -> str:
    return PALETTE[cluster % len(PALETTE)]


def _subtitle(m: SpaceMap) -> str:
    s = f"{len(m.labels):,} points · {m.method.upper()}"
    if m.explained is not None:
        s += f" (2 axes explain {m.explained:.0%} of the variance)"
    s += f" · {len(set(m.clusters.tolist()))} k-means clusters (cosine, original space)"
    return s


def _atomic_replace(tmp: str, path: Path) -> None:
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; a map is meant to be shared
    os.replace(tmp, path)


PNG_LABEL_CHARS = 48
"""Labels longer than this are cut (with an ellipsis) on the PNG; the HTML map shows them whole."""


def _fit(label: str) -> str:
    return label if len(label) <= PNG_LABEL_CHARS else label[: PNG_LABEL_CHARS - 1] + "…"


def _keep_inside(fig: Any, ax: Any, texts: list[Any]) -> None:
    """Move each label (its offset from the point) so that it lies within the axes frame:
    labels near the right or top edge used to run out of the frame and off the image."""
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    to_points = 72.0 / fig.dpi
    for t in texts:
        bb = t.get_window_extent(renderer)
        dx = min(0.0, frame.x1 - 2 - bb.x1) or max(0.0, frame.x0 + 2 - bb.x0)
        dy = min(0.0, frame.y1 - 2 - bb.y1) or max(0.0, frame.y0 + 2 - bb.y0)
        if dx or dy:
            ox, oy = t.xyann
            t.xyann = (ox + dx * to_points, oy + dy * to_points)


def draw_png(m: SpaceMap) -> Any:
    """The map as a matplotlib figure (Agg), every label inside the frame; ``save_png``
    writes it. The caller closes it (``matplotlib.pyplot.close``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("viz", "PNG maps") from exc
    fig, ax = plt.subplots(figsize=(11, 8))
    texts: list[Any] = []
    cols = [colour(int(c)) for c in m.clusters]
    ax.scatter(m.xy[:, 0], m.xy[:, 1], c=cols, s=8, alpha=0.55, linewidths=0)
    for i in m.shown_labels:
        texts.append(ax.annotate(
            _fit(m.labels[i]), m.xy[i], fontsize=7, alpha=0.85, xytext=(3, 3),
            textcoords="offset points",
        ))  # fmt: skip
    if m.query_xy is not None:
        qx, qy = float(m.query_xy[0]), float(m.query_xy[1])
        for i, _score in m.neighbours:
            ax.plot([qx, m.xy[i, 0]], [qy, m.xy[i, 1]], color="black", lw=0.6, alpha=0.5)
            texts.append(ax.annotate(
                _fit(m.labels[i]), m.xy[i], fontsize=7, color="black", fontweight="bold",
                xytext=(4, -9), textcoords="offset points",
            ))  # fmt: skip
        nb = np.array([m.xy[i] for i, _ in m.neighbours]) if m.neighbours else None
        if nb is not None:
            ax.scatter(nb[:, 0], nb[:, 1], s=40, facecolors="none", edgecolors="black")
        ax.scatter([qx], [qy], marker="*", s=260, color="black", zorder=5)
        texts.append(ax.annotate(
            _fit(f"query: {m.query}"), (qx, qy), fontsize=9, fontweight="bold",
            xytext=(6, -12), textcoords="offset points",
        ))  # fmt: skip
    ax.set_title(f"{m.title}\n{_subtitle(m)}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.margins(0.04)
    for t in texts:  # labels are kept inside the frame below: the layout need not make room
        t.set_in_layout(False)
    fig.tight_layout()
    _keep_inside(fig, ax, texts)
    return fig


def save_png(m: SpaceMap, path: str | Path, *, dpi: int = 150) -> Path:
    fig = draw_png(m)
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent or ".")
        os.close(fd)
        try:
            fig.savefig(tmp, dpi=dpi, format="png")
            _atomic_replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    finally:
        plt.close(fig)
    return path


_JS = """
const tip=document.getElementById('tip');
document.querySelectorAll('circle[data-t]').forEach(c=>{
 c.addEventListener('mousemove',e=>{tip.style.display='block';tip.textContent=c.dataset.t;
  tip.style.left=(e.pageX+12)+'px';tip.style.top=(e.pageY+12)+'px';});
 c.addEventListener('mouseleave',()=>{tip.style.display='none';});});
document.getElementById('find').addEventListener('input',e=>{const q=e.target.value.toLowerCase();
 document.querySelectorAll('circle[data-t]').forEach(c=>{
  const hit=q&&c.dataset.t.toLowerCase().includes(q);
  c.setAttribute('r',hit?6:3);c.style.opacity=(!q||hit)?1:0.15;});});
"""


def map_html(m: SpaceMap, *, width: int = 1000, height: int = 720) -> str:
    """The map as one HTML document (no external resources)."""
    pts = m.xy if m.query_xy is None else np.vstack([m.xy, m.query_xy[None, :]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi - lo == 0, 1.0, hi - lo)
    pad = 30

    def sx(p: np.ndarray) -> tuple[float, float]:
        x = pad + (float(p[0]) - lo[0]) / span[0] * (width - 2 * pad)
        y = height - pad - (float(p[1]) - lo[1]) / span[1] * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    parts: list[str] = []
    for i, (p, c) in enumerate(zip(m.xy, m.clusters, strict=True)):
        x, y = sx(p)
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="3" fill="{colour(int(c))}" fill-opacity="0.7" '
            f'data-t="{html.escape(m.labels[i], quote=True)}"/>'
        )
    for i in m.shown_labels:
        x, y = sx(m.xy[i])
        parts.append(f'<text x="{x + 4}" y="{y - 4}">{html.escape(m.labels[i])}</text>')
    if m.query_xy is not None:
        qx, qy = sx(m.query_xy)
        for i, score in m.neighbours:
            x, y = sx(m.xy[i])
            parts.append(
                f'<line x1="{qx}" y1="{qy}" x2="{x}" y2="{y}" stroke="black" stroke-opacity="0.5"/>'
                f'<circle cx="{x}" cy="{y}" r="7" fill="none" stroke="black" '
                f'data-t="{html.escape(f"{score:.3f}  {m.labels[i]}", quote=True)}"/>'
            )
        parts.append(
            f'<path d="M{qx},{qy - 10} L{qx + 3},{qy - 3} L{qx + 10},{qy} L{qx + 3},{qy + 3} '
            f'L{qx},{qy + 10} L{qx - 3},{qy + 3} L{qx - 10},{qy} L{qx - 3},{qy - 3} Z"/>'
            f'<text x="{qx + 12}" y="{qy + 4}" font-weight="bold">'
            f"query: {html.escape(m.query or '')}</text>"
        )
    neighbours = "".join(f"<li>{s:.3f} {html.escape(m.labels[i])}</li>" for i, s in m.neighbours)
    meta = html.escape(json.dumps({"points": len(m.labels), "method": m.method}))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>akindb map: {html.escape(m.title)}</title><style>"
        "body{font:13px system-ui,sans-serif;margin:16px}svg{border:1px solid #ddd}"
        "text{font-size:10px;fill:#333;pointer-events:none}"
        "#tip{position:absolute;display:none;background:#fff;border:1px solid #999;padding:4px;"
        "max-width:420px;font-size:12px}</style></head><body>"
        f"<h3>{html.escape(m.title)}</h3><div>{html.escape(_subtitle(m))}</div>"
        "<p>Find: <input id='find' placeholder='type to highlight'></p>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"data-meta='{meta}'>{''.join(parts)}</svg>"
        + (f"<h4>Nearest to the query</h4><ol>{neighbours}</ol>" if m.neighbours else "")
        + f"<div id='tip'></div><script>{_JS}</script></body></html>"
    )


def save_html(m: SpaceMap, path: str | Path) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".html", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(map_html(m))
        _atomic_replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_map(m: SpaceMap, path: str | Path) -> Path:
    """PNG or HTML by the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return save_png(m, path)
    if suffix in (".html", ".htm"):
        return save_html(m, path)
    raise InvalidArgumentError(f"{path}: the map file must end in .png or .html")
