"""fairseq models of this plugin; each module is imported here so its registration runs."""
