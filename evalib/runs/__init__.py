"""Many jobs: frozen configs and profiles, the result cache, the job runner, study tasks,
executors (serial, process, Ray), packing of jobs onto devices, costs and rerun.

Imports only the method layer (``evalib.data``, ``models``, ``train``, ``dynamics``,
``scores``, ``select`` and their helpers); see :mod:`evalib.layers`.
"""
