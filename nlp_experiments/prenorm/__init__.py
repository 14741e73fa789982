"""Pre-norm vs post-norm transformers (assignment Q20-Q22): everything but the fairseq plugin itself.

The models (``mva_lm_{post,pre}norm_{shallow,deep}``) and the gradient-norm criterion
(``mva_cross_entropy_gradnorm``) are in the plugin, ``fairseq_ext/``; nothing here imports fairseq (fairseq-train
runs as a subprocess).

Library modules:

* ``jacobians``: d x_{l+1} / d x_l of eq. 31 / eq. 32 blocks, closed form vs autograd, and ||d x_L / d x_0||
  of random stacks against depth;
* ``plan``: the study's runs (:class:`~nlp_experiments.prenorm.plan.RunSpec`), their names and order, the grid
  options and where the records go;
* ``training``: WikiText-2 binarized once, the fairseq-train command of a run, runs JOBS at a time, each
  recording itself;
* ``records``: a finished run folder -> its record and compact series (through ``mvadl.results``), and back;
* ``summary``: per-run entries, the grid table, the main setting and contrast -> ``summary.json``;
* ``figures``: the plot functions (each returns a Figure);
* ``report``: summary.json, jacobian_depth.json and every figure from the records.

Entry points (``--help`` lists the options): ``python -m nlp_experiments.prenorm.study`` (the whole study;
``scripts/prenorm_study.sh`` calls it), ``python -m nlp_experiments.prenorm.redraw`` (summary and figures
again from the committed records) and ``python -m nlp_experiments.prenorm.unigram`` (the unigram levels of
WikiText-2 -> unigram.json).
"""
