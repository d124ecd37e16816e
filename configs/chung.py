"""Chung et al. 2014, polyphonic music: NLL per time step of next-frame prediction.

    python experiments/train.py --config=configs/chung.py:gru,jsb --workdir=/tmp/jsb-gru
    python experiments/compare.py --config=configs/chung.py:jsb,quick \
        --variants=gru,gru3,lstm,tanh --seeds=2 --workdir=/tmp/gruvar-jsb

Argument: ``[<variant>,]<set>[,quick|smoke]``, set one of jsb, nottingham, musedata, pianomidi
(``../shared/data/polyphonic``, or --config.data.data_dir / $GRUVAR_DATA_DIR).

Model (PAPERS.md §1.1-1.3): one recurrent layer, then 88 sigmoid outputs (one per key). Units
follow Table 1: tanh 100, GRU 46, LSTM 36, about 20K recurrent parameters each. Any other
variant gets the hidden size whose recurrent parameter count is closest to the GRU's (46 units,
88 inputs: 18,630), e.g. gru1 65, gru3 98, mgu 62. ``paper.test`` holds Table 2's test NLL for tanh,
GRU and LSTM.

Training, our choices where the paper is silent (PAPERS.md §1.6): RMSProp (decay 0.95,
momentum 0.9, eps 1e-6), lr 1e-3 (the released code's value, inside Chung's e^[-12, -6]
search; compare.py --lr_draws=10 runs that search), gradient norm clipped to 1, 8 sequences per
update (masked; the paper's code used 1), early stopping on validation NLL (patience 20
epochs, at most 100). Still missing against the paper: Gaussian weight noise (std 0.075) and
the LSTM's peephole connections. Until they land, ``lstm`` here is the plain LSTM.

Modifiers: ``quick`` (30 epochs, the README's few-minute comparison) and ``smoke`` (tiny, for
tests). Expected wall time on the 2-core CPU: about 1 minute per JSB run of 100 epochs.
"""

from gruvar import cells
from gruvar.config import default_config, parse_arg

SETS = ("jsb", "nottingham", "musedata", "pianomidi")
KEYS = 88
UNITS = {"tanh": 100, "gru": 46, "lstm": 36}  # Table 1
# Table 2, test NLL per time step (lower is better).
PAPER_TEST = {
    "nottingham": {"tanh": 3.13, "gru": 3.23, "lstm": 3.20},
    "jsb": {"tanh": 9.10, "gru": 8.54, "lstm": 8.67},
    "musedata": {"tanh": 6.23, "gru": 5.99, "lstm": 6.23},
    "pianomidi": {"tanh": 9.03, "gru": 8.82, "lstm": 9.03},
}


def recurrent_params(variant: str, units: int) -> int:
    shapes = cells.get(variant).param_shapes(KEYS, units)
    count = 0
    for shape in shapes.values():
        size = 1
        for dim in shape:
            size *= dim
        count += size
    return count


def matched_units(variant: str) -> int:
    """Table 1's units, or the hidden size closest to the GRU's recurrent parameter count."""
    if variant in UNITS:
        return UNITS[variant]
    budget = recurrent_params("gru", UNITS["gru"])
    return min(range(1, 400), key=lambda n: abs(recurrent_params(variant, n) - budget))


def get_config(arg: str = "gru,jsb"):
    variant, name, modifiers = parse_arg(arg, SETS, ("quick", "smoke"))
    c = default_config()
    c.model.variant = variant
    c.model.features = matched_units(variant)
    c.data.name = name
    c.data.batch_size = 8
    c.data.eval_batch_size = 64
    c.optimizer.name = "rmsprop"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.decay = 0.95
    c.optimizer.momentum = 0.9
    c.optimizer.eps = 1e-6
    c.optimizer.grad_clip_norm = 1.0
    c.train.num_epochs = 100
    c.train.early_stopping_patience = 20
    c.train.log_every_steps = 100
    c.paper.test = PAPER_TEST[name].get(variant)
    c.paper.source = "Chung et al. 2014, Table 2 (test NLL per time step)"
    if "quick" in modifiers:
        c.train.num_epochs = 30
    if "smoke" in modifiers:
        c.model.features = 8
        c.train.num_epochs = 1
        c.data.eval_batch_size = 8
    c.lock()
    return c
