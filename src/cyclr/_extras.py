"""Optional dependencies: which extra brings which package, and one clear error for a missing one.

No framework is imported here; only whether it could be.
"""

from __future__ import annotations

import importlib.util

#: The import names each extra of ``pip install "cyclr[EXTRA]"`` provides.
EXTRAS: dict[str, tuple[str, ...]] = {
    "plot": ("matplotlib",),
    "torch": ("torch",),
    "keras": ("keras",),
    "jax": ("jax", "optax"),
    "app": ("matplotlib", "sklearn", "mnist1d", "tqdm", "PIL"),
    "lightning": ("torch", "lightning"),
    "hf": ("torch", "transformers", "accelerate"),
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def missing(*extras: str) -> list[str]:
    """The extras among ``extras`` with a package that cannot be imported.

    Args:
      *extras: names of :data:`EXTRAS`.

    Returns:
      Those not fully installed, in the order given.

    Raises:
      ValueError: an unknown extra, naming it.
    """
    unknown = [e for e in extras if e not in EXTRAS]
    if unknown:
        raise ValueError(f"extras must be among {sorted(EXTRAS)}; received {unknown!r}")
    return [e for e in extras if any(_absent(name) for name in EXTRAS[e])]


def require(what: str, *extras: str) -> None:
    """Raise :class:`MissingExtra` unless every package of ``extras`` can be imported.

    Args:
      what: what needs them, for the message (``"cyclr.torch"``, ``"cyclr train"``).
      *extras: names of :data:`EXTRAS`.

    Raises:
      MissingExtra: one line naming the missing packages and the ``pip install`` to run.

    >>> require("the core")          # nothing needed, nothing raised
    """
    lacking = missing(*extras)
    if lacking:
        packages = sorted({n for e in lacking for n in EXTRAS[e] if _absent(n)})
        raise MissingExtra(
            f"{what} needs {', '.join(packages)}, which "
            f"{'is' if len(packages) == 1 else 'are'} not installed: "
            f'pip install "cyclr[{",".join(lacking)}]"'
        )


def _absent(name: str) -> bool:
    return importlib.util.find_spec(name) is None
