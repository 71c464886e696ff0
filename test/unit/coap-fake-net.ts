/**
 * Test doubles for CoAP over an in-memory network with a fake clock, shared by
 * the CoAP client tests and the OTA CoAP fetcher tests.
 */
import {
  Option,
  ResponseCode,
  blockSize,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  encodeUint,
  optionBlock,
  type CoapOption,
} from "../../src/coap/codec.js";
import type { CoapHost } from "../../src/coap/driver.js";

/**
 * An in-memory UDP network with a fake clock: datagrams are queued and
 * delivered one at a time; when nothing is queued, time jumps to the next
 * alarm. A seeded random drop rate applies to every datagram.
 */
export class FakeNet {
  now = 0;
  sent = 0;
  dropped = 0;
  #queue: (() => void)[] = [];
  #alarms = new Set<{ deadline: number | undefined; fire: () => void }>();
  #sockets = new Map<string, (d: Uint8Array, a: string, p: number) => void>();
  #nextPort = 40000;
  #seed: number;
  constructor(
    readonly loss = 0,
    seed = 1,
  ) {
    this.#seed = seed;
  }
  rand(): number {
    this.#seed = (this.#seed * 48271) % 2147483647;
    return this.#seed / 2147483647;
  }
  host(address: string): CoapHost {
    return {
      now: () => this.now,
      random: () => this.rand(),
      openUdp: (o) => {
        const port = o.port === undefined || o.port === 0 ? this.#nextPort++ : o.port;
        const key = `${address}:${port}`;
        this.#sockets.set(key, o.onPacket);
        return {
          port,
          send: (data, toAddr, toPort) => {
            this.sent++;
            if (this.loss > 0 && this.rand() < this.loss) {
              this.dropped++;
              return;
            }
            const copy = data.slice();
            this.#queue.push(() => this.#sockets.get(`${toAddr}:${toPort}`)?.(copy, address, port));
          },
          close: () => this.#sockets.delete(key),
        };
      },
      resolveHost: (host, cb) => {
        this.#queue.push(() => (host === "server.local" ? cb("10.0.0.1") : cb(undefined, "dns")));
      },
      createAlarm: (fire) => {
        const a = { deadline: undefined as number | undefined, fire };
        this.#alarms.add(a);
        return {
          arm: (d) => {
            a.deadline = d;
          },
          close: () => {
            this.#alarms.delete(a);
          },
        };
      },
    };
  }
  /** Runs the network until `p` settles (bounded in steps). */
  async run<T>(p: Promise<T>, maxSteps = 200_000): Promise<T> {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    await this.runUntil(() => settled, maxSteps);
    return p;
  }
  /** Delivers queued datagrams (letting promises run between them) until none is queued; timers do not fire. */
  async settle(maxSteps = 200_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await Promise.resolve();
      await Promise.resolve();
      const next = this.#queue.shift();
      if (next === undefined) return;
      next();
    }
    throw new Error("network did not settle");
  }
  async runUntil(cond: () => boolean, maxSteps = 200_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await Promise.resolve();
      await Promise.resolve();
      if (cond()) return;
      const next = this.#queue.shift();
      if (next) {
        next();
        continue;
      }
      let first: { deadline: number | undefined; fire: () => void } | undefined;
      for (const a of this.#alarms) if (a.deadline !== undefined && (first === undefined || a.deadline < first.deadline!)) first = a;
      if (first === undefined) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      this.now = Math.max(this.now, first.deadline!);
      first.deadline = undefined;
      first.fire();
    }
    throw new Error("network did not settle");
  }
}

/**
 * A Block2 server shaped like libcoap's coap-server (4.3): it keeps a body it
 * sent to a client session (address:port) and answers that session's later
 * Block2 requests from it, with ETag and Size2; a session it holds nothing for
 * (no block 0 fetched yet) gets its blocks without them. Answers are
 * piggybacked. `served` lists the block numbers asked for, per session.
 */
export function libcoapLikeBlockServer(net: FakeNet, address: string, body: Uint8Array, port = 5683) {
  const cached = new Set<string>();
  const served: string[] = [];
  const socket = net.host(address).openUdp({
    port,
    onPacket(data, from, fromPort) {
      const req = decodeMessage(data);
      const session = `${from}:${fromPort}`;
      const b2 = optionBlock(req, Option.Block2) ?? { num: 0, more: false, szx: 6 };
      const size = blockSize(b2.szx);
      const at = b2.num * size;
      served.push(`${session}#${b2.num}`);
      if (b2.num === 0) cached.add(session);
      const options: CoapOption[] = [];
      if (cached.has(session)) options.push({ number: Option.ETag, value: Uint8Array.of(1) });
      options.push({ number: Option.Block2, value: encodeBlock({ num: b2.num, more: at + size < body.length, szx: b2.szx }) });
      if (cached.has(session)) options.push({ number: Option.Size2, value: encodeUint(body.length) });
      const payload = body.subarray(at, Math.min(at + size, body.length));
      socket.send(encodeMessage({ type: "ACK", code: ResponseCode.Content, messageId: req.messageId, token: req.token, options, payload }), from, fromPort);
    },
  });
  return { served };
}
