"""fairseq criterions of this plugin; each module is imported here so its registration runs."""
from fairseq_ext.criterions import cross_entropy_gradnorm  # noqa: F401
