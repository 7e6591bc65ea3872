"""Operator commands for control, over its gRPC API.

python -m services.control.admin create-account --friendly-name "Acme" [--sid AC… --auth-token …]
python -m services.control.admin create-key --account AC… [--friendly-name ci]

The operator's credential (runtime/service_auth.py, role `admin`) comes from ES_SERVICE_TOKEN,
else from --service-token-file (default ./data/credentials/admin, where `make run` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

import grpc

from eventstreams.v1 import control_pb2, control_pb2_grpc
from runtime import clients


def service_token(path: str) -> str:
    token = os.environ.get("ES_SERVICE_TOKEN", "")
    if not token and Path(path).exists():
        token = Path(path).read_text().strip()
    return token


async def run(args: argparse.Namespace) -> dict[str, str]:
    async with clients.channel(args.control, service_token(args.service_token_file)) as channel:
        control = control_pb2_grpc.ControlStub(channel)
        if args.command == "create-account":
            account = await control.CreateAccount(
                control_pb2.CreateAccountRequest(
                    friendly_name=args.friendly_name, sid=args.sid or "", auth_token=args.auth_token or ""
                )
            )
            return {"account_sid": account.sid, "auth_token": account.auth_token}
        key = await control.CreateApiKey(
            control_pb2.CreateApiKeyRequest(account_sid=args.account, friendly_name=args.friendly_name)
        )
        return {"account_sid": key.account_sid, "api_key_sid": key.sid, "api_key_secret": key.secret}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--control", default="127.0.0.1:50052", help="control's gRPC address")
    parser.add_argument(
        "--service-token-file",
        default="./data/credentials/admin",
        help="where the operator's credential is kept",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    account = commands.add_parser("create-account", help="create a main account")
    account.add_argument("--friendly-name", default="")
    account.add_argument("--sid", help="a fixed Account SID (AC + 32 hex)")
    account.add_argument("--auth-token", help="a fixed auth token (16+ characters)")
    key = commands.add_parser("create-key", help="create an API key for an account")
    key.add_argument("--account", required=True)
    key.add_argument("--friendly-name", default="")
    args = parser.parse_args()
    try:
        print(json.dumps(asyncio.run(run(args)), indent=2))
    except grpc.aio.AioRpcError as exc:
        raise SystemExit(f"{exc.code().name}: {exc.details()}") from exc


if __name__ == "__main__":
    main()
