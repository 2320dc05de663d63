"""2-D maps: clusters found in the original space, query overlay, PNG and self-contained HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from akindb.errors import InvalidArgumentError
from akindb.viz import build_map, kmeans, map_html, pca_2d, save_map
from tests.models.conftest import lee_model, lee_wv  # noqa: F401  (session fixtures)

runner = CliRunner()


def _blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16)) * 5
    truth = np.repeat(np.arange(3), 40)
    return (centres[truth] + rng.normal(size=(120, 16))).astype(np.float32), truth


def test_kmeans_recovers_separated_groups() -> None:
    x, truth = _blobs()
    got = kmeans(x, 3, seed=0)
    for t in range(3):  # each true group is one predicted cluster, and vice versa
        assert len(set(got[truth == t].tolist())) == 1
    assert len(set(got.tolist())) == 3


def test_pca_matches_a_centred_svd() -> None:
    x, _ = _blobs()
    xy, transform, share = pca_2d(x)
    assert xy.shape == (120, 2) and 0 < share <= 1
    assert np.allclose(transform(x[:5]), xy[:5], atol=1e-4)
    assert abs(float(np.cov(xy.T)[0, 1])) < 1e-3  # the axes are uncorrelated


def test_query_overlay_and_html_is_self_contained() -> None:
    x, _ = _blobs()
    labels = [f"<b>point {i}</b> & co" for i in range(len(x))]
    m = build_map(x, labels, query_vector=x[0] + 0.01, query="near <0>", neighbours=5)
    assert m.neighbours[0][0] == 0 and len(m.neighbours) == 5
    assert [s for _, s in m.neighbours] == sorted((s for _, s in m.neighbours), reverse=True)
    page = map_html(m)
    assert "<b>point" not in page and "&lt;b&gt;point 0&lt;/b&gt; &amp; co" in page
    assert "<script src" not in page and "<link" not in page and "https://" not in page
    assert "query: near &lt;0&gt;" in page


def test_cli_map_of_a_word_model(lee_model: Path, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("matplotlib", reason="PNG maps need: pip install 'akindb[viz]'")
    for name in ("words.png", "words.html"):
        res = runner.invoke(
            app, ["map", "--model", str(lee_model), "--query", "police",
                  "--out", str(tmp_path / name), "--limit", "800"],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    assert (tmp_path / "words.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "query: police" in (tmp_path / "words.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.html", "words.png"]
    bad = runner.invoke(app, ["map", "--model", str(lee_model), "--out", str(tmp_path / "m.jpg")])
    assert bad.exit_code == 2 and ".png or .html" in bad.output
    with pytest.raises(InvalidArgumentError, match=r"png or \.html"):
        save_map(build_map(*_blobs_labels()), tmp_path / "x.svg")


def _blobs_labels() -> tuple[np.ndarray, list[str]]:
    x, _ = _blobs()
    return x, [str(i) for i in range(len(x))]


@pytest.mark.slow  # numba compiles UMAP on first use: minutes on 2 busy cores
def test_umap_map_leaks_no_warnings() -> None:
    """Issue 12.16: UMAP's warnings (TensorFlow missing, n_jobs overridden by the seed) reached
    the user's terminal. Tests turn every warning into an error, so this fails if one leaks
    (umap is first imported here, by akindb, as in the CLI)."""
    import importlib.util

    if importlib.util.find_spec("umap") is None:
        pytest.skip("umap is not installed (extra [viz])")
    x, _ = _blobs()
    m = build_map(x, [f"p{i}" for i in range(len(x))], method="umap", clusters=3,
                  query_vector=x[0], query="p0")
    assert m.xy.shape == (120, 2) and m.query_xy is not None


def test_png_labels_stay_inside_the_frame(tmp_path: Path) -> None:
    """Issue 12.16: labels of points near the right edge ran out of the frame (and off the
    image). Every label, the query's included, must lie within the axes."""
    import matplotlib.pyplot as plt

    from akindb.viz.render import draw_png, save_png

    x, _ = _blobs()
    labels = [f"a rather long passage label number {i} about something" for i in range(120)]
    m = build_map(x, labels, query_vector=x[5], query="what is the long passage about",
                  clusters=3, n_labels=40)
    fig = draw_png(m)
    try:
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()
        frame = ax.get_window_extent(renderer)
        texts = [t for t in ax.texts if t.get_text()]
        assert len(texts) >= 40
        for t in texts:
            bb = t.get_window_extent(renderer)
            assert frame.x0 <= bb.x0 and bb.x1 <= frame.x1, t.get_text()
            assert frame.y0 <= bb.y0 and bb.y1 <= frame.y1, t.get_text()
        assert fig.get_size_inches()[0] * fig.dpi >= frame.x1  # the frame is on the image
    finally:
        plt.close(fig)
    assert save_png(m, tmp_path / "m.png").stat().st_size > 10_000
