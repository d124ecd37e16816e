"""Generated tasks that check the training spine in seconds, with no data files.

    python experiments/train.py --config=configs/synthetic.py:gru,parity --workdir=/tmp/parity
    python experiments/train.py --config=configs/synthetic.py:lstm,shift,smoke --workdir=/tmp/s

Argument: ``[<variant>,]<task>[,smoke]``; variant (default gru) any registered name or spec
(e.g. gru3, "gru:z=hb,r=xhb"), task ``parity`` (classify the parity of up to 8 bits) or ``shift``
(predict the next frame of a rotating 8-bit pattern; NLL per step, like the music tasks).
Expected time on a 2-core CPU: ~20 s (parity, 30 epochs), ~3 s with ``smoke``.
"""

from gruvar.training.config import default_config, parse_arg

TASKS = {
    "parity": {"features": 32, "epochs": 30, "lr": 3e-3},
    "shift": {"features": 32, "epochs": 20, "lr": 3e-3},
}


def get_config(arg: str = "gru,parity"):
    variant, task, modifiers = parse_arg(arg, TASKS)
    c = default_config()
    c.model.variant = variant
    c.model.features = TASKS[task]["features"]
    c.data.name = task
    c.data.batch_size = 32
    c.optimizer.learning_rate = TASKS[task]["lr"]
    c.train.num_epochs = TASKS[task]["epochs"]
    c.train.log_every_steps = 16
    if "smoke" in modifiers:
        c.model.features = 8
        c.data.options.num_train = 64
        c.data.options.num_eval = 32
        c.data.batch_size = 16
        c.train.num_epochs = 2
        c.train.log_every_steps = 2
    c.lock()
    return c
