"""2-D maps of embedding spaces (PCA by default, UMAP with the ``viz`` extra); PNG and HTML."""

from akindb.viz.render import map_html, save_html, save_map, save_png
from akindb.viz.space_map import SpaceMap, build_map, collection_map, kmeans, pca_2d, word_map

__all__ = [
    "SpaceMap",
    "build_map",
    "collection_map",
    "kmeans",
    "map_html",
    "pca_2d",
    "save_html",
    "save_map",
    "save_png",
    "word_map",
]
