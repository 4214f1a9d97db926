"""The cluster profile against the real servers (one cluster, see conftest.py), in this order:
load across two instances, case limits, WeChat retries and socket.io across instances, a human
handoff across instances, the action server down, PostgreSQL down, Redis down, an instance
killed under load, and every Tongban process restarted. Each test states its bound; all
traffic stays on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time

import aiohttp
import sqlalchemy

from tests.cluster.conftest import (
    ROOT,
    start_postgres,
    start_redis,
    stop_postgres,
    stop_redis,
)
from tongban.channels.server import ACTIONS_UNAVAILABLE_REPLY, NO_ANSWER_REPLY, UNAVAILABLE_REPLY
from tongban.cluster import BIN

MESSAGES = [
    "我是江西人，在深圳打工，能领结婚证吗？要带什么？", "异地就医备案怎么办", "换驾照要带什么材料",
    "宜昌能领结婚证吗", "社保卡丢了怎么办", "夫妻投靠迁户口去哪里办", "你好", "谢谢",
    "公积金退休提取要多久", "门诊慢特病哪些地方能直接结算",
]  # fmt: skip
LOCK_ERRORS = re.compile(
    r"LockError|Failed to acquire lock|TicketExistsError|lock.*timed out", re.I
)
TIMEOUT = aiohttp.ClientTimeout(total=60)


async def send(
    session: aiohttp.ClientSession, base: str, sender: str, text: str
) -> tuple[int, list]:
    async with session.post(
        f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}
    ) as reply:
        try:
            body = await reply.json(content_type=None)
        except ValueError:  # nginx's own 502 page, say
            return reply.status, [{"error": await reply.text()}]
        return reply.status, body if isinstance(body, list) else [body]


def send_sync(base: str, sender: str, text: str) -> tuple[int, list]:
    async def one() -> tuple[int, list]:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            return await send(session, base, sender, text)

    return asyncio.run(one())


def events(db: sqlalchemy.engine.Engine, sender: str) -> list[tuple[int, str, float, dict]]:
    with db.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text(
                "SELECT id, type_name, timestamp, data FROM events WHERE sender_id = :s ORDER BY id"
            ),
            {"s": sender},
        ).fetchall()
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def turns(evs: list) -> list[list[str]]:
    """The event types after each user event: [["bot", ...], ...]."""
    out: list[list[str]] = []
    for _, kind, _, _ in evs:
        if kind == "user":
            out.append([])
        elif out:
            out[-1].append(kind)
    return out


def assert_answered_in_order(db, sender: str, expected_user_events: int) -> None:
    evs = events(db, sender)
    user = [e for e in evs if e[1] == "user"]
    assert len(user) == expected_user_events, (sender, len(user))
    assert all("bot" in t for t in turns(evs)), f"{sender}: a turn without a bot event"
    stamps = [e[2] for e in evs]
    assert stamps == sorted(stamps), f"{sender}: events out of order"


def lock_errors(cluster) -> list[str]:
    found = []
    for log in cluster.log_dir.glob("rasa.*.log"):
        found += [
            line
            for line in log.read_text(errors="replace").splitlines()
            if LOCK_ERRORS.search(line)
        ]
    return found


# ---------------------------------------------------------------- load ----------------------


def test_load_20_conversations_x_30_messages_alternating_instances(cluster, db):
    """Message i of every conversation goes straight to instance i % 2, 20 conversations at once:
    every message answered exactly once (one 200 with a reply, one user event followed by bot
    events), events in order, no lock errors in either server's log."""
    urls = [i.url for i in cluster.instances]
    senders = [f"load{n:02d}" for n in range(20)]

    async def conversation(session, sender: str, k: int) -> list[int]:
        statuses = []
        for i in range(30):
            status, body = await send(
                session, urls[i % 2], sender, MESSAGES[(k + i) % len(MESSAGES)]
            )
            assert body and any(m.get("text") or m.get("custom") for m in body), (sender, i, body)
            statuses.append(status)
        return statuses

    async def run() -> list[list[int]]:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            return await asyncio.gather(
                *(conversation(session, s, k) for k, s in enumerate(senders))
            )

    started = time.monotonic()
    results = asyncio.run(run())
    elapsed = time.monotonic() - started
    print(f"load: 600 messages in {elapsed:.1f} s ({600 / elapsed:.1f} msg/s)")
    assert all(status == 200 for statuses in results for status in statuses)
    for sender in senders:
        assert_answered_in_order(db, sender, 30)
    assert lock_errors(cluster) == []


# ---------------------------------------------------------------- case limits ---------------


def test_case_limits_hold_across_instances(cluster):
    """An attacker guessing the last 4 of one case, alternating instances and making up a new
    sender id each time, gets 5 guesses in all (the per-case hourly limit), not 5 per instance."""
    urls = [i.url for i in cluster.instances]
    replies = []
    for n in range(7):
        last4 = f"{1000 + n}"
        _, body = send_sync(
            urls[n % 2], f"guess{n}", f"查询办件 SC2025110300342 身份证后四位{last4}"
        )
        replies.append(" ".join(m.get("text") or "" for m in body))
    assert all("没有查到" in r for r in replies[:5]), replies[:5]
    assert all("暂停网上查询" in r for r in replies[5:]), replies[5:]
    # Even the right last 4, on either instance, now waits: the lock is the case's, not a node's.
    for url in urls:
        _, body = send_sync(url, f"owner-{url[-4:]}", "查询办件 SC2025110300342 身份证后四位0032")
        assert "暂停网上查询" in " ".join(m.get("text") or "" for m in body)


# ---------------------------------------------------------------- WeChat --------------------


def test_wechat_retry_on_the_other_instance_runs_once(cluster, db):
    """Tencent delivers one message three times; the retries land on the other instance. The
    assistant runs it once (one user event) and each delivery gets the same answer."""
    from tongban.wechat.simulator import TencentPeer, config_from_file

    peer = TencentPeer(config_from_file(str(cluster.log_dir.parent.parent / "credentials.yml")))
    openid = "oClusterTest" + "x" * 16
    query, body = peer.request(peer.text(openid, "异地就医备案怎么办"))

    async def deliver(url: str) -> str:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(f"{url}/webhooks/wechat/webhook?{query}", data=body) as r,
        ):
            assert r.status == 200
            return await r.text()

    async def three() -> list[str]:
        urls = [i.url for i in cluster.instances]
        first = asyncio.create_task(deliver(urls[0]))
        await asyncio.sleep(0.3)
        second = asyncio.create_task(deliver(urls[1]))
        return [await first, await second, await deliver(urls[1])]

    answers = asyncio.run(three())
    opened = [peer.open(a) for a in answers]
    texts = {getattr(o, "content", None) for o in opened if o is not None}
    assert len(texts) <= 1, texts  # never two different answers
    user = [e for e in events(db, openid) if e[1] == "user"]
    assert len(user) == 1, len(user)


# ---------------------------------------------------------------- socket.io -----------------


async def _socket(url: str, session_id: str | None = None):
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    got: list[dict] = []
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    client.on("bot_uttered", lambda data: got.append(data))
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(url, transports=["polling"], socketio_path="/socket.io", wait_timeout=20)
    await client.emit("session_request", {"session_id": session_id} if session_id else {})
    return client, got, await asyncio.wait_for(confirmed, 20)


def test_socketio_repeat_on_the_other_instance_and_emits_across_instances(cluster, db):
    """A message sent on instance 1 and repeated (same client_message_id, after a reconnect) on
    instance 2 runs once and gets the same answer there (the reply log is in Redis). An emit to
    the session's room from anywhere (here: this process, through python-socketio's Redis
    manager, as an agent's reply would) reaches the socket on whichever instance holds it."""
    import socketio

    async def run() -> None:
        one, got1, sid = await _socket(cluster.instances[0].url)
        ack = await one.call(
            "user_uttered",
            {"message": "异地就医备案怎么办", "session_id": sid, "client_message_id": "cmsg-0001"},
            timeout=60,
        )
        assert ack["status"] == "done" and got1, ack
        await one.disconnect()
        two, got2, same = await _socket(cluster.instances[1].url, sid)
        assert same == sid
        ack = await two.call(
            "user_uttered",
            {"message": "异地就医备案怎么办", "session_id": sid, "client_message_id": "cmsg-0001"},
            timeout=60,
        )
        assert ack["status"] == "done"
        assert [m.get("text") for m in got2] == [m.get("text") for m in got1]
        manager = socketio.AsyncRedisManager(
            "redis://127.0.0.1:6379/0", channel="tbtest:socketio", write_only=True
        )
        await manager.emit("bot_uttered", {"text": "坐席：您好"}, room=sid, namespace="/")
        for _ in range(100):
            if any(m.get("text") == "坐席：您好" for m in got2):
                break
            await asyncio.sleep(0.1)
        assert any(m.get("text") == "坐席：您好" for m in got2)
        await two.disconnect()
        assert sum(e[1] == "user" for e in events(db, sid)) == 1

    asyncio.run(run())


# ---------------------------------------------------------------- handoff across instances --

AGENT, AGENT_PASSWORD = "cluster-agent", "cluster-handoff-2026"


def _agent_side(message: dict) -> bool:
    """An agent's or the handoff's own message (delivered by the hub), not a bot reply of a turn."""
    return "handoff" in message and "reply_to" not in message


def _bot_replies(got: list[dict]) -> list[dict]:
    return [m for m in got if "reply_to" in m]


async def _within(seconds: float, check, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        await asyncio.sleep(0.1)


class _Console:
    """An agent's browser on one instance's console, over HTTP: cookies, login, CSRF."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base, self.csrf = session, base, ""

    async def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"X-CSRF-Token": self.csrf} if method != "GET" else {}
        async with self.session.request(
            method, f"{self.base}/console/api/{path}", json=body, headers=headers
        ) as reply:
            return reply.status, await reply.json(content_type=None)

    async def login(self, name: str, password: str) -> None:
        status, body = await self.call("GET", "login-token")
        assert status == 200, body
        self.csrf = body["token"]  # the pre-login token: cookie and header (double submit)
        status, body = await self.call("POST", "login", {"name": name, "password": password})
        assert status == 200 and body["role"] == "agent", (status, body)
        self.csrf = body["csrf"]  # the session's token from now on


def test_handoff_started_on_one_instance_is_answered_from_the_other(cluster, db):
    """The citizen's socket is on instance 1 (its action server queues the handoff); the agent's
    console requests all go to instance 2 (take, reply, hand back). The agent's reply reaches the
    citizen on instance 1 (Redis socket.io manager), the bot stays silent while the agent has
    the conversation (the pause is in the PostgreSQL tracker, whichever instance reads it), and
    after handing back the bot answers again. Bound: 20 s for each delivery, 60 s for a turn."""
    added = subprocess.run(
        [str(BIN / "tongban"), "staff", "add", AGENT, "--role", "agent", "--password-stdin"],
        input=AGENT_PASSWORD + "\n", capture_output=True, text=True, env=cluster.env(),
        cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    async def say(client, sid: str, text: str, message_id: str) -> dict:
        ack = await client.call(
            "user_uttered",
            {"message": text, "session_id": sid, "client_message_id": message_id},
            timeout=60,
        )
        assert ack["status"] == "done", ack
        return ack

    async def run() -> str:
        citizen, got, sid = await _socket(cluster.instances[0].url)
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 (an address, not a name)
        async with aiohttp.ClientSession(timeout=TIMEOUT, cookie_jar=jar) as http:
            try:
                await say(citizen, sid, "转人工", "handoff-0001")
                await _within(
                    20,
                    lambda: any("排队" in (m.get("text") or "") for m in _bot_replies(got)),
                    "the bot's answer to 转人工 is the place in the queue",
                )
                with db.connect() as conn:  # the handoff queue's table (tongban/handoff)
                    (ticket,) = conn.execute(
                        sqlalchemy.text("SELECT id FROM tickets WHERE sender = :s"), {"s": sid}
                    ).scalars()

                agent = _Console(http, cluster.instances[1].url)
                await agent.login(AGENT, AGENT_PASSWORD)
                status, queue = await agent.call("GET", "handoff/queue")
                assert status == 200, (status, queue)
                assert ticket in [t["id"] for t in queue["queued"]], queue
                status, body = await agent.call("POST", f"handoff/conversations/{ticket}/take")
                assert status == 200 and body["state"] == "active", (status, body)
                await _within(
                    20,
                    lambda: any(
                        _agent_side(m) and m["handoff"].get("state") == "active" for m in got
                    ),
                    "the citizen is told an agent joined",
                )

                # While the agent has it, the citizen's message is recorded and the bot is quiet.
                before = len(_bot_replies(got))
                await say(citizen, sid, "我的社保卡丢了，想问问补办", "handoff-0002")
                await asyncio.sleep(2)  # a late bot message, if any, would arrive meanwhile
                assert _bot_replies(got)[before:] == [], _bot_replies(got)[before:]
                status, seen = await agent.call("GET", f"handoff/conversations/{ticket}")
                assert status == 200
                assert any(
                    line["who"] == "citizen" and "社保卡" in line["text"] for line in seen["lines"]
                ), seen

                words = "您好，我是人工客服。社保卡补办可以在参保地的社保经办机构办理。"
                status, body = await agent.call(
                    "POST", f"handoff/conversations/{ticket}/reply",
                    {"text": words, "client_id": "cluster-reply-0001"},
                )  # fmt: skip
                assert status == 200 and body["delivered"] is True, (status, body)
                await _within(
                    20,
                    lambda: any(_agent_side(m) and m.get("text") == words for m in got),
                    "the agent's reply reaches the citizen's socket on instance 1",
                )
                (reply,) = [m for m in got if m.get("text") == words]
                assert reply["handoff"]["event"] == "agent" and AGENT in reply["handoff"]["agent"]

                status, body = await agent.call("POST", f"handoff/conversations/{ticket}/handback")
                assert status == 200 and body["state"] == "returned", (status, body)
                await _within(
                    20,
                    lambda: any(
                        _agent_side(m) and m["handoff"].get("state") == "returned" for m in got
                    ),
                    "the citizen is told the bot answers again",
                )
                before = len(_bot_replies(got))
                await say(citizen, sid, "异地就医备案怎么办", "handoff-0003")
                await _within(
                    20,
                    lambda: any(
                        "备案" in json.dumps(m, ensure_ascii=False)
                        for m in _bot_replies(got)[before:]
                    ),
                    "the bot answers again after the hand-back",
                )
            finally:
                await citizen.disconnect()
        return sid

    sid = asyncio.run(run())
    evs = events(db, sid)
    kinds = [kind for _, kind, _, _ in evs]
    user_texts = [
        (i, data.get("text")) for i, (_, kind, _, data) in enumerate(evs) if kind == "user"
    ]
    assert [text for _, text in user_texts] == [
        "转人工", "我的社保卡丢了，想问问补办", "异地就医备案怎么办"
    ], user_texts  # fmt: skip
    (pause,) = [i for i, k in enumerate(kinds) if k == "pause"]
    (resume,) = [i for i, k in enumerate(kinds) if k == "resume"]
    asked, held, again = (i for i, _ in user_texts)
    assert asked < pause < held < resume < again, kinds
    assert "bot" in kinds[asked:pause]  # the queue position
    assert "bot" not in kinds[pause:resume]  # silent while the agent had it
    assert "bot" in kinds[again:]  # and answering again after
    assert [e[2] for e in evs] == sorted(e[2] for e in evs)


# ---------------------------------------------------------------- action server down --------


def test_action_server_down_gives_an_apology_then_resumes(cluster, db):
    """With instance 1's action server stopped, a question on instance 1 gets the specific
    apology (ACTIONS_UNAVAILABLE_REPLY: try again later, or 12345), never an empty turn or the
    "not understood" reply, and the turn is in the tracker (user, the action, the apology);
    once the action server is back, the same question is answered in full."""
    url = cluster.instances[0].url
    cluster.stop_actions(0)
    try:
        status, body = send_sync(url, "noactions", "异地就医备案怎么办")
        assert status == 200, (status, body)
        assert [m.get("text") for m in body] == [ACTIONS_UNAVAILABLE_REPLY], body
        assert NO_ANSWER_REPLY not in json.dumps(body, ensure_ascii=False)
    finally:
        cluster.start_actions(0)
        cluster.wait_actions(0)
    evs = events(db, "noactions")
    assert [e[1] for e in evs if e[1] == "user"] == ["user"]
    failed = turns(evs)[0]
    assert failed.count("bot") == 1, failed
    (bot,) = [data for _, kind, _, data in evs if kind == "bot"]
    assert bot["text"] == ACTIONS_UNAVAILABLE_REPLY
    actions = [data.get("name") for _, kind, _, data in evs if kind == "action"]
    assert "action_answer" in actions and actions[-1] == "action_listen", actions
    status, body = send_sync(url, "noactions", "异地就医备案怎么办")
    assert status == 200 and "备案" in json.dumps(body, ensure_ascii=False)
    assert ACTIONS_UNAVAILABLE_REPLY not in json.dumps(body, ensure_ascii=False)
    assert sum(e[1] == "user" for e in events(db, "noactions")) == 2


# ---------------------------------------------------------------- PostgreSQL / Redis down ---


def test_postgres_briefly_down(cluster, db):
    """PostgreSQL stopped for a few seconds: a message gets 503 with the polite explanation (the
    server stays up); after PostgreSQL is back the same servers answer, without a restart, and
    the conversation from before is intact."""
    url = cluster.instances[1].url
    assert send_sync(url, "pgdown", "你好")[0] == 200
    before = len(events(db, "pgdown"))
    stop_postgres()
    try:
        status, body = send_sync(url, "pgdown", "异地就医备案怎么办")
        assert status == 503, (status, body)
        assert body[0].get("error") == UNAVAILABLE_REPLY or UNAVAILABLE_REPLY in json.dumps(
            body, ensure_ascii=False
        )
    finally:
        start_postgres()
    deadline = time.monotonic() + 30
    while True:
        status, body = send_sync(url, "pgdown", "异地就医备案怎么办")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == 200, body
    evs = events(db, "pgdown")
    assert len(evs) > before and [e[1] for e in evs][:before] == [e[1] for e in evs[:before]]
    assert sum(e[1] == "user" for e in evs) == 2  # the refused message was not half-stored


def test_redis_briefly_down(cluster, db):
    """Redis stopped for a few seconds: a message gets a clear 503 (conversation lock and case
    counters unavailable; nothing runs without its lock); after Redis is back, service resumes
    without a restart and the conversation from before is intact (it lives in PostgreSQL)."""
    url = cluster.instances[0].url
    assert send_sync(url, "redisdown", "你好")[0] == 200
    stop_redis()
    try:
        status, body = send_sync(url, "redisdown", "异地就医备案怎么办")
        assert status == 503, (status, body)
        assert "12345" in json.dumps(body, ensure_ascii=False)
    finally:
        start_redis()
    deadline = time.monotonic() + 30
    while True:
        status, body = send_sync(url, "redisdown", "异地就医备案怎么办")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == 200, body
    assert sum(e[1] == "user" for e in events(db, "redisdown")) == 2


# ---------------------------------------------------------------- instance killed -----------


def test_instance_killed_under_load(cluster, db):
    """10 conversations × 12 messages through nginx; instance 2 is killed (SIGKILL) after 3 s.
    Bound: at most 10 failed requests (the ones in flight on it, one per conversation); every
    message answered 200 is in its conversation, in order, with its bot reply."""
    senders = [f"kill{n:02d}" for n in range(10)]

    async def conversation(session, sender: str, k: int) -> list[int]:
        statuses = []
        for i in range(12):
            try:
                status, _ = await send(
                    session, cluster.url, sender, MESSAGES[(k + i) % len(MESSAGES)]
                )
            except (TimeoutError, aiohttp.ClientError):
                status = 0
            statuses.append(status)
        return statuses

    async def run() -> list[list[int]]:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            load = asyncio.gather(*(conversation(session, s, k) for k, s in enumerate(senders)))
            await asyncio.sleep(3)
            await asyncio.to_thread(cluster.kill_rasa, 1)
            return await load

    results = asyncio.run(run())
    failed = sum(status != 200 for statuses in results for status in statuses)
    print(f"killed instance 2 under load: {failed} of 120 requests failed")
    assert failed <= 10, results
    for sender, statuses in zip(senders, results, strict=True):
        evs = events(db, sender)
        assert sum(e[1] == "user" for e in evs) >= sum(s == 200 for s in statuses)
        assert all("bot" in t for t in turns(evs)[:-1])  # only a killed last turn may be unanswered
        assert [e[2] for e in evs] == sorted(e[2] for e in evs)


# ---------------------------------------------------------------- restart -------------------


def test_conversation_continues_across_a_restart_of_everything(cluster, db):
    """Every Rasa and action server stopped and started again (instance 2 was killed above): a
    conversation begun before goes on, with every event from before still there, in order."""
    url = cluster.instances[0].url
    for text in ("我是江西人，在深圳打工", "能领结婚证吗"):
        assert send_sync(url, "restart", text)[0] == 200
    before = events(db, "restart")
    for i in range(cluster.size):
        cluster.stop_rasa(i)
        cluster.stop_actions(i)
    for i in range(cluster.size):
        cluster.start_actions(i)
        cluster.start_rasa(i)
    for i in range(cluster.size):
        cluster.wait_actions(i)
        cluster.wait_rasa(i)
    status, body = send_sync(cluster.url, "restart", "要带什么材料")
    assert status == 200 and body
    after = events(db, "restart")
    assert after[: len(before)] == before
    assert sum(e[1] == "user" for e in after) == 3
    # The remembered place still applies after the restart (the slots came back from PostgreSQL).
    assert "结婚" in json.dumps(body, ensure_ascii=False)
