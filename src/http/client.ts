/**
 * Thin binding: one HTTP GET over an ECMA-419-style TCP socket, driving the
 * `HttpGet` core (get.ts). Socket events -> `handle()` -> run actions; one
 * alarm re-armed at `nextDeadline()` (STYLE.md habit 6).
 *
 * Back-pressure: the receiver says how many body bytes it can take now
 * (`room()`); the binding reads at most that many from the socket, leaving
 * the rest in the socket (TCP flow control does the waiting), so memory
 * stays bounded whatever the response size. Before the head arrives it reads
 * at most `headReadBytes` at a time.
 *
 * The socket, resolver and clock are passed in (`HttpTransport`): on the
 * device they are src/platform/{tcp,dns,clock,timer}.ts (see src/ota/device.ts).
 */
import { HttpGet, type HttpCloseCode } from "./get.js";
import type { ResponseHead } from "./response.js";
import { parseUrl } from "./url.js";

/** The subset of src/platform/tcp.ts this binding uses (same contract). */
export interface HttpSocket {
  read(count?: number): Uint8Array | undefined;
  write(data: Uint8Array): void;
  close(): void;
}

export interface HttpSocketHandlers {
  onReadable(count: number): void;
  onWritable(count: number): void;
  onError(code: string, message?: string): void;
}

export interface HttpTransport {
  connect(options: { address: string; port: number } & HttpSocketHandlers): HttpSocket;
  resolve(host: string, callback: (address: string | undefined, error?: string) => void): void;
  now(): number;
  /** An alarm firing once at an absolute `now()` time (platform/timer.ts Alarm). */
  alarm(onAlarm: () => void): { arm(deadline: number | undefined): void; close(): void };
}

export interface HttpGetHandlers {
  onHead(head: ResponseHead): void;
  onBody(data: Uint8Array): void;
  /** Exactly one of onEnd / onClose is the last call. */
  onEnd(): void;
  onClose(code: HttpCloseCode | "bad-url" | "dns", message?: string): void;
  /** Body bytes the receiver accepts now; default unlimited. */
  room?(): number;
}

export interface HttpGetParams {
  url: string;
  rangeStart?: number;
  headers?: ReadonlyArray<readonly [string, string]>;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  headReadBytes?: number;
}

export interface HttpExchange {
  close(): void;
}

export function httpGet(transport: HttpTransport, params: HttpGetParams, handlers: HttpGetHandlers): HttpExchange {
  const url = parseUrl(params.url);
  if (url === undefined || url.scheme !== "http") {
    // Reported on the next turn (never re-entrantly from inside the call).
    const once = transport.alarm(() => {
      once.close();
      handlers.onClose("bad-url", params.url.slice(0, 64));
    });
    once.arm(transport.now());
    return { close: () => once.close() };
  }
  let finished = false;
  let socket: HttpSocket | undefined;
  /** Bytes announced and not read yet: a hint for the read size. */
  let available = 0;
  let headSeen = false;
  let writeBudget = 0;
  let pending: Uint8Array | undefined;
  const alarm = transport.alarm(() => {
    armedAt = undefined;
    feed({ type: "timer" });
  });

  function finish(): void {
    finished = true;
    alarm.close();
    const s = socket;
    socket = undefined;
    s?.close();
  }

  const exchange: HttpExchange = {
    close() {
      if (!finished) finish();
    },
  };

  const core = new HttpGet({
    request: { url, rangeStart: params.rangeStart, headers: params.headers },
    connectTimeoutMs: params.connectTimeoutMs,
    idleTimeoutMs: params.idleTimeoutMs,
  });

  function flushWrites(): void {
    if (socket === undefined || pending === undefined || writeBudget <= 0) return;
    const n = Math.min(writeBudget, pending.length);
    socket.write(pending.subarray(0, n));
    writeBudget -= n;
    pending = n === pending.length ? undefined : pending.subarray(n);
  }

  function feed(event: Parameters<HttpGet["handle"]>[0]): void {
    if (finished) return;
    for (const a of core.handle(event, transport.now())) {
      if (finished) return;
      switch (a.type) {
        case "connect":
          break; // connection is opened below, once the address is known
        case "send":
          pending = a.data;
          flushWrites();
          break;
        case "head":
          headSeen = true;
          handlers.onHead(a.head);
          break;
        case "body":
          handlers.onBody(a.data);
          break;
        case "end":
          finish();
          handlers.onEnd();
          return;
        case "close":
          finish();
          if (a.reason.code !== "done") handlers.onClose(a.reason.code, a.reason.message);
          return;
      }
    }
    if (!finished) rearm(core.nextDeadline());
  }

  // The idle deadline moves forward with every read; re-arming a timer per read
  // would churn host timers. Keep an earlier alarm: when it fires the core sees
  // the deadline has not passed, and the alarm is set again at the new one.
  let armedAt: number | undefined;
  function rearm(deadline: number | undefined): void {
    if (deadline === undefined) {
      armedAt = undefined;
      alarm.arm(undefined);
    } else if (armedAt === undefined || deadline < armedAt) {
      armedAt = deadline;
      alarm.arm(deadline);
    }
  }

  function drain(): void {
    // Read only what the receiver can take; loop until the socket is empty or the
    // receiver is full. The announced count sizes the reads while it lasts, but it
    // is only a hint (platform/tcp.ts: it can be stale), so the loop ends when
    // read() says none, not when the count runs out.
    for (let guard = 0; socket !== undefined && !finished && guard < 100_000; guard++) {
      const limit = headSeen ? (handlers.room ? handlers.room() : undefined) : (params.headReadBytes ?? 1024);
      if (limit !== undefined && limit <= 0) return;
      const want = available > 0 ? (limit === undefined ? available : Math.min(available, limit)) : limit;
      const data = socket.read(want);
      if (data === undefined || data.length === 0) {
        available = 0;
        return;
      }
      available = available > data.length ? available - data.length : 0;
      feed({ type: "bytes", data });
    }
  }

  feed({ type: "start" });
  transport.resolve(url.host, (address, error) => {
    if (finished) return;
    if (address === undefined) {
      finish();
      handlers.onClose("dns", error);
      return;
    }
    let opened = false;
    socket = transport.connect({
      address,
      port: url.port,
      onWritable(count) {
        writeBudget = count;
        if (!opened) {
          opened = true;
          feed({ type: "open" });
        } else flushWrites();
      },
      onReadable(count) {
        available = count;
        drain();
      },
      onError(code, message) {
        if (finished) return;
        // Data may still be unread when the peer closes: deliver it first.
        drain();
        feed({ type: "closed", ...(code === "closed" ? {} : { error: `${code}${message ? `: ${message}` : ""}` }) });
      },
    });
  });
  return exchange;
}
