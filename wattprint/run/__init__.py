"""The run's core: options, lifecycle, recorder and the plugin contract (docs/architecture.md)."""
from .core import Run
from .measurement import Measurement, Window
from .options import Options, options
from ..plugins.base import Placement, Plugin
from .track import track

__all__ = ["Run", "Measurement", "Window", "Options", "options", "Placement", "Plugin", "track"]
