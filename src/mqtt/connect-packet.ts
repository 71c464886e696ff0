/**
 * The CONNECT packet a session opens each connection with (MQTT 3.1.1 §3.1,
 * MQTT 5 §3.1): client id, clean flag, keep alive, credentials, will, and for
 * v5 the properties that tell the server our limits (§3.1.2.11).
 */
import { MoteError } from "../errors.js";
import { encodeUtf8 } from "../util/utf8.js";
import type { ConnectPacket, Properties, ProtocolVersion } from "./packets.js";
import type { SessionOptions } from "./session-types.js";
import { assertTopicName } from "./topic.js";

/** The session's resolved limits that CONNECT announces. */
export interface ConnectLimits {
  keepAlive: number;
  receiveMaximum: number;
  maxPacketSize: number;
  topicAliasMaximum: number;
}

/** Who the session is on this connection. `login` (a broker list's own credentials) replaces the options' user name and password. */
export interface ConnectAs {
  version: ProtocolVersion;
  clientId: string;
  clean: boolean;
  login?: { username?: string; password?: string | Uint8Array };
}

export function connectPacket(o: SessionOptions, limits: ConnectLimits, as: ConnectAs): ConnectPacket {
  const five = as.version === 5;
  const connect: ConnectPacket = {
    type: "connect",
    protocolVersion: as.version,
    clientId: as.clientId,
    clean: as.clean,
    keepAlive: limits.keepAlive,
  };
  const login = as.login;
  const username = login ? login.username : o.username;
  const password = login ? login.password : o.password;
  if (username !== undefined) connect.username = username;
  if (password !== undefined) connect.password = typeof password === "string" ? encodeUtf8(password) : password;
  if (o.will !== undefined) {
    assertTopicName(o.will.topic);
    // a string payload from JavaScript callers is taken as UTF-8
    const payload = typeof o.will.payload === "string" ? encodeUtf8(o.will.payload) : o.will.payload;
    if (!(payload instanceof Uint8Array)) throw new MoteError("invalid-payload", "will payload must be a Uint8Array or string");
    connect.will = { topic: o.will.topic, payload, qos: o.will.qos, retain: o.will.retain };
    if (five && o.will.properties) connect.will.properties = o.will.properties;
  }
  if (five) {
    const p: Properties = { ...o.connectProperties };
    const expiry = o.sessionExpiry ?? ((o.clean ?? true) ? 0 : 86_400);
    if (expiry > 0) p.sessionExpiryInterval = expiry;
    if (limits.receiveMaximum !== 65_535) p.receiveMaximum = limits.receiveMaximum;
    p.maximumPacketSize = limits.maxPacketSize;
    if (limits.topicAliasMaximum > 0) p.topicAliasMaximum = limits.topicAliasMaximum;
    if (o.authenticationMethod !== undefined) {
      p.authenticationMethod = o.authenticationMethod;
      if (o.authenticationData !== undefined) p.authenticationData = o.authenticationData;
    }
    connect.properties = p;
  }
  return connect;
}
