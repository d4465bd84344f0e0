"""py-spy on running bot processes: raw stacks, one file per process, for one measured phase only.

Shared by throughput.py and scaleout.py (`--py-spy DIR`), so a profile shows what the measured updates
cost and nothing of the start or the preparation. py-spy is a development tool, not a dependency:
`pip install py-spy` into the virtualenv first.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from pathlib import Path

OPTIONS = ["--rate", "200", "--format", "raw", "--nonblocking"]


def record(outputs: dict[int, Path]) -> list[subprocess.Popen[bytes]]:
    """Start py-spy on each process id, writing its stacks to the given file."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    for output in outputs.values():
        output.parent.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [spy, "record", "--pid", str(pid), *OPTIONS, "--output", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, output in outputs.items()
    ]


async def stop(spies: list[subprocess.Popen[bytes]]) -> None:
    """Stop the recordings; py-spy writes its profile on SIGINT."""
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        await asyncio.to_thread(spy.wait, 30)
