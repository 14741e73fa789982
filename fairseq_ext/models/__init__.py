"""fairseq models of this plugin; each module is imported here so its registration runs."""
from fairseq_ext.models import (
    transformer_lm_norms,  # noqa: F401
    transformer_multi30k,  # noqa: F401
)
