from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting
from runtime.service_settings import ServiceSettings


@dataclass(frozen=True)
class Settings(ServiceSettings):
    gateway_host: str = setting("127.0.0.1", "gateway: HTTP listen host")
    gateway_port: int = setting(8080, "gateway: HTTP listen port")
    control_target: str = setting("127.0.0.1:50052", "where services reach control (gRPC)")
    catalog_target: str = setting("127.0.0.1:50051", "where services reach catalog (gRPC)")
    delivery_target: str = setting("127.0.0.1:50054", "where the gateway reaches delivery (gRPC)")
    auth_cache_seconds: float = setting(5.0, "gateway: how long a verified credential is trusted")
    public_url: str = setting(
        "", "gateway: base URL in resource links (default: the URL the request came to)"
    )
    max_body_bytes: int = setting(1024 * 1024, "gateway: largest request body accepted (413 beyond)")
    portal_secret: str = setting(
        "",
        "gateway: key signing tenant portal links (empty: one per process, so a link works only"
        " on the replica that issued it; set the same on every replica)",
    )
    portal_max_ttl_seconds: int = setting(86400, "gateway: longest life a tenant portal link may ask for")
