"""The paper's studies and the related systems as job lists (``grids``), their tables,
statistics and verdicts (``stats``, ``claims``), the paper's numbers (``paper``) and the
display names every table uses (``labels``).

Imports the method and runs layers; see :mod:`evalib.layers`.
"""
