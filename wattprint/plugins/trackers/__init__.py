"""Experiment trackers (``track(log_to=...)``): MLflow, Weights & Biases, TensorBoard.

``spec.py`` checks ``log_to``; ``plugin.py`` is the run's plugin (points, rate limit, failures,
the end); ``base.py`` the tracker interface and metric names; ``summary.py`` the end-of-run
fields and report files; ``to_mlflow.py``, ``to_wandb.py``, ``to_tensorboard.py`` one tracker
each, importing its library only when the run starts. See docs/trackers.md.
"""
from .plugin import TrackersPlugin
from .spec import check_log_to

__all__ = ["TrackersPlugin", "check_log_to"]
