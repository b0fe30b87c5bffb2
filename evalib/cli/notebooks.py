"""``evalib notebook``: papermill with the parameters checked before a kernel starts.

Plain ``papermill`` starts a kernel and runs the notebook's first cells before the
notebook's own check sees a misspelt or mistyped parameter, then prints the kernel's
traceback. This command reads the notebook's ``parameters`` cell first (names and the
types papermill infers), checks every ``-p``/``-r``/``-y``/``-f`` value against it and
against evalib's rules (one line and exit status 2 for the first bad one, with the
closest name for a misspelt one), and only then runs papermill.
"""

from __future__ import annotations

import argparse
import sys

from evalib.errors import EvalibError


def resolve_value(text: str):
    """A ``-p`` value as papermill reads it: ``True``/``False``/``None``, an integer, a
    float, else the text itself."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def gather_parameters(args: argparse.Namespace) -> dict:
    """The parameters of ``-f`` files, ``-y`` YAML, ``-p`` and ``-r`` pairs, in papermill's
    order (later ones win)."""
    import yaml

    params: dict = {}
    for path in args.parameters_file:
        try:
            with open(path, encoding="utf-8") as fh:
                loaded = yaml.safe_load(fh)
        except OSError as exc:
            raise EvalibError(f"-f {path}: cannot read it ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            raise EvalibError(f"-f {path}: not YAML ({_first_line(exc)})") from None
        params.update(_mapping(loaded, f"-f {path}"))
    for text in args.parameters_yaml:
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise EvalibError(f"-y {text!r}: not YAML ({_first_line(exc)})") from None
        params.update(_mapping(loaded, f"-y {text!r}"))
    for name, value in args.parameters:
        params[name] = resolve_value(value)
    for name, value in args.parameters_raw:
        params[name] = value
    return params


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _mapping(loaded, where: str) -> dict:
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise EvalibError(f"{where} must hold name: value pairs, got {type(loaded).__name__}")
    return loaded


def cmd_notebook(args: argparse.Namespace) -> int:
    from pathlib import Path

    from papermill.exceptions import PapermillExecutionError

    from evalib.book.reproduce import find_notebook, notebook_dir, run_notebook

    source = find_notebook(args.notebook)
    out = Path(args.output).expanduser().resolve()
    if out == source.resolve():
        raise EvalibError(f"OUTPUT {args.output} is the notebook itself; name another file")
    if out.suffix == ".ipynb" and notebook_dir().resolve() in out.parents:
        raise EvalibError(
            f"OUTPUT {args.output} is in the book's notebooks folder; write elsewhere (the "
            "book's pages are replaced by python -m evalib.book.reproduce only)"
        )
    params = gather_parameters(args)
    try:
        written = run_notebook(source, args.output, params, progress=not args.quiet)
    except PapermillExecutionError as exc:  # a cell failed: one line, the notebook's words
        if exc.ename == "EvalibError":
            raise EvalibError(f"{source.name}: {exc.evalue}") from None
        print(f"evalib: error: {source.name} failed in cell {exc.exec_count}: {exc.ename}: "
              f"{exc.evalue}", file=sys.stderr)  # fmt: skip
        return 1
    print(f"wrote {written}")
    return 0


def add_parser(sub, command) -> None:
    """The ``notebook`` subcommand on ``sub`` (``command(name, help)`` makes the parser)."""
    from evalib.cli.options import _path

    p = command("notebook", "run a notebook with papermill, its parameters checked first")
    p.add_argument("notebook", metavar="NOTEBOOK",
                   help="a book notebook by name (02_benchmark), or an .ipynb / jupytext .py file")  # fmt: skip
    p.add_argument("output", metavar="OUTPUT", type=_path,
                   help="executed notebook to write (.ipynb, inside an existing folder; "
                   "never replaces a file that evalib or papermill did not write)")  # fmt: skip
    p.add_argument("-p", "--parameters", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"),
                   help="a parameter; VALUE is read as papermill reads it (True, None, 3, "
                   "0.5, else text)")  # fmt: skip
    p.add_argument("-r", "--parameters-raw", dest="parameters_raw", nargs=2, action="append",
                   default=[], metavar=("NAME", "VALUE"), help="a parameter kept as text")  # fmt: skip
    p.add_argument("-y", "--parameters-yaml", dest="parameters_yaml", action="append",
                   default=[], metavar="YAML", help='parameters as YAML, e.g. -y "seeds: [0, 1]"')  # fmt: skip
    p.add_argument("-f", "--parameters-file", dest="parameters_file", action="append",
                   default=[], metavar="FILE", help="parameters from a YAML file")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_notebook)
