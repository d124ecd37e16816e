"""configs/chung.py:speech_a / speech_b: Table 1's speech sizes to the parameter, the music
protocol, and a smoke run through experiments/train.py on a WAV folder the test writes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_data_speech import utterances, write_wav

from gruvar.core import variants
from gruvar.data import wav
from gruvar.training import config as config_lib

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from configs import chung  # noqa: E402


def test_table_1s_speech_row_is_the_recurrent_layer_at_20_inputs_to_the_parameter():
    counts = {v: chung.layer_params(v, speech=True) for v in chung.SPEECH_UNITS}
    assert counts == {"lstm_peephole": 169_065, "gru": 168_888, "tanh": 168_400}
    # Table 1's LSTM has peepholes: the plain LSTM at 195 units is 585 = 3 x 195 short.
    assert variants.param_count("lstm", 20, 195) == 169_065 - 3 * 195


@pytest.mark.parametrize("name", chung.SPEECH)
@pytest.mark.parametrize("variant", [*chung.SPEECH_UNITS, "gru_reset_after", "mgu", "mingru"])
def test_speech_configs_follow_the_music_protocol_at_the_grus_budget(name, variant):
    cfg = chung.get_config(f"{variant},{name}")
    config_lib.validate(cfg)
    assert (cfg.optimizer.name, cfg.optimizer.grad_clip_norm) == ("rmsprop", 1.0)
    assert cfg.train.weight_noise == 0.075 and cfg.train.early_stopping_patience == 20
    assert cfg.model.mixture_components == 20 and cfg.paper.test is None
    sizes = (cfg.data.options.num_sequences, cfg.data.options.sequence_samples)
    assert sizes == {"speech_a": (7230, 500), "speech_b": (800, 8000)}[name]
    gru = chung.layer_params("gru", speech=True)
    assert abs(chung.layer_params(variant, speech=True) - gru) / gru < 0.01
    assert chung.paper_nll(name, variant) == (None, None), "Ubisoft is another data set"


def test_a_speech_smoke_run_trains_through_the_entry_point(tmp_path):
    folder = tmp_path / "wavs"
    for i, s in enumerate(utterances()):
        write_wav(folder / f"u{i:02d}.wav", s)
    wav.prepare(str(folder), str(tmp_path / "data"))
    result = subprocess.run(
        [
            sys.executable,
            "experiments/train.py",
            "--config=configs/chung.py:lstm_peephole,speech_a,smoke",
            f"--workdir={tmp_path / 'run'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT), "GRUVAR_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "complete"
    test = summary["best"]["test"]
    # Unit-variance noise under a fresh mixture of σ ≈ 1 Gaussians: about ½ ln 2πe = 1.42 nats.
    assert 0.5 < test["nll"] < 5 and test["nll_step"] == pytest.approx(10 * test["nll"])
