/**
 * MQTT 5 reason codes (MQTT 5 §2.4) and the 3.1.1 CONNACK return codes
 * (MQTT 3.1.1 §3.2.2.3), with short names for logs and errors.
 *
 * One table, kept compact for the device bundle (docs/size.md): the names in
 * code order as one string; `ReasonCode` keys are the names in camelCase
 * ("granted QoS 1" -> grantedQoS1, "re-authenticate" -> reAuthenticate) and
 * MqttProtocolError's fault codes are the names in kebab case
 * ("malformed packet" -> malformed-packet), so no second table repeats them.
 */

/** MQTT 5 §2.4, table 2-6: the codes below 0x80 this client uses, then 0x80.. in order. */
const LOW_CODES: readonly number[] = Object.freeze([0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19]);

/** Names of LOW_CODES, then of 0x80, 0x81, ... 0xa2 (MQTT 5 §2.4, table 2-6). */
const NAMES: readonly string[] = Object.freeze(
  (
    "success|granted QoS 1|granted QoS 2|disconnect with will message|no matching subscribers|no subscription existed|" +
    "continue authentication|re-authenticate|" +
    "unspecified error|malformed packet|protocol error|implementation specific error|unsupported protocol version|" +
    "client identifier not valid|bad user name or password|not authorized|server unavailable|server busy|banned|" +
    "server shutting down|bad authentication method|keep alive timeout|session taken over|topic filter invalid|" +
    "topic name invalid|packet identifier in use|packet identifier not found|receive maximum exceeded|" +
    "topic alias invalid|packet too large|message rate too high|quota exceeded|administrative action|" +
    "payload format invalid|retain not supported|QoS not supported|use another server|server moved|" +
    "shared subscriptions not supported|connection rate exceeded|maximum connect time|" +
    "subscription identifiers not supported|wildcard subscriptions not supported"
  ).split("|"),
);

function codeAt(i: number): number {
  return i < LOW_CODES.length ? LOW_CODES[i] : 0x80 + i - LOW_CODES.length;
}

function indexOfCode(code: number): number {
  return code >= 0x80 ? (code <= 0xa2 ? code - 0x80 + LOW_CODES.length : -1) : LOW_CODES.indexOf(code);
}

/** v5 reason codes used by this client (MQTT 5 §2.4, table 2-6). */
export const ReasonCode: {
  readonly success: number;
  readonly grantedQoS1: number;
  readonly grantedQoS2: number;
  readonly disconnectWithWill: number;
  readonly noMatchingSubscribers: number;
  readonly noSubscriptionExisted: number;
  readonly continueAuthentication: number;
  readonly reAuthenticate: number;
  readonly unspecifiedError: number;
  readonly malformedPacket: number;
  readonly protocolError: number;
  readonly implementationSpecificError: number;
  readonly unsupportedProtocolVersion: number;
  readonly clientIdentifierNotValid: number;
  readonly badUserNameOrPassword: number;
  readonly notAuthorized: number;
  readonly serverUnavailable: number;
  readonly serverBusy: number;
  readonly banned: number;
  readonly serverShuttingDown: number;
  readonly badAuthenticationMethod: number;
  readonly keepAliveTimeout: number;
  readonly sessionTakenOver: number;
  readonly topicFilterInvalid: number;
  readonly topicNameInvalid: number;
  readonly packetIdentifierInUse: number;
  readonly packetIdentifierNotFound: number;
  readonly receiveMaximumExceeded: number;
  readonly topicAliasInvalid: number;
  readonly packetTooLarge: number;
  readonly messageRateTooHigh: number;
  readonly quotaExceeded: number;
  readonly administrativeAction: number;
  readonly payloadFormatInvalid: number;
  readonly retainNotSupported: number;
  readonly qosNotSupported: number;
  readonly useAnotherServer: number;
  readonly serverMoved: number;
  readonly sharedSubscriptionsNotSupported: number;
  readonly connectionRateExceeded: number;
  readonly maximumConnectTime: number;
  readonly subscriptionIdentifiersNotSupported: number;
  readonly wildcardSubscriptionsNotSupported: number;
} = (() => {
  const o: Record<string, number> = {};
  NAMES.forEach((name, i) => {
    // "granted QoS 1" -> grantedQoS1, "QoS not supported" -> qosNotSupported; 0x04 is keyed disconnectWithWill
    const key = i === 3 ? "disconnectWithWill" : name.split(/[ -]/).map((w, j) => (j ? w[0].toUpperCase() + w.slice(1) : w.toLowerCase())).join("");
    o[key] = codeAt(i);
  });
  return Object.freeze(o) as never;
})();

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes, mapped to their v5 equivalents. */
const V4_CONNACK_TO_V5: readonly number[] = Object.freeze([0x00, 0x84, 0x85, 0x88, 0x86, 0x87]);

/** A readable name for a v5 reason code ("malformed packet"), or its hex. */
export function reasonName(code: number): string {
  return NAMES[indexOfCode(code)] ?? `reason 0x${code.toString(16)}`;
}

/** The v5 reason code whose name in kebab case is `kebab` ("malformed-packet" -> 0x81), or undefined. */
export function reasonCodeOf(kebab: string): number | undefined {
  const i = NAMES.findIndex((n) => n.replace(/ /g, "-") === kebab);
  return i < 0 ? undefined : codeAt(i);
}

/** The v5 reason code equivalent of a 3.1.1 CONNACK return code. */
export function connackCodeToV5(returnCode: number): number {
  return V4_CONNACK_TO_V5[returnCode] ?? 0x80;
}

/** Whether a v5 reason code is a failure (MQTT 5 §2.4: 0x80 and above). */
export function isFailure(code: number): boolean {
  return code >= 0x80;
}
