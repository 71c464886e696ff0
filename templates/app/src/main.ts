/**
 * __NAME__: a mote app. It joins WiFi, then
 *   - connects to the MQTT broker (reconnects by itself, with backoff),
 *     says "online" (retained; the broker says "offline" for it if it drops),
 *   - obeys commands on app/<id>/cmd/# ("ping" -> app/<id>/pong),
 *   - reads a sensor over CoAP (GET <coap>/sensor) and publishes it as
 *     telemetry every `telemetryMs` on app/<id>/telemetry (QoS 1).
 *
 * Build-time values, read once at boot: `mcconfig … ssid=… password=…
 * broker=mqtt://… coap=coap://…` on a board, or given by the simulator
 * (`npm start`, `npm test`).
 */
import { encodeUtf8 } from "mote";
import { connect } from "mote/mqtt";
import { get } from "mote/coap";
import { buildTimeValues, log, runWhenOnline, setRepeating, wifiInfo } from "mote/device";

const config = buildTimeValues(["broker", "coap", "clientId", "telemetryMs"]);
const id = String(config.clientId ?? `app-${wifiInfo().mac.split(":").join("").slice(-6)}`);
const topic = (rest: string) => `app/${id}/${rest}`;

// Join WiFi (ssid, password; again by itself after a loss), then run the program once.
runWhenOnline(run);

function run(): void {
  const client = connect(String(config.broker ?? "mqtt://127.0.0.1"), {
    clientId: id,
    protocolVersion: 4, // MQTT 3.1.1: every broker speaks it (5 for MQTT 5 features)
    keepAlive: 30,
    will: { topic: topic("status"), payload: encodeUtf8("offline"), qos: 1, retain: true },
  });
  client.on("connect", () => {
    log("info", "mqtt connected");
    client.publish(topic("status"), "online", { qos: 1, retain: true }).catch(() => undefined);
  });
  client.on("error", (e) => log("warn", `mqtt ${e.code}: ${e.message}`));

  // Commands. The subscription is kept by the client across reconnects.
  client
    .subscribe(topic("cmd/#"), (t, payload) => {
      const command = t.slice(topic("cmd/").length);
      if (command === "ping") client.publish(topic("pong"), payload, { qos: 1 }).catch(() => undefined);
      else log("warn", `unknown command ${command}`);
    }, { qos: 1 })
    .catch((e: Error) => log("error", `subscribe: ${e.message}`));

  // Telemetry: the sensor's last value, read over CoAP.
  let seq = 0;
  let sensor: string | undefined;
  const readSensor = () => {
    if (config.coap === undefined) return;
    get(`${String(config.coap)}/sensor`)
      .then((r) => {
        if (r.ok) sensor = r.text();
      })
      .catch((e: Error) => log("warn", `coap: ${e.message}`));
  };
  readSensor();
  setRepeating(() => {
    readSensor();
    seq++;
    if (client.connected) client.publish(topic("telemetry"), JSON.stringify({ seq, sensor }), { qos: 1 }).catch(() => undefined);
  }, Number(config.telemetryMs ?? 5000));
}
