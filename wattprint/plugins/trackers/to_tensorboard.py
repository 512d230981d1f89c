"""TensorBoard: scalars in event files, the summary as a text panel, and the report files
beside the event files (a given ``SummaryWriter`` is written to, flushed, and left open)."""
from __future__ import annotations

import os
import shutil

from .base import Tracker


def _writer(logdir: str):
    """torch's SummaryWriter where torch and tensorboard are installed (its flush() writes the
    file), else tensorboardX's (whose flush() may not: it writes every few seconds instead)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        from tensorboardX import SummaryWriter

        return SummaryWriter(logdir, flush_secs=5)
    return SummaryWriter(logdir)


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def __init__(self, logdir: str | None = None, writer=None):
        self.logdir, self.writer = logdir, writer

    def open(self, run) -> str:
        if self.writer is not None:
            # torch names it log_dir, tensorboardX logdir
            self.logdir = getattr(self.writer, "log_dir", None) or getattr(self.writer, "logdir", None)
            return f"the given SummaryWriter ({self.logdir or 'its directory unknown'})"
        self.writer = _writer(self.logdir)
        self.started = True
        return f"TensorBoard event files in {self.logdir}"

    def log(self, metrics: dict, step: int) -> None:
        for name, value in metrics.items():
            self.writer.add_scalar(name, value, global_step=step)
        self.writer.flush()  # at most one point a second: TensorBoard shows it now, not in 2 min

    def finish(self, summary: dict, files: list) -> None:
        rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
        self.writer.add_text("wattprint/summary", "| field | value |\n|---|---|\n" + rows)
        for path in files:
            if path.endswith(".md"):
                with open(path, encoding="utf-8") as f:
                    self.writer.add_text("wattprint/statement", f.read())
            if self.logdir:
                shutil.copy(path, os.path.join(self.logdir, os.path.basename(path)))

    def close(self) -> None:
        self.writer.flush()
        if self.started:
            self.writer.close()
