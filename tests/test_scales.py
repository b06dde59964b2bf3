"""minime.scales: one variable read once, one helper, every preset complete at every scale."""

import os
import subprocess
import sys

import pytest

from minime import scales


def test_scale_comes_from_the_environment():
    assert scales.SCALE == os.environ["MINIME_SCALE"] == "ci"


@pytest.mark.parametrize("name", sorted(scales.PRESETS))
def test_every_preset_has_the_same_keys_at_every_scale(name):
    entry = scales.PRESETS[name]
    assert set(entry) == set(scales.SCALES), f"{name} lacks a scale"
    keys = {scale: set(values) for scale, values in entry.items()}
    assert len({frozenset(k) for k in keys.values()}) == 1, f"{name}: keys differ: {keys}"


def test_sizes_are_read_only_attributes():
    s = scales.sizes("ch01", "ci")
    assert s.epochs == 3 and s["world"] == "ctr" and dict(s) == scales.PRESETS["ch01"]["ci"]
    with pytest.raises(AttributeError, match="has no 'nope'"):
        s.nope
    with pytest.raises(TypeError):
        s["epochs"] = 5


def test_bad_names_and_scales_are_clear_errors():
    with pytest.raises(KeyError, match="no sizes named 'nope'"):
        scales.sizes("nope")
    with pytest.raises(ValueError, match="scale 'huge'"):
        scales.sizes("ch01", "huge")
    env = {**os.environ, "MINIME_SCALE": "huge"}
    run = subprocess.run([sys.executable, "-c", "import minime.scales"], env=env,
                         capture_output=True, text=True)
    assert run.returncode != 0 and "MINIME_SCALE='huge' is not a scale" in run.stderr
