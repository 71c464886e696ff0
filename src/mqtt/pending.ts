/**
 * The caller requests an MqttClient waits on: each publish / subscribe /
 * unsubscribe promise is one `Pending`, and that object is the `ref` the
 * session hands back in its "published" / "subscribed" / "failed" actions.
 *
 * They are kept in a doubly linked list through the objects themselves, so
 * adding and settling one allocates nothing: a Map from a counter to each
 * request, which this replaces, rebuilt its table as it grew and shrank and was
 * a large part of the garbage of a QoS 1 publish. The list is only walked when
 * the client ends, to fail what is left.
 */

const noop = (): void => {};

/** The callback of a request made without a promise (MqttClient.send): undefined on success, else the error. */
export type Done = (error: Error | undefined) => void;

/**
 * Requests made without a promise (MqttClient.send) with the same `done`: one
 * object for all of them, `done` called once for each (see openWithCallback).
 */
export class Pending {
  /** Called once for each request when it is settled (a PromisePending settles its promise instead). */
  done: Done | undefined;
  prev: Pending | undefined = undefined;
  next: Pending | undefined = undefined;
  /** In the list: some request not yet settled. */
  listed = false;
  /** Requests not yet settled (a PromisePending: one). */
  waiting = 0;
  /** A QoS 0 publish: it resolves once its bytes are written to the socket. */
  readonly qos0: boolean;

  constructor(qos0: boolean, done: Done | undefined) {
    this.qos0 = qos0;
    this.done = done;
  }
}

/** A request with a promise: its resolving functions (two fields only these carry: 2 slots less for each send() on XS). */
class PromisePending extends Pending {
  resolve: (value: unknown) => void = noop;
  reject: (error: Error) => void = noop;
}

/** A callback that threw: reported by the client (its "error" event), not lost. */
export type OnCallbackError = (e: unknown) => void;

export class PendingList {
  #head: Pending | undefined;
  /** The last callback request made: the next with the same `done` shares it (openWithCallback). */
  #shared: Pending | undefined;
  readonly #onCallbackError: OnCallbackError;

  constructor(onCallbackError: OnCallbackError) {
    this.#onCallbackError = onCallbackError;
  }

  /** A new request, listed, with the promise the caller gets. */
  open(qos0: boolean): { pending: Pending; promise: Promise<unknown> } {
    const pending = this.#list(new PromisePending(qos0, undefined));
    const promise = new Promise((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    return { pending, promise };
  }

  /**
   * A new request, listed, settled by calling `done`: no promise, no resolving
   * functions, no reaction jobs — on XS those were ~40 slots of garbage for each
   * message a device loop publishes. Requests with the same `done` (made once,
   * as send() asks) and QoS 0 or not alike share the last such object: `done`
   * carries no request of its own, so one counted object tells it apart no less,
   * and a device loop makes none per message (6 slots on XS).
   */
  openWithCallback(qos0: boolean, done: Done): Pending {
    const shared = this.#shared;
    if (shared !== undefined && shared.done === done && shared.qos0 === qos0) {
      if (shared.listed) shared.waiting++;
      else this.#list(shared);
      return shared;
    }
    const pending = this.#list(new Pending(qos0, done));
    this.#shared = pending;
    return pending;
  }

  #list<P extends Pending>(pending: P): P {
    pending.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = pending;
    this.#head = pending;
    pending.listed = true;
    pending.waiting = 1;
    return pending;
  }

  /**
   * Settles `ref` if it is a request still waiting; anything else (undefined,
   * settled) is ignored. True when that settled a promise: its caller resumes in
   * a later job (client.ts then defers its socket write to gather what it sends).
   */
  settle(ref: unknown, value: unknown, error?: Error): boolean {
    if (!(ref instanceof Pending) || !ref.listed) return false;
    if (--ref.waiting === 0) this.#unlink(ref);
    const done = ref.done;
    if (done !== undefined) {
      try {
        done(error);
      } catch (e) {
        this.#onCallbackError(e);
      }
      return false;
    }
    const promised = ref as PromisePending;
    if (error) promised.reject(error);
    else promised.resolve(value);
    return true;
  }

  /** True when `ref` is a request still waiting. */
  isWaiting(ref: unknown): boolean {
    return ref instanceof Pending && ref.listed;
  }

  /** True when `ref` is a QoS 0 publish still waiting. */
  isQos0(ref: unknown): boolean {
    return ref instanceof Pending && ref.listed && ref.qos0;
  }

  /** Fails every request still waiting. */
  failAll(error: () => Error): void {
    while (this.#head !== undefined) this.settle(this.#head, undefined, error());
  }

  #unlink(p: Pending): void {
    if (p.prev !== undefined) p.prev.next = p.next;
    else this.#head = p.next;
    if (p.next !== undefined) p.next.prev = p.prev;
    p.prev = p.next = undefined;
    p.listed = false;
  }
}
