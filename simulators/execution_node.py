"""A simulated EVM execution node: eth-tester's in-memory chain behind a JSON-RPC server on
loopback, answering in the standard JSON-RPC shapes (camelCase keys, hex quantities), so the
real web3.py client talks to it exactly as to a node.

    chain = SimulatedChain()
    tx = chain.pay("0xabc...", 10**17)          # a payout from the pool's hot wallet
    server = await start_execution_node(chain)  # port from server.sockets[0]
"""

import asyncio
import json

from web3 import EthereumTesterProvider, Web3


class SimulatedChain:
    def __init__(self):
        self.provider = EthereumTesterProvider()
        self.w3 = Web3(self.provider)
        self.pool_wallet = self.w3.eth.accounts[0]

    def pay(self, to, amount_wei):
        """Sends `amount_wei` from the pool's wallet to `to` in a mined block; returns the hash."""
        tx = self.w3.eth.send_transaction(
            {"from": self.pool_wallet, "to": Web3.to_checksum_address(to), "value": amount_wei}
        )
        return tx.to_0x_hex()

    def mine(self, blocks=1):
        self.provider.ethereum_tester.mine_blocks(blocks)

    def call(self, method, params):
        return _to_rpc(self.provider.make_request(method, params).get("result"))


def _camel(key):
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _to_rpc(value, key=None):
    """eth-tester's Python-shaped answer to the wire format: hex quantities, camelCase keys."""
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            wire = "input" if name == "data" else _camel(name)
            out[wire] = _to_rpc(item, wire)
        return out
    if isinstance(value, list | tuple):
        return [_to_rpc(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


async def start_execution_node(chain, *, host="127.0.0.1", port=0):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = json.loads(await reader.readexactly(length)) if length else {}
                calls = body if isinstance(body, list) else [body]
                answers = [
                    {
                        "jsonrpc": "2.0",
                        "id": call.get("id"),
                        "result": chain.call(call["method"], call.get("params", [])),
                    }
                    for call in calls
                ]
                payload = json.dumps(answers if isinstance(body, list) else answers[0]).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            # A kept-alive client, or the loop shutting down: nothing left to answer.
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
