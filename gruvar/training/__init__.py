"""The training spine: the config, the model and its jitted steps, one run directory (run,
runlog, checkpoint, resume, records), K runs in one program (sweep), train_and_evaluate, devices.
Imports gruvar.core, gruvar.linen and gruvar.data; never gruvar.nnx or gruvar.comparison."""
