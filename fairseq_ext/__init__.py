"""fairseq ``--user-dir`` plugin of this project.

Importing the package (``fairseq-train --user-dir fairseq_ext``) first makes two fixes to fairseq:
the classes fairseq checkpoints hold are allowlisted so checkpoints load with
``torch.load(weights_only=True)`` (``checkpoint_globals``), and the last batch of a split is no longer
dropped (``batching_fix``). Then every subpackage is imported so its ``@register_*`` decorators run
(fairseq itself would not import ``criterions/``).
"""
from fairseq_ext import batching_fix, checkpoint_globals

checkpoint_globals.allow_fairseq_checkpoint_globals()
batching_fix.keep_last_batch()

from fairseq_ext import criterions, models, tasks  # noqa: E402,F401
