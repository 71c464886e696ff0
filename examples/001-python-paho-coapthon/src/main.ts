/**
 * Example 001 — the Python program with paho-mqtt and CoAPthon, as a mote app:
 * on connect print the result and subscribe to sensors/temperature, print each
 * message as "<topic> <payload>"; GET /hello from a CoAP server, then POST
 * "world" to it, printing both responses. Build-time values: ssid, password (WiFi), broker, coap.
 */
import { connect } from "mote/mqtt";
import { request } from "mote/coap";
import { buildTimeValues, log, runWhenOnline } from "mote/device";
import { decodeUtf8 } from "mote";

const config = buildTimeValues(["broker", "coap"]);

// On a device the network comes first: join WiFi (build-time ssid/password), then run the program.
runWhenOnline(() => {
  // mqtt.Client() + client.connect(host, 1883, 60): keepalive 60 s
  const client = connect(String(config.broker), { keepAlive: 60, protocolVersion: 4 });

  // on_connect(client, userdata, flags, rc): subscribing here renews the subscription after every reconnect
  client.on("connect", ({ sessionPresent }) => {
    log("info", `Connected (session present: ${sessionPresent})`);
    client.subscribe("sensors/temperature").catch((e: Error) => log("error", e.message));
  });

  // on_message(client, userdata, msg)
  client.on("message", (topic, payload) => log("info", `${topic} ${decodeUtf8(payload)}`));
  client.on("error", (e) => log("error", `mqtt: ${e.code}`));
  // loop_forever(): nothing to write — the device's event loop delivers the callbacks

  // HelperClient(server=(host, 5683)): GET "hello", then POST "hello" with payload "world"
  const hello = `${String(config.coap)}/hello`;
  request(hello, { method: "GET" })
    .then((r) => {
      log("info", `GET ${r.codeText} ${r.text()}`); // response.pretty_print()
      return request(hello, { method: "POST", payload: "world" });
    })
    .then((r) => log("info", `POST ${r.codeText}`))
    .catch((e: Error) => log("error", `coap: ${e.message}`));
  // client.stop(): nothing to stop — the shared CoAP client holds one UDP socket for the whole program
});
