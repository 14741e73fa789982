"""A user's check of the report's numbers from the shipped models alone (``make verify``).

``checks`` holds the machinery (a check names its artefact folder, its record and key, its tolerance and the
function that re-computes the value; the verdicts, the table, the guard that nothing outside ``runs/verify/`` is
written); ``shipped`` holds the list of checks of the models under ``artifacts/``.

Entry point: ``python -m mvadl.verify`` (``--quick``: tiny subsets; ``--only NAME ...``: some checks or groups).
"""
