"""Chung et al. 2014, polyphonic music: NLL per time step of next-frame prediction.

    # One run:
    python experiments/train.py --config=configs/chung.py:gru,jsb --workdir=/tmp/jsb-gru
    # Table 2's JSB column, Chung's search made affordable (10 rates with seed 0, then the
    # chosen rate with seeds 1 and 2):
    python experiments/compare.py --config=configs/chung.py:jsb \\
        --variants=tanh,gru,lstm_peephole --seeds=3 --lr_draws=10 --select_seeds=1 \\
        --max_stack=5 --workdir=results/chung/jsb
    # The other sets, reduced (see below), at the rates JSB chose:
    python experiments/compare.py --config=configs/chung.py:nottingham,reduced \\
        --variants=tanh,gru,lstm_peephole --seeds=3 --workdir=results/chung/nottingham_20epochs \\
        --learning_rates_from=results/chung/jsb
    # Nottingham (MuseData: 50 epochs) with a search of its own over two of JSB's draws (the
    # largest, and the largest any model chose there); each seed keeps its best on validation:
    python experiments/compare.py --config=configs/chung.py:nottingham \\
        --config.train.num_epochs=60 --config.train.early_stopping_patience=10 \\
        --variants=tanh,gru,lstm_peephole --seeds=3 --learning_rates=0.00168,0.000808 \\
        --workdir=results/chung/nottingham_60epochs

Argument: ``[<variant>,]<set>[,reduced|quick|smoke]``, set one of jsb, nottingham, musedata,
pianomidi (the copies packaged in ``gruvar/data/assets``; a --config.data.data_dir or
$GRUVAR_DATA_DIR holding ``polyphonic/`` wins), or speech_a, speech_b (below; prepared into
the data directory first).

Model (PAPERS.md §1.1-1.3): one recurrent layer, then 88 sigmoid outputs (one per key, MIDI
21-108; Chung used 1..the highest note, §1.6.7). Units follow Table 1: tanh 100, GRU 46,
LSTM 36, where Chung's LSTM is ``lstm_peephole`` (diagonal peepholes, §1.1). Other variants
(gru1, gru2, gru3, mgu, the plain lstm, ...) get the hidden size whose recurrent parameter count
is closest to the GRU's (46 units, 88 inputs: 18,630; Table 1 says ≈20K with its larger input):
gru1 65, gru2 65, gru3 98, mgu 62, lstm 37. ``paper.test`` holds Table 2's test NLL for tanh,
GRU and LSTM (the peephole LSTM):

    Table 2, test NLL   Nottingham   JSB    MuseData   Piano-midi
    tanh                3.13         9.10   6.23       9.03
    GRU                 3.23         8.54   5.99       8.82
    LSTM (peepholes)    3.20         8.67   6.23       9.03

Training, following the paper where it speaks and PAPERS.md §1.6 where it does not:
- RMSProp, decay 0.95, momentum 0.9, eps 1e-6 (librnn's settings; no RMS floor, no lr decay).
- Learning rate: Chung drew 10 rates lr = exp(u), u ~ U(-12, -6) and kept the best validation
  NLL; ``compare.py --lr_draws=10`` draws them (the same for every variant). To afford it here
  the rate is chosen with one seed (``--select_seeds=1``), then the other seeds run at it.
  The default 1e-3 is librnn's value (inside e^[-12, -6]).
- Gaussian weight noise, std 0.075, on every weight matrix, fresh each update; none at
  evaluation (§1.6.2). Per update, not per sequence: we train on 8 sequences per update (masked
  padding) where librnn used 1; that is the one speed concession of the full protocol.
  librnn's JSB config left its output layer without noise (``train.weight_noise_on=recurrent``);
  on Nottingham (``librnn``) that was worse, tanh 3.62 and GRU 3.64 against 3.58 and 3.59, so
  the noise stays on every matrix.
- Gradient norm rescaled to 1 when larger (the paper's text; librnn clipped the update, §1.5).
- Initialisation U(-0.1, 0.1) for all weights, biases 0 (librnn's ``irange``), peepholes 0.
  Pylearn2's RNN layers drew the candidate's U orthogonal instead (``model.init=pylearn2``);
  on Nottingham (``librnn``) that gave tanh 3.64 and GRU 3.61, no better, so it is not the
  default.
- Each update's loss is its NLL per frame (``train.frame_loss=batch_mean``), so at one song
  per update every song weighs alike; librnn summed over frames, so long songs weighed more.
  ``train.frame_loss=summed`` is librnn's weighting: on MuseData (``librnn``, 100 epochs) it
  gains 0.1 NLL by frames and loses 0.03 per song (RESULTS.md), so it is not the default.
- Early stopping on validation NLL: evaluate every epoch, stop after 20 without improvement,
  at most 100 epochs (librnn allowed 500 at one sequence per update); the reported test NLL is
  the best-validation evaluation's.
- NLL per frame: the sum over 88 keys of Bernoulli NLLs, averaged over all predicted frames of
  a split, padding masked (§1.6.8). Table 2 never says how it averaged; librnn monitored one
  song per batch, and pylearn2's monitor weighs batches alike, so it may have averaged song by
  song. ``experiments/evaluate_best.py --by_sequence`` gives that reading too (RESULTS.md: it
  brings MuseData from 22-24% above Table 2 to 7-8%, and changes Nottingham by 0.04 or less).

Speech (``speech_a``, ``speech_b``): the paper's Ubisoft sets are private; gruvar's public
stand-in is Debian's festvox-ru recordings (gruvar.data.speech: one male speaker, 620 utterances,
99.5 minutes of 16 kHz 16-bit mono), prepared once with

    python experiments/prepare_data.py --data_dir=$GRUVAR_DATA_DIR --speech=festvox-ru

Each step reads 20 samples and predicts the next 10 (windows advance by 10). A: 7,230 sequences
of 500 samples (48 steps); B: 800 of 8,000 samples (798 steps); 80/10/10 by utterance. "Length"
is read as samples, not steps: the paper gives the sequences' length before it describes the
20-in/10-out framing, as a property of the audio; steps would make B's sequences 80,020 samples
(5 s, longer than the shortest utterances, 3.8 s) and cost 10x the compute. The steps reading
is one override away: ``--config.data.options.sequence_samples=5020`` (A) or ``=80020`` (B).
The output is a mixture of 20 Gaussians with diagonal covariance over the 10 predicted samples
(gruvar.MixtureDensityHead; the paper says "mixture of 20 Gaussians", diagonal is our reading).
Samples are divided by σ, the training split's standard deviation (3,891.6 for festvox-ru); the
metric ``nll`` is the NLL per predicted sample of those scaled values, in nats (``nll_step``:
per step, 10x; add ln σ = 8.27 per sample for int16 units). Table 2's Ubisoft numbers are
another data set's and scale's (PAPER_UBISOFT): only their orderings compare.
Units: Table 1's speech row, LSTM (peephole) 195, GRU 227, tanh 400, whose recurrent layers at
20 inputs count exactly 169,065 / 168,888 / 168,400 parameters (PAPERS.md §1.3; the plain LSTM
at 195 units would count 168,480: Table 1's LSTM is the peephole one). Other variants get the
size closest to the GRU's 168,888 (gru_reset_after 227, mgu 280, gru3 400, mingru ~4,000).
Protocol as the music sets (RMSProp, weight noise 0.075, clip 1, lr from Chung's draws, early
stopping, 8 sequences per update). Measured on this project's 2-core CPU (one core, beside two
other jobs), GRU: an epoch of A (723 updates of 48 steps) 22 s, of B (80 updates of 798 steps)
37 s, so a run of at most 100 epochs takes up to ~40 min (A) or ~1 h (B), and the 12 runs per
model below (10 draws, then 2 seeds) about a day per model on 2 cores: a GPU job. Not run yet
(RESULTS.md, "Speech"); the commands:

    python experiments/compare.py --config=configs/chung.py:speech_a \
        --variants=tanh,gru,lstm_peephole --seeds=3 --lr_draws=10 --select_seeds=1 \
        --max_stack=0 --workdir=results/chung/speech_a
    python experiments/compare.py --config=configs/chung.py:speech_b \
        --variants=tanh,gru,lstm_peephole --seeds=3 --lr_draws=10 --select_seeds=1 \
        --max_stack=0 --workdir=results/chung/speech_b

Modifiers: ``reduced`` (at most 20 epochs, patience 5: what this project's 2-core CPU affords on
Nottingham, MuseData and Piano-midi, whose training sets have 13x, 18x and 5.6x JSB's frames),
``quick`` (30 epochs, the README's few-minute comparison), ``smoke`` (tiny, for tests) and
``librnn``: closer to how Chung's released code trained (§1.5): one sequence per update (so
weight noise is drawn per sequence), the learning rate decayed linearly to 0 (librnn: to 1% over
500 epochs), 150 epochs, patience 30. On Nottingham it gave our best numbers (tanh 3.58, GRU
3.59 against 3.97 and 3.70 at 8 sequences per update and a constant rate; RESULTS.md):

    python experiments/compare.py --config=configs/chung.py:nottingham,librnn \\
        --variants=tanh,gru --seeds=3 --learning_rates=0.000234 --max_stack=0 \\
        --workdir=results/chung/nottingham_batch1_decay_150epochs

Expected wall time, 2-core CPU (one run alone; a stack of 5 shares the cores): JSB about 1-2
minutes per run of 100 epochs; reduced Nottingham about 5 minutes, MuseData about 7, Piano-midi
about 4. Measured for the longer grids, each model's runs stacked in one program on one core:
Nottingham 60 epochs, 6 runs, about 19 minutes per model; 150 epochs, 3 runs, 20-24 minutes;
MuseData 50 epochs, 6 runs, 31-35 minutes; Piano-midi 100 epochs, 3 runs, 7-18 minutes.
One sequence per update (``librnn``, no padding), 3 runs: Nottingham 150 epochs 21-24 minutes
per model, MuseData 100 epochs 35-50 minutes.
On a GPU (not measured here: no GPU was lent) the music runs are bound by the sequential scan,
not FLOPs; stack the whole grid in one program (``--max_stack=0``).
"""

from gruvar.core import variants
from gruvar.training.config import default_config, parse_arg

SETS = ("jsb", "nottingham", "musedata", "pianomidi")
SPEECH = ("speech_a", "speech_b")  # public stand-ins for Ubisoft A and B (gruvar.data.speech)
KEYS = 88
SPEECH_INPUTS = 20  # samples each step reads
UNITS = {"tanh": 100, "gru": 46, "lstm_peephole": 36}  # Table 1
SPEECH_UNITS = {"tanh": 400, "gru": 227, "lstm_peephole": 195}  # Table 1
SPEECH_SIZES = {"speech_a": (7_230, 500), "speech_b": (800, 8_000)}  # sequences, samples each
# Table 2 on Ubisoft A / B (private data: only the orderings compare with ours), (train, test).
PAPER_UBISOFT = {
    "speech_a": {"tanh": (6.29, 6.44), "gru": (2.31, 3.59), "lstm_peephole": (1.44, 2.70)},
    "speech_b": {"tanh": (7.61, 7.62), "gru": (0.38, 0.88), "lstm_peephole": (0.80, 1.26)},
}
# Table 2, test NLL per time step (lower is better); Chung's LSTM is the peephole LSTM.
PAPER_TEST = {
    "nottingham": {"tanh": 3.13, "gru": 3.23, "lstm_peephole": 3.20},
    "jsb": {"tanh": 9.10, "gru": 8.54, "lstm_peephole": 8.67},
    "musedata": {"tanh": 6.23, "gru": 5.99, "lstm_peephole": 6.23},
    "pianomidi": {"tanh": 9.03, "gru": 8.82, "lstm_peephole": 9.03},
}

# Table 2's train row (the models' training-set NLL; compare with experiments/evaluate_best.py).
PAPER_TRAIN = {
    "nottingham": {"tanh": 3.22, "gru": 2.79, "lstm_peephole": 3.08},
    "jsb": {"tanh": 8.82, "gru": 6.94, "lstm_peephole": 8.15},
    "musedata": {"tanh": 5.64, "gru": 5.06, "lstm_peephole": 5.18},
    "pianomidi": {"tanh": 5.64, "gru": 4.93, "lstm_peephole": 6.49},
}


def paper_nll(name: str, variant: str) -> tuple[float | None, float | None]:
    """Table 2's (train, test) NLL of ``variant`` on music set ``name`` (None where it has none;
    always for the speech sets, whose Ubisoft numbers are another data set's: PAPER_UBISOFT)."""
    return PAPER_TRAIN.get(name, {}).get(variant), PAPER_TEST.get(name, {}).get(variant)


def recurrent_params(variant: str, units: int, inputs: int = KEYS) -> int:
    """The recurrent layer's parameter count at ``units`` units, on ``inputs`` (the 88 keys)."""
    return variants.param_count(variant, inputs, units)


def layer_params(variant: str, speech: bool = False) -> int:
    """The recurrent layer's parameter count at the units this config gives ``variant``."""
    inputs = SPEECH_INPUTS if speech else KEYS
    return recurrent_params(variant, matched_units(variant, speech), inputs)


def matched_units(variant: str, speech: bool = False) -> int:
    """Table 1's units, or the hidden size closest to the GRU's recurrent parameter count.
    MUT1 and MUT2 add the input unweighted to the state, so their units are the inputs (88
    keys; 20 samples): they cannot be matched (music: mut1 31,240 and mut2 38,984 recurrent
    parameters, against 18,630)."""
    units, inputs = (SPEECH_UNITS, SPEECH_INPUTS) if speech else (UNITS, KEYS)
    if variant in units:
        return units[variant]
    if getattr(variants.get(variant).family, "needs_square", False):
        return inputs
    budget = recurrent_params("gru", units["gru"], inputs)
    # Bisection: a layer's count grows with its units (minGRU's only linearly: ~4,000 units).
    lo, hi = 1, 1 << 14
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if recurrent_params(variant, mid, inputs) < budget else (lo, mid)
    return min(
        (max(lo - 1, 1), lo), key=lambda n: abs(recurrent_params(variant, n, inputs) - budget)
    )


def get_config(arg: str = "gru,jsb"):
    variant, name, modifiers = parse_arg(
        arg, SETS + SPEECH, ("reduced", "quick", "smoke", "librnn")
    )
    speech = name in SPEECH
    c = default_config()
    c.model.variant = variant
    c.model.features = matched_units(variant, speech)
    c.model.init = "uniform"
    c.data.name = name
    c.data.batch_size = 8
    c.data.eval_batch_size = 64
    c.optimizer.name = "rmsprop"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.decay = 0.95
    c.optimizer.momentum = 0.9
    c.optimizer.eps = 1e-6
    c.optimizer.grad_clip_norm = 1.0
    c.train.weight_noise = 0.075
    c.train.num_epochs = 100
    c.train.early_stopping_patience = 20
    c.train.log_every_steps = 100
    if speech:
        c.model.mixture_components = 20
        c.data.options.num_sequences, c.data.options.sequence_samples = SPEECH_SIZES[name]
        c.paper.source = (
            f"Chung et al. 2014, Table 2, Ubisoft {name[-1].upper()}: a different (private) data "
            f"set, so no number to match; only the orderings compare (PAPER_UBISOFT)"
        )
    else:
        c.paper.test = PAPER_TEST[name].get(variant)
        c.paper.source = "Chung et al. 2014, Table 2 (test NLL per time step)"
    if "librnn" in modifiers:  # as Chung's released code trained (PAPERS.md §1.5)
        c.data.batch_size = 1
        c.optimizer.schedule = "linear"
        c.train.num_epochs = 150
        c.train.early_stopping_patience = 30
    if "reduced" in modifiers:
        c.train.num_epochs = 20
        c.train.early_stopping_patience = 5
    if "quick" in modifiers:
        c.train.num_epochs = 30
    if "smoke" in modifiers:
        c.model.features = 8
        c.train.num_epochs = 1
        c.data.eval_batch_size = 8
        if speech:  # 24 / 3 / 3 sequences, 48 steps each
            c.data.options.num_sequences, c.data.options.sequence_samples = 30, 500
    c.lock()
    return c
