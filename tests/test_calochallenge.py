"""Conversion to and from the CaloChallenge's format, on real Geant4 showers."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from fastshower.calochallenge import N_VOXELS, from_calochallenge, to_calochallenge
from fastshower.cli import main
from fastshower.io import DatasetError, read_showers, write_showers

pytestmark = pytest.mark.geant4


@pytest.fixture(scope="module")
def showers(tmp_path_factory: pytest.TempPathFactory, positrons: tuple[dict, dict]) -> Path:
    arrays = {k: v[:20] for k, v in positrons[0].items()}
    return write_showers(tmp_path_factory.mktemp("cc") / "g4.h5", arrays, {"seed": 1})


def test_round_trip_keeps_every_cell(showers: Path, tmp_path: Path) -> None:
    original = read_showers(showers).arrays
    challenge = to_calochallenge(showers, tmp_path / "cc.h5")
    with h5py.File(challenge) as h5:
        voxels, incident = h5["showers"][:], h5["incident_energies"][:]
    assert voxels.shape == (20, N_VOXELS) == (20, 504) and incident.shape == (20, 1)
    np.testing.assert_allclose(incident, original["energy"] * 1e3, rtol=1e-6)  # MeV
    # layer 1's cell [x=5][y=7] is voxel 288 + 5 * 12 + 7
    np.testing.assert_array_equal(voxels[:, 288 + 5 * 12 + 7], original["layer_1"][:, 5, 7])
    back = read_showers(from_calochallenge(challenge, tmp_path / "back.h5", "positron"))
    for key in ("layer_0", "layer_1", "layer_2", "particle"):
        np.testing.assert_array_equal(back.arrays[key], original[key])
    assert back.provenance["format"] == "CaloChallenge"
    assert back.provenance["particle_name"] == "e+"
    assert not back.arrays["overflow"].any()


def test_wrong_layout_is_refused_without_a_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as h5:
        h5["showers"] = np.ones((4, 368), np.float32)  # CaloChallenge dataset 1's photons
        h5["incident_energies"] = np.ones((4, 1), np.float32)
    with pytest.raises(DatasetError, match=r"\(4, 504\)"):
        from_calochallenge(bad, tmp_path / "out.h5", "gamma")
    result = CliRunner().invoke(
        main,
        [
            "convert",
            str(bad),
            str(tmp_path / "out.h5"),
            "--to",
            "fastshower",
            "--particle",
            "gamma",
        ],
    )
    assert result.exit_code == 2 and "(4, 504)" in result.output
    assert list(tmp_path.iterdir()) == [bad]


def test_cli_needs_the_particle_only_from_the_challenge(showers: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "x.h5"
    result = runner.invoke(main, ["convert", str(showers), str(out), "--to", "fastshower"])
    assert result.exit_code == 2 and "--particle is needed" in result.output
    result = runner.invoke(main, ["convert", str(showers), str(out), "--to", "calochallenge"])
    assert result.exit_code == 0 and out.exists()
