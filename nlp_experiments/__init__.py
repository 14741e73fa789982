"""Experiments around the fairseq plugin that need no fairseq import: text tools, analyses and the drivers that
run fairseq's command-line tools as subprocesses.

* ``fairseq_runs``: a fairseq tool run as a subprocess with the plugin, its output in a log (shared);
* ``translation``: multilingual translation on Multi30k (assignment section 3);
* ``prenorm``: the pre-norm vs post-norm study on WikiText-2 (assignment Q20-Q22).
"""
