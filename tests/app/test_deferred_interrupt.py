"""Ctrl-C during training is raised between two steps (``DeferredInterrupt``)."""

import signal
import threading

import pytest

from cyclr.app.workflow import DeferredInterrupt


def ctrl_c():
    signal.raise_signal(signal.SIGINT)


@pytest.fixture
def python_handler():
    """SIGINT at Python's own handler (pytest and shells may hand down another)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_the_first_ctrl_c_waits_for_check_and_the_handler_is_put_back(python_handler):
    with DeferredInterrupt() as interrupt:
        ctrl_c()
        assert interrupt.pending  # recorded, not raised mid-step
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        assert not interrupt.pending
        interrupt.check()  # nothing pending: a no-op
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def twice():
    with DeferredInterrupt():
        ctrl_c()
        ctrl_c()
        pytest.fail("the second Ctrl-C did not stop the block")


def test_a_second_ctrl_c_raises_at_once(python_handler):
    with pytest.raises(KeyboardInterrupt):
        twice()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_still_pending_at_the_end_is_raised_there(python_handler):
    reached = []

    def block():
        with DeferredInterrupt():
            ctrl_c()
            reached.append("end of block")

    with pytest.raises(KeyboardInterrupt):
        block()
    assert reached == ["end of block"]


def test_an_error_in_the_block_is_not_replaced_by_a_pending_ctrl_c(python_handler):
    def block():
        with DeferredInterrupt():
            ctrl_c()
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        block()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("handler", [signal.SIG_IGN, "own"])
def test_an_ignored_sigint_or_the_callers_own_handler_is_left_alone(handler):
    seen = []
    own = handler if handler == signal.SIG_IGN else (lambda signum, frame: seen.append(signum))
    before = signal.signal(signal.SIGINT, own)
    try:
        with DeferredInterrupt() as interrupt:
            assert signal.getsignal(signal.SIGINT) is own
            ctrl_c()
            interrupt.check()  # nothing recorded: the caller's handler had it
        assert signal.getsignal(signal.SIGINT) is own
        assert seen == ([] if handler == signal.SIG_IGN else [signal.SIGINT])
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_the_main_thread_nothing_is_installed(python_handler):
    found = []

    def run():
        with DeferredInterrupt() as interrupt:
            found.append((interrupt._previous, signal.getsignal(signal.SIGINT)))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert found == [(None, signal.default_int_handler)]
