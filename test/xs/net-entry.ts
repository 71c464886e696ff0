/**
 * XS side of test/xs/net-bridge.test.ts: raw ECMA-419 sockets (the host
 * modules themselves, not src/net) through the bridge, to prove the data path.
 */
import TCP from "embedded:io/socket/tcp";
import Listener from "embedded:io/socket/listener";

type Sock = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const TCPClass = TCP as unknown as new (options: Record<string, unknown>) => Sock;
const ListenerClass = Listener as unknown as new (options: Record<string, unknown>) => Sock;
const g = globalThis as unknown as Record<string, unknown>;

/** Stream position p carries byte p & 0xff; a pattern long enough to slice any write from. */
const PATTERN = new Uint8Array(16 * 1024 + 256);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i & 0xff;

/** Sends `total` bytes to an echo server and checks what comes back (every 61st byte and the count). */
g.echoThrough = (args: { port: number; total: number }) =>
  new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    let mismatches = 0;
    let writes = 0;
    let reads = 0;
    let maxRead = 0;
    const sock = new TCPClass({
      address: "127.0.0.1",
      port: args.port,
      onWritable(this: Sock, count: number) {
        while (count > 0 && sent < args.total) {
          const n = Math.min(count, 16 * 1024, args.total - sent);
          const start = sent & 0xff;
          this.write(PATTERN.subarray(start, start + n));
          writes++;
          sent += n;
          count -= n;
        }
      },
      onReadable(this: Sock, count: number) {
        const bytes = new Uint8Array(this.read(count));
        reads++;
        if (bytes.length > maxRead) maxRead = bytes.length;
        for (let i = (61 - (received % 61)) % 61; i < bytes.length; i += 61) if (bytes[i] !== ((received + i) & 0xff)) mismatches++;
        received += bytes.length;
        if (received >= args.total) {
          this.close();
          resolve({ sent, received, mismatches, writes, reads, maxRead });
        }
      },
      onError(error?: Error) {
        reject(new Error(`socket error after ${received} bytes: ${error?.message}`));
      },
    });
    void sock;
  });

/** Connects and reports what onError says (for refused / reset). */
g.connectAndWaitForError = (args: { port: number; send?: number }) =>
  new Promise((resolve) => {
    let received = 0;
    new TCPClass({
      address: "127.0.0.1",
      port: args.port,
      onWritable(this: Sock, count: number) {
        if (args.send && count > 0) this.write(PATTERN.subarray(0, Math.min(count, args.send)));
      },
      onReadable(this: Sock) {
        received += (this.read() as ArrayBuffer).byteLength;
      },
      onError(error?: Error) {
        resolve({ received, message: String(error?.message ?? error) });
      },
    });
  });

/** Listens; every accepted connection is adopted with new TCP({ from }) and echoed. */
g.listenAndEcho = (args: { connections: number }) =>
  new Promise((resolveListening) => {
    let served = 0;
    const listener = new ListenerClass({
      port: 0,
      address: "127.0.0.1",
      onReadable(this: Sock, count: number) {
        for (let i = 0; i < count; i++) {
          const from = this.read();
          const conn = new TCPClass({
            from,
            onReadable(this: Sock) {
              const data = this.read();
              if (data) this.write(data);
            },
            onWritable() {},
            onError(this: Sock) {
              this.close();
              if (++served === args.connections) listener.close();
            },
          });
          void conn;
        }
      },
    });
    resolveListening({ port: listener.port });
  });

/** Opens a connection and a repeating timer and leaves them open. */
g.leaveSocketOpen = (args: { port: number }) => {
  new TCPClass({ address: "127.0.0.1", port: args.port, onWritable() {}, onReadable() {}, onError() {} });
  return "open";
};

import Timer from "timer";

/** Reads nothing for `pauseMs` (the peer keeps sending), then drains `total` bytes 1 KB at a time. */
g.slowReader = (args: { port: number; total: number; pauseMs: number }) =>
  new Promise((resolve, reject) => {
    let reading = false;
    let received = 0;
    let announcedMax = 0;
    const drain = (sock: Sock) => {
      for (;;) {
        const chunk = sock.read(1024) as ArrayBuffer | undefined;
        if (chunk === undefined) break;
        received += chunk.byteLength;
      }
      if (received >= args.total) {
        sock.close();
        resolve({ received, announcedMax });
      }
    };
    const sock = new TCPClass({
      address: "127.0.0.1",
      port: args.port,
      onReadable(this: Sock, count: number) {
        if (count > announcedMax) announcedMax = count;
        if (reading) drain(this);
      },
      onWritable() {},
      onError(error?: Error) {
        reject(new Error(`socket error after ${received} bytes: ${error?.message}`));
      },
    });
    (Timer as unknown as { set(cb: () => void, ms: number): unknown }).set(() => {
      reading = true;
      drain(sock);
    }, args.pauseMs);
  });
