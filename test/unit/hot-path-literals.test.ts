/**
 * The per-message paths of the device program evaluate no string literal: MQTT
 * telemetry and received messages (up to the program's command handler, whose JSON
 * parsing and replies are not on it), a CoAP notification forwarded to MQTT, and the
 * CoAP client's (an Observe notification from the UDP read handler to the observer's
 * callback; a request with its piggybacked or separate response).
 *
 * mote's library is preloaded on the chip, and the XS linker leaves the string
 * literals of preloaded code as instructions that copy the literal into a new
 * chunk each time they run (Moddable SDK xs/tools/xslBase.c, fxMapCode): `case
 * "send":` or `{ type: "published" }` is a chunk of garbage per evaluation, ~45 of
 * them per telemetry message before src/mqtt/names.ts (docs/moddable.md). This
 * test reads the functions of that path with the TypeScript parser and fails on a
 * string literal or a `typeof` comparison there, outside the cold branches that may
 * keep them: a `throw`, an error being made (`new …Error(…)`), a failure being
 * reported (`….fail(…)`, `this.#fail(…)`, `this.#fault(…)`). The CoAP path also builds no string per
 * message: its tables are keyed by numbers (src/coap/peers.ts), and a template
 * with substitutions is reported like a literal.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, test } from "vitest";

const root = join(__dirname, "..", "..");

/**
 * File -> functions (methods by name, `#` included; plain functions by name; a
 * constructor as `new Class`) on the path of a QoS 1 telemetry message and its
 * PUBACK, of a message received, and of the CoAP client's notifications and requests.
 */
const HOT: Record<string, string[]> = {
  "src/mqtt/session.ts": ["handle", "nextDeadline", "#bytes", "#packet", "#up", "#assertNotEnding", "#maybeFinishEnd", "#incomingPublish"],
  "src/mqtt/publish-window.ts": ["publish", "#refusal", "#hasRoom", "#sendNew", "#giveBack", "pump", "allocateId", "ack", "#complete", "oldestTakenSince", "visitOldest"],
  "src/mqtt/session-output.ts": ["push", "send", "#encode", "keptBuffer", "giveBack"],
  "src/mqtt/client.ts": ["send", "publishEvent", "payloadBytes", "#feedBytes", "#feed", "#run", "#armAlarm", "#persist", "#saveDue", "#save", "#holdsNothing", "#flush", "#deliver"],
  "src/mqtt/outbox.ts": ["push", "whenLastWritten", "#tell", "take", "#join", "#shift", "#shiftQuiet"],
  "src/mqtt/pending.ts": ["openWithCallback", "#list", "settle", "isQos0", "#unlink"],
  "src/mqtt/codec.ts": ["push", "keep", "#shift", "next", "#next", "#byteAt"],
  "src/mqtt/codec-encode.ts": ["encodeClientPacket", "encodeWith", "encodePublish", "publishSize", "topicBytes"],
  "src/mqtt/codec-decode.ts": ["decodeAck", "packetId", "decodePublish", "plainTopic"],
  "src/mqtt/aliases.ts": ["incoming"],
  "src/mqtt/topic.ts": ["topicNameFault", "assertTopicName"],
  "src/platform/tcp.ts": ["read", "readScratch", "write", "#readable", "#writable", "byteLengthOf", "checkPort"],
  "src/platform/timer.ts": ["arm", "#fire", "#cancel", "timerDelay"],
  "src/platform/wifi.ts": ["wifiRssi", "read"],
  "src/platform/memory.ts": ["systemFreeMemory", "read"],
  "src/util/json-bytes.ts": ["begin", "open", "close", "number", "bytes", "value", "endView", "#open", "#key", "#number", "#decimal", "#byte", "#put", "#room"],
  "src/app/device.ts": ["#sendTelemetry", "#publish", "#onMqtt", "#onObserved"],
  "src/app/adapters/mqtt.ts": ["publish", "outcome", "room", "onMessage", "deliver"],
  // CoAP, from the UDP read handler down and back up to the observer's callback
  "src/platform/udp.ts": ["onReadable", "send"],
  "src/coap/driver.ts": ["packetCallback", "alarmCallback", "onAlarm", "onDatagram", "feed", "#drain", "#run", "rearm"],
  "src/coap/endpoint.ts": [
    "handle",
    "datagram",
    "nextDeadline",
    "#onDatagram",
    "#onAckOrReset",
    "#onTimer",
    "#token",
    "#uniqueToken",
    "#startRequest",
    "#activate",
    "#releaseSlot",
    "#sendRequest",
    "#transmit",
    "#onResponse",
    "#deliverFinal",
    "#onObserveResponse",
    "#finish",
    "#peerEntry",
    "earliest",
  ],
  "src/coap/peers.ts": ["full", "find", "add", "tokenKey", "get", "has", "delete"],
  "src/coap/message-layer.ts": ["midKey", "sameBytes", "isClientExchange", "idempotent", "mid", "flight", "due", "send", "reply", "replyEmpty", "expire", "seen", "replayable", "resend", "forget", "remember"],
  "src/coap/dedup.ts": ["find", "replayable", "reply", "remember", "setEmptyReply", "setReply", "forget", "#insert", "#remove", "expire", "#shift", "#dropReply", "hashOf"],
  "src/coap/server-exchanges.ts": ["onAckOrReset", "onStrayReset", "onTimer", "nextDeadline", "#consider"],
  "src/coap/codec.ts": [
    "decodeMessage",
    "decodeHeader",
    "code",
    "codeClass",
    "codeText",
    "encodedLength",
    "extLength",
    "sortedOptions",
    "nibble",
    "encodeMessage",
    "writeExt",
    "emptyMessage",
    "encodeEmpty",
    "encodeUint",
    "decodeUint",
    "findOption",
    "optionUint",
    "blockSize",
    "encodeBlock",
    "decodeBlock",
    "optionBlock",
  ],
  "src/coap/observe.ts": ["isFresh", "reregisterAt"],
  "src/coap/blockwise.ts": ["szxFor", "nextRequest", "acceptBlock2"],
  "src/coap/client.ts": ["new Response", "requestPayload", "get", "request", "#start", "#feed", "#onAction", "#nearestDeadline"],
  "src/app/adapters/coap.ts": ["notification", "get", "deliver"],
  "src/app/ports.ts": ["isCoapFailure"],
};

/**
 * Literals a listed function may keep, each on a branch that does not run per message:
 * "file function" -> the literals' source text.
 */
const COLD: Record<string, string[]> = {
  // a bad topic alias from the server: a protocol fault
  "src/mqtt/aliases.ts incoming": ['"topic-alias-invalid"', '"protocol-error"'],
  // only while the session is ending
  "src/mqtt/session.ts #maybeFinishEnd": ['"client-disconnect"'],
  // the failure code of a refused message, returned only when it is refused
  "src/mqtt/publish-window.ts #refusal": ['"packet-too-large"', '"qos-not-supported"', '"retain-not-supported"'],
  // the slow path of a topic not seen last time
  "src/mqtt/topic.ts topicNameFault": ['"+"', '"#"', '"wildcard"'],
  // a payload that is not bytes (a string given to publish()) gets here only after the instanceof test
  "src/mqtt/client.ts payloadBytes": ['typeof payload === "string"', '"string"'],
  // the "connected" and "close" actions: once per connection
  "src/mqtt/client.ts #run": ['"connect"', '"client-disconnect"', '"error"'],
  // a message that failed
  "src/app/adapters/mqtt.ts outcome": ['"ended"', '"dropped"', '"error"'],
  // a payload that is not bytes (a string given to post()) gets here only after the instanceof test; a GET has none
  "src/coap/client.ts requestPayload": ['typeof p === "string"', '"string"'],
  // every link event but "sent" and "message", which are tested first against constants; the log lines: once per connection
  "src/app/device.ts #onMqtt": [
    '"connect"',
    '"connected"',
    '"resumed"',
    '"new"',
    '"mqtt"',
    '"offline"',
    '"dropped"',
    '"fatal"',
    '`mqtt connected (session ${event.sessionPresent ? "resumed" : "new"})`',
    "`mqtt offline: ${event.reason}`",
  ],
};

function nameOf(node: ts.Node): string | undefined {
  if (ts.isConstructorDeclaration(node) && ts.isClassLike(node.parent) && node.parent.name) return `new ${node.parent.name.getText()}`;
  if ((ts.isMethodDeclaration(node) || ts.isFunctionDeclaration(node) || ts.isGetAccessor(node)) && node.name) return node.name.getText();
  // `const outcome = (e) => …` and `publish(topic, …) {…}` in an object literal
  if (ts.isVariableDeclaration(node) && node.initializer && (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))) return node.name.getText();
  return undefined;
}

/** A cold branch: a throw, an error being made, a failure reported. */
function cold(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node; n; n = n.parent) {
    if (ts.isThrowStatement(n) || ts.isCatchClause(n)) return true;
    if (ts.isNewExpression(n) && /Error$/.test(n.expression.getText())) return true;
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && /^#?(fail|fault)$/.test(n.expression.name.getText())) return true;
    if (ts.isFunctionLike(n)) return false;
  }
  return false;
}

function literalsIn(file: string, names: string[]): { found: string[]; missing: string[] } {
  const text = readFileSync(join(root, file), "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const seen = new Set<string>();
  const visitBody = (fn: string, node: ts.Node): void => {
    if (ts.isTypeNode(node)) return; // types cost nothing at run time
    // a nested function of the path is checked under its own name, if listed
    // a template with substitutions builds a new string at each evaluation
    const literal = ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node);
    const typeofTest = ts.isBinaryExpression(node) && ts.isTypeOfExpression(node.left) && ts.isStringLiteral(node.right);
    if ((literal || typeofTest) && !cold(node) && !(COLD[`${file} ${fn}`] ?? []).includes(node.getText())) {
      const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${file}:${line + 1} ${fn}: ${node.getText()}`);
    }
    ts.forEachChild(node, (c) => visitBody(fn, c));
  };
  const walk = (node: ts.Node): void => {
    const name = nameOf(node);
    if (name !== undefined && names.includes(name)) {
      seen.add(name);
      const body = ts.isVariableDeclaration(node) ? node.initializer! : node;
      ts.forEachChild(body, (c) => visitBody(name, c));
      return;
    }
    ts.forEachChild(node, walk);
  };
  walk(sf);
  return { found, missing: names.filter((n) => !seen.has(n)) };
}

describe("no string literal on the per-message path of the preloaded library (a chunk per evaluation on XS)", () => {
  for (const [file, names] of Object.entries(HOT)) {
    test(file, () => {
      const { found, missing } = literalsIn(file, names);
      // missing: a function listed here that the file no longer has
      expect({ file, missing, found }).toEqual({ file, missing: [], found: [] });
    });
  }

  test("the check finds a literal, a typeof test and a built string, and skips the cold branches", () => {
    const sample = `class A { hot(x: unknown) { if (typeof x === "number") return 1; if (x) throw new Error("cold"); this.out.fail(1, "cold"); this.#fail(x, "cold"); const k = \`\${x}|1\`; return { type: "send" }; } }`;
    const sf = ts.createSourceFile("sample.ts", sample, ts.ScriptTarget.ES2022, true);
    const hits: string[] = [];
    const visit = (n: ts.Node): void => {
      const literal = ts.isStringLiteral(n) || ts.isTemplateExpression(n);
      const typeofTest = ts.isBinaryExpression(n) && ts.isTypeOfExpression(n.left) && ts.isStringLiteral(n.right);
      if ((literal || typeofTest) && !cold(n)) hits.push(n.getText());
      ts.forEachChild(n, visit);
    };
    visit(sf);
    expect(hits).toEqual(['typeof x === "number"', '"number"', "`${x}|1`", '"send"']);
  });
});
