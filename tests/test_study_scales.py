"""minime.studies.scales: one variable read once, one helper, every preset complete at every scale."""

import os
import subprocess
import sys

import pytest

from minime import studies
from minime.studies import scales


def test_scale_comes_from_the_environment():
    assert scales.SCALE == os.environ["MINIME_SCALE"] == "ci"


@pytest.mark.parametrize("name", sorted(scales.PRESETS))
def test_every_preset_has_the_same_keys_at_every_scale(name):
    entry = scales.PRESETS[name]
    assert set(entry) == set(scales.SCALES), f"{name} lacks a scale"
    keys = {scale: set(values) for scale, values in entry.items()}
    assert len({frozenset(k) for k in keys.values()}) == 1, f"{name}: keys differ: {keys}"


def test_sizes_are_read_only_attributes():
    s = studies.sizes("ch01", "ci")
    assert s.epochs == 30 and s["world"] == "ctr" and dict(s) == scales.PRESETS["ch01"]["ci"]
    with pytest.raises(AttributeError, match="has no 'nope'"):
        s.nope
    with pytest.raises(TypeError):
        s["epochs"] = 5


def test_one_size_can_be_overridden_for_one_run():
    s = studies.sizes("ch01", "ci", epochs=5)
    assert s.epochs == 5 and s.num_rows == scales.PRESETS["ch01"]["ci"]["num_rows"]
    assert studies.sizes("ch01", "ci").epochs == scales.PRESETS["ch01"]["ci"]["epochs"]
    with pytest.raises(KeyError, match="has no 'epoch' to override"):
        studies.sizes("ch01", "ci", epoch=5)


@pytest.mark.slow  # more than a second
def test_bad_names_and_scales_are_clear_errors():
    with pytest.raises(KeyError, match="no sizes named 'nope'"):
        studies.sizes("nope")
    with pytest.raises(ValueError, match="scale 'huge'"):
        studies.sizes("ch01", "huge")
    env = {**os.environ, "MINIME_SCALE": "huge"}
    run = subprocess.run([sys.executable, "-c", "import minime.studies.scales"], env=env,
                         capture_output=True, text=True)
    assert run.returncode != 0 and "MINIME_SCALE='huge' is not a scale" in run.stderr
