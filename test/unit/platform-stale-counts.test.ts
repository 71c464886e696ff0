// Host events can carry stale counts: through the XS bridge callbacks are
// queued, so an onReadable(count) may announce bytes already read by an earlier
// callback (too high, or a duplicate) or miss bytes that arrived since (too
// low). lwip's read(count) throws "invalid" past what it holds. The platform
// wrappers treat every count as a hint: no read throws, no byte is left behind.
import { describe, expect, test, vi } from "vitest";
import { HostStream, type HostCallbacks, type HostSocket, type StreamSocket } from "../../src/platform/tcp.js";

/** Host doubles driven by hand: each holds a queue and fires only when told. */
const hosts = vi.hoisted(() => {
  const created: { udp: FakeQueueHost[]; listener: FakeQueueHost[] } = { udp: [], listener: [] };
  class FakeQueueHost {
    queue: unknown[] = [];
    closed = false;
    port = 5683;
    constructor(readonly options: { onReadable(this: FakeQueueHost, count: number): void }) {}
    read(): unknown {
      return this.queue.shift();
    }
    write(): void {}
    close(): void {
      this.closed = true;
    }
    announce(count: number): void {
      this.options.onReadable.call(this, count);
    }
  }
  return { created, FakeQueueHost };
});

vi.mock("embedded:io/socket/udp", () => ({
  default: class extends hosts.FakeQueueHost {
    constructor(options: never) {
      super(options);
      hosts.created.udp.push(this);
    }
  },
}));
vi.mock("embedded:io/socket/listener", () => ({
  default: class extends hosts.FakeQueueHost {
    constructor(options: never) {
      super(options);
      hosts.created.listener.push(this);
    }
  },
}));

const { openUdp } = await import("../../src/platform/udp.js");
const { listenTcp } = await import("../../src/platform/listener.js");

const bytes = (...values: number[]) => new Uint8Array(values);

/** lwip's TCP read: read(count) throws "invalid" past what is held; read() takes all; undefined when empty. */
class LwipLikeTcp {
  held: number[] = [];
  constructor(readonly callbacks: HostCallbacks) {}
  receive(...values: number[]): void {
    this.held.push(...values);
  }
  announce(count = this.held.length): void {
    this.callbacks.onReadable.call(this as unknown as HostSocket, count);
  }
  read(count?: number): ArrayBuffer | undefined {
    if (this.held.length === 0) return undefined;
    const n = count === undefined ? this.held.length : count;
    if (!(n > 0) || n > this.held.length) throw new Error("invalid");
    return new Uint8Array(this.held.splice(0, n)).buffer;
  }
  write(): number {
    return 0;
  }
  close(): void {}
}

function streamOverLwip(onReadable: (socket: StreamSocket, count: number) => void) {
  let host!: LwipLikeTcp;
  const errors: string[] = [];
  const socket: StreamSocket = new HostStream({
    onReadable: (count) => onReadable(socket, count),
    onWritable() {},
    onError: (code) => errors.push(code),
  }).open((callbacks) => {
    host = new LwipLikeTcp(callbacks);
    return host as unknown as HostSocket;
  });
  return { socket, host, errors };
}

/** Reads in `chunk`-byte steps until the wrapper says none. */
function drain(socket: StreamSocket, chunk: number, into: number[]): void {
  for (let data = socket.read(chunk); data !== undefined; data = socket.read(chunk)) into.push(...data);
}

describe("a stream socket treats the announced count as a hint", () => {
  test("a repeated count that overstates what is held makes read(count) return what is held, not throw", () => {
    const got: number[] = [];
    const { socket, host } = streamOverLwip((s, count) => {
      const data = s.read(count);
      if (data) got.push(...data);
    });
    host.receive(1, 2, 3);
    host.announce(3);
    host.receive(4);
    host.announce(3); // queued twice through the bridge: only one byte is held now
    expect(got).toEqual([1, 2, 3, 4]);
    host.announce(3); // and once more, with nothing held
    expect(got).toEqual([1, 2, 3, 4]);
    expect(socket.read(3)).toBeUndefined();
  });

  test("a count higher than what is held returns what is held, then undefined", () => {
    const got: number[] = [];
    const { host } = streamOverLwip((s) => drain(s, 4, got));
    host.receive(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    host.announce(10);
    host.receive(11, 12);
    host.announce(14); // stale: overstates by two
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test("bytes that arrived after a low announcement are read in the same drain", () => {
    const got: number[] = [];
    const { host } = streamOverLwip((s) => drain(s, 4, got));
    host.receive(1, 2, 3, 4, 5, 6, 7, 8, 9);
    host.announce(2); // announced when only two had arrived
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(host.held).toEqual([]);
  });

  test("read(count) with a count above what is held takes what is held in one piece", () => {
    const chunks: number[][] = [];
    const { host } = streamOverLwip((s) => {
      for (let d = s.read(4096); d; d = s.read(4096)) chunks.push([...d]);
    });
    host.receive(7, 8, 9);
    host.announce(3);
    expect(chunks).toEqual([[7, 8, 9]]);
  });

  test("read(count) still returns at most count bytes and leaves the rest with the host", () => {
    const { socket, host } = streamOverLwip(() => {});
    host.receive(1, 2, 3, 4, 5);
    host.announce(5);
    expect([...socket.read(2)!]).toEqual([1, 2]);
    expect(host.held).toEqual([3, 4, 5]);
    expect([...socket.read()!]).toEqual([3, 4, 5]);
    expect(socket.read()).toBeUndefined();
    expect(socket.read(0)).toBeUndefined();
  });
});

describe("UDP and listener wrappers drain the host on every announcement", () => {
  test("a UDP announcement of one datagram delivers all that are queued", () => {
    const got: number[][] = [];
    openUdp({ onPacket: (data) => got.push([...data]) });
    const host = hosts.created.udp.at(-1)!;
    const datagram = (v: number) => Object.assign(bytes(v).buffer, { address: "127.0.0.1", port: 9 });
    host.queue.push(datagram(1), datagram(2), datagram(3));
    host.announce(1);
    expect(got).toEqual([[1], [2], [3]]);
  });

  test("a stale UDP announcement of more datagrams than queued is harmless", () => {
    const got: number[][] = [];
    openUdp({ onPacket: (data) => got.push([...data]) });
    const host = hosts.created.udp.at(-1)!;
    host.announce(5);
    expect(got).toEqual([]);
  });

  test("a listener announcement of one connection hands over every pending one", () => {
    const accepted: unknown[] = [];
    listenTcp({ port: 0, onConnection: (c) => accepted.push(c) });
    const host = hosts.created.listener.at(-1)!;
    host.queue.push({ id: 1 }, { id: 2 });
    host.announce(1);
    expect(accepted).toEqual([{ id: 1 }, { id: 2 }]);
    host.announce(2); // stale duplicate
    expect(accepted).toHaveLength(2);
  });
});
