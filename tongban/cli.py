"""The `tongban` command, for hotline staff and policy editors: ask, item, search, kb check.

Every failure is one clear line on stderr with exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tongban.answers import KIND_LABELS, QuestionKind, source_views
from tongban.assistant import Tongban
from tongban.cases import CaseService, CaseValidationError
from tongban.cases.importer import import_file
from tongban.cases.store import CaseStoreError
from tongban.dates import format_date, parse_date, server_as_of
from tongban.errors import BadArgument, TongbanError
from tongban.kb.loader import KnowledgeErrors, check_knowledge, knowledge_todos
from tongban.render import plain_text, sources_text
from tongban.reply import Reply

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise BadArgument(f"参数有误：{message}（运行 tongban --help 查看用法）")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tongban", description="通办助手：跨省通办事项查询（热线坐席和政策编辑使用）"
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    ask = sub.add_parser("ask", help="用一句话提问")
    ask.add_argument("question", help="问题，例如：我是江西人，在深圳打工，能领结婚证吗")
    ask.add_argument("--home", help="户籍地（或参保地），例如 江西")
    ask.add_argument("--at", help="所在地/办理地，例如 深圳")
    ask.add_argument("--as-of", help="按哪一天的政策回答，YYYY-MM-DD（默认今天或 TONGBAN_AS_OF）")
    ask.add_argument("--kind", choices=[k.value for k in QuestionKind], help="问题类型")
    ask.add_argument("--json", action="store_true", help="输出 JSON")

    item = sub.add_parser("item", help="查看一个事项的全部信息")
    item.add_argument("id", help="事项编号，例如 marriage_registration")
    item.add_argument("--as-of", help="日期 YYYY-MM-DD")
    item.add_argument("--json", action="store_true", help="输出 JSON")

    search = sub.add_parser("search", help="按关键词查找事项")
    search.add_argument("keywords", nargs="+", help="关键词，例如 换驾照")
    search.add_argument("--json", action="store_true", help="输出 JSON")

    cases = sub.add_parser("cases", help="办件数据维护")
    cases_sub = cases.add_subparsers(dest="cases_command", parser_class=_Parser)
    importer = cases_sub.add_parser(
        "import", help="从 YAML 或 JSON 文件导入办件（按 case_id 更新）"
    )
    importer.add_argument("file", help="文件路径，格式见 README")

    kb = sub.add_parser("kb", help="知识库维护")
    kb_sub = kb.add_subparsers(dest="kb_command", parser_class=_Parser)
    kb_sub.add_parser("check", help="检查知识库格式、引用、日期和来源")

    sim = sub.add_parser(
        "wechat-sim", help="模拟微信服务器与运行中的助手对话（签名、加密，打印回复和字节数）"
    )
    sim.add_argument("--url", default="http://127.0.0.1:5005/webhooks/wechat/webhook")
    sim.add_argument("--credentials", default="credentials.yml", help="读取其中的微信设置")
    sim.add_argument("--openid", help="用户的 OpenID（默认随机）")
    sim.add_argument(
        "--replay", type=int, default=1, choices=range(1, 4), help="每条投递几次（1-3）"
    )
    sim.add_argument("--stub-port", type=int, default=5156, help="客服消息接口替身的端口，0 不启动")
    sim.add_argument(
        "-m", "--message", action="append", help="要发送的消息（可多次；不给则交互输入）"
    )
    sub.add_parser("wechat-menu", help="输出公众号自定义菜单的 JSON（菜单接口的请求体）")

    staff = sub.add_parser("staff", help="热线工作台的坐席和管理员账号")
    staff_sub = staff.add_subparsers(dest="staff_command", parser_class=_Parser)
    staff_add = staff_sub.add_parser("add", help="新建账号（提示输入密码）")
    staff_add.add_argument("name", help="账号名：2-32 个字母、数字、. _ -")
    staff_add.add_argument("--role", choices=["agent", "admin"], default="agent", help="角色")
    staff_add.add_argument(
        "--password-stdin", action="store_true", help="从标准输入读取密码（供脚本使用）"
    )
    staff_pw = staff_sub.add_parser("passwd", help="重设密码（该账号已登录的会话全部失效）")
    staff_pw.add_argument("name")
    staff_pw.add_argument("--password-stdin", action="store_true")
    staff_sub.add_parser("list", help="列出账号")

    db = sub.add_parser("db", help="共享数据库（TONGBAN_DATABASE_URL）的表结构")
    db_sub = db.add_subparsers(dest="db_command", parser_class=_Parser)
    db_sub.add_parser("upgrade", help="把表结构升级到本程序的版本（部署新版本时运行一次）")
    db_sub.add_parser("current", help="显示数据库表结构的当前版本")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # jieba logs "Building prefix dict ..." at DEBUG on first use; agents want only the answer.
    # Its warnings and errors still reach the terminal.
    logging.getLogger("jieba").setLevel(logging.WARNING)
    try:
        args = _parser().parse_args(argv)
        return _run(args)
    except (TongbanError, CaseStoreError) as error:
        print(f"tongban: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _run(args: argparse.Namespace) -> int:
    if args.command is None:
        return _interactive()
    if args.command == "cases":
        if args.cases_command != "import":
            raise BadArgument("请使用 tongban cases import FILE")
        return _cases_import(Path(args.file))
    if args.command == "kb":
        if args.kb_command != "check":
            raise BadArgument("请使用 tongban kb check")
        return _kb_check()
    if args.command == "staff":
        return _staff(args)
    if args.command == "db":
        return _db(args.db_command)
    if args.command == "wechat-menu":
        from tongban.wechat.menu import menu_json

        print(menu_json())
        return 0
    if args.command == "wechat-sim":
        from tongban.wechat import simulator

        stub_port = args.stub_port or None
        return simulator.main(
            args.url, args.credentials, args.openid, args.replay, stub_port, args.message
        )
    tongban = Tongban.load()
    if args.command == "ask":
        answer = tongban.ask(
            args.question, home=args.home, at=args.at, as_of=args.as_of, kind=args.kind
        )
        _emit(answer.to_dict() if args.json else plain_text(answer, details=True), args.json)
    elif args.command == "item":
        _emit(_item_view(tongban, args.id, args.as_of, args.json), args.json)
    elif args.command == "search":
        found = tongban.candidates(" ".join(args.keywords), limit=10)
        if args.json:
            _emit([{"item": c.item_id, "name": c.name, "score": c.score} for c in found], True)
        elif not found:
            print("没有找到相关事项，请换个说法。")
        else:
            for c in found:
                print(f"{c.score:.2f}  {c.item_id:<36} {c.name}")
    return 0


def _emit(payload, as_json: bool) -> None:
    print(json.dumps(payload, ensure_ascii=False, indent=2) if as_json else payload)


def _item_view(tongban: Tongban, item_id: str, as_of: str | None, as_json: bool):
    if item_id not in tongban.kb.items:
        raise BadArgument(f"没有编号为“{item_id}”的事项，可用 tongban search 查找")
    day = parse_date(as_of) if as_of else server_as_of()
    answers = {
        k: tongban.ask("", item=item_id, as_of=day, kind=k)
        for k in QuestionKind
        if k is not QuestionKind.CAN
    }
    if as_json:
        return {k.value: a.to_dict() for k, a in answers.items()}
    item = tongban.kb.items[item_id]
    blocks = [
        f"{item.name}（{item.id}）  按{format_date(day)}的政策  最近核实：{format_date(item.last_verified)}"
    ]
    for kind, answer in answers.items():
        blocks.append(f"【{KIND_LABELS[kind]}】\n{plain_text(replace(answer, sources=()), True)}")
    sources = source_views(
        tongban.kb, item.sources + tuple(s for st in item.stages for s in st.sources)
    )
    blocks.append(sources_text(Reply(lead="", sources=sources)).replace("来源：", "【来源】", 1))
    return "\n\n".join(blocks)


def _cases_import(path: Path) -> int:
    service = CaseService.from_env()
    try:
        added, updated = import_file(path, service.store)
    except CaseValidationError as failure:
        for problem in failure.problems:
            print(f"tongban cases import: {problem}", file=sys.stderr)
        print(f"没有导入任何记录（共 {len(failure.problems)} 处问题）。", file=sys.stderr)
        return EXIT_USAGE
    print(f"导入完成：新增 {added} 条，更新 {updated} 条。")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("密码：")
    if getpass.getpass("再输入一次：") != first:
        raise BadArgument("两次输入的密码不一致")
    return first


def _staff(args: argparse.Namespace) -> int:
    import re

    from tongban.console.passwords import hash_password, password_problem
    from tongban.console.pg_stores import console_stores
    from tongban.console.stores import NAME_PATTERN, Staff
    from tongban.settings import settings

    stores = console_stores(settings())
    if args.staff_command == "list":
        for staff in stores.staff.all():
            print(f"{staff.name}\t{staff.role}" + ("" if staff.active else "\t已停用"))
        return 0
    if args.staff_command not in ("add", "passwd"):
        raise BadArgument("请使用 tongban staff add NAME --role agent|admin")
    if not re.fullmatch(NAME_PATTERN, args.name):
        raise BadArgument("账号名只能是 2-32 个字母、数字、. _ -")
    exists = stores.staff.get(args.name) is not None
    if args.staff_command == "add" and exists:
        raise BadArgument(f"账号“{args.name}”已存在（重设密码用 tongban staff passwd）")
    if args.staff_command == "passwd" and not exists:
        raise BadArgument(f"没有账号“{args.name}”")
    password = _read_password(args.password_stdin)
    problem = password_problem(password)
    if problem:
        raise BadArgument(problem)
    if args.staff_command == "add":
        stores.staff.add(Staff(args.name, args.role, hash_password(password)))
        print(f"已创建{'管理员' if args.role == 'admin' else '坐席'}账号 {args.name}。")
    else:
        stores.staff.set_password(args.name, hash_password(password))
        stores.sessions.delete_for(args.name)
        print(f"已重设 {args.name} 的密码，原有登录已失效。")
    return 0


def _db(command: str | None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from tongban.settings import settings
    from tongban.stores import shared

    if command not in ("upgrade", "current"):
        raise BadArgument("请使用 tongban db upgrade 或 tongban db current")
    config = settings()
    try:
        url = shared.need(config.database_url, "database_url")
        engine, prefix = shared.engine(url), config.key_prefix
        before, head = (shared.upgrade if command == "upgrade" else shared.current)(engine, prefix)
    except shared.BackendError as error:
        raise TongbanError(f"数据库表结构：{error}") from error
    except SQLAlchemyError as error:
        raise TongbanError(
            f"数据库不可用 / database unavailable: {type(error).__name__}"
        ) from error
    where = f"数据库 {url.rsplit('@', 1)[-1]}，表名前缀 {prefix}"
    if command == "upgrade":
        done = "已是最新版本" if before == head else f"已从 {before or '空库'} 升级到"
        print(f"{where}：表结构{done} {head}。")
    elif before is None:
        print(f"{where}：还没有建表（运行 tongban db upgrade）。")
    else:
        state = "最新" if before == head else f"本程序的版本是 {head}，运行 tongban db upgrade"
        print(f"{where}：表结构版本 {before}（{state}）。")
    return 0


def _kb_check() -> int:
    try:
        kb, problems = check_knowledge()
    except KnowledgeErrors as failure:
        for error in failure.errors:
            print(f"tongban kb check: {error}", file=sys.stderr)
        print(f"共 {len(failure.errors)} 处问题。", file=sys.stderr)
        return EXIT_USAGE
    for problem in problems:
        print(f"tongban kb check: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    todos = knowledge_todos(kb)
    for todo in todos:
        print(f"tongban kb check（待办）: {todo}")
    stages = sum(len(i.stages) for i in kb.items.values())
    print(
        f"知识库检查通过：{len(kb.items)} 个事项、{stages} 个阶段、{len(kb.sources)} 条来源、"
        f"{len(kb.documents)} 种材料、{len(kb.channels)} 个渠道、{len(kb.schemes)} 个区域通办、"
        f"{len(kb.regions.provinces)} 个省级行政区、{len(kb.regions.cities)} 个城市。"
        + (f"另有 {len(todos)} 项待办（见上）。" if todos else "")
    )
    return 0


def _interactive() -> int:
    """A simple prompt for hotline staff: type a question, get the answer."""
    tongban = Tongban.load(warm=True)
    print("通办助手（输入问题后回车；输入“退出”或按 Ctrl-D 结束）")
    while True:
        try:
            line = input("您> ").strip()
        except EOFError:
            print()
            return 0
        if line in {"退出", "exit", "quit"}:
            return 0
        if not line:
            continue
        try:
            print(plain_text(tongban.ask(line), details=True) + "\n")
        except TongbanError as error:
            print(f"{error}\n")
