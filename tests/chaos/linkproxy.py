"""The chaos harness's userspace network, for machines without network namespaces: one TCP
proxy per directed link, in a process of its own (so the proxies never compete with the
workload's threads for the harness's interpreter).

Every link is a listening address that forwards to one target. A connection through it
carries two flows: its initiator's bytes to the target ("a>b") and the answers ("b>a").
A fault stalls a flow: the proxy holds what it read and reads no more, so the sender's TCP
window fills as when nftables drops its packets, and when the fault heals the bytes flow on
in order (a stream is never cut mid-frame). A lossy flow delays a read chunk by 200 ms (a
retransmission) with the given probability.

Started as `linkproxy.py CONFIG` where CONFIG is a JSON list of
{"listen": [host, port], "target": [host, port], "up": "a>b", "down": "b>a"}; prints
"ready" once every link listens, then takes commands on stdin, one per line, each answered
"ok" once in force:
  block A B       stall flow A>B          loss A B PCT    delay PCT % of A>B's reads
  heal            every flow open again   heal-node A     flows from or to A open again
"""
import asyncio
import json
import random
import sys
import threading

RETRANSMIT_S = 0.2  # about Linux's minimum retransmission timeout
STALL_POLL_S = 0.02


class Flows:
    def __init__(self):
        self.blocked = set()
        self.loss = {}

    def command(self, words):
        if words[0] == "block":
            self.blocked.add(f"{words[1]}>{words[2]}")
        elif words[0] == "loss":
            self.loss[f"{words[1]}>{words[2]}"] = int(words[3])
        elif words[0] == "heal":
            self.blocked.clear()
            self.loss.clear()
        elif words[0] == "heal-node":
            def touches(flow):
                return words[1] in flow.split(">")
            self.blocked = {f for f in self.blocked if not touches(f)}
            self.loss = {f: p for f, p in self.loss.items() if not touches(f)}
        else:
            raise ValueError(f"unknown command {words[0]!r}")


async def pump(reader, writer, flow, flows):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            while flow in flows.blocked:
                await asyncio.sleep(STALL_POLL_S)
            percent = flows.loss.get(flow, 0)
            if percent and random.randrange(100) < percent:
                await asyncio.sleep(RETRANSMIT_S)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def link_handler(link, flows):
    async def handle(client_reader, client_writer):
        try:
            target_reader, target_writer = await asyncio.open_connection(*link["target"])
        except OSError:
            client_writer.close()  # the target is down: as a refused connection would
            return
        await asyncio.gather(pump(client_reader, target_writer, link["up"], flows),
                             pump(target_reader, client_writer, link["down"], flows))
    return handle


async def serve(links):
    flows = Flows()
    for link in links:
        await asyncio.start_server(link_handler(link, flows), *link["listen"],
                                   reuse_address=True)
    loop = asyncio.get_running_loop()
    commands = asyncio.Queue()

    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line)
        loop.call_soon_threadsafe(commands.put_nowait, None)

    threading.Thread(target=read_stdin, daemon=True).start()
    print("ready", flush=True)
    while True:
        line = await commands.get()
        if line is None:
            return  # the harness closed our stdin: it is done with us
        words = line.split()
        if words:
            flows.command(words)
            print("ok", flush=True)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        asyncio.run(serve(json.load(f)))
