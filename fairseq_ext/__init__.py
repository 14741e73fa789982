"""fairseq ``--user-dir`` plugin of this project (import-only, like fairseq's ``examples/*/*_src``).

``fairseq-train --user-dir fairseq_ext`` imports this package; importing it imports every module so that its
``@register_task`` / ``@register_model_architecture`` / ``@register_criterion`` decorators run (fairseq
itself would not import ``criterions/``):

* ``tasks/``: ``mva_multilingual_translation`` (multilingual translation with per-pair validation);
* ``models/``: the Multi30k translation architectures and the pre/post-norm language-model presets;
* ``criterions/``: ``mva_cross_entropy_gradnorm`` (per-layer gradient norms);
* ``compat``: the two fixes to fairseq 0.12 / torch >= 2.6 (checkpoint allowlist, keep the last batch).
  Importing ``compat`` applies them; that is the plugin's only import side effect, see its docstring for
  why and how to drop each fix.

The plugin stands alone: it imports fairseq, torch, sacreBLEU and scikit-learn, never this project, so
``--user-dir fairseq_ext`` works from any folder with only the plugin folder. The text tools around it (fitting
the language identifier, scoring test sets, the Multi30k export, the drivers that run fairseq) live in the
sibling package ``nlp_experiments``, which does not import fairseq or the plugin.
"""
from fairseq_ext import compat, criterions, models, tasks  # noqa: F401
