"""Dey & Salem 2017, gate variants of the GRU: MNIST row-wise and pixel-wise, IMDB sentiment.

    # One run:
    python experiments/train.py --config=configs/dey_salem.py:gru2,mnist_row --workdir=/tmp/r
    # A paper table: GRU0-3 (plus LSTM and tanh) at both learning rates, 3 seeds each:
    python experiments/compare.py --config=configs/dey_salem.py:mnist_row \\
        --variants=gru,gru1,gru2,gru3,lstm,tanh --learning_rates=1e-3,1e-4 --seeds=3 \\
        --workdir=results/dey_salem/mnist_row
    # Pixel-wise MNIST, the paper's table at the TCN paper's 10-epoch budget (CPU-hours, in the
    # background; one variant per process, its two rates stacked, finished runs recorded):
    python experiments/compare.py --config=configs/dey_salem.py:mnist_pixel \\
        --config.train.num_epochs=10 --variants=gru1 --learning_rates=1e-3,1e-4 --seeds=1 \\
        --max_stack=2 --records=results/dey_salem/mnist_pixel_10epochs/runs --workdir=<runs>/gru1
    # (the same with --seeds=3 --select_seeds=1 adds seeds 1 and 2)
    # The GRU3 claim (Fig. 3): lr 1e-4, 100 epochs (its metrics.jsonl also gives epoch 10):
    python experiments/compare.py --config=configs/dey_salem.py:mnist_pixel \\
        --variants=gru3 --learning_rates=1e-4 --seeds=1 \\
        --workdir=<runs>/mnist_pixel_gru3_100epochs

Argument: ``[<variant>,]<task>[,reduced|smoke]``, task one of mnist_row (28 steps of 28
pixels), mnist_pixel (784 steps of 1), imdb; data from ``../shared/data`` (or
--config.data.data_dir / $GRUVAR_DATA_DIR; TFDS when prepared).

The paper's text and tables were not reachable (PAPERS.md §3); every setting below is our
choice, after §3.3 (Keras' examples of the time, which the paper's numbers most likely came
from):
- One recurrent layer of 100 units (MNIST) or 128 (IMDB, after a 20,000 x 128 embedding),
  then Dense(10) + softmax or Dense(1) + sigmoid. Variants: gru (GRU0), gru1, gru2, gru3;
  lstm and tanh at the same width for reference.
- RMSprop (rho 0.9, eps 1e-7; Keras' defaults), batch 32, no clipping, no dropout. Learning
  rates 1e-3 (Keras' "constant base" rate) and 1e-4; the table keeps, per variant and seed,
  the rate with the better validation accuracy (5,000 training images / reviews held out),
  and ``results_by_lr.md`` shows every rate.
- Keras initialisers (glorot-uniform W, orthogonal U, zero b) and sigmoid gates
  (``--config.model.gate=hard_sigmoid`` for Keras <= 2.2's default).
- Epochs: 100 on MNIST (the paper's Fig. 3 runs 100), 15 on IMDB (Keras' imdb_lstm example);
  the best-validation evaluation's test accuracy is reported.
- IMDB: top 20,000 words, the last 80 tokens of each review, padding masked.

The one published number we have: GRU3 on pixel-wise MNIST reached 59.6% test accuracy after
100 epochs at lr 1e-4 "and below" (``paper.test`` of gru3,mnist_pixel; §3.4). The others are
qualitative: GRU1 and GRU2 perform about as well as GRU0; GRU3 lags on pixel-wise MNIST at
the base rate and improves at 1e-4.

Modifiers: ``reduced`` is what this project's 2-core CPU affords in one session beside the
music runs: mnist_row 10 epochs, imdb 5, mnist_pixel 10 epochs on 5,000 training images
(validation 1,000; the test set whole).
``smoke`` shrinks everything for tests.

Wall time on the 2-core CPU: mnist_row about 10 s per epoch (100 epochs: ~17 minutes), imdb
about 15 s per epoch. mnist_pixel is CPU-hours, not a GPU job, and this VM's speed varies about
2x between days (every model in ``benchmarks/recurrence.py`` took twice as long on 2026-12-02 as
in the 2026-11-26 table). Measured: gru3 83-95 s per full epoch beside one other job on a fast
day (100 epochs ~2.5 hours), 81 ms a step alone on a slow one (100 epochs ~4 hours, more than
one 3-hour session); gru at both rates stacked, 10 epochs, 7,461 s beside a second job on the
slow day; gru3 the same, 3,298 s on one core pinned with XLA single-threaded beside a second
such job (README, "Two long jobs on a small CPU"). A run that cannot finish within a session is
lost with it: use ``--records`` (finished runs are kept) and one variant per process. On a GPU:
not measured (no GPU lent; benchmarks/accelerator.py times an epoch when one is).
"""

from gruvar.training.config import default_config, parse_arg

TASKS = ("mnist_row", "mnist_pixel", "imdb")
# The single number the paper's reachable text gives (PAPERS.md §3.2): GRU3, pixel-wise MNIST,
# lr <= 1e-4, test accuracy after 100 epochs.
PAPER_TEST = {("gru3", "mnist_pixel"): 0.596}


def get_config(arg: str = "gru,mnist_row"):
    variant, task, modifiers = parse_arg(arg, TASKS, ("reduced", "smoke"))
    c = default_config()
    c.model.variant = variant
    c.model.features = 128 if task == "imdb" else 100
    c.model.init = "keras"
    c.data.name = task
    c.data.batch_size = 32
    c.data.eval_batch_size = 500
    c.optimizer.name = "rmsprop"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.decay = 0.9
    c.optimizer.eps = 1e-7
    c.train.num_epochs = 100
    c.train.log_every_steps = 200
    if task == "imdb":
        c.model.embed_dim = 128
        c.data.options.num_words = 20000
        c.data.options.maxlen = 80
        c.train.num_epochs = 15
    c.paper.test = PAPER_TEST.get((variant, task))
    if c.paper.test is not None:
        c.paper.source = "Dey & Salem 2017, text on Fig. 3 (GRU3 at lr <= 1e-4, 100 epochs)"
    if "reduced" in modifiers:
        c.train.num_epochs = {"mnist_row": 10, "mnist_pixel": 10, "imdb": 5}[task]
        if task == "mnist_pixel":
            c.data.options.num_train = 5000
            c.data.options.num_validation = 1000
    if "smoke" in modifiers:
        c.model.features = 8
        c.train.num_epochs = 1
        c.data.eval_batch_size = 100
        if task == "imdb":
            c.model.embed_dim = 8
            c.data.options.num_words = 500
            c.data.options.maxlen = 20
        else:
            c.data.options.num_train = 64
    c.lock()
    return c
