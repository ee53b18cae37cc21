"""The same math gives the same values on NumPy, under jax.jit, and on torch tensors.

float64 backends agree to 1e-12; JAX computes in float32 by default, where a
step of 120 and rates of order 0.5 carry a rounding error of about 1e-7.
"""

import numpy as np
import pytest
from schedule_cases import CASES, STEPS


@pytest.mark.parametrize("name", CASES)
def test_jax_jit_equals_numpy(name):
    jax = pytest.importorskip("jax")
    from cyclr.jax import JAX_OPS, optax_schedule

    s = CASES[name]
    got = np.asarray(jax.jit(optax_schedule(s))(jax.numpy.arange(STEPS)))
    np.testing.assert_allclose(got, s(np.arange(STEPS)), rtol=2e-6, atol=1e-7)
    one = jax.jit(optax_schedule(s))(jax.numpy.int32(37))
    assert float(one) == pytest.approx(s(37), rel=2e-6)
    if s.has_momentum:
        m = jax.jit(lambda c: s.momentum_at(JAX_OPS.asfloat(c), JAX_OPS))(jax.numpy.arange(STEPS))
        np.testing.assert_allclose(np.asarray(m), s.momentum(np.arange(STEPS)), rtol=2e-6)


@pytest.mark.parametrize("name", CASES)
def test_torch_tensors_equal_numpy(name):
    torch = pytest.importorskip("torch")
    from cyclr.torch._ops import TORCH_OPS

    s = CASES[name]
    got = s.lr_at(TORCH_OPS.asfloat(torch.arange(STEPS)), TORCH_OPS)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), s(np.arange(STEPS)), rtol=1e-12, atol=1e-15)
    if s.has_momentum:
        m = s.momentum_at(TORCH_OPS.asfloat(torch.arange(STEPS)), TORCH_OPS)
        np.testing.assert_allclose(m.numpy(), s.momentum(np.arange(STEPS)), rtol=1e-12)


def test_jax_exp_range_far_into_the_run():
    jax = pytest.importorskip("jax")
    from schedule_cases import LONG_EXP_RANGE, LONG_STEPS

    from cyclr.jax import optax_schedule

    got = np.asarray(jax.jit(optax_schedule(LONG_EXP_RANGE))(jax.numpy.array(LONG_STEPS)))
    np.testing.assert_allclose(got, LONG_EXP_RANGE(np.array(LONG_STEPS)), rtol=2e-6)
