/**
 * The chaos-soak device program: runs on the XS engine inside the simulator
 * (host-shim/sim, one SimDevice), so power cuts kill the engine and boot it
 * again from the same state folder, exactly as for the default program.
 *
 * What it does: publishes `soakCount` QoS 1 messages on `soak/q1` and
 * `soakCount` QoS 2 messages on `soak/q2` (payload: the sequence number as
 * text), keeping at most `soakWindow` unacknowledged, over mote's MQTT client
 * with a persistent session (clean: false) kept in the preferences by
 * PreferenceSessionStore — so neither a broker restart, a dropped link nor a
 * power cut may lose a QoS 1 message or duplicate a QoS 2 one.
 *
 * Exactly-once across power cuts needs the application's counter to agree
 * with the session store: the next sequence number is written to the
 * preferences right AFTER `publish()` (which has already persisted the message
 * in the session store, synchronously, through the session's "persist"
 * action), and at boot it is raised past every message the restored session
 * still holds. A cut between the two writes therefore re-finds the message
 * in the store instead of publishing its number twice.
 *
 * It also subscribes to `soak/flood` (QoS 0) and counts what arrives, for the
 * flood phase, and exposes `moteStatus()` (the simulator polls it) and
 * `soakStatus()`.
 */
import { connect } from "../src/mqtt/index.js";
import { PreferenceSessionStore } from "../src/mqtt/store.js";
import { buildTimeValues } from "../src/platform/config.js";
import { now } from "../src/platform/clock.js";
import { getPreference, setPreference, deletePreference } from "../src/platform/preferences.js";
import { setRepeating, setTimer } from "../src/platform/timer.js";
import { connectWifi } from "../src/platform/wifi.js";
import { decodeUtf8 } from "../src/util/utf8.js";

const cfg = buildTimeValues(["ssid", "password", "broker", "soakCount", "soakWindow", "soakClientId", "soakVersion", "soakRate"]);
const COUNT = Number(cfg.soakCount ?? 100);
const WINDOW = Number(cfg.soakWindow ?? 16);
/** Publishes per second at most (both QoS levels together); 0 = as fast as the window allows. */
const RATE = Number(cfg.soakRate ?? 0);
/** Token bucket for RATE: at most WINDOW tokens saved up (no burst after an outage beyond the window). */
let tokens = 0;
let tokensAt = now();
const DOMAIN = "soak";

const store = new PreferenceSessionStore({ getPreference, setPreference, deletePreference }, "soaksess", { maxBytes: 8192, chunkBytes: 2048 });
const client = connect({
  url: String(cfg.broker),
  clientId: String(cfg.soakClientId ?? "soak-device"),
  clean: false,
  protocolVersion: cfg.soakVersion === 4 ? 4 : 5,
  sessionExpiry: 3600,
  keepAlive: 5,
  pingTimeoutMs: 2000,
  connectTimeoutMs: 3000,
  store,
  maxInflight: WINDOW,
  queueMaxMessages: 2 * WINDOW + 8,
  queueMaxBytes: 32_768,
  queuePolicy: "reject",
  reconnect: { initialDelayMs: 200, maxDelayMs: 2000, stableAfterMs: 5000 },
});

// The station first, as on the board: the simulated network routes a device's sockets
// only while its station has an address. A lost link is joined again after 500 ms
// (the WiFi part's own restart delay, docs/platform.md); the address back means the
// broker can be tried at once.
function joinWifi(): void {
  const station = connectWifi({
    ssid: String(cfg.ssid ?? "mote-sim"),
    password: cfg.password === undefined ? undefined : String(cfg.password),
    onEvent(event) {
      if (event.type === "got-ip") client.reconnectNow();
      else if (event.type === "disconnected") {
        station.close();
        setTimer(joinWifi, 500);
      }
    },
  });
}
joinWifi();

function seqOf(payload: Uint8Array): number {
  const t = decodeUtf8(payload);
  return typeof t === "string" ? Number(t) : NaN;
}

/** Next sequence numbers to publish: the stored counter, raised past what the restored session holds. */
const next = { 1: 1, 2: 1 } as Record<1 | 2, number>;
for (const q of [1, 2] as const) {
  const stored = getPreference(DOMAIN, `n${q}`);
  if (typeof stored === "number") next[q] = stored;
}
{
  const snap = client.session.snapshot();
  for (const p of [...snap.outgoing.map((o) => o.packet), ...snap.queued]) {
    const q = p.topic === "soak/q1" ? 1 : p.topic === "soak/q2" ? 2 : 0;
    if (q === 0) continue;
    const s = seqOf(p.payload);
    if (s >= next[q]) next[q] = s + 1;
  }
}

const counters = {
  boots: Number(getPreference(DOMAIN, "boots") ?? 0) + 1,
  acked: 0,
  rejected: 0,
  connects: 0,
  errors: 0,
  lastError: "",
  floodReceived: 0,
  connectedAt: 0,
};
setPreference(DOMAIN, "boots", counters.boots);
let connected = false;

/** Messages the session holds (in flight + queued): the window is counted there, so a restored session counts too. */
function pending(): number {
  const snap = client.session.snapshot();
  return snap.outgoing.length + snap.queued.length;
}

function pump(): void {
  // QoS 1 and QoS 2 alternate; the window covers both.
  let inSession = pending();
  if (RATE > 0) {
    const t = now();
    tokens = Math.min(WINDOW, tokens + ((t - tokensAt) * RATE) / 1000);
    tokensAt = t;
  }
  for (let guard = 0; guard < 2 * WINDOW && inSession < WINDOW && (RATE === 0 || tokens >= 1); guard++) {
    const q: 1 | 2 = next[1] <= next[2] ? (next[1] <= COUNT ? 1 : 2) : next[2] <= COUNT ? 2 : 1;
    if (next[q] > COUNT) return;
    const seq = next[q];
    inSession++;
    tokens--;
    client.publish(`soak/q${q}`, String(seq), { qos: q }).then(
      () => {
        counters.acked++;
        pump();
      },
      (e: { code?: string }) => {
        counters.rejected++;
        counters.lastError = `publish ${e?.code ?? "error"}`;
      },
    );
    next[q] = seq + 1;
    setPreference(DOMAIN, `n${q}`, next[q]); // after publish(): see the file comment
  }
}

client.on("connect", () => {
  connected = true;
  counters.connects++;
  counters.connectedAt = now();
  pump();
});
client.on("offline", () => {
  connected = false;
});
client.on("error", (e) => {
  counters.errors++;
  counters.lastError = e.code;
});
client.subscribe("soak/flood", () => {
  counters.floodReceived++;
}).catch(() => undefined);

// A slow tick refills the window when acknowledgements of a restored session come without promises.
setRepeating(pump, RATE > 0 ? 20 : 100);

function status() {
  return {
    healthy: connected,
    mqtt: { state: connected ? "connected" : "offline" },
    soak: { next1: next[1], next2: next[2], count: COUNT, pending: pending(), ...counters, done: next[1] > COUNT && next[2] > COUNT && pending() === 0 },
  };
}

const g = globalThis as unknown as Record<string, unknown>;
g.moteStatus = status;
g.soakStatus = status;
