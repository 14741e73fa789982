"""Text preparation for the translation experiments (run before fairseq-preprocess; not a fairseq plugin)."""
