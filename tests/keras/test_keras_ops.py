"""The core's math on keras.ops tensors equals NumPy on this process's Keras backend."""

import pathlib
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

from schedule_cases import CASES, STEPS

from cyclr.keras._ops import KERAS_OPS


@pytest.mark.parametrize("name", CASES)
def test_keras_ops_equal_numpy(name):
    s = CASES[name]
    steps = keras.ops.arange(STEPS)
    got = keras.ops.convert_to_numpy(s.lr_at(KERAS_OPS.asfloat(steps), KERAS_OPS))
    # keras.ops computes in float32: about 1e-7 relative at these magnitudes.
    np.testing.assert_allclose(got, s(np.arange(STEPS)), rtol=2e-6, atol=1e-7)
    if s.has_momentum:
        m = keras.ops.convert_to_numpy(s.momentum_at(KERAS_OPS.asfloat(steps), KERAS_OPS))
        np.testing.assert_allclose(m, s.momentum(np.arange(STEPS)), rtol=2e-6)


def test_keras_exp_range_far_into_the_run():
    from schedule_cases import LONG_EXP_RANGE, LONG_STEPS

    steps = keras.ops.convert_to_tensor(LONG_STEPS)
    got = keras.ops.convert_to_numpy(LONG_EXP_RANGE.lr_at(KERAS_OPS.asfloat(steps), KERAS_OPS))
    np.testing.assert_allclose(got, LONG_EXP_RANGE(np.array(LONG_STEPS)), rtol=2e-6)
