"""Command-line entry points (``mmmulti-train``, ``mmmulti-test``): the tools' flags
over :mod:`mmmulti.apis`."""
