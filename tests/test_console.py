"""The console chat end to end: a real `stretchbot console` subprocess, typed input, real timers.

A tiny time scale makes a 30 s hold take a few milliseconds, so these tests wait on output, not on
clocks. Each read has a timeout, so a hang fails instead of blocking the suite.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from dialogs.content import load_content

CONTENT = load_content()
TIME_SCALE = "0.002"


class Console:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""

    @classmethod
    async def start(cls, db_path, *args: str, user: str = "tester") -> Console:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "STRETCHBOT_TIME_SCALE": TIME_SCALE}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "console", "--user", user, *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
        return cls(process)

    async def expect(self, text: str, timeout: float = 10) -> str:
        """Read until `text` appears in the output that came after the last expect."""
        async def read() -> str:
            while text not in self.output:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"console exited before {text!r}:\n{self.output[-2000:]}")
                self.output += chunk.decode()
            before, _, after = self.output.partition(text)
            self.output = after
            return before + text
        try:
            return await asyncio.wait_for(read(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {timeout}s; output so far:\n{self.output[-2000:]}") from None

    async def type(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def close(self) -> int:
        if self.process.returncode is None:
            self.process.stdin.close()
        return await asyncio.wait_for(self.process.wait(), 10)


async def answer_triage(console: Console) -> None:
    """The safety screen, typed as a person would: the two lists, the pain score, kneeling."""
    for answer in ("none of these", "no"):
        await console.expect(CONTENT.t("group_ask_self"))
        await console.expect(CONTENT.t("label_group_no"))
        await console.type(answer)
    await console.expect(CONTENT.triage.score.text.self_)
    await console.type("2")  # a score of 2 (the score screen has no number keys)
    await console.expect(CONTENT.triage.kneeling.text.self_)
    await console.type("no")


async def test_a_full_routine_in_the_console(tmp_path):
    console = await Console.start(tmp_path / "bot.db")
    await console.expect("[1] Start stretching")
    await console.type("1")
    await answer_triage(console)
    await console.expect("Which routine")
    await console.type(CONTENT.routines["lower5"].title)
    for stretch_id in CONTENT.routines["lower5"].stretches:
        stretch = CONTENT.stretches[stretch_id]
        for _ in stretch.holds():
            await console.expect("Press Ready")
            await console.type("ready")
            await console.expect("[0] It hurts")  # the hold screen: pain keeps its key
            await console.expect(CONTENT.t(f"release_{stretch.mode}", count=stretch.count))
        await console.expect(CONTENT.t("checkin_self"))
        await console.type("1")  # Good
    summary = await console.expect(CONTENT.t("score_after"))
    assert f"You did {len(CONTENT.routines['lower5'].stretches)} stretches" in summary
    await console.type("2")  # the back score afterwards: a number, never a key
    await console.expect("Would you like a daily reminder")
    assert await console.close() == 0


async def whole_routine(console: Console, routine_id: str) -> str:
    """Start stretching, screen safely, do every hold of the routine and each check-in, answer the score
    afterwards; returns everything the terminal printed meanwhile."""
    said = [await console.expect("[1] Start stretching")]
    await console.type("1")
    await answer_triage(console)
    said.append(await console.expect("Which routine"))
    await console.type(CONTENT.routines[routine_id].title)
    for stretch_id in CONTENT.routines[routine_id].stretches:
        stretch = CONTENT.stretches[stretch_id]
        for _ in stretch.holds():
            said.append(await console.expect("Press Ready"))
            await console.type("ready")
            said.append(await console.expect(CONTENT.t(f"release_{stretch.mode}", count=stretch.count)))
        said.append(await console.expect(CONTENT.t("checkin_self")))
        await console.type("1")  # Good
    said.append(await console.expect(CONTENT.t("score_after")))
    await console.type("2")
    said.append(await console.expect("Would you like a daily reminder"))
    return "".join(said)


async def test_two_consoles_on_one_database_each_get_only_and_all_their_own_cues(tmp_path):
    # two terminals on one SQLite file, routines running at the same time: each scheduler fires only its
    # own user's timers and each terminal prints only its own messages, so neither sees (or uses up) the
    # other's hold cues
    db = tmp_path / "bot.db"
    alice = await Console.start(db, "--time-scale", "0.05", user="alice")  # holds of ~1 s: they overlap
    bob = await Console.start(db, "--time-scale", "0.05", user="bob")
    try:
        said = dict(zip(("alice", "bob"), await asyncio.gather(whole_routine(alice, "lower5"),
                                                              whole_routine(bob, "nokneel")), strict=True))
    finally:
        codes = [await alice.close(), await bob.close()]
    said["alice"] += alice.output  # whatever came after the last expected line, up to the exit
    said["bob"] += bob.output
    assert codes == [0, 0]
    for user, routine_id, other in (("alice", "lower5", "nokneel"), ("bob", "nokneel", "lower5")):
        stretches = [CONTENT.stretches[s] for s in CONTENT.routines[routine_id].stretches]
        holds = sum(len(s.holds()) for s in stretches)  # every hold here is 20 s or longer: a halfway each
        halfways = {CONTENT.t(f"halfway_{s.mode}") for s in stretches}
        releases = {CONTENT.t(f"release_{s.mode}", count=s.count) for s in stretches}
        assert sum(said[user].count(text) for text in halfways) == holds, f"{user}: a halfway cue missing or foreign"
        assert sum(said[user].count(text) for text in releases) == holds, f"{user}: a release cue missing or foreign"
        foreign = set(CONTENT.routines[other].stretches) - set(CONTENT.routines[routine_id].stretches)
        assert not [s for s in foreign if CONTENT.stretches[s].title in said[user]], f"{user} saw {other}'s stretches"


async def test_pain_mid_hold_ends_with_referral_and_no_more_cues(tmp_path):
    console = await Console.start(tmp_path / "bot.db", "--time-scale", "0.05")  # a hold lasts long enough to interrupt
    await console.expect("[1] Start stretching")
    await console.type("start stretching")
    await answer_triage(console)
    await console.expect("Which routine")
    await console.type(CONTENT.routines["gentle"].title)
    await console.expect("Press Ready")
    await console.type("ready")
    await console.expect("Hold for")
    await console.type("ouch that hurts")
    referral = await console.expect(CONTENT.triage.pain_stop[:60])
    assert "⚠️" in referral.splitlines()[-1], "a referral is marked"
    await console.type("/help")  # a marker: anything said before it arrives was said after the referral
    after = await console.expect("Commands:")
    assert "Release" not in after and "Halfway" not in after
    await asyncio.sleep(0)
    assert await console.close() == 0


async def test_the_same_number_twice_never_turns_ready_into_it_hurts(tmp_path):
    console = await Console.start(tmp_path / "bot.db", "--time-scale", "0.05")
    await console.expect("[1] Start stretching")
    await console.type("1")
    await answer_triage(console)
    await console.expect("Which routine")
    await console.type("1")
    await console.expect("[1] Ready")
    await console.type("1")  # Ready
    await console.expect("[0] It hurts")
    await console.type("1")  # not a key on the hold screen: asked, never taken as pain
    asked = await console.expect(CONTENT.t("unsure"))
    assert CONTENT.triage.pain_stop[:40] not in asked
    assert await console.close() == 0


async def test_quit_mid_routine_and_resume_after_a_restart(tmp_path):
    db = tmp_path / "bot.db"
    console = await Console.start(db, "--time-scale", "0.05")  # the first hold releases about 1 s after it starts
    await console.expect("[1] Start stretching")
    await console.type("1")
    await answer_triage(console)
    await console.expect("Which routine")
    await console.type("1")
    await console.expect("Press Ready")
    await console.type("ready")
    await console.expect("Hold for")
    assert await console.close() == 0  # EOF quits cleanly mid-hold, before the release cue

    console = await Console.start(db, "--time-scale", "0.05")
    await console.expect("Welcome back")
    resumed = await console.expect("Press Ready")  # after the release, the next hold (other side) is offered
    assert resumed.count("Release") == 1  # the stored cue fired once, after the restart
    assert await console.close() == 0


async def test_ctrl_c_exits_cleanly(tmp_path):
    console = await Console.start(tmp_path / "bot.db")
    await console.expect("you>")
    console.process.send_signal(signal.SIGINT)
    code = await asyncio.wait_for(console.process.wait(), 10)
    rest = (await console.process.stdout.read()).decode()
    assert code == 0 and "Traceback" not in console.output + rest


@pytest.mark.parametrize("env, message", [
    ({"STRETCHBOT_TIME_SCALE": "fast"}, "STRETCHBOT_TIME_SCALE: 'fast' is not a number"),
    ({"DATABASE_URL": "mysql://x"}, "mysql"),
])
async def test_bad_configuration_is_one_clear_line(tmp_path, env, message):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env={**os.environ, **env})
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert message in err.decode() and len(err.decode().strip().splitlines()) == 1 and "Traceback" not in err.decode()


async def test_check_content_prints_a_summary_or_the_precise_error(tmp_path):
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "check-content",
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0 and "content OK" in out.decode() and "routine lower5" in out.decode()

    broken = tmp_path / "content"
    broken.mkdir()
    from dialogs.content import DEFAULT_CONTENT_DIR
    for source in DEFAULT_CONTENT_DIR.glob("*.yaml"):
        (broken / source.name).write_text(source.read_text())
    stretches = (broken / "stretches.yaml").read_text()
    first_hold = stretches.index("    hold_seconds:") + 4
    line_end = stretches.index("\n", first_hold)
    (broken / "stretches.yaml").write_text(stretches[:first_hold] + "hold_seconds: 500" + stretches[line_end:])
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "check-content", "--content",
                                                   str(broken), stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 2
    assert err.decode().strip() == (f"stretchbot: {broken}/stretches.yaml: stretches[0].hold_seconds: "
                                    "input should be less than or equal to 120")
