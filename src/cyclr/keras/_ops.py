"""The core's :class:`cyclr.ops.Ops` on ``keras.ops``: one definition for every Keras backend."""

from __future__ import annotations

from keras import ops as kops

from cyclr.ops import Ops

KERAS_OPS = Ops(
    name="keras",
    asfloat=lambda x: kops.cast(x, "float32"),
    floor=kops.floor,
    cos=kops.cos,
    exp=kops.exp,
    where=kops.where,
    clip=kops.clip,
)
