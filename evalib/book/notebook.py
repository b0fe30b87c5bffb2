"""A notebook's parameters, checked and resolved.

:func:`notebook_setup` checks every papermill parameter before any work (one-line
errors; an unknown name gets the closest known one) and resolves the profile, the cache
under the results folder, the executor and the device into a :class:`Setup`, whose
:meth:`~Setup.run` runs (or, with ``EVALIB_TRAIN_MISSING=0``, only collects) the
notebook's jobs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from evalib.errors import EvalibError
from evalib.io import warn
from evalib.progress import log_job_progress
from evalib.runs.batch import collect, run_jobs
from evalib.runs.cache import Cache, default_results_dir
from evalib.runs.config import Job, ModelSpec, Profile, SurrogateConfig, get_profile
from evalib.runs.executor_base import Executor
from evalib.runs.executors import make_executor
from evalib.runs.runner import run_surrogate

#: "0": notebooks show the cached results of their jobs and train nothing (Setup.run)
ENV_TRAIN_MISSING = "EVALIB_TRAIN_MISSING"


def _shown(folder: Path) -> str:
    """``folder`` relative to the checkout's ``results/`` parent when inside it (so that an
    executed page names ``results/cpu``, not a path of the machine that ran it)."""
    root = default_results_dir().resolve()
    try:
        return str(Path(folder).resolve().relative_to(root.parent))
    except ValueError:
        return str(folder)


@dataclass(frozen=True)
class Setup:
    """What a notebook's parameters resolve to. ``device``: as given (None = auto); the
    runs pick and check it with :func:`evalib.devices.pick_device`."""

    profile: Profile
    dataset: str
    cache: Cache
    data_root: str | None
    seeds: tuple[int, ...]
    rates: tuple[float, ...]
    executor: Executor
    device: str | None = None
    train_missing: bool = True

    def run(self, jobs: Sequence[Job], progress: bool = True) -> pd.DataFrame:
        """Results of ``jobs``, training those not in the cache; with ``train_missing``
        off (``EVALIB_TRAIN_MISSING=0``), only the cached ones, and a line saying how many
        are missing."""
        if self.train_missing:
            return run_jobs(jobs, self.cache, self.data_root, self.executor, self.device,
                            progress=progress)  # fmt: skip
        table, missing = collect(jobs, self.cache)
        if missing:
            n = len(set(jobs))
            print(f"{len(missing)} of {n} jobs are not in {_shown(self.cache.results)} yet; shown: the "
                  f"{n - len(missing)} that are (EVALIB_TRAIN_MISSING=0: nothing is trained)")  # fmt: skip
        return table

    def surrogate(self, model: ModelSpec | None = None, seed: int | None = None) -> SurrogateConfig:
        p = self.profile
        return p.surrogate_config(self.dataset, p.seeds[0] if seed is None else seed, model)

    def dynamics(self, model: ModelSpec | None = None, seed: int | None = None, progress=True):
        return run_surrogate(self.surrogate(model, seed), self.cache, self.data_root, progress,
                             self.device)  # fmt: skip

    def out_dir(self) -> Path:
        """Folder for this notebook's summary tables: results/<profile>/<dataset>/."""
        path = self.cache.results / self.dataset
        path.mkdir(parents=True, exist_ok=True)
        return path


def _expect(name: str, value: Any, types: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise EvalibError(
            f"parameter {name} must be {what}, got {type(value).__name__} {value!r}"
            + (list_hint(name, value) if list in _tuple(types) else "")
        )


def list_hint(name: str, value: Any) -> str:
    """For a list parameter that arrived as text (papermill's ``-p`` passes ``[0, 1]`` as a
    string): the hint to pass it as YAML with ``-y``; ``""`` otherwise."""
    if not isinstance(value, str):
        return ""
    return f'; papermill\'s -p passes text: give lists as YAML, e.g. -y "{name}: [0, 1]"'


def _tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


def _number_list(name: str, value: Any, what: str, ok: Callable[[float], bool], kind=float):
    """``value`` as a tuple: None stays None; else a non-empty list of unique numbers."""
    if value is None:
        return None
    _expect(name, value, (list, tuple), f"a non-empty list of {what} or None")
    if not value:
        raise EvalibError(f"parameter {name} must be a non-empty list of {what} or None, got []")
    types = (int,) if kind is int else (int, float)
    for v in value:
        _expect(name, v, types, f"a list of {what}")
        if not ok(v):
            raise EvalibError(f"parameter {name} must be a list of {what}, got {v!r}")
    if len(set(value)) != len(value):
        twice = next(v for v in value if list(value).count(v) > 1)
        raise EvalibError(f"parameter {name} lists {twice!r} twice; give each value once")
    return tuple(kind(v) for v in value)


def _fraction(v: float) -> bool:
    return math.isfinite(v) and 0 < v <= 1


def _seed(v: int) -> bool:
    return 0 <= v < 2**63


def _check_extra(name: str, value: Any) -> None:
    """Checks of the parameters some notebooks add to the common ones (see NOTEBOOK_EXTRAS)."""
    from evalib.data import dataset_info

    if name not in NOTEBOOK_EXTRAS:
        return
    if name == "mode":
        if value not in ("class", "profile"):
            raise EvalibError(f"parameter mode must be 'class' or 'profile', got {value!r}")
    elif name == "rate":
        _expect(name, value, (int, float), "a fraction in (0, 1]")
        if not _fraction(value):
            raise EvalibError(f"parameter rate must be a fraction in (0, 1], got {value!r}")
    elif name == "grid_rates":
        _number_list(name, value, "fractions in (0, 1]", _fraction)
    elif name == "grid_seeds":
        _number_list(name, value, "integers ≥ 0 (seeds)", _seed, int)
    elif name == "sparsities":
        _number_list(name, value, "fractions in (0, 1)", lambda v: 0 < v < 1)
    elif name == "lams":
        _number_list(name, value, "finite numbers > 0", lambda v: math.isfinite(v) and v > 0)
    elif name == "ipcs":
        _number_list(name, value, "image counts (integers ≥ 1)", lambda v: v >= 1, int)
    elif name == "datasets" and value is not None:
        _expect(name, value, (list, tuple), "a non-empty list of MedMNIST flags or None")
        if not value:
            raise EvalibError("parameter datasets must be a non-empty list of MedMNIST flags")
        for flag in value:
            _expect(name, flag, str, "a list of MedMNIST flags")
            dataset_info(flag)


NOTEBOOK_PARAMETERS = (
    "profile", "dataset", "results_dir", "data_root", "scratch_dir", "seeds", "rates",
    "executor", "workers", "ray_address", "device",
)  # fmt: skip
NOTEBOOK_EXTRAS = {  # parameters of single notebooks that notebook_setup checks for them
    "mode": "the walkthrough's mode, 'class' or 'profile'",
    "rate": "the walkthrough's coreset rate, a fraction in (0, 1]",
    "grid_rates": "a list of fractions in (0, 1], or None",
    "grid_seeds": "a list of seeds, or None",
    "sparsities": "a list of fractions in (0, 1), or None",
    "lams": "a list of numbers > 0, or None",
    "ipcs": "a list of image counts ≥ 1, or None",
    "datasets": "a list of MedMNIST flags, or None",
}
EXECUTORS = ("serial", "process", "ray")


def injected_parameters() -> list[str] | None:
    """Names that papermill injected into the running notebook, or None outside a kernel.

    papermill writes its values into a cell that starts with ``# Parameters``; its source is
    in the kernel's input history (``In``), which this reads and parses."""
    import ast
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return None
    history = shell.user_ns.get("In") or []
    for source in reversed(history):
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return None
            return [t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]  # fmt: skip
    return []


def check_parameter_names(names: Iterable[str], known: Iterable[str]) -> None:
    """One-line EvalibError for the first name not in ``known`` (papermill's own
    ``PAPERMILL_*`` paths are allowed), suggesting the closest known one."""
    import difflib

    known = list(known)
    for name in names:
        if name in known or name.startswith("PAPERMILL_"):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise EvalibError(
            f"unknown notebook parameter {name!r}; {hint}this notebook takes {', '.join(known)}"
        )


def paper_cpu_warning(profile: Profile, dataset: str) -> str:
    """The one-line warning for a ``paper``-profile run on the CPU, with its estimated cost."""
    from evalib.data import dataset_info
    from evalib.devices import cpu_hours

    spec = profile.data_spec(dataset)
    n = spec.train_subset or dataset_info(dataset).n_samples[0]
    hours = cpu_hours(profile.model.name, profile.model.width, n, profile.epochs)
    cost = (
        f"one {profile.model.name} run of {profile.epochs} epochs on {n} images takes about "
        f"{hours:.0f} CPU-core-hours (estimate) and a notebook runs dozens"
        if hours is not None
        else "its runs take days to weeks"
    )
    return f"the paper profile is running on the CPU: {cost}; use a GPU, or the cpu profile"


def check_values(values: Mapping[str, Any]) -> None:
    """One-line EvalibError for the first bad value among the notebook parameters in
    ``values`` (any subset of :data:`NOTEBOOK_PARAMETERS` and :data:`NOTEBOOK_EXTRAS`):
    types, ranges, names (profile, dataset, executor), and folders: ``data_root`` must be
    an existing folder, ``results_dir`` and ``scratch_dir`` must lie in an existing one.
    Reads no data and creates nothing, so it can run before a kernel starts."""
    from evalib.data import dataset_info
    from evalib.io import check_parent

    v = dict(values)
    if "profile" in v:
        _expect("profile", v["profile"], str, "a profile name (smoke, cpu, paper)")
        get_profile(v["profile"])
    if "dataset" in v:
        _expect("dataset", v["dataset"], str, "a MedMNIST flag")
        dataset_info(v["dataset"])
    for name in ("results_dir", "scratch_dir"):
        if v.get(name) is not None:
            _expect(name, v[name], (str, os.PathLike), "a folder path or None")
            check_parent(Path(v[name]).expanduser(), f"parameter {name}")
    if v.get("data_root") is not None:
        _expect("data_root", v["data_root"], (str, os.PathLike), "a folder path or None")
        root = Path(v["data_root"]).expanduser()
        if root.exists() and not root.is_dir():
            raise EvalibError(f"parameter data_root must be a folder, got the file {root}")
        if not root.exists():  # also when every job is cached: a typo is still a typo
            raise EvalibError(
                f"parameter data_root: no such folder {root}; create it, or fetch the files "
                f"into it with `evalib download DATASET --data-root {root}`"
            )
    _number_list("seeds", v.get("seeds"), "integers ≥ 0 (seeds)", _seed, int)
    _number_list("rates", v.get("rates"), "fractions in (0, 1]", _fraction)
    if "executor" in v:
        _expect("executor", v["executor"], str, f"one of {', '.join(EXECUTORS)}")
        if v["executor"] not in EXECUTORS:
            raise EvalibError(f"parameter executor must be one of {', '.join(EXECUTORS)}, "
                              f"got {v['executor']!r}")  # fmt: skip
    if "workers" in v:
        _expect("workers", v["workers"], int, "an integer ≥ 1")
        if v["workers"] < 1:
            raise EvalibError(f"parameter workers must be an integer ≥ 1, got {v['workers']}")
    if v.get("ray_address") is not None:
        _expect("ray_address", v["ray_address"], str, 'a Ray address ("auto", "ray://…") or None')
    if v.get("device") is not None:
        _expect(
            "device", v["device"], str, 'a device name ("cpu", "cuda", "cuda:1", "mps") or None'
        )
    for name, value in v.items():
        _check_extra(name, value)


def _type_fits(value: Any, type_name: str) -> bool:
    """Whether ``value`` (as papermill passes it) fits the type papermill infers from a
    parameters cell (``"int"``, ``"Optional[list[float]]"``, ``"str | None"``, ...);
    a type it cannot read accepts anything."""
    t = type_name.replace(" ", "")
    parts = _top_level_split(t, "|")
    if len(parts) > 1:
        return any(_type_fits(value, p) for p in parts)
    if t.startswith("Optional[") and t.endswith("]"):
        return value is None or _type_fits(value, t[len("Optional[") : -1])
    if t == "None":
        return value is None
    if t == "bool":
        return isinstance(value, bool)
    if t == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "str":
        return isinstance(value, str)
    for generic in ("list", "tuple", "List", "Tuple", "Sequence"):
        if t.startswith(f"{generic}[") and t.endswith("]"):
            inner = t[len(generic) + 1 : -1]
            return isinstance(value, list | tuple) and all(_type_fits(x, inner) for x in value)
    if t in ("list", "tuple"):
        return isinstance(value, list | tuple)
    if t.startswith(("dict", "Dict")):
        return isinstance(value, dict)
    return True


def _top_level_split(text: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def check_parameters(values: Mapping[str, Any], declared: Mapping[str, str]) -> None:
    """Check parameters for a notebook before its kernel starts: every name is one its
    parameters cell declares (``declared``: name → papermill's inferred type name), every
    value fits that type, and the values pass :func:`check_values`. One-line EvalibError."""
    check_parameter_names(values, declared)
    for name, value in values.items():
        if name.startswith("PAPERMILL_"):
            continue
        type_name = declared[name]
        if not _type_fits(value, type_name):
            hint = list_hint(name, value) if "list[" in type_name else ""
            raise EvalibError(
                f"parameter {name} must be {type_name}, got {type(value).__name__} {value!r}" + hint
            )
    check_values(values)


def notebook_setup(
    profile: str,
    dataset: str,
    results_dir: str | os.PathLike | None = None,
    data_root: str | None = None,
    scratch_dir: str | None = None,
    seeds: Sequence[int] | None = None,
    rates: Sequence[float] | None = None,
    executor: str = "serial",
    workers: int = 2,
    ray_address: str | None = None,
    device: str | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Setup:
    """Validate a notebook's (papermill) parameters and resolve them; one-line errors.

    Every parameter is checked before any work: a wrong type or value, and a parameter
    name that papermill injected but the notebook does not take (``extra``: the names and
    values of the notebook's own parameters beyond these), is an EvalibError.
    ``results_dir`` None: :func:`~evalib.runs.cache.default_results_dir` (the checkout's
    ``results/``, whatever the working directory). ``device`` None: CUDA, else MPS, else
    the CPU; the ``paper`` profile on the CPU prints a one-line warning with its cost.
    """
    from evalib.data import dataset_info
    from evalib.devices import device_warning, pick_device

    extra = dict(extra or {})
    injected = injected_parameters()
    if injected:
        check_parameter_names(injected, (*NOTEBOOK_PARAMETERS, *extra))
    values = {"profile": profile, "dataset": dataset, "results_dir": results_dir,
              "data_root": data_root, "scratch_dir": scratch_dir, "seeds": seeds,
              "rates": rates, "executor": executor, "workers": workers,
              "ray_address": ray_address, "device": device, **extra}  # fmt: skip
    check_values(values)
    seeds = _number_list("seeds", seeds, "integers ≥ 0 (seeds)", _seed, int)
    rates = _number_list("rates", rates, "fractions in (0, 1]", _fraction)
    prof = get_profile(profile)
    info = dataset_info(dataset)
    dev = pick_device(device)
    if (note := device_warning(device, dev)) is not None:
        warn(note)
    if prof.name == "paper" and dev.type == "cpu":
        warn(paper_cpu_warning(prof, info.flag))
    root = default_results_dir() if results_dir is None else Path(results_dir).expanduser()
    what = ("parameter results_dir", "parameter scratch_dir" if scratch_dir else None)
    cache = Cache.at(root / prof.name, scratch_dir, what=what)
    log_job_progress()  # one line per finished job: papermill --log-output shows them
    train_missing = os.environ.get(ENV_TRAIN_MISSING, "1").strip()
    if train_missing not in ("0", "1"):
        raise EvalibError(f"{ENV_TRAIN_MISSING} must be 0 or 1, got {train_missing!r}")
    return Setup(
        profile=prof,
        dataset=info.flag,
        cache=cache,
        data_root=None if data_root is None else str(data_root),
        seeds=seeds or prof.seeds,
        rates=rates or prof.rates,
        executor=make_executor(executor, workers, address=ray_address),
        device=device,
        train_missing=train_missing == "1",
    )


def start(namespace: Mapping[str, Any], extra: Sequence[str] = ()) -> Setup:
    """The one header call of a notebook: ``S = start(globals())`` (``from evalib.book.notebook import start``).

    Reads the run parameters (:data:`NOTEBOOK_PARAMETERS`) and the notebook's own ones
    (``extra``, names) from the notebook's namespace, where its ``parameters`` cell (and
    papermill's injected one) put them; validates and resolves them
    (:func:`notebook_setup`) and sets the style of figures and tables.
    """
    import pandas as pd

    from evalib.book import plots

    missing = [n for n in (*NOTEBOOK_PARAMETERS, *extra) if n not in namespace]
    if missing:
        raise EvalibError(f"the notebook's parameters cell does not set {', '.join(missing)}")
    plots.setup_style()
    pd.options.display.float_format = "{:.2f}".format
    return notebook_setup(
        **{n: namespace[n] for n in NOTEBOOK_PARAMETERS}, extra={n: namespace[n] for n in extra}
    )
