"""Experiments around the fairseq plugin that need no fairseq import: text tools and the drivers that run
fairseq's command-line tools as subprocesses (``nlp_experiments.translation``)."""
