/**
 * Topics of the device program and the decoder of `cmd/...` messages.
 *
 * Topic tree, for prefix P and client id ID:
 *   P/ID/status      "online" | "offline" (retained; "offline" is the will)
 *   P/ID/telemetry   JSON every telemetry period (QoS 1)
 *   P/ID/cmd/<name>  commands to the device: ping, reboot, config, coap, ota, signed
 *                    (`signed`: a key rotation or protected configuration signed
 *                    with the OTA key, src/ota/signed.ts; docs/security.md)
 *   P/ID/pong        default reply topic of ping
 *   P/ID/reply/<name> replies of the other commands (unless a responseTopic is given)
 *   P/ID/coap/<path> CoAP results and observe notifications
 *   P/ID/error       a command that could not be run: {cmd, code, message}
 * Pure: parsing never throws; a bad command comes back as a `CommandError`.
 */
import { MoteError, nameError } from "../errors.js";
import { decodeText } from "./text.js";
import { parseSignedMessage, TrustError, type SignedMessage } from "../ota/signed.js";

export type CommandErrorCode =
  | "unknown-command"
  | "payload-too-large"
  | "bad-json"
  | "bad-payload"
  | "bad-topic";

/** A command the device cannot run, with a literal code; published on P/ID/error. */
export class CommandError extends MoteError<CommandErrorCode> {
  static {
    nameError(this, "CommandError");
  }
  readonly command: string;
  constructor(code: CommandErrorCode, command: string, message: string) {
    super(code, message);
    this.command = command;
  }
}

export type Command =
  | { kind: "ping"; responseTopic: string | undefined; id: unknown; gc: boolean }
  | { kind: "reboot"; responseTopic: string | undefined }
  | { kind: "config"; responseTopic: string | undefined; values: Record<string, unknown>; reboot: boolean }
  | { kind: "coap"; responseTopic: string | undefined; uri: string; observe: boolean }
  | { kind: "ota"; payload: Uint8Array }
  | { kind: "signed"; responseTopic: string | undefined; message: SignedMessage };

export interface Topics {
  readonly base: string;
  readonly status: string;
  readonly telemetry: string;
  readonly commands: string;
  readonly pong: string;
  readonly error: string;
  /** `P/fleet/hello`: the fleet-wide discovery request, one exact topic every device subscribes (docs/ota.md). */
  readonly fleetHello: string;
  /** `P/ID/cmd/hello`: the same request to one device. */
  readonly hello: string;
  /** `P/ID/announce`: the device's answer (id, version, boot, slot). */
  readonly announce: string;
  reply(command: string): string;
  coap(uri: string): string;
}

export function topicsFor(prefix: string, clientId: string): Topics {
  const base = `${prefix}/${clientId}`;
  return Object.freeze({
    base,
    status: `${base}/status`,
    telemetry: `${base}/telemetry`,
    commands: `${base}/cmd/#`,
    pong: `${base}/pong`,
    error: `${base}/error`,
    fleetHello: `${prefix}/fleet/hello`,
    hello: `${base}/cmd/hello`,
    announce: `${base}/announce`,
    reply: (command: string) => `${base}/reply/${command}`,
    coap: (uri: string) => `${base}/coap/${coapTopicPath(uri)}`,
  });
}

/** The path of a coap:// URI as topic levels: wildcards and empty levels removed. */
export function coapTopicPath(uri: string): string {
  const m = /^coaps?:\/\/[^/?#]+(\/[^?#]*)?/.exec(uri);
  const path = m?.[1] ?? "";
  const levels = path.split("/").filter((l) => l.length > 0).map((l) => l.replace(/[+#$]/g, "_"));
  return levels.length === 0 ? "root" : levels.join("/");
}

export interface CommandLimits {
  /** Largest command payload accepted, bytes. Default 4096; OTA payloads are exempt (they are a manifest). */
  maxPayload: number;
}

export const DEFAULT_COMMAND_LIMITS: CommandLimits = Object.freeze({ maxPayload: 4096 });

/**
 * Decodes a message on `P/ID/cmd/<name>`. `responseTopic` is the MQTT 5 Response
 * Topic property (MQTT 5 §3.3.2.3.5), if the client gives one; a `responseTopic`
 * field in a JSON payload works with MQTT 3.1.1 too.
 */
export function parseCommand(
  topics: Topics,
  topic: string,
  payload: Uint8Array,
  responseTopic?: string,
  limits: CommandLimits = DEFAULT_COMMAND_LIMITS,
): Command | CommandError {
  const head = `${topics.base}/cmd/`;
  if (!topic.startsWith(head)) return new CommandError("bad-topic", "", `not a command topic: ${topic.slice(0, 64)}`);
  const name = topic.slice(head.length);
  if (name === "ota") return { kind: "ota", payload };
  if (name === "signed") {
    if (responseTopic !== undefined && !isPublishTopic(responseTopic))
      return new CommandError("bad-payload", name, "response topic must be a topic name without wildcards");
    const message = parseSignedMessage(payload);
    if (message instanceof TrustError) return new CommandError("bad-payload", name, message.message);
    return { kind: "signed", responseTopic, message };
  }
  if (payload.length > limits.maxPayload)
    return new CommandError("payload-too-large", name, `${payload.length} > ${limits.maxPayload} bytes`);
  if (name !== "ping" && name !== "reboot" && name !== "config" && name !== "coap")
    return new CommandError("unknown-command", name.slice(0, 32), `unknown command "${name.slice(0, 32)}"`);
  let body: Record<string, unknown> = {};
  if (payload.length > 0) {
    const text = decodeText(payload);
    if (text === undefined) return new CommandError("bad-json", name, "payload is not UTF-8");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return new CommandError("bad-json", name, "payload is not JSON");
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      return new CommandError("bad-payload", name, "payload must be a JSON object");
    body = parsed as Record<string, unknown>;
  }
  let reply = responseTopic;
  if (body.responseTopic !== undefined) {
    if (typeof body.responseTopic !== "string" || !isPublishTopic(body.responseTopic))
      return new CommandError("bad-payload", name, "responseTopic must be a topic name without wildcards");
    reply = body.responseTopic;
  }
  if (reply !== undefined && !isPublishTopic(reply))
    return new CommandError("bad-payload", name, "response topic must be a topic name without wildcards");
  switch (name) {
    case "ping":
      if (body.gc !== undefined && typeof body.gc !== "boolean") return new CommandError("bad-payload", name, "gc must be a boolean");
      return { kind: "ping", responseTopic: reply, id: body.id, gc: body.gc === true };
    case "reboot":
      return { kind: "reboot", responseTopic: reply };
    case "config": {
      const values: Record<string, unknown> = {};
      let reboot = false;
      for (const key of Object.keys(body)) {
        if (key === "responseTopic") continue;
        if (key === "reboot") {
          if (typeof body.reboot !== "boolean") return new CommandError("bad-payload", name, "reboot must be a boolean");
          reboot = body.reboot;
          continue;
        }
        values[key] = body[key];
      }
      return { kind: "config", responseTopic: reply, values, reboot };
    }
    case "coap": {
      if (typeof body.uri !== "string" || !/^coaps?:\/\/[^\s/?#]+(\/[^\s#]*)?$/.test(body.uri) || body.uri.length > 256)
        return new CommandError("bad-payload", name, "uri must be a coap:// URI");
      if (body.observe !== undefined && typeof body.observe !== "boolean")
        return new CommandError("bad-payload", name, "observe must be a boolean");
      return { kind: "coap", responseTopic: reply, uri: body.uri, observe: body.observe === true };
    }
  }
  return new CommandError("unknown-command", name, "unreachable");
}

/** MQTT 3.1.1 §4.7.3 / MQTT 5 §4.7.3: a topic name is 1..65535 bytes, no wildcards, no U+0000. */
export function isPublishTopic(topic: string): boolean {
  return topic.length > 0 && topic.length <= 256 && !/[+#\u0000]/.test(topic);
}
