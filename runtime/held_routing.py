"""The HeldRouting service a router or delivery worker serves: which of some accounts it
holds and the digest of each one's state — compared with control's, it shows a process
missed no change (the failover tests do) — and a way to make it hold them."""

from __future__ import annotations

from typing import Any, Protocol

import grpc

from eventstreams.v1 import held_routing_pb2, held_routing_pb2_grpc
from runtime.errors import InvalidArgument, Unavailable
from runtime.grpc_server import Registration
from runtime.routing_demand import FETCH_ACCOUNTS, AccountReach, EveryAccountHeld

Ctx = grpc.aio.ServicerContext[Any, Any]


class DigestHolder(Protocol):
    revision: int

    def account_digest(self, account_sid: str) -> int: ...


class HeldRoutingServicer(held_routing_pb2_grpc.HeldRoutingServicer):
    def __init__(self, holder: DigestHolder, accounts: AccountReach | None) -> None:
        self._holder = holder
        self._accounts: AccountReach = accounts or EveryAccountHeld()

    async def Describe(
        self, request: held_routing_pb2.DescribeHeldRoutingRequest, context: Ctx
    ) -> held_routing_pb2.HeldRoutingState:
        sids = list(request.account_sids)
        if len(sids) > FETCH_ACCOUNTS:
            raise InvalidArgument(f"at most {FETCH_ACCOUNTS} accounts a call")
        if request.hold and not await self._accounts.ensure(sids):
            raise Unavailable("control could not be asked for the accounts' routing; try again")
        return held_routing_pb2.HeldRoutingState(
            revision=self._holder.revision,
            accounts=[
                held_routing_pb2.HeldAccount(
                    sid=sid, held=self._accounts.holds(sid), digest=self._holder.account_digest(sid)
                )
                for sid in sids
            ],
        )


def held_routing_service(holder: DigestHolder, accounts: AccountReach | None) -> Registration:
    return Registration(
        held_routing_pb2.DESCRIPTOR.services_by_name["HeldRouting"].full_name,
        held_routing_pb2_grpc.add_HeldRoutingServicer_to_server,
        HeldRoutingServicer(holder, accounts),
    )
