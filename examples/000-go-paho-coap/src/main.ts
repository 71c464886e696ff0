/**
 * Example 000 — the Go program with paho.mqtt.golang and go-coap, as a mote app:
 * subscribe to topic/test at QoS 1 and print what arrives for 3 seconds, then
 * unsubscribe and disconnect; GET /other/sensor from a CoAP server (CON) and
 * print the payload. Build-time values: ssid, password (WiFi), broker, coap.
 */
import { connect } from "mote/mqtt";
import { get } from "mote/coap";
import { buildTimeValues, log, runWhenOnline, setTimer } from "mote/device";
import { decodeUtf8 } from "mote";

const config = buildTimeValues(["broker", "coap"]);

// On a device the network comes first: join WiFi (build-time ssid/password), then run the program.
runWhenOnline(() => {
  // MQTT: NewClientOptions().AddBroker(…).SetClientID(…) + NewClient + Connect
  const client = connect(String(config.broker), { clientId: "go-mqtt-example", protocolVersion: 4 });

  // SetDefaultPublishHandler: every message of every subscription comes here
  client.on("message", (topic, payload) => log("info", `Received message: ${decodeUtf8(payload)} from topic: ${topic}`));
  client.on("error", (e) => log("error", `mqtt: ${e.code}`));

  // Subscribe("topic/test", 1, nil) + token.Wait(): the promise settles at SUBACK
  client
    .subscribe("topic/test", undefined, { qos: 1 })
    .then((granted) => {
      log("info", `subscribed (granted QoS ${granted[0]})`);
      // time.Sleep(3 * time.Second): a timer, the program keeps running meanwhile
      setTimer(() => {
        client
          .unsubscribe("topic/test")
          .then(() => client.end()) // Unsubscribe + Disconnect(250): end() sends DISCONNECT once the queue is written
          .then(() => log("info", "disconnected"))
          .catch((e: Error) => log("error", e.message));
      }, 3000);
    })
    .catch((e: Error) => log("error", `subscribe: ${e.message}`)); // panic(token.Error())

  // CoAP: Dial("udp", host) + Exchange(Confirmable GET /other/sensor)
  get(`${String(config.coap)}/other/sensor`)
    .then((r) => log("info", `Response payload: ${r.text()} (${r.codeText})`))
    .catch((e: Error) => log("error", `Error sending request: ${e.message}`)); // log.Fatalf
});
