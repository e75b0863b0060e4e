"""Training: the loop (`loop`), one step with its schedule, precision and weight average (`step`), the time
budget (`budget`), the screening of initial weights (`screening`), and the run folder's files (`run_files`).

``from shsep.train import train`` is the entry point; the readers below are what the notebooks use.
"""
from .loop import pick_device, train
from .run_files import (BEST_NAME, CHECKPOINT_NAME, LOG_NAME, RUN_INFO_NAME, read_run_config, read_training_log,
                        read_validation_log)
from .screening import TRIALS_NAME, read_trial_logs, read_trials, trial_loss
from .step import WeightAverage, learning_rate_at, pick_precision

__all__ = ["train", "pick_device", "BEST_NAME", "CHECKPOINT_NAME", "LOG_NAME", "RUN_INFO_NAME", "TRIALS_NAME",
           "read_run_config", "read_training_log", "read_validation_log", "read_trials", "read_trial_logs", "trial_loss",
           "WeightAverage", "learning_rate_at", "pick_precision"]
