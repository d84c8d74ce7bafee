"""Long commands as jobs: their state from files alone, progress read as it comes."""

import json

from booth import jobs
from tests.conftest import mode, wait_until


def test_events_are_read_incrementally_and_torn_lines_wait(tmp_path):
    j = jobs.job(tmp_path, "x")
    j.folder.mkdir(parents=True)
    assert j.events() == [] and j.state() == "none"
    j.progress.write_text(json.dumps({"event": "a"}) + "\n" + '{"event": "b"')
    assert [e["event"] for e in j.events()] == ["a"]
    with open(j.progress, "a") as fh:
        fh.write(', "n": 1}\n' + json.dumps({"event": "c"}) + "\n")
    assert [e["event"] for e in j.events()] == ["a", "b", "c"]
    j.record.write_text("pid: 2\nstart: '5'\n")  # the job started again: its new record,
    j.progress.unlink()  # a new file, longer than the old
    j.progress.write_text("".join(json.dumps({"event": f"new{k}"}) + "\n" for k in range(9)))
    assert [e["event"] for e in j.events()] == [f"new{k}" for k in range(9)]


def test_a_failing_command_is_failed_with_its_log(tmp_path):
    j = jobs.start(tmp_path / "work", "listing", ["sessions", "list", str(tmp_path / "none")])
    wait_until(lambda: j.state() != "running", "the command to end", 60)
    assert j.state() == "failed" and j.exit_code() != 0
    assert any("no such sessions folder" in line for line in j.log_tail())
    assert mode(j.log) == 0o600 and mode(j.record) == 0o600
    again = jobs.job(tmp_path / "work", "listing")  # another reader: the same state
    assert again.state() == "failed" and again.meta()["argv"][0] == "sessions"


def test_a_job_that_vanished_without_an_exit_status_is_stopped(tmp_path):
    j = jobs.job(tmp_path, "gone")
    j.folder.mkdir(parents=True)
    j.record.write_text("name: gone\nargv: [train]\npid: 999999999\nstart: '1'\n")
    assert j.state() == "stopped" and not j.stop()
    j.record.write_text("name: gone\nargv: [train]\n")  # a record without its process id
    assert j.state() == "none"
