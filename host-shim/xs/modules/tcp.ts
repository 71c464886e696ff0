// XS stub for "embedded:io/socket/tcp": the Node twin host-shim/node/tcp.ts,
// with the receive buffer kept in XS (see ../stream-socket.ts).
import { remoteModule } from "../bridge.js";
import { streamSocketClass } from "../stream-socket.js";

const m = remoteModule("embedded:io/socket/tcp");
export default streamSocketClass(m.default);
