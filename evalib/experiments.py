"""The experiment API in one namespace: ``from evalib import experiments as ex``.

The code lives in modules along the data path; this module only re-exports their names,
so notebooks, scripts and older code keep working unchanged:

- :mod:`evalib.config`: the frozen specs (``DataSpec``, ``ModelSpec``,
  ``SurrogateConfig``, ``SelectionSpec``, ``Job``), their keys (``SCHEMA``,
  ``payload_key``, ``config_key``, ``array_digest``), the profiles (``Profile``,
  ``PROFILES``, ``get_profile``) and ``job_from_dict``/``surrogate_from_dict``;
- :mod:`evalib.cache`: checksummed JSON (``atomic_write_json``, ``read_json_checked``),
  the ``Cache`` and its default folders, the selection store (``save_selection``,
  ``load_selection``, ``selection_key`` and the selection index), stored loss weights;
- :mod:`evalib.runner`: one job, from surrogate to result row (``load_data``,
  ``run_surrogate``, ``select_for_job``, ``positions_of``, ``provenance``, ``run_job``);
- :mod:`evalib.batch`: lists of jobs (``benchmark_jobs``, ``run_jobs``, ``collect``,
  ``results_table``);
- :mod:`evalib.costs`: a job's budget and cost (``effective_recipe``, ``train_size``,
  ``estimate_seconds``, ``write_compute``);
- :mod:`evalib.rerun`: ``stored_job``, ``rerun`` and ``migrate``;
- :mod:`evalib.tasks`: study tasks beside jobs (``Task``, ``run_task``);
- :mod:`evalib.notebook`: ``notebook_setup``, ``Setup`` and the parameter checks;
- :mod:`evalib.executors`: serial, process and Ray executors;
- :mod:`evalib.stats`: ``summarize`` here is :func:`evalib.stats.groupby_summary`.

Nothing is defined here, so monkeypatching a name in this module changes nothing: patch
it in the module that looks it up (e.g. ``evalib.runner.run_surrogate``).
"""

from __future__ import annotations

from dataclasses import asdict

from evalib.batch import (
    _JobCall,
    _SurrogateCall,
    benchmark_jobs,
    collect,
    results_table,
    run_jobs,
)
from evalib.cache import (
    ENV_CACHE,
    ENV_RESULTS,
    Cache,
    atomic_write_json,
    default_cache_dir,
    default_results_dir,
    indices_digest,
    is_results_dir,
    is_scratch_dir,
    load_selection,
    load_weights,
    read_json_checked,
    read_selection_index,
    remember_selections,
    save_selection,
    save_weights,
    selection_index_path,
    selection_key,
    selection_path,
    store_selection,
    stored_selection,
)
from evalib.config import (
    _ADDED_FIELDS,
    _SCHEMA_TAGS,
    PAPER_EPOCHS,
    PAPER_RECIPE,
    PROFILES,
    SCHEMA,
    DataSpec,
    Job,
    ModelSpec,
    Profile,
    SelectionSpec,
    SurrogateConfig,
    _canonical,
    _freeze,
    array_digest,
    config_key,
    get_profile,
    job_from_dict,
    payload_key,
    surrogate_from_dict,
)
from evalib.costs import effective_recipe, estimate_seconds, train_size, write_compute
from evalib.errors import EvalibError
from evalib.executors import (
    Executor,
    ProcessExecutor,
    SerialExecutor,
    _exit_with_parent,
    _init_worker,
    make_executor,
)
from evalib.notebook import (
    ENV_TRAIN_MISSING,
    EXECUTORS,
    NOTEBOOK_EXTRAS,
    NOTEBOOK_PARAMETERS,
    Setup,
    check_parameter_names,
    injected_parameters,
    list_hint,
    notebook_setup,
    paper_cpu_warning,
    start,
)
from evalib.rerun import REPRODUCED_FIELDS, migrate, rerun, stored_job
from evalib.runner import (
    _rmtree,
    load_data,
    positions_of,
    provenance,
    run_job,
    run_surrogate,
    select_for_job,
    surrogate_record,
)
from evalib.stats import groupby_summary as summarize
from evalib.tasks import Task, run_task, task_from_record
from evalib.train import Recipe

__all__ = [
    "start",
    "Task",
    "load_weights",
    "run_task",
    "save_weights",
    "task_from_record",
    "ENV_CACHE",
    "ENV_RESULTS",
    "ENV_TRAIN_MISSING",
    "EXECUTORS",
    "NOTEBOOK_EXTRAS",
    "NOTEBOOK_PARAMETERS",
    "PAPER_EPOCHS",
    "PAPER_RECIPE",
    "PROFILES",
    "REPRODUCED_FIELDS",
    "SCHEMA",
    "Cache",
    "DataSpec",
    "EvalibError",
    "Executor",
    "Job",
    "ModelSpec",
    "ProcessExecutor",
    "Profile",
    "Recipe",
    "SelectionSpec",
    "SerialExecutor",
    "Setup",
    "SurrogateConfig",
    "_ADDED_FIELDS",
    "_JobCall",
    "_SCHEMA_TAGS",
    "_SurrogateCall",
    "_canonical",
    "_exit_with_parent",
    "_freeze",
    "_init_worker",
    "_rmtree",
    "array_digest",
    "asdict",
    "atomic_write_json",
    "benchmark_jobs",
    "check_parameter_names",
    "collect",
    "config_key",
    "default_cache_dir",
    "default_results_dir",
    "effective_recipe",
    "estimate_seconds",
    "get_profile",
    "indices_digest",
    "injected_parameters",
    "is_results_dir",
    "is_scratch_dir",
    "job_from_dict",
    "list_hint",
    "load_data",
    "load_selection",
    "make_executor",
    "migrate",
    "notebook_setup",
    "paper_cpu_warning",
    "payload_key",
    "positions_of",
    "provenance",
    "read_json_checked",
    "read_selection_index",
    "remember_selections",
    "rerun",
    "results_table",
    "run_job",
    "run_jobs",
    "run_surrogate",
    "save_selection",
    "select_for_job",
    "selection_index_path",
    "selection_key",
    "selection_path",
    "store_selection",
    "stored_job",
    "stored_selection",
    "summarize",
    "surrogate_from_dict",
    "surrogate_record",
    "train_size",
    "write_compute",
]
