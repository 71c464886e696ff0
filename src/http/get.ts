/**
 * One HTTP/1.1 GET exchange as a sans-I/O core (STYLE.md habit 1).
 *
 *   idle --start--> connecting --open--> waiting (request sent) --head--> body --end--> done
 *                        any state --peer close / timeout / bad bytes--> closed(reason)
 *
 * Fed `(event, now)`; returns actions for the binding: bytes to send,
 * response head/body/end to deliver, and `close` with a reason. Time is only
 * what `now` says: `nextDeadline()` is the connect timeout, then the idle
 * timeout re-armed by each received byte.
 */
import { MoteError } from "../errors.js";
import { encodeGetRequest, type GetRequest } from "./request.js";
import { HttpResponseParser, type HttpFormatCode, type ResponseHead } from "./response.js";

export type HttpCloseCode = "done" | "connect-timeout" | "idle-timeout" | "peer-closed" | "network" | HttpFormatCode;

export type HttpGetEvent =
  | { type: "start" }
  | { type: "open" }
  | { type: "bytes"; data: Uint8Array }
  | { type: "closed"; error?: string }
  | { type: "timer" };

export type HttpGetAction =
  | { type: "connect" }
  | { type: "send"; data: Uint8Array }
  | { type: "head"; head: ResponseHead }
  | { type: "body"; data: Uint8Array }
  | { type: "end" }
  | { type: "close"; reason: { code: HttpCloseCode; message?: string } };

export interface HttpGetOptions {
  readonly request: GetRequest;
  /** Time allowed to connect. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Longest silence while waiting for the response. Default 15 s. */
  readonly idleTimeoutMs?: number;
  readonly maxHeaderBytes?: number;
}

type State = "idle" | "connecting" | "waiting" | "body" | "closed";

export class HttpGet {
  readonly #o: HttpGetOptions;
  readonly #parser: HttpResponseParser;
  #state: State = "idle";
  #deadline: number | undefined;

  constructor(options: HttpGetOptions) {
    this.#o = options;
    this.#parser = new HttpResponseParser({ maxHeaderBytes: options.maxHeaderBytes, head: options.request.method === "HEAD" });
  }

  get state(): State {
    return this.#state;
  }

  nextDeadline(): number | undefined {
    return this.#state === "closed" || this.#state === "idle" ? undefined : this.#deadline;
  }

  #close(code: HttpCloseCode, message?: string): HttpGetAction[] {
    this.#state = "closed";
    this.#deadline = undefined;
    return [{ type: "close", reason: message === undefined ? { code } : { code, message } }];
  }

  handle(event: HttpGetEvent, now: number): HttpGetAction[] {
    if (this.#state === "closed") return [];
    switch (event.type) {
      case "start":
        if (this.#state !== "idle") throw new MoteError("bad-state", "already started");
        this.#state = "connecting";
        this.#deadline = now + (this.#o.connectTimeoutMs ?? 10_000);
        return [{ type: "connect" }];
      case "open":
        if (this.#state !== "connecting") throw new MoteError("bad-state", "open while " + this.#state);
        this.#state = "waiting";
        this.#deadline = now + (this.#o.idleTimeoutMs ?? 15_000);
        return [{ type: "send", data: encodeGetRequest(this.#o.request) }];
      case "bytes": {
        if (this.#state === "idle" || this.#state === "connecting") throw new MoteError("bad-state", "bytes before open");
        this.#deadline = now + (this.#o.idleTimeoutMs ?? 15_000);
        const actions: HttpGetAction[] = [];
        for (const e of this.#parser.feed(event.data)) {
          if (e.type === "head") {
            this.#state = "body";
            actions.push(e);
          } else if (e.type === "body") {
            if (e.data.length > 0) actions.push(e);
          } else if (e.type === "end") {
            actions.push(e, ...this.#close("done"));
          } else actions.push(...this.#close(e.code, e.message));
        }
        return actions;
      }
      case "closed": {
        if (this.#state === "connecting" || this.#state === "idle") return this.#close("network", event.error);
        const actions: HttpGetAction[] = [];
        for (const e of this.#parser.finish()) {
          if (e.type === "end") actions.push(e, ...this.#close("done"));
          else if (e.type === "error") actions.push(...this.#close(event.error !== undefined ? "network" : "peer-closed", event.error ?? e.message));
        }
        return actions.length > 0 ? actions : this.#close("peer-closed");
      }
      case "timer":
        if (this.#deadline === undefined || now < this.#deadline) return [];
        return this.#close(this.#state === "connecting" ? "connect-timeout" : "idle-timeout");
    }
  }
}
