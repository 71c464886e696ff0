/**
 * XS side of test/xs/bridge-release.test.ts: host objects that end, over and
 * over, the way a device's link ends on every WiFi drop.
 */
import TCP from "embedded:io/socket/tcp";
import UDP from "embedded:io/socket/udp";

type Sock = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const TCPClass = TCP as unknown as new (options: Record<string, unknown>) => Sock;
const UDPClass = UDP as unknown as new (options: Record<string, unknown>) => Sock;
const g = globalThis as unknown as Record<string, unknown>;

/** Connects `times` times to a port that refuses; each socket is closed in its onError, as src/platform/tcp.ts does. */
g.refusedConnects = (args: { port: number; times: number }) =>
  new Promise((resolve) => {
    let errors = 0;
    const next = (left: number) => {
      if (left === 0) return resolve({ errors });
      const sock = new TCPClass({
        address: "127.0.0.1",
        port: args.port,
        onWritable() {},
        onReadable() {},
        onError(this: Sock) {
          errors++;
          this.close();
          next(left - 1);
        },
      });
      void sock;
    };
    next(args.times);
  });

/** Opens and closes `times` UDP sockets whose callback names its own socket (a cycle through the bridge's callback table). */
g.selfNamingSockets = (args: { times: number }) => {
  for (let i = 0; i < args.times; i++) {
    const sock: Sock = new UDPClass({
      port: 0,
      onReadable() {
        sock.read();
      },
    });
    sock.close();
  }
  return args.times;
};

g.bridgeTables = () => (g.__bridgeStats as () => unknown)();
