/**
 * Program of test/moddable/telemetry-garbage.test.ts: src/util/utf8.ts on Moddable's
 * XS. Prints each sample's encodeUtf8 / utf8Length / writeUtf8 bytes as hex, and the
 * XS slots that encoding a telemetry-sized record leaves (collection off meanwhile).
 */
import Debug from "debug";
import Instrumentation from "instrumentation";
import { encodeUtf8, utf8Length, writeUtf8 } from "../../src/util/utf8.js";

declare const trace: (s: string) => void;
declare const SAMPLES: string[];

const hex = (b: Uint8Array): string => Array.from(b, (x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
for (let i = 0; i < SAMPLES.length; i++) {
  const text = SAMPLES[i];
  const written = new Uint8Array(utf8Length(text) + 2);
  const end = writeUtf8(text, written, 1);
  trace(`utf8 ${i} ${hex(encodeUtf8(text))} ${utf8Length(text)} ${hex(written.subarray(1, end))}\n`);
}
const record = JSON.stringify({ boot: 1, seq: 5, version: "0.1.0", uptimeMs: 5001, freeHeap: 0, rssi: -50, queueDepth: 0, counters: { msgsIn: 0, msgsOut: 6, msgsDropped: 0, telemetrySent: 4, commands: 0, commandErrors: 0, coapNotifications: 0 }, sensor: { demo: 22.99 } });
const slots = Instrumentation.map("XS Slot Heap Used");
Debug.gc();
Debug.gc(false);
const before = Instrumentation.get(slots) ?? 0;
encodeUtf8(record);
const after = Instrumentation.get(slots) ?? 0;
Debug.gc(true);
trace(`utf8-garbage ${record.length} ${(after - before) / 32}\n`);
trace("utf8-done\n");
