"""One module per experiment of the paper; each defines ``EXPERIMENT`` (an :class:`~spinglass_icl.Experiment`)."""
