/**
 * The device program: the loop ESP32 sketches write by hand, as supervised parts.
 *
 * Theory of operation. Four kinds of part run under one `Supervisor`:
 *   wifi        joins the configured network; a disconnect (with its reason:
 *               wrong password, no AP, lost link) fails the part, which the
 *               supervisor restarts after an exponential, jittered delay — a wrong
 *               password therefore retries slower and slower, never in a tight loop.
 *   mqtt        one long-lived link (it reconnects and queues QoS 1 by itself),
 *               created when WiFi first has an address. Its will is the retained
 *               `P/ID/status = offline`; on every connect it subscribes `P/ID/cmd/#`
 *               and publishes the retained `online` (MQTT 3.1.1 §3.1.2.5 will).
 *   telemetry   every `telemetryMs` a QoS 1 JSON record numbered (`boot`, `seq`);
 *               offline it waits in the link's session, which the link keeps in
 *               the preferences, so neither a broker restart nor a power cut
 *               loses it; a record the link refuses (full) leaves a gap in `seq`.
 *   coap:<uri>  one observe relation per configured URI (RFC 7641), forwarded
 *               to `P/ID/coap/<path>`.
 * A part's failure never stops another: a dead CoAP server does not touch MQTT.
 *
 * Commands and security (docs/security.md). A plain `config` command changes
 * only keys that are not protected (security.ts); protected keys change by a
 * `signed` command — a message signed with the OTA key in force, its counter
 * above the last one accepted — whose values go into the trust record
 * (src/ota/trust-store.ts, two slots: a power cut keeps the old or the new
 * record). The OTA key changes only by a signed rotation, applied at once to
 * the OTA agent. Harmful commands (reboot, ota, signed, config that reboots)
 * draw on a token bucket; cheap refusals (unsigned protected keys, replays)
 * cost nothing. Every refusal is published with its code on the command's
 * reply topic and on `P/ID/error`, counted and kept in `status().security`.
 * Everything external is a port (ports.ts), so this file runs in Node tests
 * with fakes and in XS on the device unchanged.
 */
import { encodeUtf8 } from "../util/utf8.js";
import { JsonWriter, jsonBytes, jsonKey } from "../util/json-bytes.js";
import { decodeText } from "./text.js";
import {
  CONFIG_KEYS,
  ConfigError,
  describeConfig,
  normalizeConfigValue,
  maskBrokerCredentials,
  parseBrokerList,
  toStoredValue,
  type Config,
  type ConfigKey,
} from "../runtime/config.js";
import type { BackoffOptions } from "../runtime/backoff.js";
import { Supervisor, type Part, type PartContext } from "../runtime/supervisor.js";
import { SNTP_BACKOFF, TimeSync, type TimeSource } from "../runtime/time-sync.js";
import { createLogger, describeError, type AlarmLike, type Host, type Logger } from "../runtime/host.js";
import { COUNTER_NAMES, isHealthy, zeroCounters, type Counters, type DeviceStatus, type MqttState, type WifiState } from "../runtime/health.js";
import { CommandError, parseCommand, topicsFor, type Command, type Topics } from "./commands.js";
import {
  DEFAULT_RATE_LIMIT,
  isProtectedKey,
  isTlsDowngrade,
  isTrustAnchor,
  keyId,
  TokenBucket,
  type RefusalCode,
  type TokenBucketOptions,
} from "./security.js";
import { checkAddressing, checkSignature, type SignedMessage } from "../ota/signed.js";
import type { OtaCrypto } from "../ota/descriptor.js";
import { encodeHex } from "../ota/encoding.js";
import { EMPTY_TRUST, type TrustRecord } from "../ota/trust-store.js";
import type {
  ConfigStore,
  CoapPort,
  CoapResult,
  MqttConnector,
  MqttLink,
  MqttLinkEvent,
  OtaPort,
  SensorSource,
  SystemPort,
  TrustPort,
  WifiEvent,
  WifiPort,
} from "./ports.js";
import { isCoapFailure } from "./ports.js";

export interface DeviceAppOptions {
  host: Host;
  config: Config;
  /** Config values refused at boot, shown in status. */
  problems?: readonly string[];
  wifi: WifiPort;
  mqtt: MqttConnector;
  coap?: CoapPort;
  ota?: OtaPort;
  store: ConfigStore;
  system: SystemPort;
  sensor?: SensorSource;
  /** Version of the running program (shown in status and telemetry). */
  version?: string;
  /**
   * Boot number, counted in the preferences once per boot by the program
   * (program.ts). Published with each telemetry record: `seq` restarts at 1
   * each boot, so (`boot`, `seq`) names a record and a gap in `seq` within a
   * boot is a record lost (docs/device-program.md, "Reboots and power cuts").
   */
  boot?: number;
  /** Reconnect backoff of every part (defaults: 1 s base, 60 s cap, 30 s stable). */
  backoff?: Partial<BackoffOptions>;
  /** Bound on CoAP observations started by commands. Default 4; beyond it the command is refused. */
  maxCommandObservations?: number;
  /** Told when WiFi or the broker connection comes up or goes down (e.g. for the OTA boot health check). */
  onLink?(link: "wifi" | "mqtt", up: boolean): void;
  /** Longest wait for an address after starting to join WiFi, ms. Default 30000; then the attempt fails ("timeout"). */
  wifiTimeoutMs?: number;
  /**
   * Wall-clock time (for TLS certificate dates) from `source`, asked once WiFi
   * has an address, as the supervised part "time" (src/runtime/time-sync.ts).
   * None: no time part (the desktop's clock is the host's).
   */
  time?: { source: TimeSource; server: string; setClock(unixMs: number): void; resyncMs?: number };
  /** Longest wait for queued messages before a reboot, ms. Default 2000. */
  rebootGraceMs?: number;
  /** The trust record store (signed messages are refused with "store" without one). */
  trust?: TrustPort;
  /** SHA-256 and P-256 verify for signed messages (program.ts passes the platform's). */
  crypto?: OtaCrypto;
  /** Bucket of harmful commands (reboot, ota, signed, config with reboot). Default 5 tokens, one per 10 s. */
  rateLimit?: Partial<TokenBucketOptions>;
}

/** Shortest wait before the WiFi part starts again (see the constructor). */
const WIFI_RESTART_MIN_MS = 500;

const ONLINE = encodeUtf8("online");
const OFFLINE = encodeUtf8("offline");
/** The telemetry record's names as JSON bytes, made once (src/util/json-bytes.ts says why). */
const KEY = Object.freeze({
  boot: jsonKey("boot"),
  seq: jsonKey("seq"),
  version: jsonKey("version"),
  uptimeMs: jsonKey("uptimeMs"),
  freeHeap: jsonKey("freeHeap"),
  rssi: jsonKey("rssi"),
  queueDepth: jsonKey("queueDepth"),
  counters: jsonKey("counters"),
  sensor: jsonKey("sensor"),
});
const COUNTER_KEYS = Object.freeze(COUNTER_NAMES.map(jsonKey));
/** The link's events for each message sent and received (see #onMqtt). */
const SENT = "sent";
const MESSAGE = "message";
/** The options of a publish, made once (an object per message was garbage on XS). */
const QOS0 = Object.freeze({ qos: 0, retain: false } as const);
const QOS1 = Object.freeze({ qos: 1, retain: false } as const);
const QOS0_RETAIN = Object.freeze({ qos: 0, retain: true } as const);
const QOS1_RETAIN = Object.freeze({ qos: 1, retain: true } as const);
/** Least time between two announces answering hellos, ms. */
export const ANNOUNCE_GAP_MS = 1000;

export class DeviceApp {
  readonly #o: DeviceAppOptions;
  readonly #host: Host;
  readonly #log: Logger;
  readonly #topics: Topics;
  readonly #supervisor: Supervisor;
  readonly #counters: Counters = zeroCounters();
  /** The telemetry record's writer (its scratch bytes are kept), and its two strings as JSON bytes, made once. */
  readonly #json = new JsonWriter();
  readonly #versionJson: Uint8Array | undefined;
  readonly #sensorKey: Uint8Array | undefined;
  readonly #bootAt: number;
  readonly #commandObservations = new Map<string, { cancel(): void }>();
  readonly #time: TimeSync | undefined;
  #wifiState: WifiState = "off";
  #wifiReason: string | undefined;
  #wifiIp: string | undefined;
  #mqttState: MqttState = "waiting-wifi";
  #mqttReason: string | undefined;
  #link: MqttLink | undefined;
  #mqttCtx: PartContext | undefined;
  #telemetryMs: number;
  #seq = 0;
  #reboot: string | undefined;
  /** Set once the program stopped itself for the reboot (the simulator restarts it then). */
  #halted = false;
  #rebootAlarm: AlarmLike | undefined;
  /** The OTA key in force: configured, or set by the last signed rotation. */
  #otaKey: Uint8Array | undefined;
  readonly #bucket: TokenBucket;
  #refused = 0;
  #announcedAt: number | undefined;
  #lastRefusal: { cmd: string; code: string } | undefined;

  constructor(options: DeviceAppOptions) {
    this.#o = options;
    this.#host = options.host;
    this.#otaKey = options.config.otaKey;
    this.#bucket = new TokenBucket({ ...DEFAULT_RATE_LIMIT, ...options.rateLimit }, options.host.now());
    this.#log = createLogger(options.host, "app");
    this.#topics = topicsFor(options.config.prefix, options.config.clientId);
    this.#telemetryMs = options.config.telemetryMs;
    this.#versionJson = jsonBytes(options.version);
    this.#sensorKey = options.sensor === undefined ? undefined : jsonKey(options.sensor.name);
    this.#bootAt = options.host.now();
    this.#supervisor = new Supervisor(options.host, { maxParts: 4 + options.config.coapObserve.length, backoff: options.backoff });
    // A restart waits at least WIFI_RESTART_MIN_MS: closing a station disconnects it, and the
    // ESP32 module posts that STA_DISCONNECTED to every WiFi object alive when it is handled
    // (wifi-esp32.c broadcastWiFiEvent); a new object made before then would take it for
    // the end of its own attempt.
    this.#supervisor.add("wifi", this.#wifiPart(), { minMs: Math.min(WIFI_RESTART_MIN_MS, options.backoff?.maxMs ?? WIFI_RESTART_MIN_MS) });
    this.#supervisor.add("mqtt", this.#mqttPart());
    this.#supervisor.add("telemetry", this.#telemetryPart());
    if (options.time !== undefined) {
      this.#time = new TimeSync({ ...options.time, host: options.host, log: this.#log });
      this.#supervisor.add("time", this.#time.part(), SNTP_BACKOFF);
    }
    if (options.coap !== undefined)
      for (const uri of options.config.coapObserve) this.#supervisor.add(`coap:${uri}`, this.#observePart(options.coap, uri));
  }

  get topics(): Topics {
    return this.#topics;
  }

  start(): void {
    this.#log.info(`starting ${this.#o.config.clientId} (${JSON.stringify(describeConfig(this.#o.config))})`);
    for (const p of this.#o.problems ?? []) this.#log.warn(`config: ${p}`);
    this.#log.info(`trust: otaKey ${keyId(this.#otaKey) ?? "none"}, counter ${this.#trustRecord().counter}`);
    this.#supervisor.start();
  }

  /** Stops every part and drops the link (no will is sent on a clean DISCONNECT). */
  stop(): void {
    this.#supervisor.close();
    for (const o of this.#commandObservations.values()) o.cancel();
    this.#commandObservations.clear();
    this.#rebootAlarm?.close();
  }

  status(): DeviceStatus {
    const info = this.#safeWifiInfo();
    return {
      id: this.#o.config.clientId,
      version: this.#o.version,
      uptimeMs: this.#host.now() - this.#bootAt,
      wifi: { state: this.#wifiState, reason: this.#wifiReason, ip: this.#wifiIp, rssi: info?.rssi },
      mqtt: {
        state: this.#mqttState,
        reason: this.#mqttReason,
        broker: this.#o.config.broker === undefined ? undefined : maskBrokerCredentials(this.#o.config.broker),
        node: this.#link?.broker,
      },
      queueDepth: this.#link?.queueDepth ?? 0,
      counters: { ...this.#counters },
      parts: this.#supervisor.health(),
      time: this.#time?.status(),
      problems: this.#o.problems ?? [],
      security: {
        otaKey: keyId(this.#otaKey),
        counter: this.#trustRecord().counter,
        tokens: this.#bucket.tokens(this.#host.now()),
        refused: this.#refused,
        lastRefusal: this.#lastRefusal,
      },
      reboot: this.#halted ? this.#reboot : undefined,
      healthy: isHealthy(this.#wifiState, this.#mqttState) && this.#reboot === undefined,
    };
  }

  /** Publishes one telemetry record now (outside the schedule); false if it could not be queued. */
  telemetryNow(): boolean {
    const before = this.#counters.telemetrySent;
    this.#sendTelemetry(this.#host.now());
    return this.#counters.telemetrySent > before;
  }

  // --- parts -------------------------------------------------------------

  #wifiPart(): Part {
    let handle: { close(): void } | undefined;
    let timeout: AlarmLike | undefined;
    return {
      start: (ctx) => {
        const { ssid, password } = this.#o.config;
        if (ssid === undefined) {
          this.#wifiState = "no-ssid";
          ctx.fail("no-ssid");
          return;
        }
        this.#wifiState = "connecting";
        timeout = this.#host.alarm(() => {
          if (ctx.alive && this.#wifiState !== "up") ctx.fail("timeout");
        });
        timeout.arm(this.#host.now() + (this.#o.wifiTimeoutMs ?? 30_000));
        handle = this.#o.wifi.connect({
          ssid,
          password,
          onEvent: (event: WifiEvent) => {
            if (!ctx.alive) return;
            switch (event.type) {
              case "connecting":
              case "connected":
                if (this.#wifiState !== "up") this.#wifiState = "connecting";
                break;
              case "got-ip":
                this.#wifiState = "up";
                this.#wifiReason = undefined;
                this.#wifiIp = event.address;
                timeout?.arm(undefined);
                this.#log.info(`wifi up ${event.address}`);
                this.#o.onLink?.("wifi", true);
                ctx.up();
                this.#time?.network(true);
                this.#networkUp();
                break;
              case "disconnected":
                // Joining while associated first leaves the old network ("closed"):
                // part of this attempt, not its failure (the timeout covers a join that never ends).
                if (event.reason === "closed" && this.#wifiState === "connecting") break;
                if (this.#wifiState === "up") this.#counters.wifiDrops++;
                this.#wifiState = "down";
                this.#wifiReason = event.reason;
                this.#wifiIp = undefined;
                this.#log.warn(`wifi down: ${event.reason}`);
                this.#o.onLink?.("wifi", false);
                this.#time?.network(false);
                ctx.fail(event.reason);
                break;
            }
          },
        });
      },
      stop: () => {
        timeout?.close();
        timeout = undefined;
        handle?.close();
        handle = undefined;
        this.#time?.network(false);
        if (this.#wifiState !== "no-ssid" && this.#wifiState !== "down") this.#wifiState = "off";
      },
    };
  }

  #mqttPart(): Part {
    return {
      start: (ctx) => {
        this.#mqttCtx = ctx;
        if (this.#o.config.broker === undefined) {
          this.#mqttState = "disabled";
          ctx.up();
          return;
        }
        if (this.#wifiState === "up") this.#openLink(ctx);
        else this.#mqttState = "waiting-wifi";
      },
      stop: () => {
        this.#mqttCtx = undefined;
        const link = this.#link;
        this.#link = undefined;
        link?.end();
        if (this.#mqttState !== "disabled") this.#mqttState = this.#reboot === undefined ? "failed" : "offline";
      },
    };
  }

  #networkUp(): void {
    const ctx = this.#mqttCtx;
    if (ctx === undefined || !ctx.alive || this.#o.config.broker === undefined) return;
    // A link kept through the outage may be deep in its backoff (its tries
    // failed while there was no network): it connects now instead.
    if (this.#link === undefined) this.#openLink(ctx);
    else this.#link.networkUp();
  }

  #openLink(ctx: PartContext): void {
    const c = this.#o.config;
    const brokers = parseBrokerList(c.broker!);
    const address = brokers[0];
    this.#mqttState = "connecting";
    this.#log.info(`mqtt connecting to ${brokers.map((b) => `${b.host}:${b.port}`).join(", ")}`);
    this.#link = this.#o.mqtt(
      {
        host: address.host,
        port: address.port,
        tls: address.tls,
        ...(brokers.length > 1 || address.username !== undefined || address.password !== undefined
          ? { brokers: brokers.map((b) => ({ host: b.host, port: b.port, tls: b.tls, username: b.username ?? c.mqttUser, password: b.password ?? c.mqttPass })) }
          : {}),
        ca: address.tls ? c.mqttCa : undefined,
        clientId: c.clientId,
        username: c.mqttUser,
        password: c.mqttPass,
        keepAliveS: c.keepAliveS,
        will: { topic: this.#topics.status, payload: OFFLINE, qos: 1, retain: true },
        cleanSession: false,
      },
      (event) => {
        if (ctx.alive) this.#onMqtt(ctx, event);
      },
    );
  }

  #onMqtt(ctx: PartContext, event: MqttLinkEvent): void {
    // the event of every message first, against a constant (a literal in preloaded code is a chunk per run, src/mqtt/names.ts)
    if (event.type === SENT) {
      this.#counters.msgsOut++;
      return;
    }
    if (event.type === MESSAGE) {
      this.#counters.msgsIn++;
      this.#onMessage(event.topic, event.payload, event.responseTopic);
      return;
    }
    const link = this.#link;
    switch (event.type) {
      case "connect":
        this.#mqttState = "connected";
        this.#mqttReason = undefined;
        this.#counters.mqttConnects++;
        this.#log.info(`mqtt connected (session ${event.sessionPresent ? "resumed" : "new"})`);
        // Subscribe on every connect: a broker that lost its state (restart without
        // persistence) would otherwise leave the device deaf (MQTT 3.1.1 §3.2.2.2).
        link?.subscribe(this.#topics.commands, 1);
        // Discovery (docs/ota.md): an exact topic, so brokers that give retained
        // messages or wildcards no fleet-wide reach (RabbitMQ) still deliver it;
        // QoS 0, so a persistent session never queues a burst of them offline.
        link?.subscribe(this.#topics.fleetHello, 0);
        this.#publish(this.#topics.status, ONLINE, 1, true);
        this.#o.onLink?.("mqtt", true);
        // After onLink: the boot health check has seen the connection, so the
        // slot state announced is its verdict (a kept update shows "valid").
        this.#announce(true);
        ctx.up();
        break;
      case "offline":
        if (this.#mqttState === "connected") {
          this.#log.warn(`mqtt offline: ${event.reason}`);
          this.#o.onLink?.("mqtt", false);
        }
        this.#mqttState = "offline";
        this.#mqttReason = event.reason;
        break;
      case "dropped":
        this.#counters.msgsDropped++;
        break;
      case "fatal":
        this.#mqttReason = event.reason;
        ctx.fail(event.reason);
        break;
    }
  }

  #telemetryPart(): Part {
    let alarm: AlarmLike | undefined;
    let next = 0;
    return {
      start: (ctx) => {
        next = this.#host.now() + this.#telemetryMs;
        alarm = this.#host.alarm(() => {
          if (!ctx.alive) return;
          const now = this.#host.now();
          try {
            this.#sendTelemetry(now);
          } catch (e) {
            ctx.fail(`telemetry: ${describeError(e)}`);
            return;
          }
          // Fixed schedule (no drift), skipping missed slots after a stall.
          next += this.#telemetryMs;
          if (next <= now) next = now + this.#telemetryMs;
          alarm?.arm(next);
        });
        alarm.arm(next);
        ctx.up();
      },
      stop: () => {
        alarm?.close();
        alarm = undefined;
      },
    };
  }

  #observePart(coap: CoapPort, uri: string): Part {
    let relation: { cancel(): void } | undefined;
    // Made once: the topic built from the URI per notification would be garbage per message.
    const topic = this.#topics.coap(uri);
    return {
      start: (ctx) => {
        relation = coap.observe(uri, (result) => this.#onObserved(ctx, topic, result));
      },
      stop: () => {
        relation?.cancel();
        relation = undefined;
      },
    };
  }

  /** A notification of a configured observation (per message). */
  #onObserved(ctx: PartContext, topic: string, result: CoapResult | { error: string }): void {
    if (!ctx.alive) return;
    if (isCoapFailure(result)) {
      ctx.fail(result.error);
      return;
    }
    ctx.up();
    this.#counters.coapNotifications++;
    this.#publish(topic, result.payload, 0, false);
  }

  // --- telemetry -----------------------------------------------------------

  #sendTelemetry(now: number): void {
    const sensor = this.#o.sensor;
    let reading: unknown;
    if (sensor !== undefined) {
      try {
        reading = sensor.read(now);
      } catch (e) {
        reading = { error: describeError(e) };
      }
    }
    const seq = ++this.#seq; // taken even when refused below: the gap shows the loss
    const link = this.#link;
    if (link === undefined) {
      this.#counters.msgsDropped++; // no broker yet: nothing can hold it
      return;
    }
    // Written member by member into bytes (src/util/json-bytes.ts): the record object,
    // its JSON string and the string's bytes were ~30% of a message's slots of garbage on XS.
    const w = this.#json;
    w.begin();
    w.number(KEY.boot, this.#o.boot);
    w.number(KEY.seq, seq);
    w.bytes(KEY.version, this.#versionJson);
    w.number(KEY.uptimeMs, now - this.#bootAt);
    w.number(KEY.freeHeap, this.#o.system.freeMemory());
    w.number(KEY.rssi, this.#safeRssi());
    w.number(KEY.queueDepth, link.queueDepth);
    w.open(KEY.counters);
    const counters = this.#counters;
    for (let i = 0; i < COUNTER_NAMES.length; i++) w.number(COUNTER_KEYS[i], counters[COUNTER_NAMES[i]]);
    w.close();
    if (sensor !== undefined) {
      w.open(KEY.sensor);
      w.value(this.#sensorKey!, reading);
      w.close();
    }
    // the link reads the bytes during the call (MqttLink.publish): the writer's scratch, no copy
    if (this.#publish(this.#topics.telemetry, w.endView(), 1, false)) this.#counters.telemetrySent++;
  }

  #publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean): boolean {
    const link = this.#link;
    if (link === undefined) return false;
    // counted in msgsOut when the link says it went out ("sent"), not when queued
    if (link.publish(topic, payload, retain ? (qos === 1 ? QOS1_RETAIN : QOS0_RETAIN) : qos === 1 ? QOS1 : QOS0)) return true;
    this.#counters.msgsDropped++;
    return false;
  }

  #publishJson(topic: string, value: unknown): void {
    this.#publish(topic, encodeUtf8(JSON.stringify(value)), 1, false);
  }

  // --- commands ------------------------------------------------------------

  #onMessage(topic: string, payload: Uint8Array, responseTopic: string | undefined): void {
    if (topic === this.#topics.fleetHello || topic === this.#topics.hello) {
      this.#announce(false); // the payload is not read
      return;
    }
    const command = parseCommand(this.#topics, topic, payload, responseTopic);
    if (command instanceof CommandError) {
      this.#commandFailed(command.command, command.code, command.message);
      return;
    }
    this.#counters.commands++;
    try {
      this.#run(command);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      this.#commandFailed(command.kind, typeof code === "string" ? code : "internal", describeError(e));
    }
  }

  /**
   * Publishes `P/ID/announce` (QoS 1, not retained): id, running version, boot
   * number and, with OTA slots, the running slot and its state. On a connect
   * always; for a hello at most once per `ANNOUNCE_GAP_MS`, so a flood of
   * hellos costs each device one small message a second at most.
   */
  #announce(connected: boolean): void {
    const now = this.#host.now();
    if (!connected && this.#announcedAt !== undefined && now - this.#announcedAt < ANNOUNCE_GAP_MS) return; // dropped
    this.#announcedAt = now;
    let firmware: { slot: string; state: string } | undefined;
    try {
      firmware = this.#o.ota?.firmware?.();
    } catch {
      firmware = undefined; // no slots on this host
    }
    this.#publishJson(this.#topics.announce, {
      id: this.#o.config.clientId,
      version: this.#o.version,
      boot: this.#o.boot,
      slot: firmware?.slot,
      slotState: firmware?.state,
      uptimeMs: now - this.#bootAt,
    });
  }

  #commandFailed(command: string, code: string, message: string): void {
    this.#counters.commandErrors++;
    this.#log.warn(`command ${command} refused: ${message}`);
    this.#publishJson(this.#topics.error, { cmd: command, code, message });
  }

  /**
   * A command refused for security: counted, logged and published with its
   * code on the command's reply topic and on the error topic. Messages name
   * keys and codes, never values.
   */
  #refuse(command: string, code: RefusalCode | string, message: string, replyTopic: string): void {
    this.#refused++;
    this.#lastRefusal = { cmd: command, code };
    this.#publishJson(replyTopic, { ok: false, code, message });
    this.#commandFailed(command, code, `${code}: ${message}`);
  }

  /** One token of the harmful-command bucket, or a "rate-limited" refusal. */
  #allow(command: string, replyTopic: string): boolean {
    const now = this.#host.now();
    if (this.#bucket.take(now)) return true;
    this.#refuse(command, "rate-limited", `too many ${command} commands: next in ${this.#bucket.waitMs(now)} ms`, replyTopic);
    return false;
  }

  #trustRecord(): TrustRecord {
    return this.#o.trust?.record ?? EMPTY_TRUST;
  }

  #run(command: Command): void {
    switch (command.kind) {
      case "ping":
        this.#publishJson(command.responseTopic ?? this.#topics.pong, {
          pong: true,
          id: command.id,
          uptimeMs: this.#host.now() - this.#bootAt,
          xs: this.#o.system.xsHeap?.(command.gc),
        });
        return;
      case "reboot": {
        const reply = command.responseTopic ?? this.#topics.reply("reboot");
        if (!this.#allow("reboot", reply)) return;
        this.#publishJson(reply, { rebooting: true });
        this.requestReboot("command");
        return;
      }
      case "config":
        this.#configure(command.values, command.reboot, command.responseTopic ?? this.#topics.reply("config"));
        return;
      case "signed":
        this.#signed(command.message, command.responseTopic ?? this.#topics.reply("signed"));
        return;
      case "coap":
        this.#coap(command.uri, command.observe, command.responseTopic);
        return;
      case "ota":
        this.#ota(command.payload);
        return;
    }
  }

  /**
   * Validate everything first, then persist: a refused key changes nothing.
   * Protected keys and the OTA key are refused here (docs/security.md): a
   * TLS downgrade with "tls-downgrade", the OTA key with "trust-anchor", any
   * other protected key with "signature-required" — before anything is saved
   * and before a `reboot` in the same message is looked at.
   */
  #configure(values: Record<string, unknown>, reboot: boolean, replyTopic: string): void {
    const normalized: [ConfigKey, Config[ConfigKey] | undefined][] = [];
    for (const key of Object.keys(values)) {
      if (key === "broker" && isTlsDowngrade(this.#o.config.broker, values[key] as string | null | undefined)) {
        this.#refuse("config", "tls-downgrade", "broker: mqtts cannot change to mqtt", replyTopic);
        return;
      }
      if (isTrustAnchor(key)) {
        this.#refuse("config", "trust-anchor", `${key}: a trust anchor, set at build time${key === "otaKey" ? " or by a signed rotation (mote ota rotate)" : ""}`, replyTopic);
        return;
      }
      if (isProtectedKey(key)) {
        this.#refuse("config", "signature-required", `${key}: protected, send it signed (mote ota sign-config)`, replyTopic);
        return;
      }
    }
    for (const key of Object.keys(values)) {
      const v = normalizeConfigValue(key, values[key]); // throws ConfigError
      if (CONFIG_KEYS[key as ConfigKey].readOnly) throw new ConfigError("read-only", key, "cannot be set at run time");
      normalized.push([key as ConfigKey, v]);
    }
    if (reboot && !this.#allow("config", replyTopic)) return;
    const applied: string[] = [];
    const pendingReboot: string[] = [];
    for (const [key, v] of normalized) {
      const stored = toStoredValue(key, v);
      if (stored === undefined) this.#o.store.delete(key);
      else this.#o.store.set(key, stored);
      if (CONFIG_KEYS[key].live) {
        this.#applyLive(key, v);
        applied.push(key);
      } else pendingReboot.push(key);
    }
    this.#log.info(`config saved: ${normalized.map(([k]) => k).join(", ")}`);
    this.#publishJson(replyTopic, { ok: true, saved: normalized.map(([k]) => k), applied, pendingReboot });
    if (reboot) this.requestReboot("config");
  }

  /**
   * A signed message (src/ota/signed.ts): addressing, replay and content are
   * checked first (no token, no crypto), then a token is taken and the
   * signature verified under the key in force, then the new trust record is
   * saved (two slots) and applied.
   */
  #signed(m: SignedMessage, replyTopic: string): void {
    const refused = checkAddressing(m, { clientId: this.#o.config.clientId, counter: this.#trustRecord().counter, publicKey: this.#otaKey });
    if (refused !== undefined) {
      this.#refuse("signed", refused.code, refused.message, replyTopic);
      return;
    }
    const record = this.#trustRecord();
    let next: TrustRecord;
    let pendingReboot: string[] = [];
    if (m.type === "config") {
      const config: Record<string, string> = { ...record.config };
      for (const key of Object.keys(m.config)) {
        const value = m.config[key];
        if (!isProtectedKey(key)) {
          this.#refuse("signed", isTrustAnchor(key) ? "trust-anchor" : "not-protected", `${key.slice(0, 32)}: not a protected key`, replyTopic);
          return;
        }
        if (key === "broker" && (value === null || isTlsDowngrade(this.#o.config.broker, value))) {
          this.#refuse("signed", value === null ? "invalid-value" : "tls-downgrade", value === null ? "broker: cannot be removed" : "broker: mqtts cannot change to mqtt", replyTopic);
          return;
        }
        if (value === null) {
          delete config[key];
          continue;
        }
        try {
          normalizeConfigValue(key, value);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          this.#refuse("signed", e.code, e.message, replyTopic);
          return;
        }
        config[key] = value;
      }
      next = { counter: m.counter, otaKey: record.otaKey, config };
      pendingReboot = Object.keys(m.config);
    } else next = { counter: m.counter, otaKey: m.otaKey, config: record.config };
    if (!this.#allow("signed", replyTopic)) return;
    const badSignature = checkSignature(m, this.#otaKey!, this.#o.crypto ?? noCrypto);
    if (badSignature !== undefined) {
      this.#refuse("signed", badSignature.code, badSignature.message, replyTopic);
      return;
    }
    const trust = this.#o.trust;
    if (trust === undefined) {
      this.#refuse("signed", "store", "this build keeps no trust record", replyTopic);
      return;
    }
    try {
      trust.save(next);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      this.#refuse("signed", typeof code === "string" ? code : "store", describeError(e), replyTopic);
      return;
    }
    if (m.type === "rotate-key") {
      this.#otaKey = m.otaKey;
      this.#o.ota?.setPublicKey?.(m.otaKey);
      this.#log.info(`ota key rotated to ${keyId(m.otaKey)} (counter ${m.counter})`);
      this.#publishJson(replyTopic, { ok: true, type: m.type, counter: m.counter, otaKey: keyId(m.otaKey) });
      return;
    }
    this.#log.info(`signed config saved: ${pendingReboot.join(", ")} (counter ${m.counter})`);
    this.#publishJson(replyTopic, { ok: true, type: m.type, counter: m.counter, saved: pendingReboot, pendingReboot });
    if (m.reboot) this.requestReboot("signed config");
  }

  #applyLive(key: ConfigKey, value: Config[ConfigKey] | undefined): void {
    if (key === "telemetryMs") {
      this.#telemetryMs = (value as number | undefined) ?? 60_000;
      this.#supervisor.restart("telemetry", "period changed");
    }
  }

  #coap(uri: string, observe: boolean, responseTopic: string | undefined): void {
    const coap = this.#o.coap;
    if (coap === undefined) throw new CommandError("bad-payload", "coap", "this build has no CoAP client");
    const topic = responseTopic ?? this.#topics.coap(uri);
    if (!observe) {
      coap.get(uri, (result) => this.#publishJson(topic, coapJson(uri, result)));
      return;
    }
    if (this.#commandObservations.has(uri)) return; // already forwarded
    const limit = this.#o.maxCommandObservations ?? 4;
    if (this.#commandObservations.size >= limit)
      throw new CommandError("bad-payload", "coap", `at most ${limit} observations`);
    const relation = coap.observe(uri, (result) => {
      if (isCoapFailure(result)) {
        this.#commandObservations.get(uri)?.cancel();
        this.#commandObservations.delete(uri);
        this.#publishJson(topic, coapJson(uri, result));
        return;
      }
      this.#counters.coapNotifications++;
      this.#publishJson(topic, coapJson(uri, result));
    });
    this.#commandObservations.set(uri, relation);
  }

  #ota(payload: Uint8Array): void {
    const ota = this.#o.ota;
    const reply = this.#topics.reply("ota");
    if (ota === undefined) {
      this.#commandFailed("ota", "ota-unavailable", "this build has no OTA agent");
      return;
    }
    if (!this.#allow("ota", reply)) return;
    ota.start(payload, (event) => {
      this.#publishJson(reply, event);
      if (event.type === "done" && event.reboot === true) this.requestReboot("ota");
    });
  }

  // --- reboot ---------------------------------------------------------------

  /**
   * Publishes the retained `offline` (a clean DISCONNECT suppresses the will,
   * MQTT 3.1.1 §3.14.4), waits up to `rebootGraceMs` for the queue to drain, then
   * stops everything and asks the system to reboot.
   */
  requestReboot(reason: string): void {
    if (this.#reboot !== undefined) return;
    this.#reboot = reason;
    this.#log.info(`reboot requested (${reason})`);
    this.#publish(this.#topics.status, OFFLINE, 1, true);
    const deadline = this.#host.now() + (this.#o.rebootGraceMs ?? 2000);
    const alarm = this.#host.alarm(() => {
      const now = this.#host.now();
      if ((this.#link?.queueDepth ?? 0) > 0 && now < deadline && this.#mqttState === "connected") {
        alarm.arm(Math.min(deadline, now + 50));
        return;
      }
      alarm.close();
      this.stop();
      this.#halted = true;
      this.#o.system.reboot(reason);
    });
    this.#rebootAlarm = alarm;
    alarm.arm(this.#host.now() + 50);
  }

  #safeWifiInfo(): { rssi?: number } | undefined {
    try {
      return this.#o.wifi.info();
    } catch {
      return undefined;
    }
  }

  #safeRssi(): number | undefined {
    const wifi = this.#o.wifi;
    if (wifi.signal === undefined) return this.#safeWifiInfo()?.rssi;
    try {
      return wifi.signal();
    } catch {
      return undefined;
    }
  }
}

/** Without crypto nothing verifies: signed messages are refused "bad-signature". */
const noCrypto: OtaCrypto = Object.freeze({
  createSha256: () => ({ write: () => undefined, close: () => new Uint8Array(32) }),
  verifyP256: () => false,
});

function coapJson(uri: string, result: CoapResult | { error: string }): Record<string, unknown> {
  if (isCoapFailure(result)) return { uri, error: result.error };
  const text = decodeText(result.payload);
  return text !== undefined
    ? { uri, code: result.codeText, observe: result.observe, payload: text }
    : { uri, code: result.codeText, observe: result.observe, payloadHex: encodeHex(result.payload.subarray(0, 1024)) };
}
