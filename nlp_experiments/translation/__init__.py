"""Multilingual translation on Multi30k (assignment section 3): everything but the fairseq plugin itself.

Library modules (no fairseq import; fairseq runs as a subprocess):

* ``languages``: the languages, directions and model configurations (which pairs each model trains on);
* ``export_multi30k``: Multi30k -> one joint SentencePiece model -> encoded text for fairseq-preprocess;
* ``langid``: the character n-gram language identifier (scikit-learn) behind the off-target rate;
* ``metrics``: sacreBLEU BLEU/chrF through its public API;
* ``scoring``: fairseq-generate outputs -> BLEU, chrF, off-target rate per model and direction, heat map;
* ``fairseq_runs``: the translation's fairseq command lines (run by the shared ``nlp_experiments.fairseq_runs``),
  reading a fairseq-train log back.

Entry points (``python -m nlp_experiments.translation.<name> --help``; ``scripts/*.sh`` call them):
``prepare`` (data-bin), ``train`` (one model), ``evaluate`` (generate + score -> results/nmt/scores.json),
``translate`` (sentences into a chosen language).
"""
