"""Bounded I/O for miner APIs: one TCP exchange or one HTTP GET, each under a hard deadline."""

import asyncio
import contextlib
import json

import httpx

from rigs.formats.base import MinerError, bad_answer

MAX_ANSWER_BYTES = 1 << 20


@contextlib.asynccontextmanager
async def tcp_connection(endpoint, *, limit=MAX_ANSWER_BYTES):
    """(reader, writer) to the miner, under one deadline for everything done inside: a miner that
    accepts and never answers costs at most endpoint.timeout_s. Every failure, in connecting or
    in the exchange, leaves as a MinerError."""
    try:
        async with asyncio.timeout(endpoint.timeout_s):
            reader, writer = await asyncio.open_connection(
                endpoint.host, endpoint.port, limit=limit
            )
            try:
                yield reader, writer
            finally:
                writer.close()
    except TimeoutError:
        raise MinerError("timeout", f"No answer within {endpoint.timeout_s:g} s.") from None
    except ConnectionRefusedError:
        raise MinerError("refused", "Connection refused: is the miner's API enabled?") from None
    except ValueError:  # a reply line over the reader's limit
        raise bad_answer("a reply longer than 1 MiB") from None
    except OSError as exc:
        raise MinerError("unreachable", f"Cannot reach the miner: {exc.strerror or exc}.") from None


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
    url = f"http://{endpoint.host}:{endpoint.port}{path}"
    try:
        response = await http.get(url, headers=headers, timeout=endpoint.timeout_s)
    except httpx.TimeoutException:
        raise MinerError("timeout", f"No answer within {endpoint.timeout_s:g} s.") from None
    except httpx.ConnectError as exc:
        if _refused(exc):
            raise MinerError("refused", "Connection refused: is the miner's API enabled?") from None
        raise MinerError("unreachable", f"Cannot reach the miner: {exc}.") from None
    except httpx.TransportError as exc:
        raise MinerError("unreachable", f"Connection failed: {exc.__class__.__name__}.") from None
    if response.status_code in (401, 403):
        raise MinerError("auth", f"The miner refused the API token (HTTP {response.status_code}).")
    if response.status_code != 200:
        raise bad_answer(f"HTTP {response.status_code}")
    return decode_json(response.content)


def _refused(exc):
    # httpx 0.28 reports a closed port as "All connection attempts failed"; the refusal itself
    # is further down the exception chain.
    while exc is not None:
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False
