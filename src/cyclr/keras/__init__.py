"""cyclr for Keras 3 (TensorFlow, JAX and PyTorch backends).

- :class:`CyclicLR`: bckenstler's callback, reading the step from the optimizer; it
  puts the lr (and momentum) into Keras' logs for TensorBoard and ``CSVLogger``.
- :class:`LogLearningRate`: the same logging for a schedule inside the optimizer.
- :class:`CyclicalLearningRate`, :class:`OneCycleSchedule`, :class:`KerasSchedule`:
  ``LearningRateSchedule`` objects computed in the graph, saved in ``.keras`` files.
- :class:`SGD`, :class:`Adam`, :class:`AdamW`: Keras' optimizers with a momentum
  (``beta_1``) schedule, for cyclical momentum.
- :class:`LRFinder` and :func:`find_lr`: the learning-rate range test.

Importing this module registers the schedules and optimizers with Keras, so
``keras.models.load_model`` finds them without ``custom_objects``.
"""

from cyclr._extras import require

require("cyclr.keras", "keras")  # one clear line, not a traceback from deep inside

from cyclr.keras._ops import KERAS_OPS
from cyclr.keras.callbacks import CyclicLR, LogLearningRate
from cyclr.keras.finder import LRFinder, find_lr
from cyclr.keras.optimizers import SGD, Adam, AdamW
from cyclr.keras.schedules import CyclicalLearningRate, KerasSchedule, OneCycleSchedule

__all__ = [
    "KERAS_OPS",
    "SGD",
    "Adam",
    "AdamW",
    "CyclicLR",
    "CyclicalLearningRate",
    "KerasSchedule",
    "LRFinder",
    "LogLearningRate",
    "OneCycleSchedule",
    "find_lr",
]
