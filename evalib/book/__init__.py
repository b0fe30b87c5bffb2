"""What readers see: the notebooks' entry point (``notebook.start``), figures, tables,
generated prose (``findings``, ``booktext``, ``lessons``), the Sphinx extensions, the
papermill runner (``reproduce``) and the walkthrough's classroom mode.

Imports every layer below it; see :mod:`evalib.layers`.
"""
