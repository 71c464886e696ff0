/**
 * XS side of test/xs/coap.test.ts and bench/coap.ts: the mote CoAP client
 * running inside the XS engine over src/platform (udp, timer, dns, random).
 */
import { CoapClient } from "../../src/coap/client.js";
import { platformHost } from "../../src/coap/host.js";

const g = globalThis as unknown as Record<string, unknown>;

g.coapGet = async (a: { url: string; confirmable?: boolean }) => {
  const c = new CoapClient({ host: platformHost() });
  try {
    const r = await c.get(a.url, { confirmable: a.confirmable });
    return { code: r.codeText, text: r.text(), contentFormat: r.contentFormat };
  } finally {
    c.close();
  }
};

g.coapObserve = async (a: { url: string; count: number }) => {
  const c = new CoapClient({ host: platformHost() });
  const seen: string[] = [];
  try {
    let reached: () => void = () => undefined;
    const enough = new Promise<void>((r) => (reached = r));
    const h = c.observe(a.url, (n) => {
      seen.push(n.text());
      if (seen.length === a.count) reached();
    });
    await Promise.race([enough, h.ended]);
    await h.cancel();
    return seen;
  } finally {
    c.close();
  }
};

/** Downloads with Block2, checking each byte against `(offset*7 + (offset>>8)) & 0xff` when `check`. */
g.coapDownload = async (a: { url: string; check?: boolean; blockSize?: number }) => {
  const c = new CoapClient({ host: platformHost() });
  let bytes = 0;
  let blocks = 0;
  let bad = 0;
  let sum = 0;
  try {
    const r = await c.download(
      a.url,
      (data, offset) => {
        blocks++;
        for (let i = 0; i < data.length; i++) {
          const v = data[i];
          sum = (sum + v) % 65521;
          if (a.check && v !== (((offset + i) * 7 + ((offset + i) >> 8)) & 0xff)) bad++;
        }
        bytes += data.length;
      },
      { blockSize: a.blockSize },
    );
    return { code: r.codeText, bytes, blocks, bad, sum };
  } finally {
    c.close();
  }
};

/** `count` sequential GETs on one client; returns how many succeeded. */
g.coapGetLoop = async (a: { url: string; count: number }) => {
  const c = new CoapClient({ host: platformHost() });
  let ok = 0;
  try {
    for (let i = 0; i < a.count; i++) if ((await c.get(a.url)).ok) ok++;
    return ok;
  } finally {
    c.close();
  }
};

/** Like coapDownload, on one client kept between calls (isolates the client's own memory from per-socket host costs). */
const kept: { client: CoapClient | undefined } = { client: undefined };
g.coapDownloadKept = async (a: { url: string; close?: boolean }) => {
  if (kept.client === undefined) kept.client = new CoapClient({ host: platformHost() });
  let bytes = 0;
  const r = await kept.client.download(a.url, (data) => (bytes += data.length));
  if (a.close) {
    kept.client.close();
    kept.client = undefined;
  }
  return { code: r.codeText, bytes };
};

import { coapCoreDownload } from "../helpers/coap-core-download.js";

/**
 * The sans-I/O cores only: a client endpoint and a server endpoint + resource
 * table wired back to back in memory, downloading `size` bytes with Block2.
 * Measures the protocol code in XS without sockets or the bridge.
 */
g.coapCoreDownload = (a: { size: number }) => coapCoreDownload(a.size, 10_000_000);
