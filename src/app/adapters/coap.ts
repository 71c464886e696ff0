/**
 * `CoapPort` over mote's CoAP client (src/coap/client.ts): one UDP socket for
 * every GET and observe relation of the device program, opened on first use.
 *
 * The device program takes CoAP only when its main passes it (`start()` of
 * src/app/start.ts does; `startDevice({ coap: platformCoap })` otherwise): a
 * program without it carries none of src/coap/ (~30 KB of the minified bundle).
 */
import { CoapClient, type CoapResponse } from "../../coap/client.js";
import type { CoapHost } from "../../coap/driver.js";
import { platformHost } from "../../coap/host.js";
import type { CoapPort, CoapResult } from "../ports.js";

/** A notification for the program (per message: no literal here, test/unit/hot-path-literals.test.ts); the response itself, not a copy. */
function notification(r: CoapResponse): CoapResult | { error: string } {
  // RFC 7641 §3.2: a notification with an error code ends the relation.
  return r.ok ? r : refusal(r);
}

function refusal(r: CoapResponse): { error: string } {
  return { error: `response ${r.codeText}` };
}

function failure(e: unknown): { error: string } {
  const code = (e as { code?: unknown })?.code;
  return { error: typeof code === "string" ? code : String(e) };
}

export function coapPort(host: CoapHost): CoapPort & { close(): void } {
  let client: CoapClient | undefined;
  const get = () => (client ??= new CoapClient({ host }));
  return {
    get(uri, callback) {
      let c: CoapClient;
      try {
        c = get();
      } catch (e) {
        callback(failure(e));
        return;
      }
      c.get(uri).then(
        (r) => callback(r),
        (e) => callback(failure(e)),
      );
    },
    observe(uri, onNotify) {
      let cancelled = false;
      let handle: { cancel(): Promise<void>; ended: Promise<CoapResponse | undefined> };
      try {
        const deliver = (r: CoapResponse): void => {
          if (!cancelled) onNotify(notification(r));
        };
        handle = get().observe(uri, deliver);
      } catch (e) {
        const f = failure(e);
        // Report asynchronously, like every other outcome.
        Promise.resolve().then(() => !cancelled && onNotify(f));
        return { cancel: () => void (cancelled = true) };
      }
      handle.ended.then(
        () => !cancelled && onNotify({ error: "observe-ended" }),
        (e) => !cancelled && onNotify(failure(e)),
      );
      return {
        cancel: () => {
          cancelled = true;
          void handle.cancel().catch(() => undefined);
        },
      };
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

/** The program's CoAP port on the platform's UDP sockets, DNS and timers: `startDevice({ coap: platformCoap })`. */
export function platformCoap(): CoapPort & { close(): void } {
  return coapPort(platformHost());
}
