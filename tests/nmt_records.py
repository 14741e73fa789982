"""Translation records edited for a test as the experiment writes them: after a change to a record's scores
(``curves.json``) or comparisons (``comparisons.json``), what the record carries beside them is recomputed by the
experiment's own code (:func:`~nlp_experiments.translation.comparisons.curves_summary`,
:func:`~nlp_experiments.translation.comparisons.comparisons_summary`), so that the report reads what a run on
such data would have recorded."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from nlp_experiments.translation.comparisons import comparisons_summary, curves_summary


def edit_translation_record(path: Path, change: Callable[[dict], None]) -> None:
    """``change(record)`` on the record at ``path`` (its ``metrics`` are the data; records keep a top-level copy),
    then the summaries recomputed from the changed ``metrics`` into both."""
    record = json.loads(path.read_text())
    change(record)
    metrics = record["metrics"]
    summary = curves_summary(metrics["scores"]) if path.name == "curves.json" else \
        comparisons_summary(metrics["comparisons"])
    metrics.update(summary)
    record.update(summary)
    path.write_text(json.dumps(record))
