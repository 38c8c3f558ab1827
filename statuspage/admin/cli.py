"""`upwatch-statuspage user ...` and `api-token ...`: operator accounts and admin API tokens."""

from __future__ import annotations

import argparse
import getpass
import sys

from shared.timeutil import utcnow
from statuspage.admin import accounts
from statuspage.settings import Settings
from statuspage.storage import accounts as account_store
from statuspage.storage import api_tokens, audit, sql
from statuspage.storage.sql import Store  # noqa: I001


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="operator accounts for /admin/")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create = user_sub.add_parser("create", help="create an operator (asks for the password)")
    create.add_argument("name")
    create.add_argument(
        "--totp", action="store_true", help="also set up a TOTP second factor; prints its URI"
    )
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user_sub.add_parser("list", help="list operators")
    totp = user_sub.add_parser("totp", help="give an operator a new TOTP secret (or remove it)")
    totp.add_argument("name")
    totp.add_argument("--disable", action="store_true", help="remove the second factor instead")
    password = user_sub.add_parser("password", help="set an operator's password; ends all their sessions")
    password.add_argument("name")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    signout = user_sub.add_parser("sign-out", help="end every session of an operator at once")
    signout.add_argument("name")

    token = sub.add_parser("api-token", help="admin API tokens (scope read or write)")
    token_sub = token.add_subparsers(dest="api_token_command", required=True)
    token_create = token_sub.add_parser("create", help="create a token and print it (last line)")
    token_create.add_argument("name")
    token_create.add_argument("--scope", choices=api_tokens.SCOPES, required=True)
    token_sub.add_parser("list", help="list live tokens")
    token_revoke = token_sub.add_parser("revoke", help="revoke a token at once")
    token_revoke.add_argument("name")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise accounts.AccountError("password", "the two entries differ")
    return first


def user_command(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate

    db = open_store_and_migrate(settings.database)
    now = utcnow()
    if args.user_command == "list":
        for user in account_store.list_users(db):
            state = "disabled" if user.disabled_at else "active"
            print(f"{user.name}\ttotp={'on' if user.totp_secret else 'off'}\t{state}")
        return 0
    try:
        if args.user_command == "create":
            user = accounts.create_user(db, args.name, _read_password(args.password_stdin), now, args.totp)
            _audit(db, "user.create", args.name)
            print(f"created operator {user.name!r}")
            if user.totp_secret:
                print("add this to an authenticator app (shown only now):")
                print(accounts.totp_uri(user))
            return 0
        existing = account_store.find_user(db, args.name)
        if existing is None:
            print(f"no operator named {args.name!r}", file=sys.stderr)
            return 1
        if args.user_command == "totp":
            updated = accounts.reset_totp(db, existing, enable=not args.disable)
            _audit(db, "user.totp", args.name, {"enabled": not args.disable})
            print(accounts.totp_uri(updated) if updated.totp_secret else f"TOTP removed for {args.name!r}")
            return 0
        if args.user_command == "password":
            new = _read_password(args.password_stdin)
            accounts.check_new_password(new, existing.name)
            with sql.write(db):
                account_store.set_password_hash(db, existing.id, accounts.hash_password(new), now)
                ended = account_store.revoke_sessions_of(db, existing.id, now)
            _audit(db, "user.password", args.name, {"sessions_ended": ended})
            print(f"password set for {args.name!r}; {ended} session(s) ended")
            return 0
        with sql.write(db):
            ended = account_store.revoke_sessions_of(db, existing.id, now)
        _audit(db, "user.sign_out", args.name, {"sessions_ended": ended})
        print(f"{ended} session(s) of {args.name!r} ended")
        return 0
    except accounts.AccountError as error:
        print(f"upwatch-statuspage user: {error}", file=sys.stderr)
        return 2
    except account_store.UserExists:
        print(f"an operator named {args.name!r} exists already", file=sys.stderr)
        return 1


def api_token_command(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate

    db = open_store_and_migrate(settings.database)
    now = utcnow()
    if args.api_token_command == "list":
        for token in api_tokens.list_tokens(db):
            used = token.last_used_at.isoformat() if token.last_used_at else "never"
            print(f"{token.name}\tscope={token.scope}\tlast_used={used}")
        return 0
    if args.api_token_command == "revoke":
        with sql.write(db):
            revoked = api_tokens.revoke_token(db, args.name, now)
        if not revoked:
            print(f"no live token named {args.name!r}", file=sys.stderr)
            return 1
        _audit(db, "token.revoke", args.name)
        print(f"revoked API token {args.name!r}")
        return 0
    if not accounts.NAME_RE.match(args.name):
        print("token name: use 1-64 letters, digits, '_', '.', '-'", file=sys.stderr)
        return 2
    try:
        with sql.write(db):
            token, secret = api_tokens.create_token(db, args.name, args.scope, "cli", now)
    except api_tokens.TokenExists:
        print(f"a live token named {args.name!r} exists (revoke it first)", file=sys.stderr)
        return 1
    _audit(db, "token.create", args.name, {"scope": token.scope})
    print(f"created {token.scope} token {token.name!r}; store it now, it is shown only once:")
    print(secret)
    return 0


def _audit(db: Store, action: str, target: str, details: dict[str, object] | None = None) -> None:
    with sql.write(db):
        audit.record(db, utcnow(), "cli", action, target, "", dict(details or {}))
