"""One run directory's bookkeeping: checkpoints, best model, metrics log, early stopping.

The training loop (``gruvar.training.sweep.train_runs``) owns the compute; a ``Run`` owns what one
run writes: it restores or initialises the run's state, logs its train windows and evaluations,
keeps the best model by validation metric, checkpoints the model with the loop's own record
(best so far, evaluations since, elapsed time, early stop), and writes ``summary.json``.

``summary.json`` is written last, so its presence marks a run as done. Its ``status`` is
"complete" (all epochs), "stopped_early" (no validation improvement for
``config.train.early_stopping_patience`` evaluations) or "diverged" (a non-finite training
loss, parameters or optimizer state; no checkpoint it keeps has any).

A run directory is trained by one process at a time (``runlog.lock``). A finished run is
reused only for the config that made it, and an unfinished one resumes only with it
(``check_config``); a newest checkpoint that does not read back is passed over for the newest
one that does (``checkpoint.Checkpoints.restore_newest``).

A run given a ``record`` directory (``gruvar.training.records``) keeps its resume state there at
every checkpoint (``gruvar.training.resume``) and its record when it finishes, so it can resume in
another workdir, on another machine, from the record alone: it resumes from the newest state among
its own checkpoints and the record's.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from typing import Any

import ml_collections

from gruvar.core import variants
from gruvar.training import checkpoint, resume, runlog, steps
from gruvar.training import config as config_lib

# The validation metric that selects the best evaluation, and whether higher is better.
SELECT = {"classify": ("accuracy", True), "frames": ("nll", False), "density": ("nll", False)}

# Config fields that do not change what a run computes: where its data is read from (the
# loaders check its checksums) and how often it prints progress.
NOT_COMPUTED = ("data.data_dir", "train.progress_every_seconds")

# The field of config.json that keeps what ``model.variant`` named when the run trained (its
# canonical form: ``Variant.canonical``), so a name redefined since is not taken for the model.
VARIANT_FORM = "model.variant_form"


def finished_summary(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any] | None:
    """The summary.json of the run ``config`` finished in ``workdir``; None if no run finished
    there. ValueError if a run with another config did, or if the file is damaged."""
    path = os.path.join(workdir, "summary.json")
    if not os.path.exists(path):
        return None
    summary = runlog.read_json(
        path,
        "it marks the run as finished. Delete it and re-run the same command: the run resumes "
        "from its last checkpoint and writes it again.",
    )
    check_config(config, workdir, finished=True)
    return summary


def check_config(config: ml_collections.ConfigDict, workdir: str, finished: bool) -> None:
    """ValueError naming the changed fields if the run in ``workdir`` (``finished``, or one
    that would resume) was trained with another config. A field its config.json lacks (one
    added to gruvar later) counts as unchanged if ``config`` keeps it at its default."""
    path = os.path.join(workdir, "config.json")
    what = "a finished run" if finished else "a run to resume"
    if not os.path.exists(path):
        raise ValueError(
            f"{workdir} holds {what} but no config.json, so it cannot be checked against this "
            f"config. Train in a new --workdir, or move this run directory away."
        )
    saved = runlog.read_json(path, "move this run directory away to train it again.")
    changed = config_changes(saved, config)
    if not changed:
        return
    redefined = (
        f" The variant {config.model.variant!r} was {_lookup(saved, VARIANT_FORM)} when the run "
        f"trained, and is {variant_form(config.model.variant)} now."
        if VARIANT_FORM in changed
        else ""
    )
    advice = (
        "Its results are not this config's: train this config in a new --workdir, or move "
        "this run directory away to retrain it here."
        if finished
        else "Resume it with its own config, or choose a new --workdir."
    )
    raise ValueError(
        f"{workdir} holds {what} with a different config (changed: {changed}).{redefined} {advice}"
    )


def config_changes(saved: dict[str, Any], config: ml_collections.ConfigDict) -> list[str]:
    """The dotted fields in which ``config`` differs from a run's saved config.json.

    The variant is compared by what it is (``VARIANT_FORM``, the canonical form config.json
    keeps), so a name registered anew for another model is a change. A config.json written
    before gruvar kept that form (committed records, say) is compared by the name alone."""
    requested = json.loads(json.dumps(config.to_dict()))
    defaults = json.loads(json.dumps(config_lib.default_config().to_dict()))
    changed = []
    form = _lookup(saved, VARIANT_FORM)
    same_name = _lookup(saved, "model.variant") == config.model.variant
    if same_name and form is not _ABSENT and form != variant_form(config.model.variant):
        changed.append(VARIANT_FORM)  # (another name is a change of model.variant already)
    for field in runlog.diff(saved, requested):
        if field in NOT_COMPUTED or field == VARIANT_FORM:
            continue
        if _lookup(saved, field) is _ABSENT and _lookup(requested, field) == _lookup(
            defaults, field
        ):
            continue
        changed.append(field)
    return sorted(changed)


_ABSENT = object()


def _lookup(tree: dict[str, Any], field: str) -> Any:
    for part in field.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return _ABSENT
        tree = tree[part]
    return tree


def variant_form(name: str) -> str | None:
    """The canonical form of the variant ``name`` names now (None if it names none)."""
    try:
        return variants.get(name).canonical
    except (ValueError, TypeError):
        return None


def saved_config(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """``config`` as its run's config.json keeps it: with the variant's canonical form."""
    saved = json.loads(json.dumps(config.to_dict()))
    saved["model"]["variant_form"] = variant_form(config.model.variant)
    return saved


def checkpointed(state) -> dict[str, Any]:
    """The part of a train state a checkpoint holds (the rest is rebuilt from the config)."""
    return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


class Run:
    """The run in ``workdir`` trained with ``config`` (``kind``: the dataset's kind), recorded
    in ``keep`` if given (its record directory: ``gruvar.training.records``)."""

    def __init__(
        self,
        config: ml_collections.ConfigDict,
        workdir: str,
        kind: str,
        main: bool,
        keep: str | None = None,
    ):
        self.config, self.workdir, self.kind, self.main, self.keep = (
            config,
            workdir,
            kind,
            main,
            keep,
        )
        self.record = {"best": None, "evals_since_best": 0, "elapsed": 0.0, "stopped_early": False}
        self.best_params: Any = None  # the best model's, once saved or restored (for ``keep``)
        self.latest: dict[str, float] = {}
        self.t0 = time.time()  # wall-clock origin; a resumed run moves it back by its elapsed
        self.log: runlog.RunLog | None = None
        self.ckpts = self.best_ckpt = None
        # Nothing in the directory is read before it is ours (the lock is released by close()).
        self._lock = runlog.lock(workdir) if main else None
        try:
            self.summary = finished_summary(config, workdir)
            kept = self.summary is None and keep is not None and resume.steps(keep)
            if kept:  # another machine's resume state: for this config only
                check_config(config, keep, finished=False)
            ckpt_dir = os.path.join(workdir, "checkpoints")
            if self.summary is None and not kept and not os.path.isdir(ckpt_dir):
                _check_not_deleted(workdir)  # (the managers create checkpoints/ from the start)
            self.ckpts = checkpoint.Checkpoints(ckpt_dir, config.train.keep_checkpoints)
            # Two: a new best is saved before the checkpoint whose record names it, so a kill
            # between the two resumes from a record naming the best before, still kept.
            self.best_ckpt = checkpoint.Checkpoints(os.path.join(workdir, "best"), 2)
            if self.summary is None and self.ckpts.all_steps():
                check_config(config, workdir, finished=False)
        except BaseException:
            self.close()
            raise

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.workdir))

    def latest_step(self) -> int:
        """The newest step this run can resume from (after ``restore_newest``: the one it did)."""
        kept = resume.steps(self.keep) if self.keep and self.summary is None else []
        return max([self.ckpts.latest_step() or 0, *kept])

    def restore_newest(self, like: dict[str, Any]) -> int:
        """Restores the loop's record from the newest checkpoint that reads back, its own or its
        record's (a damaged newer one is passed over with a warning, and deleted with anything
        else after it); returns its step (0: none, a fresh run)."""
        kept = resume.steps(self.keep) if self.keep else []
        step = 0
        for candidate in sorted(kept, reverse=True):
            if candidate <= (self.ckpts.latest_step() or 0):
                break  # a checkpoint of the workdir's own is as new
            try:
                self._from_record(candidate, like)
                step = candidate
                break
            except resume.Damaged as err:
                self._drop_damaged(err, candidate)
        if not step:
            found = self.ckpts.restore_newest(like)
            step = found[0] if found else 0
            if found:
                self.record = found[2]
        if not step and kept:
            _warn(f"{self.keep}: no resume state reads back; the run starts again from step 0.")
        self.best_ckpt.discard_after(step)
        self.ckpts.discard_after(step)
        self._check_best(like)
        return step

    def _check_best(self, like: dict[str, Any]) -> None:
        """Checks that the best model the restored record names reads back from best/; if not,
        rebuilds it from the checkpoint of its step where one is kept, else warns that it is
        lost (and removes what is left of it)."""
        at = self.record["best"] and self.record["best"]["step"]
        if not at or self.best_params is not None:  # none yet, or just put back from a record
            return
        where = os.path.join(self.workdir, "best", str(at))
        if at in self.best_ckpt.all_steps():
            try:
                self.best_ckpt.restore(at, {"params": like["params"]})
                return
            except Exception as err:  # orbax and tensorstore raise many types for bad files
                why = checkpoint.first_line(err)
                problem = f"The best model {where} does not read back ({why})"
        else:
            problem = f"The best model of step {at} is missing from {os.path.dirname(where)}"
        if at in self.ckpts.all_steps():
            try:
                params = self.ckpts.restore(at, like)[0]["params"]
            except Exception:  # that checkpoint is damaged too: the model is lost
                pass
            else:
                if self.main:
                    self.best_ckpt.discard_after(0)
                    self.best_ckpt.save(at, {"params": params}, self.record)
                    self.best_ckpt.wait()
                _warn(f"{problem}; rebuilt it from checkpoints/{at}, which holds the same model.")
                return
        if self.main:
            self.best_ckpt.discard_after(0)
        _warn(
            f"{problem}, and no checkpoint holds step {at}'s model: the run's best model is "
            f"lost. Training goes on, and its summary keeps that evaluation's metrics, but "
            f"experiments/evaluate_best.py cannot evaluate this run unless a later evaluation "
            f"improves on it (the new best is saved). Retrain the run to get it back."
        )

    def restore(self, step: int, like: dict[str, Any]) -> dict[str, Any]:
        """The saved part of the state at checkpoint ``step`` (0: ``like`` itself, a fresh run);
        the loop's record comes back with it."""
        # Anything saved after ``step`` (a best model saved after the last checkpoint; in a
        # sweep, a run one checkpoint ahead of the others) is redone and saved again.
        self.best_ckpt.discard_after(step)
        self.ckpts.discard_after(step)
        if not step:
            return like
        if step in self.ckpts.all_steps():
            saved, self.record = self.ckpts.restore(step, like)
            return saved
        if self.keep and step in resume.steps(self.keep):
            try:
                return self._from_record(step, like)
            except resume.Damaged as err:
                raise ValueError(
                    f"{err}, and the other runs of its sweep resume at step {step}. Delete the "
                    f"file to train its sweep again from the newest step all its runs share."
                ) from None
        raise ValueError(
            f"{self.workdir} has checkpoints at steps {self.ckpts.all_steps()}, not at step "
            f"{step} where the other runs of its sweep resume. Move this run directory "
            f"away to retrain it, or resume it alone with experiments/train.py."
        )

    def _from_record(self, step: int, like: dict[str, Any]) -> dict[str, Any]:
        """The state kept in the record at ``step``; puts the record's metrics.jsonl (which
        reaches that step) and its best model into the workdir, for the run to go on from."""
        saved, loop, best = resume.load(self.keep, step, like, like["params"])
        self.record, self.best_params = loop, best
        if self.main:
            os.makedirs(self.workdir, exist_ok=True)
            runlog.copy_files(self.keep, self.workdir, ("metrics.jsonl",))
            at = loop["best"] and loop["best"]["step"]
            if best is not None and at and at not in self.best_ckpt.all_steps():
                self.best_ckpt.discard_after(0)
                self.best_ckpt.save(at, {"params": best}, loop)
                self.best_ckpt.wait()
        return saved

    def _drop_damaged(self, err: resume.Damaged, step: int) -> None:
        _warn(f"{err}; trying the state before it.")
        if self.main:
            os.remove(resume.path(self.keep, step))

    def finished_at(self, step: int, total: int) -> bool:
        return step == total or self.record["stopped_early"]

    def open_log(self, start: int) -> None:
        """Opens metrics.jsonl, cut back to ``start``; the newest metrics come back from it."""
        self.log = runlog.RunLog(
            self.workdir, saved_config(self.config), resume_step=start or None, write=self.main
        )
        for line in self.log.lines():
            prefix = {"train": "train_", "validation": "val_"}.get(line["split"])
            if prefix:
                self.latest |= {
                    f"{prefix}{k}": v for k, v in line.items() if k not in runlog.NOT_METRICS
                }

    def log_train(self, window: dict[str, float], step: int, per_epoch: int) -> None:
        """Logs the train window (metric sums, steps, Σ grad norm) that ends at ``step``."""
        n_steps = window.pop("steps")
        grad_norm = window.pop("grad_norm") / n_steps
        metrics = steps.metrics_from_sums(self.kind, window) | {"grad_norm": grad_norm}
        self._write("train", step, per_epoch, metrics)
        self.latest = {f"train_{k}": v for k, v in metrics.items()}

    def log_eval(self, results: dict[str, dict[str, float]], step: int, per_epoch: int) -> bool:
        """Logs validation and test metrics; updates the best so far and early stopping.
        Returns whether this evaluation is the new best (by validation metric only)."""
        for split, metrics in results.items():
            self._write(split, step, per_epoch, metrics)
        self.latest |= {f"val_{k}": v for k, v in results["validation"].items()}
        name, higher = SELECT[self.kind]
        value = results["validation"][name]
        best = self.record["best"] and self.record["best"]["validation"][name]
        improved = math.isfinite(value) and (
            best is None or (value > best if higher else value < best)
        )
        if improved:
            self.record["best"] = {"step": step, **results}
            self.record["evals_since_best"] = 0
        else:
            self.record["evals_since_best"] += 1
            patience = self.config.train.early_stopping_patience
            self.record["stopped_early"] = (
                patience is not None and self.record["evals_since_best"] >= patience
            )
        return improved

    def save_best(self, step: int, params: Any) -> None:
        """Committed before the checkpoint whose record points at it."""
        self.best_ckpt.save(step, {"params": params}, self.record)
        self.best_ckpt.wait()
        self.best_params = params

    def save(self, step: int, saved: dict[str, Any]) -> None:
        """Checkpoints ``saved`` at ``step``; what was logged up to it is on disk first. With a
        record directory, the state is kept there too (after the files it goes with)."""
        self.log.flush()
        self.record["elapsed"] = time.time() - self.t0
        self.ckpts.save(step, saved, self.record)
        if self.keep and self.main:
            at = self.record["best"] and self.record["best"]["step"]
            if self.best_params is None and at:  # resumed from the workdir's own checkpoint
                self.best_params = self.best_ckpt.restore(at, {"params": saved["params"]})[0][
                    "params"
                ]
            runlog.copy_files(self.workdir, self.keep, runlog.RECORD_FILES[:2])
            resume.save(self.keep, step, saved, self.record, self.best_params)

    def kept(self) -> str:
        """What a diverged run keeps, in words (every checkpoint it saved is finite)."""
        self.ckpts.wait()
        step = self.ckpts.latest_step()
        if step is None:
            return "It stopped before its first checkpoint, so none is kept."
        return f"Its last checkpoint, at step {step} (before the bad update), is kept."

    def finish(self, status: str, step: int, facts: dict[str, Any], error: str | None = None):
        """Writes summary.json (the run is done) once its checkpoints are committed, then
        releases the run (``close``)."""
        self.ckpts.wait()
        self.best_ckpt.wait()
        self.summary = {
            **facts,
            "status": status,
            "steps": step,
            "final": self.latest,
            "best": self.record["best"],
            **({"error": error} if error else {}),
        }
        if self.log is not None:
            self.log.summary(self.summary)
        if self.keep and self.main:  # the record of a finished run, then no resume state
            runlog.copy_files(self.workdir, self.keep, runlog.RECORD_FILES)
            resume.clear(self.keep)
        self.close()

    def close(self) -> None:
        """Waits for pending saves, releases the checkpoint managers and the directory's lock;
        a second call does nothing."""
        for ckpts in (self.ckpts, self.best_ckpt):
            if ckpts is not None:
                ckpts.close()
        self.ckpts = self.best_ckpt = None
        if self.log is not None:
            self.log.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _write(self, split, step, per_epoch, metrics) -> None:
        record = {"split": split, "step": step, "epoch": step / per_epoch}
        self.log.write(record | {"wall_time": time.time() - self.t0} | metrics)


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _check_not_deleted(workdir: str) -> None:
    """A run that logged metrics had a checkpoints/ directory: without it, it cannot resume,
    and starting again at step 0 would cut its metrics.jsonl."""
    logged = runlog.read_metrics(os.path.join(workdir, "metrics.jsonl"))
    if logged:
        raise ValueError(
            f"{workdir} has metrics.jsonl up to step {max(r['step'] for r in logged)} but no "
            f"checkpoints/ directory (deleted?), so it cannot resume. Put checkpoints/ back to "
            f"resume it, or move the run directory away (or delete its metrics.jsonl) to train "
            f"it again from step 0."
        )
