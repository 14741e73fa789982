"""Scoring of translation outputs (sacreBLEU statistics, aggregation over directions and models, figures)."""
