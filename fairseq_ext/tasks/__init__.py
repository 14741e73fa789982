"""fairseq tasks of this plugin; each module is imported here so its registration runs."""
from fairseq_ext.tasks import multilingual_translation_eval  # noqa: F401
