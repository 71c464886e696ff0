/** XS side of bench/bridge.ts. */
import Echo from "mote:bench/echo";

const echo = Echo as unknown as { inc(n: number): number; sink(data: Uint8Array): number };
const g = globalThis as unknown as Record<string, unknown>;
const payload = new Uint8Array(16 * 1024);

/** One synchronous host call (XS -> Node -> XS). */
g.hostCall = () => echo.inc(1);
/** One host call carrying 16 KB. */
g.hostCall16k = () => echo.sink(payload);
/** Pure XS work for scale: a 64-byte loop. */
g.localLoop = () => {
  let x = 0;
  for (let i = 0; i < 64; i++) x = (x + payload[i]) | 0;
  return x;
};

import { sendBytes } from "./tcp-send-entry.js";
g.sendBytes = sendBytes;
