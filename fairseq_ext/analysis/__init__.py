"""Analyses and figures of the experiments (not fairseq plugins: nothing here registers anything)."""
