"""The ``binance-futures-availability`` command from the wheel: the console script and
``python -m binance_futures_availability`` run the same Rust ``main`` as the standalone binary,
in this process (ADR 0016), so a ``pip install`` needs no Rust toolchain."""

from __future__ import annotations

import signal
import sys

from . import _native


def main() -> None:
    # The command stops itself on Ctrl-C and SIGTERM (a run commits what it gathered and exits
    # 0). Python's own SIGINT handler would see the same Ctrl-C and raise KeyboardInterrupt after
    # the command had already stopped cleanly; with the default action the console script
    # behaves as the binary does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.main(["binance-futures-availability", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
