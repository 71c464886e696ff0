/**
 * Sends `total` bytes over raw ECMA-419 TCP as fast as onWritable allows;
 * resolves with the elapsed ms on the engine's own clock. Runs unchanged in
 * Node (host modules = Node twins) and in XS (host modules = bridge stubs).
 */
import TCP from "embedded:io/socket/tcp";
import Time from "time";

type Sock = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const TCPClass = TCP as unknown as new (options: Record<string, unknown>) => Sock;
const chunk = new Uint8Array(16 * 1024).fill(0x5a);

export function sendBytes(args: { port: number; total: number }): Promise<{ ms: number; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let start = -1;
    const sock = new TCPClass({
      address: "127.0.0.1",
      port: args.port,
      onWritable(this: Sock, count: number) {
        if (start < 0) start = Time.ticks;
        while (count > 0 && sent < args.total) {
          const n = Math.min(count, chunk.length, args.total - sent);
          this.write(n === chunk.length ? chunk : chunk.subarray(0, n));
          sent += n;
          count -= n;
        }
        if (sent >= args.total) {
          const ms = Time.ticks - start;
          this.close();
          resolve({ ms, sent });
        }
      },
      onReadable() {},
      onError(error?: Error) {
        reject(new Error(`send failed after ${sent} bytes: ${error?.message}`));
      },
    });
    void sock;
  });
}
