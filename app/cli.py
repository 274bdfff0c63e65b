"""The `flowyard` command: serve, desktop, bench, export, import, prune, users."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.settings import Settings

__all__ = ["main"]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    return Settings(**overrides)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = _settings(args)
    problem = _storage_problem(settings)
    if problem is not None:
        print(f"flowyard serve: {problem}", file=sys.stderr)
        return 1
    app = create_app(settings)
    print(f"Flowyard on http://{settings.host}:{settings.port}  (API docs: /docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False)
    return 0


def _desktop(args: argparse.Namespace) -> int:
    from app import desktop

    missing = desktop.missing_packages()
    if missing is not None:
        print(f"flowyard desktop: {missing}", file=sys.stderr)
        return 1
    settings = _settings(args)
    if args.data_dir:
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    elif "FLOWYARD_DATA_DIR" not in os.environ:
        settings = settings.model_copy(update={"data_dir": desktop.user_data_dir()})
    problem = _storage_problem(settings)
    if problem is not None:
        print(f"flowyard desktop: {problem}", file=sys.stderr)
        return 1
    # On its own database the window logs its person in; on one named with --db (maybe shared), it asks.
    own = settings.database_url is None
    return desktop.run(settings, log_level=args.log_level, sign_in=own)


def _storage_problem(settings: Settings) -> str | None:
    """Why Flowyard cannot keep its data where it was told to, in one line; None when it can.

    The data directory (created 0700) must take files, and the database must take a write: a read-only
    file system or database, a full disk, an unreachable server are said at once instead of as a traceback.
    """
    import sqlalchemy as sa

    from app.engine.exceptions import StorageUnavailable
    from storage.db import check_writable, create_db_engine, migrate, unavailable

    directory = settings.data_dir.resolve()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = directory / f".flowyard-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot write to the data directory {directory}: {exc.strerror or exc}"
    url = settings.resolved_database_url
    try:
        engine = create_db_engine(url)
    except OSError as exc:
        return f"cannot create the database at {url}: {exc.strerror or exc}"
    where = engine.url.database if engine.dialect.name == "sqlite" else engine.url.render_as_string()
    try:
        migrate(engine)
        check_writable(engine)
    except StorageUnavailable as exc:
        return f"cannot use the database {where}: {exc}"
    except sa.exc.OperationalError as exc:
        return f"cannot use the database {where}: {unavailable(exc)}"
    finally:
        engine.dispose()
    return None


def _bench(args: argparse.Namespace) -> int:
    if args.agent:
        from app.bench.agent import run_agent_benchmark

        result = asyncio.run(run_agent_benchmark(repeats=2 if args.quick else 7))
        print(json.dumps(result, indent=2) if args.json else result["text"])
        return 0
    if args.batch:
        from app.bench.batch import run_batch_benchmark

        result = asyncio.run(run_batch_benchmark(rows=1000 if args.quick else 10_000))
        print(json.dumps(result, indent=2) if args.json else result["text"])
        return 0
    if args.history:
        from app.bench.history import run_history_benchmark

        report = asyncio.run(run_history_benchmark(runs=args.runs, repeats=5 if args.quick else 15))
        print(json.dumps(report, indent=2) if args.json else report["text"])
        return 0
    from app.bench.engine import run_benchmarks

    report = asyncio.run(run_benchmarks(quick=args.quick))
    print(json.dumps(report, indent=2) if args.json else report["text"])
    return 0


def _open(args: argparse.Namespace) -> Any:
    from app.root import Flowyard

    return Flowyard.open(_settings(args))


def _export(args: argparse.Namespace) -> int:
    from app.engine.exceptions import FlowyardError

    async def go() -> str:
        flowyard = _open(args)
        try:
            document = await flowyard.workflows.export(args.workflow_id)
            text: str = document.model_dump_json(indent=2)
            return text
        finally:
            await flowyard.http.aclose()
            flowyard.db.dispose()

    try:
        text = asyncio.run(go())
    except FlowyardError as exc:
        print(f"flowyard export: {exc}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def _import(args: argparse.Namespace) -> int:
    from app.engine.exceptions import FlowyardError

    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"flowyard import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as exc:
        print(f"flowyard import: {args.file} is not JSON: {exc}", file=sys.stderr)
        return 1

    async def go() -> str:
        flowyard = _open(args)
        try:
            workflow = await flowyard.workflows.import_document(document)
            return f"{workflow.id}\t{workflow.name}"
        finally:
            await flowyard.http.aclose()
            flowyard.db.dispose()

    try:
        print(asyncio.run(go()))
    except FlowyardError as exc:
        print(f"flowyard import: {exc}", file=sys.stderr)
        return 1
    return 0


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _age(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s`, `2w`: an age on the command line."""
    number, unit = text[:-1], text[-1:].lower()
    if unit not in _AGE_UNITS or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an age like 30d, 12h, 90m or 2w")
    return timedelta(seconds=int(number) * _AGE_UNITS[unit])


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs")
    return int(text)


def _positive(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _prune(args: argparse.Namespace) -> int:
    from app.engine.exceptions import FlowyardError

    if args.older_than is None and args.keep is None:
        print("flowyard prune: say --older-than, --keep or both", file=sys.stderr)
        return 2

    async def go() -> str:
        flowyard = _open(args)
        try:
            result = await flowyard.runs.prune(
                older_than=args.older_than, keep_per_workflow=args.keep, workflow_id=args.workflow
            )
        finally:
            await flowyard.http.aclose()
            flowyard.db.dispose()
        return (
            f"deleted {result.runs} run(s), {result.node_runs} step run(s), {result.approvals} approval(s)"
            f" and {result.callback_deliveries} callback delivery record(s)"
        )

    try:
        print(asyncio.run(go()))
    except FlowyardError as exc:
        print(f"flowyard prune: {exc}", file=sys.stderr)
        return 1
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("flowyard users create: no terminal to ask for the password: use --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass("Password (10 characters or more): ")
    if getpass.getpass("Password again: ") != first:
        print("flowyard users create: the two passwords differ", file=sys.stderr)
        return None
    return first


def _users_create(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.engine.exceptions import FlowyardError
    from app.models.people import Principal, Role, UserCreate

    password = _read_password(args)
    if password is None:
        return 1
    try:
        request = UserCreate(
            email=args.email, name=args.name or args.email.split("@")[0], role=Role(args.role), password=password
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        print(f"flowyard users create: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 1

    async def go() -> str:
        flowyard = _open(args)
        try:
            by = Principal(kind="cli", permissions=Principal.system().permissions)
            user = await flowyard.users.create(request, by=by)
            return f"{user.id}\t{user.email}\t{user.role}"
        finally:
            await flowyard.http.aclose()
            flowyard.db.dispose()

    try:
        print(asyncio.run(go()))
    except FlowyardError as exc:
        print(f"flowyard users create: {exc}", file=sys.stderr)
        return 1
    return 0


def _users_list(args: argparse.Namespace) -> int:
    async def go() -> list[Any]:
        flowyard = _open(args)
        try:
            return list(await flowyard.users.list())
        finally:
            await flowyard.http.aclose()
            flowyard.db.dispose()

    for user in asyncio.run(go()):
        state = "" if user.active else "\tdeactivated"
        print(f"{user.email}\t{user.role}\t{user.name}{state}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowyard", description="Durable, visual agent workflows.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the web app, the API and the executor")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, FLOWYARD_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080, FLOWYARD_PORT)")
    serve.add_argument("--db", help="database URL (default SQLite in FLOWYARD_DATA_DIR; FLOWYARD_DATABASE_URL)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(handler=_serve)

    desktop = commands.add_parser(
        "desktop", help="open Flowyard in a window of its own, on its own data (needs the 'desktop' extra)"
    )
    desktop.add_argument(
        "--data-dir",
        help="where its data goes (default: FLOWYARD_DATA_DIR, else the platform's user data directory,"
        " e.g. ~/.local/share/flowyard)",
    )
    desktop.add_argument("--db", help="database URL (default SQLite in the data directory; FLOWYARD_DATABASE_URL)")
    desktop.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    desktop.set_defaults(handler=_desktop)

    bench = commands.add_parser("bench", help="measure the engine's overhead against a bare SQLite floor")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions (for a smoke test)")
    bench.add_argument(
        "--history", action="store_true", help="time the runs page and the inbox on a seeded run history instead"
    )
    bench.add_argument("--runs", type=_positive, default=1_000_000, help="runs to seed for --history (default 1000000)")
    bench.add_argument(
        "--batch", action="store_true", help="time a 10,000-row batch of a 3-node transform workflow instead"
    )
    bench.add_argument(
        "--agent",
        action="store_true",
        help="time an agent step's loop (10 iterations x 3 tool calls) against a local model, beside plain Python",
    )
    bench.set_defaults(handler=_bench)

    prune = commands.add_parser("prune", help="delete finished runs (with their step runs) to keep the history small")
    prune.add_argument("--older-than", type=_age, help="delete runs created longer ago than this: 30d, 12h, 90m")
    prune.add_argument("--keep", type=_count, help="but keep this many newest runs of each workflow")
    prune.add_argument("--workflow", help="only this workflow's runs")
    prune.add_argument("--db", help="database URL")
    prune.set_defaults(handler=_prune)

    export = commands.add_parser("export", help="print a workflow as a versioned JSON document")
    export.add_argument("workflow_id")
    export.add_argument("-o", "--output", help="write to this file instead of standard output")
    export.add_argument("--db", help="database URL")
    export.set_defaults(handler=_export)

    imp = commands.add_parser("import", help="create a workflow from an exported JSON document")
    imp.add_argument("file")
    imp.add_argument("--db", help="database URL")
    imp.set_defaults(handler=_import)

    users = commands.add_parser("users", help="the people who may log in").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="add a person (the first one may be the admin who invites the rest)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=["admin", "editor", "approver", "viewer"])
    create.add_argument("--name", help="how they are shown (default: the email's name part)")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.add_argument("--db", help="database URL")
    create.set_defaults(handler=_users_create)
    listing = users.add_parser("list", help="everyone who may log in, with their role")
    listing.add_argument("--db", help="database URL")
    listing.set_defaults(handler=_users_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every job added and run at INFO
    args = build_parser().parse_args(argv)
    handler: Any = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
