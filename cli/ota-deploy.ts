/**
 * `mote ota deploy --broker URL (--device ID | --all) DESCRIPTOR.json`
 *
 * Publishes the signed descriptor (inline JSON) on `<prefix>/<id>/cmd/ota`
 * and follows each device's answers on `<prefix>/<id>/reply/ota` (the
 * device program's reply topic) and `<prefix>/<id>/ota`:
 *   {"type":"progress","detail":"download 4096/65536"} ... {"type":"done"|"error","detail":...}
 * With `--all`, the devices are those whose retained `<prefix>/+/status` is
 * "online" within the discovery window. Exit 0 only if every device reports
 * done; otherwise 1 and one line per failed device naming its error code.
 */
import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { parseDescriptor } from "../src/ota/descriptor.js";
import type { OtaArgs, OtaCliIO } from "./ota.js";

type Outcome = { state: "waiting" | "running" | "done" | "error"; detail: string };

function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return "[" + "#".repeat(n) + "-".repeat(width - n) + "]";
}

export async function deploy(p: OtaArgs, io: OtaCliIO, signal?: AbortSignal): Promise<number> {
  const get = (k: string) => p.flags.get(k)?.[0];
  const broker = get("broker");
  const devices = p.flags.get("device") ?? [];
  const all = p.flags.has("all");
  if (broker === undefined || p.positional.length !== 1 || (devices.length === 0) === !all) {
    io.err("mote: usage: deploy --broker URL (--device ID | --all) DESCRIPTOR.json");
    return 2;
  }
  const prefix = get("prefix") ?? "mote";
  const timeoutMs = Number(get("timeout") ?? 300) * 1000;
  const text = readFileSync(p.positional[0], "utf8").trim();
  const descriptor = parseDescriptor(text); // refuse to send something the devices will refuse for form
  const client = await mqtt.connectAsync(broker, { clientId: `mote-deploy-${process.pid}-${Date.now() % 100000}`, reconnectPeriod: 0 });
  const outcomes = new Map<string, Outcome>();
  try {
    let targets = devices;
    if (all) {
      const seen = new Set<string>();
      client.on("message", (topic, payload) => {
        const m = topic.split("/");
        if (m.length === 3 && m[2] === "status" && payload.toString() === "online") seen.add(m[1]);
      });
      await client.subscribeAsync(`${prefix}/+/status`);
      await new Promise((r) => setTimeout(r, Number(get("discover") ?? 1500)));
      await client.unsubscribeAsync(`${prefix}/+/status`);
      targets = [...seen].sort();
      if (targets.length === 0) {
        io.err("mote: no-devices: no device reported online");
        return 1;
      }
    }
    for (const id of targets) outcomes.set(id, { state: "waiting", detail: "" });
    const finished = new Promise<void>((resolve) => {
      const check = () => {
        if ([...outcomes.values()].every((o) => o.state === "done" || o.state === "error")) resolve();
      };
      client.on("message", (topic, payload) => {
        const levels = topic.split("/");
        const id = levels[levels.length - (levels[levels.length - 2] === "reply" ? 3 : 2)];
        const o = outcomes.get(id);
        if (o === undefined || o.state === "done" || o.state === "error") return;
        let event: { type?: string; detail?: string };
        try {
          event = JSON.parse(payload.toString());
        } catch {
          return;
        }
        if (event.type === "progress") {
          o.state = "running";
          o.detail = String(event.detail ?? "");
          const m = /(\d+)\/(\d+)/.exec(o.detail);
          const fraction = m ? Number(m[1]) / Number(m[2]) : 0;
          io.out(`${id} ${bar(fraction)} ${o.detail}`);
        } else if (event.type === "done" || event.type === "error") {
          o.state = event.type;
          o.detail = String(event.detail ?? "");
          io.out(`${id} ${event.type === "done" ? "done" : "failed"}: ${o.detail}`);
          check();
        }
      });
    });
    for (const id of targets) {
      await client.subscribeAsync([`${prefix}/${id}/reply/ota`, `${prefix}/${id}/ota`], { qos: 1 });
    }
    for (const id of targets) {
      await client.publishAsync(`${prefix}/${id}/cmd/ota`, text, { qos: 1 });
      io.out(`${id}: sent ${descriptor.kind} ${descriptor.version}`);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    await Promise.race([finished, timedOut]);
    clearTimeout(timer);
  } finally {
    await client.endAsync();
  }
  let failures = 0;
  for (const [id, o] of outcomes) {
    if (o.state === "done") continue;
    failures++;
    const code = o.state === "error" ? (o.detail.split(":")[0] || "error") : "timeout";
    const detail = o.state === "error" ? o.detail.replace(/^([a-z-]+): \1$/, "$1") : ""; // "bad-signature: bad-signature" says it once
    io.err(`mote: ${code}: device ${id}${detail !== "" && detail !== code ? ` (${detail})` : ""}`);
  }
  return failures === 0 ? 0 : 1;
}
