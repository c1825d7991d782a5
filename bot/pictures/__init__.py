"""Pictures stretchbot draws itself with Pillow (deterministic: the same data gives the same bytes): stretch
poses (content/poses.yaml) as PNG and GIF (store.py), and the progress chart (chart.py).

`PictureStore(content).picture(stretch_id)` gives the file to send and its alt text. Importing this package
does not import Pillow (that happens on the first drawing)."""

from bot.pictures.store import Picture, PictureStore, default_cache_dir

__all__ = ["Picture", "PictureStore", "default_cache_dir"]
