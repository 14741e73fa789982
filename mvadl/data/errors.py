"""The one exception type of the data layer."""


class DataError(Exception):
    """A data file or folder is missing, malformed, or inconsistent with its siblings.

    The message always names the offending file or folder and says what is wrong with it.
    """
