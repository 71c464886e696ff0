/**
 * v5 features no stock broker here exercises, against a scripted v5 server
 * on a real socket (its packets written and read with our codec):
 * enhanced authentication through the client's onAuth hook, incoming topic
 * aliases, a server DISCONNECT with a reason, server keep alive and an
 * assigned client id.
 */
import { afterEach, describe, expect, test } from "vitest";
import { createServer, type Server, type Socket } from "node:net";
import { connect, type MqttClient } from "../../src/mqtt/index.js";
import { MqttDecoder, encodePacket } from "../../src/mqtt/codec.js";
import type { MqttPacket } from "../../src/mqtt/packets.js";
import { freePort } from "../helpers/mosquitto.js";
import { bytes, connected, once, text, waitFor } from "./mqtt-helpers.js";

interface Peer {
  port: number;
  received: MqttPacket[];
  socket(): Socket | undefined;
  send(p: MqttPacket): void;
  close(): Promise<void>;
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** A v5 server that records what it gets and answers through `script`. */
async function peer(script: (p: MqttPacket, send: (p: MqttPacket) => void) => void): Promise<Peer> {
  const received: MqttPacket[] = [];
  let current: Socket | undefined;
  const server: Server = createServer((s) => {
    current = s;
    const d = new MqttDecoder({ version: 5, maxPacketSize: 1 << 16 });
    const send = (p: MqttPacket) => s.write(encodePacket(p, 5));
    s.on("data", (chunk) => {
      d.push(new Uint8Array(chunk));
      for (let r = d.next(); r !== undefined; r = d.next()) {
        if (r instanceof Error) return void s.destroy();
        received.push(r);
        script(r, send);
      }
    });
    s.on("error", () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const p: Peer = {
    port,
    received,
    socket: () => current,
    send: (pk) => current?.write(encodePacket(pk, 5)),
    close: () =>
      new Promise<void>((r) => {
        current?.destroy();
        server.close(() => r());
      }),
  };
  open.push(p);
  return p;
}

function client(port: number, options: Record<string, unknown> = {}): MqttClient {
  const c = connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnect: false, ...options });
  open.push({ close: () => c.end({ force: true }) });
  return c;
}

describe("our client against a scripted v5 server", () => {
  test("enhanced authentication: each AUTH challenge goes to onAuth, its answer goes back, then CONNACK", async () => {
    const srv = await peer((p, send) => {
      if (p.type === "connect") send({ type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "TOKEN", authenticationData: bytes("nonce-1") } });
      if (p.type === "auth") {
        const ok = text(p.properties!.authenticationData!) === "signed(nonce-1)";
        send({ type: "connack", sessionPresent: false, reasonCode: ok ? 0 : 0x87, properties: { authenticationMethod: "TOKEN" } });
      }
    });
    const challenges: string[] = [];
    const c = client(srv.port, {
      authenticationMethod: "TOKEN",
      authenticationData: bytes("hello"),
      onAuth: (ch: { data?: Uint8Array }) => {
        challenges.push(text(ch.data!));
        return bytes(`signed(${text(ch.data!)})`);
      },
    });
    await connected(c);
    expect(challenges).toEqual(["nonce-1"]);
    expect(srv.received[0]).toMatchObject({ type: "connect", properties: { authenticationMethod: "TOKEN", authenticationData: bytes("hello") } });
    expect(srv.received[1]).toMatchObject({ type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "TOKEN" } });
  });

  test("incoming topic aliases resolve to the topic the server set them with", async () => {
    const srv = await peer((p, send) => {
      if (p.type === "connect") send({ type: "connack", sessionPresent: false, reasonCode: 0 });
      if (p.type === "subscribe") {
        send({ type: "suback", packetId: p.packetId, reasonCodes: [1] });
        send({ type: "publish", topic: "long/topic/name", payload: bytes("1"), qos: 0, retain: false, dup: false, properties: { topicAlias: 2 } });
        send({ type: "publish", topic: "", payload: bytes("2"), qos: 1, retain: false, dup: false, packetId: 9, properties: { topicAlias: 2 } });
      }
    });
    const c = client(srv.port);
    const got: string[] = [];
    await c.subscribe("long/#", (topic, payload) => got.push(`${topic}=${text(payload)}`), { qos: 1 });
    await waitFor(() => got.length === 2);
    expect(got).toEqual(["long/topic/name=1", "long/topic/name=2"]);
    await waitFor(() => srv.received.some((p) => p.type === "puback"));
    expect(srv.received.find((p) => p.type === "connect")).toMatchObject({ properties: { topicAliasMaximum: 16 } });
  });

  test("server keep alive, assigned client id, and a server DISCONNECT with its reason", async () => {
    const srv = await peer((p, send) => {
      if (p.type === "connect") send({ type: "connack", sessionPresent: false, reasonCode: 0, properties: { assignedClientIdentifier: "srv-7", serverKeepAlive: 1 } });
    });
    const c = client(srv.port, { clientId: "", keepAlive: 600 });
    await connected(c);
    expect(c.session.clientId).toBe("srv-7");
    // the server's keep alive (1 s) wins over ours (600 s): a PINGREQ comes within it
    await waitFor(() => srv.received.some((p) => p.type === "pingreq"), 5000);
    const err = once(c, "error");
    srv.send({ type: "disconnect", reasonCode: 0x8b, properties: { reasonString: "maintenance" } });
    expect(await err).toMatchObject({ code: "server-disconnect", reasonCode: 0x8b, message: "server-disconnect: maintenance" });
  });

  test("a v5 protocol fault from the server gets DISCONNECT with the reason code before the close", async () => {
    const srv = await peer((p, send) => {
      if (p.type === "connect") {
        send({ type: "connack", sessionPresent: false, reasonCode: 0 });
        // an alias the client never allowed (above its Topic Alias Maximum of 16)
        send({ type: "publish", topic: "x", payload: bytes(""), qos: 0, retain: false, dup: false, properties: { topicAlias: 99 } });
      }
    });
    const c = client(srv.port);
    const err = (await once(c, "error")) as { code: string; reasonCode: number };
    expect([err.code, err.reasonCode]).toEqual(["topic-alias-invalid", 0x94]);
    await waitFor(() => srv.received.some((p) => p.type === "disconnect"));
    expect(srv.received.at(-1)).toEqual({ type: "disconnect", reasonCode: 0x94 });
  });
});
