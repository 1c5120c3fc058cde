"""The ``fastshower`` command, run as users run it: a separate process, real exit codes and streams.

Bad input: exit code 2, one line on stderr starting with ``Error:`` that names the value, no
traceback, nothing written. Good input: a real (small) Geant4 production, and its resume after a
``kill -9``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastshower._cpus import usable_cpus
from fastshower.io import JET_SCHEMA, read_dataset, read_showers
from fastshower.simulate.calo import CaloSettings, simulate_showers
from fastshower.simulate.production import parts_dir, plan_chunks

TIMEOUT_S = 300


def fastshower(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastshower.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def calo(*args: str, out: str = "x.h5", **options: str) -> list[str]:
    """``simulate calo`` with small, valid defaults; ``options`` override them."""
    request = {"particle": "e+", "energy": "5", "events": "4", "workers": "0", "out": out}
    request.update(options)
    flat = [item for key, value in request.items() for item in (f"--{key}", value)]
    return ["simulate", "calo", *flat, "--no-progress", *args]


def jets(*args: str, out: str = "j.h5", **options: str) -> list[str]:
    """``simulate jets`` with small, valid defaults; ``options`` override them."""
    request = {"process": "qcd", "events": "2", "workers": "0", "out": out}
    request.update(options)
    flat = [item for key, value in request.items() for item in (f"--{key}", value)]
    return ["simulate", "jets", *flat, "--no-progress", *args]


BAD_INPUTS = {
    "unknown-particle": (
        calo(particle="mu+"),
        r"unknown particle 'mu\+': allowed are e\+, e-, gamma, pi\+, pi-",
    ),
    "energy-too-high": (calo(energy="5000"), r"energy 5000 GeV is outside the allowed 0.1-1000"),
    "energy-too-low": (calo(energy="0.01"), r"energy 0.01 GeV is outside the allowed 0.1-1000"),
    "energy-not-a-number": (calo(energy="ten"), r"--energy 'ten' is not an energy in GeV"),
    "energy-inverted": (calo(energy="50:10"), r"energy range 50:10 GeV is inverted"),
    "zero-events": (calo(events="0"), r"--events 0: the number of events must be positive"),
    "negative-events": (calo(events="-3"), r"--events -3: the number of events must be positive"),
    "zero-chunk-size": (calo(**{"chunk-size": "0"}), r"--chunk-size 0: must be positive"),
    "negative-workers": (calo(workers="-1"), r"--workers -1: must be 0"),
    "position-outside": (calo(position="300,0"), r"incidence point \(300.0, 0.0\)"),
    "missing-folder": (calo(out="missing/x.h5"), r"--out .*x.h5: the folder .*missing does not"),
    "out-is-a-folder": (calo(out="."), r"--out .* is a directory: give a file name"),
    "unknown-process": (jets(process="z"), r"unknown process 'z': allowed are w, qcd"),
    "pt-window-inverted": (
        jets(**{"pt-window": "300:250"}),
        r"pT window 300:250 GeV is not allowed: need 0 <= low < high",
    ),
    "pt-window-garbled": (jets(**{"pt-window": "250"}), r"--pt-window '250' is not a window"),
    "mass-window-inverted": (jets(**{"mass-window": "100:60"}), r"mass window 100:60 GeV"),
    "pthat-for-w": (jets(process="w", pthat="100:500"), r"applies to QCD only"),
    "jets-unwritable": (jets(out="missing/j.h5"), r"--out .*j.h5: the folder .*missing does not"),
    "jets-zero-events": (jets(events="0"), r"--events 0: the number of events must be positive"),
    "checksum-missing-file": (["checksum", "absent.h5"], r"absent.h5: no such file"),
    "checksum-nothing": (["checksum"], r"either FILES or --check"),
    "checksum-missing-listing": (["checksum", "--check", "absent.txt"], r"absent.txt: no such"),
}


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = fastshower(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no output, no parts folder, no temporary file


def test_out_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    done = fastshower(*calo(out="notes.txt/x.h5"), cwd=tmp_path)
    assert done.returncode == 2
    assert re.fullmatch(
        r"Error: --out .*notes.txt/x.h5: the folder .* does not exist\n", done.stderr
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_small_jet_production(tmp_path: Path) -> None:
    done = fastshower(*jets(events="3", **{"mass-window": "0:1000"}), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "j.h5"
    assert done.stdout.strip() == f"wrote 3 jets to {out}"
    data = read_dataset(out, JET_SCHEMA)
    assert len(data) == 3 and (data["signal"] == 0).all()
    assert data.provenance["jet_settings"]["mass_window_gev"] == [0.0, 1000.0]


def test_small_production(tmp_path: Path) -> None:
    args = calo(events="4", **{"chunk-size": "2"})
    done = fastshower(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    out = tmp_path / "x.h5"
    assert done.stdout.strip() == f"wrote 4 showers to {out}"
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5"]  # parts folder cleaned up

    data = read_showers(out)
    assert len(data) == 4
    assert np.all(data["particle"] == -11) and np.all(data["energy"] == 5.0)
    deposit = sum(data[f"layer_{i}"].sum(axis=(1, 2)) for i in range(3)) + data["overflow"].sum(1)
    assert np.all(deposit > 0.9 * 5000.0)  # MeV: real, contained 5 GeV showers
    prov = data.provenance
    assert prov["generator"] == "Geant4" and prov["geant4_version"].startswith("geant4-11")
    assert prov["physics_list"] == "FTFP_BERT" and prov["em_physics"].startswith("G4EmStandard")
    assert (prov["seed"], prov["n_events"], prov["chunk_size"]) == (1, 4, 2)
    assert prov["settings"]["calo"]["particle"] == "e+"
    assert prov["settings"]["physics"]["physics_list"] == "FTFP_BERT"

    # the same file with another request: refused, the finished file left as it was
    stamp = out.stat().st_mtime_ns
    clash = fastshower(*calo(events="4", seed="2", **{"chunk-size": "2"}), cwd=tmp_path)
    assert clash.returncode == 2
    assert re.fullmatch(
        r"Error: .*x.h5 already exists with other settings .*seed: 1 there, "
        r"2 requested.*\n",
        clash.stderr,
    )
    assert out.stat().st_mtime_ns == stamp and [p.name for p in tmp_path.iterdir()] == ["x.h5"]


# The interrupted run: the library call the CLI makes, with a job that kills its own process
# (SIGKILL, as the OOM killer or `kill -9` would) when chunk 2 of 3 starts. Killing the CLI from
# outside once a chunk file appears was the alternative; on 2 busy cores a 5 GeV chunk takes
# ~0.2 s, so whether the kill lands before the run ends would be a race. This is deterministic
# and leaves the same state: finished chunks on disk, the chunk in flight lost.
INTERRUPTED = """
import os, signal, sys
from fastshower.simulate.calo import CaloJob, CaloSettings
from fastshower.simulate.production import chunk_seed, produce

class KilledAtChunk2(CaloJob):
    def run_chunk(self, n_events, seed):
        if seed == chunk_seed(1, 2):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().run_chunk(n_events, seed)

job = KilledAtChunk2(CaloSettings("e+", (5.0, 5.0)))
produce(job, sys.argv[1], n_events=6, seed=1, chunk_size=2, workers=0, progress=False)
"""


def test_killed_production_resumes(tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    killed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED, str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert killed.returncode == -9, killed.stderr
    parts = parts_dir(out)
    assert not out.exists()
    assert sorted(p.name for p in parts.iterdir()) == [
        "chunk-000000.h5",
        "chunk-000001.h5",
        "manifest.json",
    ]

    # rerunning the same command finishes the job: the progress bar starts at the 4 kept events
    args = calo(events="6", seed="1", **{"chunk-size": "2"})
    resumed = fastshower(*[a for a in args if a != "--no-progress"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert re.search(r"x.h5:\s+67%.*4/6", resumed.stderr), resumed.stderr
    assert not parts.exists()

    (tmp_path / "fresh").mkdir()
    fresh = fastshower(*args, cwd=tmp_path / "fresh")
    assert fresh.returncode == 0, fresh.stderr
    got, want = read_showers(out), read_showers(tmp_path / "fresh" / "x.h5")
    assert len(got) == 6
    for key in want.arrays:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    # the data's checksum says so without reading the events, and ignores when each was made
    sums = fastshower("checksum", "x.h5", "fresh/x.h5", cwd=tmp_path)
    assert sums.returncode == 0, sums.stderr
    (a, name_a), (b, name_b) = (line.split("  ") for line in sums.stdout.splitlines())
    assert a == b and re.fullmatch("[0-9a-f]{64}", a) and (name_a, name_b) == ("x.h5", "fresh/x.h5")
    other = fastshower(*calo(events="2", seed="2", out="other.h5"), cwd=tmp_path / "fresh")
    assert other.returncode == 0, other.stderr
    assert fastshower("checksum", "fresh/other.h5", cwd=tmp_path).stdout.split()[0] != a
    # a listing of what the files should hold: the same events pass, other events fail
    listing = tmp_path / "listing.sha256"
    listing.write_text(f"# reference\n{a}  x.h5\n{a}  other.h5\n{a}  absent.h5\n")
    checked = fastshower("checksum", "--check", str(listing), "--data", "fresh", cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.splitlines() == [
        "x.h5: OK",
        "other.h5: FAILED",
        "absent.h5: not made",
    ]
    listing.write_text(f"{a}  x.h5\n")
    checked = fastshower("checksum", "--check", str(listing), "--data", "fresh", cwd=tmp_path)
    assert (checked.returncode, checked.stdout) == (0, "x.h5: OK\n"), checked.stderr
    listing.write_text(f"{a} x.h5\n")  # one space: not the format
    checked = fastshower("checksum", "--check", str(listing), cwd=tmp_path)
    assert checked.returncode == 2 and "listing.sha256:1: expected" in checked.stderr
    listing.unlink()
    (tmp_path / "fresh" / "other.h5").unlink()

    # each chunk's seed made exactly its own block of events: none lost, none duplicated
    settings = CaloSettings("e+", (5.0, 5.0))
    for chunk in plan_chunks(6, 2, seed=1):
        block = simulate_showers(settings, chunk.n_events, chunk.seed)
        rows = slice(chunk.start, chunk.start + chunk.n_events)
        for key in ("layer_0", "layer_1", "layer_2", "overflow"):
            np.testing.assert_array_equal(got[key][rows], block[key], err_msg=f"{chunk} {key}")
    assert sorted(os.listdir(tmp_path)) == ["fresh", "x.h5"]


def test_torch_threads_wait_passively_only_where_the_cores_are_busy() -> None:
    """The command sets ``OMP_WAIT_POLICY=PASSIVE`` before torch is imported when the load
    average fills the usable cores, leaves an idle machine's threads spinning, and never
    overrides the user's choice."""
    probe = (
        "import os, sys; os.getloadavg = lambda: ({load}, 0.0, 0.0); "
        "from fastshower import cli; cli._passive_threads_when_busy(); "
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    )
    cores = usable_cpus()

    def policy(load: float, **env: str) -> str:
        environ = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
        run = subprocess.run(
            [sys.executable, "-c", probe.format(load=load)],
            env=environ,
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.strip()

    assert policy(float(cores)) == "PASSIVE False"
    assert policy(0.0) == "None False"
    assert policy(float(cores), OMP_WAIT_POLICY="ACTIVE") == "ACTIVE False"
