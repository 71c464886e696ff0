/**
 * MQTT 5 reason codes (MQTT 5 §2.4) and the 3.1.1 CONNACK return codes
 * (MQTT 3.1.1 §3.2.2.3), with short names for logs and errors.
 */

/** v5 reason codes used by this client (MQTT 5 §2.4, table 2-6). */
export const ReasonCode = Object.freeze({
  success: 0x00,
  grantedQoS1: 0x01,
  grantedQoS2: 0x02,
  disconnectWithWill: 0x04,
  noMatchingSubscribers: 0x10,
  noSubscriptionExisted: 0x11,
  continueAuthentication: 0x18,
  reAuthenticate: 0x19,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecificError: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdentifierNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  banned: 0x8a,
  serverShuttingDown: 0x8b,
  badAuthenticationMethod: 0x8c,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetIdentifierInUse: 0x91,
  packetIdentifierNotFound: 0x92,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  messageRateTooHigh: 0x96,
  quotaExceeded: 0x97,
  administrativeAction: 0x98,
  payloadFormatInvalid: 0x99,
  retainNotSupported: 0x9a,
  qosNotSupported: 0x9b,
  useAnotherServer: 0x9c,
  serverMoved: 0x9d,
  sharedSubscriptionsNotSupported: 0x9e,
  connectionRateExceeded: 0x9f,
  maximumConnectTime: 0xa0,
  subscriptionIdentifiersNotSupported: 0xa1,
  wildcardSubscriptionsNotSupported: 0xa2,
});

const NAMES: { readonly [code: number]: string } = Object.freeze({
  0x00: "success",
  0x01: "granted QoS 1",
  0x02: "granted QoS 2",
  0x04: "disconnect with will message",
  0x10: "no matching subscribers",
  0x11: "no subscription existed",
  0x18: "continue authentication",
  0x19: "re-authenticate",
  0x80: "unspecified error",
  0x81: "malformed packet",
  0x82: "protocol error",
  0x83: "implementation specific error",
  0x84: "unsupported protocol version",
  0x85: "client identifier not valid",
  0x86: "bad user name or password",
  0x87: "not authorized",
  0x88: "server unavailable",
  0x89: "server busy",
  0x8a: "banned",
  0x8b: "server shutting down",
  0x8c: "bad authentication method",
  0x8d: "keep alive timeout",
  0x8e: "session taken over",
  0x8f: "topic filter invalid",
  0x90: "topic name invalid",
  0x91: "packet identifier in use",
  0x92: "packet identifier not found",
  0x93: "receive maximum exceeded",
  0x94: "topic alias invalid",
  0x95: "packet too large",
  0x96: "message rate too high",
  0x97: "quota exceeded",
  0x98: "administrative action",
  0x99: "payload format invalid",
  0x9a: "retain not supported",
  0x9b: "QoS not supported",
  0x9c: "use another server",
  0x9d: "server moved",
  0x9e: "shared subscriptions not supported",
  0x9f: "connection rate exceeded",
  0xa0: "maximum connect time",
  0xa1: "subscription identifiers not supported",
  0xa2: "wildcard subscriptions not supported",
});

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes, mapped to their v5 equivalents. */
const V4_CONNACK_TO_V5: readonly number[] = Object.freeze([0x00, 0x84, 0x85, 0x88, 0x86, 0x87]);

/** A readable name for a v5 reason code ("malformed packet"), or its hex. */
export function reasonName(code: number): string {
  return NAMES[code] ?? `reason 0x${code.toString(16)}`;
}

/** The v5 reason code equivalent of a 3.1.1 CONNACK return code. */
export function connackCodeToV5(returnCode: number): number {
  return V4_CONNACK_TO_V5[returnCode] ?? 0x80;
}

/** Whether a v5 reason code is a failure (MQTT 5 §2.4: 0x80 and above). */
export function isFailure(code: number): boolean {
  return code >= 0x80;
}
