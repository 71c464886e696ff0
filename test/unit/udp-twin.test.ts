/**
 * The Node twin of embedded:io/socket/udp (host-shim/node/udp.ts) with real
 * loopback sockets: a busy port fails at construction, the default socket is
 * dual-stack, a client's socket hears the ICMP port unreachable of its first
 * request (Linux reports it to connected sockets only), and after its first
 * answer it takes datagrams from anyone on the same port.
 */
import { createSocket, type Socket } from "node:dgram";
import { describe, expect, test } from "vitest";
import UDP from "../../host-shim/node/udp.js";

interface Seen {
  packets: { text: string; address: string; port: number }[];
  errors: string[];
}

function open(options: { port?: number; address?: string } = {}): { udp: UDP; seen: Seen } {
  const seen: Seen = { packets: [], errors: [] };
  const udp = new UDP({
    ...options,
    onReadable() {
      for (let p = this.read(); p !== undefined; p = this.read()) seen.packets.push({ text: new TextDecoder().decode(p), address: p.address, port: p.port });
    },
    onError(e) {
      seen.errors.push(String(e?.message));
    },
  });
  return { udp, seen };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`never: ${what}`);
}

function bound(type: "udp4" | "udp6", address: string): Promise<Socket> {
  const s = createSocket(type);
  return new Promise((resolve) => s.bind(0, address, () => resolve(s)));
}

const text = (t: string) => new TextEncoder().encode(t);

describe("the Node UDP twin", () => {
  test("a busy port throws address-in-use from the constructor, not a socket on port 0", async () => {
    const taken = await bound("udp4", "127.0.0.1");
    try {
      expect(() => open({ port: taken.address().port, address: "127.0.0.1" })).toThrow(/^address-in-use: .*EADDRINUSE/);
      expect(() => open({ port: taken.address().port })).toThrow(/^address-in-use/);
    } finally {
      taken.close();
    }
  });

  test("with no address it takes both IP versions: it reaches 127.0.0.1 and then ::1 (and the other way), answers from both", async () => {
    const v4 = await bound("udp4", "127.0.0.1");
    const v6 = await bound("udp6", "::1");
    const { udp, seen } = open();
    try {
      for (const peer of [v4, v6]) peer.on("message", (m, r) => peer.send(Buffer.concat([Buffer.from("re:"), m]), r.port, r.address));
      udp.write(text("four"), "127.0.0.1", v4.address().port);
      await until(() => seen.packets.length === 1, "the IPv4 answer");
      udp.write(text("six"), "::1", v6.address().port);
      await until(() => seen.packets.length === 2, "the IPv6 answer");
      const other = open();
      other.udp.write(text("six"), "::1", v6.address().port);
      await until(() => other.seen.packets.length === 1, "the IPv6 answer first");
      other.udp.write(text("four"), "127.0.0.1", v4.address().port);
      await until(() => other.seen.packets.length === 2, "then the IPv4 answer");
      other.udp.close();
      expect(seen.packets.map((p) => [p.text, p.address])).toEqual([["re:four", "127.0.0.1"], ["re:six", "::1"]]);
      expect(other.seen.packets.map((p) => [p.text, p.address])).toEqual([["re:six", "::1"], ["re:four", "127.0.0.1"]]);
    } finally {
      udp.close();
      v4.close();
      v6.close();
    }
  });

  test("a client's first datagram to a closed port comes back as an ICMP error (refused), IPv4 and IPv6", async () => {
    for (const [type, address] of [["udp4", "127.0.0.1"], ["udp6", "::1"]] as const) {
      const gone = await bound(type, address);
      const port = gone.address().port;
      await new Promise<void>((r) => gone.close(() => r()));
      const { udp, seen } = open();
      try {
        udp.write(text("anyone?"), address, port);
        await until(() => seen.errors.length > 0, "the ICMP error");
        expect(seen.errors[0]).toMatch(/^refused: .*ECONNREFUSED/);
      } finally {
        udp.close();
      }
    }
  });

  test("after its first answer a client's socket keeps its port and takes datagrams from anyone", async () => {
    const echo = await bound("udp4", "127.0.0.1");
    echo.on("message", (m, r) => echo.send(Buffer.concat([Buffer.from("re:"), m]), r.port, r.address));
    const third = createSocket("udp4");
    const { udp, seen } = open({ address: "127.0.0.1" });
    try {
      const port = udp.port;
      udp.write(text("hello"), "127.0.0.1", echo.address().port);
      await until(() => seen.packets.length === 1, "the echo");
      third.send("third", port, "127.0.0.1");
      await until(() => seen.packets.length === 2, "the third party's datagram");
      expect(seen.packets.map((p) => p.text)).toEqual(["re:hello", "third"]);
      expect(udp.port).toBe(port);
      expect(seen.errors).toEqual([]);
    } finally {
      udp.close();
      echo.close();
      third.close();
    }
  });
});
