// XS stub for "embedded:io/socket/tcp/tls": the Node twin host-shim/node/tls.ts,
// with the receive buffer kept in XS (see ../stream-socket.ts). The `TCP`
// option (the socket class Moddable's TLSSocket runs over, src/platform/tls.ts)
// stays here: the Node twin brings its own, and a class must not cross the bridge.
import { remoteModule } from "../bridge.js";
import { streamSocketClass } from "../stream-socket.js";

const m = remoteModule("embedded:io/socket/tcp/tls");
const Remote = streamSocketClass(m.default);

function withoutTcp(options: Record<string, unknown>): Record<string, unknown> {
  const forwarded = { ...options };
  delete forwarded.TCP;
  return forwarded;
}

export default typeof Remote === "function"
  ? class TLSSocket extends (Remote as new (options: Record<string, unknown>) => object) {
      constructor(options: Record<string, unknown>) {
        super(withoutTcp(options));
      }
    }
  : Remote;
