"""Bounded I/O for miner APIs: one TCP exchange or one HTTP GET, each under a hard deadline,
both through the one outbound transport (address policy on the address connected to, the same
error kinds)."""

import asyncio
import contextlib
import json

import httpx

from ethdash import outbound
from rigs.formats.base import MinerError, bad_answer

MAX_ANSWER_BYTES = 1 << 20


@contextlib.asynccontextmanager
async def tcp_connection(endpoint, *, limit=MAX_ANSWER_BYTES):
    """(reader, writer) to the miner, under one deadline for everything done inside: a miner that
    accepts and never answers costs at most endpoint.timeout_s. Every failure, in connecting or
    in the exchange, leaves as a MinerError."""
    try:
        async with asyncio.timeout(endpoint.timeout_s):
            sock = await outbound.open_socket(
                endpoint.host, endpoint.port, timeout_s=endpoint.timeout_s
            )
            reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
            try:
                yield reader, writer
            finally:
                writer.close()
    except TimeoutError:
        raise MinerError("timeout", f"No answer within {endpoint.timeout_s:g} s.") from None
    except MinerError:
        raise
    except outbound.OutboundError as exc:
        raise _miner_error(exc) from None
    except ValueError:  # a reply line over the reader's limit
        raise bad_answer("a reply longer than 1 MiB") from None
    except OSError as exc:
        raise _miner_error(outbound.error_from(exc, endpoint.host)) from None


async def tcp_exchange(endpoint, payload: bytes) -> bytes:
    """Sends `payload` and reads the answer until newline or EOF (sgminer-style miners close the
    connection; Claymore-style ones end with a newline)."""
    async with tcp_connection(endpoint) as (reader, writer):
        writer.write(payload)
        await writer.drain()
        chunks, size = [], 0
        while size < MAX_ANSWER_BYTES:
            chunk = await reader.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if chunk.rstrip(b"\x00").endswith(b"\n"):
                break
        return b"".join(chunks)


def decode_json(raw: bytes):
    """JSON from a miner, tolerating the trailing NUL byte of cgminer-family APIs."""
    text = raw.rstrip(b"\x00\r\n ").decode("utf-8", errors="replace").strip()
    if not text:
        raise bad_answer("empty")
    try:
        return json.loads(text)
    except ValueError:
        raise bad_answer(f"not JSON ({text[:60]!r})") from None


async def http_get_json(http: httpx.AsyncClient, endpoint, path, *, headers=None):
    host = endpoint.host
    if ":" in host and not host.startswith("["):  # an IPv6 literal goes in brackets in a URL
        host = f"[{host}]"
    url = f"http://{host}:{endpoint.port}{path}"
    try:
        response = await outbound.send(
            http, "GET", url, headers=headers, timeout=endpoint.timeout_s
        )
    except outbound.OutboundError as exc:
        raise _miner_error(exc, endpoint.timeout_s) from None
    if response.status_code in (401, 403):
        raise MinerError("auth", f"The miner refused the API token (HTTP {response.status_code}).")
    if response.status_code != 200:
        raise bad_answer(f"HTTP {response.status_code}")
    return decode_json(response.content)


def _miner_error(error, timeout_s=None):
    if error.kind == "refused" and "refused" in str(error):
        return MinerError("refused", "Connection refused: is the miner's API enabled?")
    if error.kind == "timeout" and timeout_s is not None:
        return MinerError("timeout", f"No answer within {timeout_s:g} s.")
    return MinerError.from_outbound(error)
