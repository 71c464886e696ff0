/**
 * What one call of MqttSession.handle() hands back, built while it runs: the
 * actions in order, with the bytes of each packet to send. Two facts are kept
 * beside them: when a packet last went out (the keepalive counts from it,
 * MQTT 5 §3.1.2.10) and whether the session state changed (the session then
 * adds a "persist" action, when it is persistent). The session (session.ts)
 * and its outgoing publishes (publish-window.ts) both write here.
 */
import { clientPacketSize, encodeClientPacket, publishSize } from "./codec.js";
import type { MqttPacket, ProtocolVersion } from "./packets.js";
import type { Failure, FailureCode, SessionAction } from "./session-types.js";
import { FAILED, PUBLISH, SEND } from "./names.js";

/**
 * What a handle() call with no action returns: one frozen array, shared. A new
 * array per call was garbage on XS for every timer and acknowledgement.
 */
export const NO_ACTIONS: SessionAction[] = Object.freeze([]) as unknown as SessionAction[];

export class SessionOutput {
  /** The actions of the handle() call in progress: handle() starts each call with NO_ACTIONS, the first action makes the array. */
  actions: SessionAction[] = NO_ACTIONS;
  /** When the last packet went out (monotonic ms). */
  lastSent = 0;
  /** The session state changed since the last "persist". */
  dirty = false;
  readonly #version: ProtocolVersion;
  #slab = new Uint8Array(0);
  #slabUsed = SLAB_BYTES; // full: the first packet allocates it

  constructor(version: ProtocolVersion) {
    this.#version = version;
  }

  push(action: SessionAction): void {
    if (this.actions === NO_ACTIONS) this.actions = [action];
    else this.actions.push(action);
  }

  /** A "send" action with the packet's bytes; returns those bytes. */
  send(packet: MqttPacket, now: number): Uint8Array {
    this.lastSent = now;
    const data = this.#encode(packet);
    this.push({ type: SEND, data, packet });
    return data;
  }

  /** The request `ref` failed: a "failed" action. */
  fail(ref: unknown, code: FailureCode, reasonCode?: number, message?: string): void {
    const error: Failure = { code };
    if (reasonCode !== undefined) error.reasonCode = reasonCode;
    if (message !== undefined) error.message = message;
    this.push({ type: FAILED, ref, error });
  }

  /**
   * A small packet's bytes are a view into a shared slab, not an array of its
   * own: a fresh small Uint8Array per packet was the largest cost of a QoS 1
   * publish on V8 (backing stores over 64 bytes live off the heap) and a chunk
   * per packet on XS. A full slab is let go (views still in use keep it
   * alive), never overwritten, so the bytes of a "send" action stay valid.
   */
  #encode(packet: MqttPacket): Uint8Array {
    const v = this.#version;
    const size = packet.type === PUBLISH ? publishSize(packet, v) : clientPacketSize(packet, v);
    if (size > SLAB_BYTES / 4) return encodeClientPacket(packet, v);
    if (this.#slabUsed + size > SLAB_BYTES) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#slabUsed = 0;
    }
    const data = encodeClientPacket(packet, v, this.#slab, this.#slabUsed);
    this.#slabUsed += data.length;
    return data;
  }
}

/** Bytes of one encoding slab (see #encode); packets over a quarter of it get an array of their own. */
const SLAB_BYTES = 512;
