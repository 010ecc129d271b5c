"""A simulated EVM execution node: eth-tester's in-memory chain behind a JSON-RPC server on
loopback, answering in the standard JSON-RPC shapes (camelCase keys, hex quantities), so the
real web3.py client talks to it exactly as to a node.

    chain = SimulatedChain()
    tx = chain.pay("0xabc...", 10**17)          # a payout from the pool's hot wallet
    server = await start_execution_node(chain)  # port from server.sockets[0]
"""

import json
import os

from eth.vm.forks.shanghai.withdrawals import Withdrawal
from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from simulators.http_server import HttpApp, HttpConnection, Request, Response, serve

TRANSFER_GAS = 21_000


class SimulatedChain:
    def __init__(self):
        self.provider = EthereumTesterProvider()
        self.w3 = Web3(self.provider)
        self.accounts = self.w3.eth.accounts  # funded with 1,000,000 ETH each
        self.pool_wallet = self.accounts[0]
        self.chain_id = self.w3.eth.chain_id

    def account_key(self, i):
        """Private key of the funded test account `accounts[i]` (eth-tester's known keys)."""
        return self.provider.ethereum_tester.backend.account_keys[i].to_bytes()

    def mine_block(self, *, coinbase, transactions=(), withdrawals=(), timestamp=None):
        """Mines ONE block holding `transactions` in order, as a consensus client would have an
        execution client build it: each {key, to, value, priority_fee (wei, default 0)} becomes a
        signed EIP-1559 transfer; `withdrawals` ({index, validator_index, address, amount in
        gwei}) are credited by the block; `coinbase` receives the priority fees; `timestamp` is
        kept when later than the parent's (eth-tester needs strictly increasing times).
        Returns the block as plain values: number, hash, parent_hash, miner, timestamp,
        base_fee_per_gas, gas_used, gas_limit, roots, transactions (raw, 0x hex),
        transaction_hashes, priority_fees_wei (what the coinbase earned) and withdrawals."""
        backend = self.provider.ethereum_tester.backend
        chain = backend.chain
        vm = chain.get_vm()
        base_fee = chain.header.base_fee_per_gas
        nonces = {}
        signed = []
        for transfer in transactions:
            account = Account.from_key(transfer["key"])
            if account.address not in nonces:
                nonces[account.address] = self.w3.eth.get_transaction_count(account.address)
            priority = transfer.get("priority_fee", 0)
            tx = account.sign_transaction(
                {
                    "type": 2,
                    "chainId": self.chain_id,
                    "nonce": nonces[account.address],
                    "to": Web3.to_checksum_address(transfer["to"]),
                    "value": transfer["value"],
                    "gas": TRANSFER_GAS,
                    "maxFeePerGas": 2 * base_fee + priority,
                    "maxPriorityFeePerGas": priority,
                }
            )
            nonces[account.address] += 1
            signed.append(bytes(tx.raw_transaction))
        parent = self.w3.eth.get_block("latest")
        when = max(int(timestamp or 0), parent["timestamp"] + 1)
        chain.header = chain.header.copy(timestamp=when)
        chain.mine_all(
            [vm.get_transaction_builder().decode(raw) for raw in signed],
            coinbase=bytes.fromhex(coinbase[2:]),
            withdrawals=[
                Withdrawal(
                    index=w["index"],
                    validator_index=w["validator_index"],
                    address=bytes.fromhex(w["address"][2:]),
                    amount=w["amount"],
                )
                for w in withdrawals
            ],
            mix_hash=os.urandom(32),
        )
        block = self.w3.eth.get_block("latest")
        receipts = [self.w3.eth.get_transaction_receipt(h) for h in block["transactions"]]
        fee = block["baseFeePerGas"]
        return {
            "number": block["number"],
            "hash": block["hash"].to_0x_hex(),
            "parent_hash": block["parentHash"].to_0x_hex(),
            "miner": block["miner"],
            "timestamp": block["timestamp"],
            "base_fee_per_gas": fee,
            "gas_used": block["gasUsed"],
            "gas_limit": block["gasLimit"],
            "state_root": block["stateRoot"].to_0x_hex(),
            "receipts_root": block["receiptsRoot"].to_0x_hex(),
            "logs_bloom": "0x" + bytes(block["logsBloom"]).rjust(256, b"\0").hex(),
            "prev_randao": block["mixHash"].to_0x_hex(),
            "extra_data": block["extraData"].to_0x_hex(),
            "transactions": ["0x" + raw.hex() for raw in signed],
            "transaction_hashes": [h.to_0x_hex() for h in block["transactions"]],
            "priority_fees_wei": sum(
                (r["effectiveGasPrice"] - fee) * r["gasUsed"] for r in receipts
            ),
            "withdrawals": [dict(w) for w in withdrawals],
        }

    def pay(self, to, amount_wei):
        """Sends `amount_wei` from the pool's wallet to `to` in a mined block; returns the hash."""
        tx = self.w3.eth.send_transaction(
            {"from": self.pool_wallet, "to": Web3.to_checksum_address(to), "value": amount_wei}
        )
        return tx.to_0x_hex()

    def mine(self, blocks=1):
        self.provider.ethereum_tester.mine_blocks(blocks)

    def call(self, method, params):
        return _to_rpc(self.provider.make_request(method, _from_rpc(method, params)).get("result"))


# Which parameter of a method is a block number, which the wire carries as a hex quantity and
# eth-tester only takes as an int (or a tag such as "latest").
_BLOCK_PARAM = {
    "eth_getBlockByNumber": 0,
    "eth_getBlockReceipts": 0,
    "eth_getBlockTransactionCountByNumber": 0,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getTransactionCount": 1,
    "eth_call": 1,
}


def _from_rpc(method, params):
    position = _BLOCK_PARAM.get(method)
    if position is None or len(params) <= position:
        return params
    value = params[position]
    if isinstance(value, str) and value.startswith("0x"):
        params = [*params]
        params[position] = int(value, 16)
    return params


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


class _JsonRpcApp(HttpApp):
    """JSON-RPC over HTTP POST, single calls and batches alike, whatever the path."""

    def __init__(self, chain):
        self.chain = chain

    def handle(self, request: Request, connection: HttpConnection) -> Response:
        body = json.loads(request.body) if request.body else {}
        calls = body if isinstance(body, list) else [body]
        answers = [
            {
                "jsonrpc": "2.0",
                "id": call.get("id"),
                "result": self.chain.call(call["method"], call.get("params", [])),
            }
            for call in calls
        ]
        return Response.json(answers if isinstance(body, list) else answers[0])


async def start_execution_node(chain, *, host="127.0.0.1", port=0):
    return await serve(_JsonRpcApp(chain), host, port)
