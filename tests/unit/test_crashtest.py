"""Setup and teardown killed (SIGKILL) at random instants converge on the next run (issue 12)."""

from pathlib import Path

import pytest

from fexpkg import confined as rootfs
from fexpkg.dev import crashtest

FIXTURE = Path(__file__).parents[1] / "fixtures/roots/fex-installed"


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named-temporaries"])
def test_killed_runs_converge(tmp_path, monkeypatch, unnamed):
    """100 rounds each way (setup killed, setup, teardown killed, teardown), 4 and 16 KiB."""
    if not unnamed:
        monkeypatch.setattr(rootfs, "_unnamed_file", lambda dir_fd: None)
    outcome = crashtest.run_rounds(FIXTURE, tmp_path / "root", (4096, 16384), 100, seed=12)
    assert outcome.bad == []
    assert outcome.rounds == 100
    # About 60% of the 200 runs are killed in flight on an idle machine; load shifts it.
    assert outcome.kills >= 40, "runs should be killed in flight, not only after their end"
    assert (tmp_path / "root" / crashtest.CONFIG).read_bytes() == crashtest.USER_CONFIG
