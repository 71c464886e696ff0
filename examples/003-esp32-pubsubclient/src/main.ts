/**
 * Example 003 — the ESP32 Arduino sketch with WiFi.h and PubSubClient, as a
 * mote app: join WiFi, connect to the broker as "ESP32Client" (with a user
 * name and password, over TLS when a CA is given), subscribe to test/topic,
 * print what arrives, and publish "Hello from ESP32" every second — at QoS
 * 0, 1 or 2 (PubSubClient itself publishes at QoS 0 only).
 *
 * Build-time values: ssid, password, broker, mqttUser, mqttPass, ca (the
 * broker's CA certificate, PEM text: TLS), qos (0, 1 or 2; default 0).
 */
import { connect } from "mote/mqtt";
import { buildTimeValues, keepWifi, log, setRepeating } from "mote/device";
import { decodeUtf8, encodeUtf8 } from "mote";

const config = buildTimeValues(["ssid", "password", "broker", "mqttUser", "mqttPass", "ca", "qos"]);
const qos = Number(config.qos ?? 0) as 0 | 1 | 2;
const text = (key: string) => (config[key] === undefined ? undefined : String(config[key]));

// setup_wifi(): WiFi.begin(ssid, password) and wait for WL_CONNECTED — here a callback, and
// keepWifi joins again by itself (with backoff) whenever the network is lost.
let started = false;
keepWifi({
  ssid: String(config.ssid),
  password: text("password"),
  onOnline(address) {
    log("info", `WiFi connected, IP address: ${address}`);
    if (!started) {
      started = true;
      startMqtt();
    }
  },
  onOffline: (reason) => log("warn", `WiFi lost (${reason})`),
});

function startMqtt(): void {
  // client.setServer(mqtt_server, 1883) / WiFiClientSecure + setCACert(ca): TLS is the mqtts:// scheme
  const tls = config.ca !== undefined;
  const url = String(config.broker).replace(/^mqtts?:/, tls ? "mqtts:" : "mqtt:");
  const client = connect(url, {
    clientId: "ESP32Client", //              client.connect("ESP32Client", user, pass)
    username: text("mqttUser"),
    password: text("mqttPass"),
    protocolVersion: 4,
    ...(tls ? { ca: encodeUtf8(String(config.ca)) } : {}),
    reconnect: { initialDelayMs: 1000, maxDelayMs: 5000 }, // reconnect(): "try again in 5 seconds", without blocking loop()
  });

  // client.setCallback(callback): "Message arrived [topic] payload"
  client.on("message", (topic, payload) => log("info", `Message arrived [${topic}] ${decodeUtf8(payload)}`));
  client.on("connect", () => log("info", "connected")); //        Serial.println("connected")
  client.on("error", (e) => log("warn", `failed, rc=${e.code}`)); // client.state()

  // client.subscribe("test/topic") after each connect: mote subscribes again by itself after a reconnect
  client.subscribe("test/topic", undefined, { qos }).catch((e: Error) => log("error", e.message));

  // loop(): client.loop() + publish + delay(1000). No loop to write: a repeating timer publishes,
  // and publishes made while the broker is away wait in the client's bounded queue.
  let count = 0;
  setRepeating(() => {
    count++;
    client.publish("test/topic", `Hello from ESP32 ${count}`, { qos }).catch((e: Error) => log("warn", `publish: ${e.message}`));
  }, 1000);
}
