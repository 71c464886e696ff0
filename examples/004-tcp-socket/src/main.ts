/**
 * Example 004 — the Python socket programs, as a mote app: a TCP server that
 * accepts each client, prints what it sent, answers "message from the server"
 * and closes; and a TCP client that connects to a peer, sends a message,
 * prints the reply and closes.
 *
 * Build-time values: ssid, password (WiFi), port (the server's, default 8080; 0 = any free port,
 * printed), peer ("host:port" of the client's server; no client when unset).
 */
import { TcpClient, TcpServer } from "mote/net";
import { buildTimeValues, log, runWhenOnline } from "mote/device";
import { decodeUtf8 } from "mote";

const config = buildTimeValues(["port", "peer"]);

// On a device the network comes first: join WiFi (build-time ssid/password), then run the program.
runWhenOnline(() => {
  // socket(AF_INET, SOCK_STREAM) + bind + listen(5): one object; at most 5 connections at once
  const server = new TcpServer({
    port: Number(config.port ?? 8080),
    maxConnections: 5,
    // accept(): each connection is handed over already open
    onConnection(connection) {
      log("info", "a client connected");
      // recv(1024): data comes as it arrives, in chunks of up to readChunkBytes
      connection.onData = (data) => {
        log("info", `server received: ${decodeUtf8(data)}`);
        connection.write("message from the server"); // sendall(): queued, sent as the socket takes it
        connection.end(); //                              close(): after what is queued is written
      };
    },
  });
  log("info", `listening on port ${server.port}`);

  // The client: socket() + connect((ip, port)) + sendall + recv + close
  if (config.peer !== undefined) {
    const [host, port] = String(config.peer).split(":");
    const client = new TcpClient({
      host,
      port: Number(port),
      onConnect() {
        client.write("data from the IoT device");
      },
      onData(data) {
        log("info", `client received: ${decodeUtf8(data)}`);
        client.end();
      },
      onClose(error) {
        log("info", error === undefined ? "client closed" : `client failed: ${error.code}`);
      },
    });
  }
});
