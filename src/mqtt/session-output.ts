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
  /** keptBuffer()'s spares: the first #spareCount entries. */
  readonly #spares: (Uint8Array | undefined)[] = [undefined, undefined, undefined, undefined];
  #spareCount = 0;

  constructor(version: ProtocolVersion) {
    this.#version = version;
  }

  push(action: SessionAction): void {
    if (this.actions === NO_ACTIONS) this.actions = [action];
    else this.actions.push(action);
  }

  /**
   * A "send" action with the packet's bytes; returns those bytes. With `into`
   * (from keptBuffer()), a packet that fits is written at its start.
   */
  send(packet: MqttPacket, now: number, into?: Uint8Array): Uint8Array {
    this.lastSent = now;
    const data = this.#encode(packet, into);
    this.push({ type: SEND, data, packet });
    return data;
  }

  /**
   * A buffer for a packet whose bytes stay in use after this call (a QoS 1/2
   * PUBLISH in flight keeps them until acknowledged): a spare one that holds
   * `size` bytes, else a new one of a size the next packets can reuse;
   * undefined for a packet over KEPT_MAX_BYTES. Give it back with
   * giveBack() once the bytes are no longer read. A new array per message was
   * most of a telemetry message's chunk garbage on XS (~330 B a second).
   */
  keptBuffer(size: number): Uint8Array | undefined {
    if (size > KEPT_MAX_BYTES) return undefined;
    const spares = this.#spares;
    for (let i = 0; i < this.#spareCount; i++) {
      const b = spares[i]!;
      if (b.length >= size) {
        spares[i] = spares[--this.#spareCount];
        spares[this.#spareCount] = undefined;
        return b;
      }
    }
    return new Uint8Array((size + KEPT_ROUND - 1) & -KEPT_ROUND);
  }

  /** A keptBuffer() buffer no longer read: a spare for the next one (at most KEPT_SPARES are kept). */
  giveBack(buffer: Uint8Array): void {
    if (this.#spareCount < KEPT_SPARES) this.#spares[this.#spareCount++] = buffer;
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
   * A packet that fits in `into` (a keptBuffer()) is written at its start.
   */
  #encode(packet: MqttPacket, into: Uint8Array | undefined): Uint8Array {
    const v = this.#version;
    const size = packet.type === PUBLISH ? publishSize(packet, v) : clientPacketSize(packet, v);
    if (into !== undefined && size <= into.length) return encodeClientPacket(packet, v, into, 0);
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
/** keptBuffer(): the largest packet it holds, the spares kept (with the spares array's length), the size step of a new buffer (a power of two). */
const KEPT_MAX_BYTES = 1024;
const KEPT_SPARES = 4;
const KEPT_ROUND = 64;
