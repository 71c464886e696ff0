/**
 * Example 002 — the paho-mqtt program "connect → subscribe → publish → loop",
 * as a mote app: connect, subscribe to example/topic, publish "Hello, MQTT!"
 * to it, print what comes back, then disconnect. Build-time values: ssid, password (WiFi), broker.
 */
import { connect } from "mote/mqtt";
import { buildTimeValues, log, runWhenOnline } from "mote/device";
import { decodeUtf8 } from "mote";

const { broker } = buildTimeValues(["broker"]);

// On a device the network comes first: join WiFi (build-time ssid/password), then run the program.
runWhenOnline(() => {
  // client = mqtt.Client(); client.connect(host, 1883, 60)
  const client = connect(String(broker), { keepAlive: 60, protocolVersion: 4 });

  // on_connect: "Connected to broker with result code …"
  client.on("connect", () => log("info", "Connected to broker"));
  client.on("error", (e) => log("error", `mqtt: ${e.code} ${e.message}`));

  // on_message: "Received message: …" — and, this program's end, disconnect once it came back
  client.on("message", (topic, payload) => {
    log("info", `Received message: ${decodeUtf8(payload)}`);
    client.end().then(() => log("info", "Disconnected")); // client.disconnect()
  });

  // client.subscribe(…) then client.publish(…): mote queues both until the connection is up,
  // in order, so nothing is lost when they are called before CONNACK (paho's loop_start does the same).
  client.subscribe("example/topic").catch((e: Error) => log("error", e.message));
  client.publish("example/topic", "Hello, MQTT!").catch((e: Error) => log("error", e.message));
  // client.loop_start(): no thread to start — the device's event loop runs the client
});
