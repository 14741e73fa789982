"""Multilingual translation on Multi30k (assignment section 3): everything but the fairseq plugin itself.

Library modules (no fairseq import; fairseq runs as a subprocess):

* ``languages``: the reference languages, directions and model configurations, run names of other seeds;
* ``export_multi30k``: Multi30k -> one joint SentencePiece model -> encoded text for fairseq-preprocess;
* ``data_bin``: the prepared data (fairseq-preprocess, the language list stored with it);
* ``training``: the fairseq-train command of one model and its record; ``train_log``: fairseq's JSON log read
  back (updates, words/s, the validation-loss series);
* ``generation``: fairseq-generate / fairseq-interactive, the languages checked against the model's;
* ``averaging``: checkpoint averaging; ``artifacts``: shipped models, their check before use and languages;
* ``langid``: the character n-gram language identifier (scikit-learn) behind the off-target rate;
* ``metrics``: sacreBLEU BLEU/chrF through its public API;
* ``scoring``: fairseq-generate outputs -> BLEU, chrF, off-target rate per model and direction, heat map;
* ``curve_figures``: the learning-curve and gap figures.

Entry points (``python -m nlp_experiments.translation.<name> --help``; ``scripts/*.sh`` call them):
``prepare`` (data-bin), ``train`` (one model), ``curves`` (average, translate and score along training, or
re-score the kept outputs), ``comparisons`` (paired bootstrap of every comparison -> curves.json,
comparisons.json), ``redraw`` (the figures from those records), ``examples`` (example de->fr translations ->
examples.json), ``evaluate`` (generate + score one checkpoint per model -> evaluation.json), ``ship`` (a model as a
versioned artefact), ``translate`` (sentences into a chosen language), ``budget`` (throughput and learning-rate
measurements -> budget.json).
"""
