"""Command-line conventions: --version, help with defaults, choices and examples, names
matched ignoring case with suggestions, one spelling per option, `evalib profiles`, and
`evalib download` (MD5-checked, resumable, retrying) against a local server."""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from evalib import data
from evalib import dynamics as dm
from evalib.cli import build_parser, main


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version(capsys):
    assert main(["--version"]) == 0  # argparse's exit is turned into a status
    assert capsys.readouterr().out.startswith("evalib ")


@pytest.mark.parametrize("command", list(_subparsers()))
def test_help_shows_defaults_choices_and_examples(command):
    sub = _subparsers()[command]
    text = sub.format_help()
    assert "examples:\n  evalib " in text, f"{command}: no usage examples"
    flat = " ".join(text.split())
    for action in sub._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if not (action.default is None or action.default is False or action.default == []
                or action.default == argparse.SUPPRESS):  # fmt: skip
            shown = action.default
            if isinstance(shown, list):
                shown = " ".join(map(str, shown))
            assert f"(default: {shown})" in flat, f"{command} {action.option_strings[0]}"
        if action.choices is not None:
            assert all(str(c) in flat for c in action.choices), action.option_strings[0]


def test_help_lists_valid_names():
    flat = " ".join(_subparsers()["select"].format_help().split())
    assert "one of: aum, cartography_confidence," in flat and "eva_official" in flat
    flat = " ".join(_subparsers()["train"].format_help().split())
    assert "organsmnist" in flat and "resnet18, resnet50" in flat and "(default: resnet18)" in flat


def test_one_spelling_for_dataset_and_old_one_kept():
    grid = _subparsers()["grid"]
    assert grid.parse_args(["--datasets", "a", "b"]).datasets == ["a", "b"]
    assert grid.parse_args(["--dataset", "a"]).datasets == ["a"]
    assert grid.parse_args(["--scratch-dir", "s"]).scratch == "s"
    download = _subparsers()["download"]
    assert download.parse_args(["x", "--root", "r"]).data_root == "r"
    assert download.parse_args(["x", "--data-root", "r"]).data_root == "r"


def test_grid_accepts_any_case_and_both_spellings(tmp_path, capsys):
    base = ["grid", "--results-dir", str(tmp_path), "--what", "table1", "--dry-run"]
    assert main([*base, "--profile", "SMOKE", "--datasets", "BloodMNIST"]) == 0
    first = capsys.readouterr().out
    assert main([*base, "--profile", "smoke", "--dataset", "bloodmnist"]) == 0
    assert capsys.readouterr().out == first and " jobs: 0 in " in first


@pytest.fixture
def dyn_file(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 40, 4))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return dm.save(dm.from_arrays(logp, np.arange(40) % 4), tmp_path / "dyn.npz")


def test_method_names_match_any_case(dyn_file, tmp_path, capsys):
    argv = ["select", "--dynamics", str(dyn_file), "--method", "EVA", "-p", "early=0,2",
            "-p", "late=3,5", "--rate", "0.1", "--out-dir", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "eva-0.1.npy").exists()
    assert main(["score", "--dynamics", str(dyn_file), "--method", "Forgetting",
                 "--out", str(tmp_path / "f.csv")]) == 0  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", "--method", "forgeting"], "unknown method 'forgeting' (did you mean 'forgetting'?)"),
        (["score", "--method", "EVA_offical"], "(did you mean 'eva_official'?)"),
        (["train", "--dataset", "bloodmnst"], "unknown dataset 'bloodmnst' (did you mean 'bloodmnist'?)"),
        (["profiles", "cpuu"], "unknown profile 'cpuu' (did you mean 'cpu'?)"),
        (["train", "--dataset", "organamnist", "--model", "resnet-18"], "(did you mean 'resnet18'?)"),
        (["download", "organsmnst"], "(did you mean 'organsmnist'?)"),
        (["grid", "--profile", "papr", "--dry-run"], "(did you mean 'paper'?)"),
    ],
)  # fmt: skip
def test_near_misses_suggested_in_one_line(argv, message, dyn_file, tmp_path, capsys):
    if argv[0] == "score":
        argv = [*argv, "--dynamics", str(dyn_file), "--out", str(tmp_path / "s.csv")]
    if argv[0] == "train":
        argv = [*argv, "--data-root", str(tmp_path), "--no-download", "--out", str(tmp_path / "d")]
    if argv[0] == "download":
        argv = [*argv, "--data-root", str(tmp_path)]
    if argv[0] == "grid":
        argv = [*argv, "--results-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalib: error: ") and "\n" not in err, err
    assert message in err


def test_profiles_lists_and_shows(capsys):
    from evalib.runs.config import PROFILES

    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert all(out.count(f"{n} ") for n in PROFILES)
    assert main(["profiles", "cpu"]) == 0
    out = capsys.readouterr().out
    cpu = PROFILES["cpu"]
    assert f"model          {cpu.model.name}, width {cpu.model.width}" in out
    assert f"epochs         {cpu.recipe.epochs}" in out
    assert "seeds          " + ", ".join(map(str, cpu.seeds)) in out
    early, late = cpu.eva_windows()["early"], cpu.eva_windows()["late"]
    assert f"early [{early[0]}, {early[1]}), late [{late[0]}, {late[1]})" in out
    assert main(["profiles", "Paper", "--json"]) == 0
    paper = json.loads(capsys.readouterr().out)
    assert paper["recipe"] == asdict(PROFILES["paper"].recipe)
    assert paper["seeds"] == list(PROFILES["paper"].seeds)
    assert len(paper["grid_windows"]) == len(PROFILES["paper"].grid_windows())


# ----------------------------------------------------------------------------- download

BODY = bytes(range(256)) * 400  # 102400 bytes standing in for an npz


class Server:
    """A local HTTP server for one file with Range support; ``drop`` makes the next
    ``drop`` responses stop halfway (as a dropped connection does)."""

    def __init__(self, body: bytes):
        self.body, self.drop, self.ranges = body, 0, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                rng = self.headers.get("Range")
                owner.ranges.append(rng)
                start = int(rng.split("=")[1].rstrip("-")) if rng else 0
                part = owner.body[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    end = len(owner.body) - 1
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(owner.body)}")
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if owner.drop:
                    owner.drop -= 1
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.connection.close()
                    return
                self.wfile.write(part)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{{flag}}.npz"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    """breastmnist's MD5 set to BODY's; no waiting between retries."""
    info = data.DATASETS["breastmnist"]
    monkeypatch.setitem(data.DATASETS, "breastmnist",
                        replace(info, md5=hashlib.md5(BODY).hexdigest()))  # fmt: skip
    monkeypatch.setattr(data.time, "sleep", lambda s: None)
    s = Server(BODY)
    yield s
    s.close()


def test_download_retries_and_resumes_within_one_command(server, tmp_path, capsys):
    server.drop = 1
    argv = ["download", "BreastMNIST", "--data-root", str(tmp_path), "--mirror", server.url,
            "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "breastmnist.npz").read_bytes() == BODY
    assert server.ranges == [None, f"bytes={len(BODY) // 2}-"]  # the retry asked for the rest
    assert not (tmp_path / "breastmnist.npz.part").exists()
    assert "downloaded to" in capsys.readouterr().out
    assert main(argv) == 0  # present with the official MD5: nothing fetched
    assert "present" in capsys.readouterr().out and len(server.ranges) == 2


def test_download_resumes_after_a_failed_command(server, tmp_path, capsys):
    server.drop = 1
    argv = ["download", "breastmnist", "--data-root", str(tmp_path), "--mirror", server.url,
            "--quiet", "--retries", "0"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{len(BODY) // 2} bytes kept in breastmnist.npz.part" in err and "\n" not in err.strip()
    assert not (tmp_path / "breastmnist.npz").exists()
    assert main(argv) == 0
    assert server.ranges[-1] == f"bytes={len(BODY) // 2}-"
    assert (tmp_path / "breastmnist.npz").read_bytes() == BODY


def test_download_refuses_wrong_md5_and_keeps_nothing(server, tmp_path, capsys):
    server.body = BODY[::-1]
    argv = ["download", "breastmnist", "--data-root", str(tmp_path), "--mirror", server.url,
            "--quiet"]  # fmt: skip
    assert main(argv) == 2
    assert "has MD5" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


def test_download_from_file_url_and_present_file_checks(server, tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "breastmnist.npz").write_bytes(BODY)
    root = tmp_path / "root"
    argv = ["download", "breastmnist", "--data-root", str(root), "--quiet",
            "--mirror", f"file://{mirror}/{{flag}}.npz"]  # fmt: skip
    assert main(argv) == 0
    assert (root / "breastmnist.npz").read_bytes() == BODY
    (root / "breastmnist.npz").write_bytes(b"hand-made")
    assert main(argv) == 2
    assert "not the official file" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0
    assert (root / "breastmnist.npz").read_bytes() == BODY


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["download"], "name the datasets"),
        (["download", "bloodmnist", "--all"], "not both"),
        (["download", "chestmnist"], "multi-label"),
        (["download", "bloodmnist", "--mirror", "http://x/file.npz"], "must contain {flag}"),
    ],
)
def test_download_bad_arguments(argv, message, tmp_path, capsys):
    assert main([*argv, "--data-root", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
