"""Utilities: atomic writes (numpy-free), safe checkpoint and pickle loading (torch).

Import from the submodules (``mmmulti.utils.atomic``, ``.checkpoint``,
``.safe_pickle``): this package imports nothing, so that the torch-free parts
(truth inference, the data tools) stay torch-free.
"""
