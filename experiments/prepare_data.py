"""Report which datasets a data directory holds; with --fetch, first fetch what it lacks;
with --speech, first prepare the speech set (gruvar.data.wav).

python experiments/prepare_data.py --data_dir=../shared/data
python experiments/prepare_data.py --data_dir=~/gruvar_data --fetch   # needs network + TFDS
python experiments/prepare_data.py --data_dir=~/gruvar_data --speech=festvox-ru  # by apt
python experiments/prepare_data.py --data_dir=~/gruvar_data --speech=festvox-ru_0.5+dfsg-6_all.deb
python experiments/prepare_data.py --data_dir=~/gruvar_data --speech=~/my_wavs/  # 16 kHz mono
"""

import os

from absl import app, flags

from gruvar import cli
from gruvar.data import ENV_VAR, prepare, wav

_DATA_DIR = flags.DEFINE_string("data_dir", os.environ.get(ENV_VAR), f"Data dir (${ENV_VAR}).")
_TFDS_DATA_DIR = flags.DEFINE_string("tfds_data_dir", None, "TFDS data dir (else its default).")
_FETCH = flags.DEFINE_bool("fetch", False, "Download / prepare missing data first.")
_SPEECH = flags.DEFINE_string(
    "speech",
    None,
    "Prepare the speech set into <data_dir>/speech/ from an apt package name, a .deb or a "
    f"folder of 16 kHz 16-bit mono WAVs (e.g. {wav.DEFAULT_PACKAGE}).",
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not _DATA_DIR.value:
        raise app.UsageError(f"Give --data_dir or set ${ENV_VAR}.")
    data_dir = os.path.expanduser(_DATA_DIR.value)
    if _FETCH.value:
        prepare.fetch(data_dir, _TFDS_DATA_DIR.value)
    if _SPEECH.value is not None:
        source = os.path.expanduser(_SPEECH.value or wav.DEFAULT_PACKAGE)
        print(f"speech: preparing from {source} ...", flush=True)
        print(f"speech: wrote {wav.prepare(source, data_dir)}", flush=True)
    rows = prepare.report(data_dir, _TFDS_DATA_DIR.value)
    width = max(len(name) for name, _ in rows)
    for name, status in rows:
        print(f"{name:<{width}}  {status}")


if __name__ == "__main__":
    cli.run(main)
