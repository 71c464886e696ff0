import { describe, expect, test } from "vitest";
import { CoapFormatError, Method, Option, ResponseCode, encodeBlock, encodeUint, optionBlock, optionUint, pathOptions, type CoapMessage } from "../../src/coap/codec.js";
import { formatLinkFormat, parseLinkFormat } from "../../src/coap/linkformat.js";
import { ResourceTable } from "../../src/coap/resources.js";
import { parseCoapUri, uriOptions } from "../../src/coap/uri.js";

describe("CoRE Link Format (RFC 6690)", () => {
  test("libcoap's /.well-known/core parses into typed links", () => {
    const body =
      '</>;title="General Info";ct=0,</time>;if="clock";rt="ticks";title="Internal Clock";ct=0;obs,</async>;ct=0,</example_data>;title="Example Data";ct=0;obs';
    const links = parseLinkFormat(body);
    expect(links.map((l) => l.href)).toEqual(["/", "/time", "/async", "/example_data"]);
    expect(links[1]).toMatchObject({ rt: ["ticks"], if: ["clock"], ct: [0], obs: true, title: "Internal Clock" });
    expect(links[2].obs).toBe(false);
  });

  test("RFC 6690 §5 examples: multiple rt values, sz, quoted commas and semicolons", () => {
    const links = parseLinkFormat('</sensors/temp>;rt="temperature-c sensor";if="sensor";sz=128,</t>;title="a,b;c \\"q\\""');
    expect(links[0].rt).toEqual(["temperature-c", "sensor"]);
    expect(links[0].sz).toBe(128);
    expect(links[1].title).toBe('a,b;c "q"');
  });

  test("formatting and parsing round-trip", () => {
    const text = formatLinkFormat([{ href: "/a", rt: ["x", "y"], ct: [0, 50], obs: true, title: 'say "hi"' }, { href: "/b" }]);
    const [a, b] = parseLinkFormat(text);
    expect(a).toMatchObject({ href: "/a", rt: ["x", "y"], ct: [0, 50], obs: true, title: 'say "hi"' });
    expect(b.href).toBe("/b");
  });

  test.each(["/a", "<a", '</a>;title="x', "</a>,", "</a>;=1", "</a> junk"])("%s is a bad-link-format error", (bad) => {
    expect(() => parseLinkFormat(bad)).toThrow(CoapFormatError);
  });

  test("the number of links is bounded", () => {
    const many = Array.from({ length: 10 }, (_, i) => `</r${i}>`).join(",");
    expect(() => parseLinkFormat(many, { maxLinks: 9 })).toThrow(/more than 9 links/);
    expect(parseLinkFormat("")).toEqual([]);
  });
});

describe("coap:// URIs (RFC 7252 §6.4)", () => {
  test("host, port, path and query become options; IP literals get no Uri-Host", () => {
    const u = parseCoapUri("coap://Example.NET:61616/%7Esensors/temp?a=1&b");
    expect(u).toMatchObject({ host: "example.net", port: 61616, path: ["~sensors", "temp"], query: ["a=1", "b"], isIp: false });
    const opts = uriOptions(u).map((o) => [o.number, new TextDecoder().decode(o.value)]);
    expect(opts).toEqual([
      [Option.UriHost, "example.net"],
      [Option.UriPath, "~sensors"],
      [Option.UriPath, "temp"],
      [Option.UriQuery, "a=1"],
      [Option.UriQuery, "b"],
    ]);
    expect(parseCoapUri("coap://[::1]/x")).toMatchObject({ host: "::1", port: 5683, isIp: true });
    expect(uriOptions(parseCoapUri("coap://127.0.0.1"))).toEqual([]);
  });

  test.each(["http://x/", "coap://", "coap://h:99999/", "coap://h/#frag", "coaps://h/"])("%s is invalid-url", (bad) => {
    expect(() => parseCoapUri(bad)).toThrow(/invalid-url/);
  });

  test.each(["coap://h/%zz", "coap://h/a%E0", "coap://h/x?q=%2", "coap://h/%C3%28"])(
    "%s, a bad %%-escape or non-UTF-8 bytes, is MoteError invalid-url rather than a URIError or the raw text",
    (bad) => {
      expect(() => parseCoapUri(bad)).toThrowError(expect.objectContaining({ name: "MoteError", code: "invalid-url" }));
    },
  );

  test("well-formed escapes, UTF-8 included, decode to their text", () => {
    expect(parseCoapUri("coap://h/caf%C3%A9/%2F?k=%26v").path).toEqual(["café", "/"]);
    expect(parseCoapUri("coap://h/caf%C3%A9/%2F?k=%26v").query).toEqual(["k=&v"]);
  });
});

function request(path: string, extra: Partial<CoapMessage> = {}): CoapMessage {
  return { type: "CON", code: Method.GET, messageId: 1, token: Uint8Array.of(1), options: pathOptions(path), payload: new Uint8Array(0), ...extra };
}
const peer = { address: "10.0.0.2", port: 1000 };

describe("server resource table", () => {
  test("unknown paths get 4.04, unsupported methods 4.05", () => {
    const t = new ResourceTable();
    t.add({ path: "/a", handlers: { GET: () => ({}) } });
    expect(t.route(peer, request("/b"))).toEqual({ kind: "response", response: { code: ResponseCode.NotFound } });
    expect(t.route(peer, request("/a", { code: Method.DELETE }))).toEqual({ kind: "response", response: { code: ResponseCode.MethodNotAllowed } });
  });

  test("a large representation is served in Block2 blocks of the size the client asks for, Size2 on the first", () => {
    const t = new ResourceTable({ blockSize: 512 });
    const body = new Uint8Array(1300).map((_, i) => i & 0xff);
    t.add({ path: "/big", handlers: { GET: () => ({ payload: body }) } });
    const get = (num?: number, szx?: number) => {
      const m = request("/big");
      if (num !== undefined) m.options = [...m.options, { number: Option.Block2, value: encodeBlock({ num, more: false, szx: szx! }) }];
      const r = t.route(peer, m);
      if (r.kind !== "handler") throw new Error("route");
      const res = t.complete(r, r.handler(r.request) as never);
      return { ...res, msg: { ...m, options: res.options ?? [] } as CoapMessage };
    };
    const first = get();
    expect(optionBlock(first.msg, Option.Block2)).toEqual({ num: 0, more: true, szx: 5 });
    expect(optionUint(first.msg, Option.Size2)).toBe(1300);
    expect(first.payload!.length).toBe(512);
    const last = get(2, 5);
    expect(optionBlock(last.msg, Option.Block2)).toEqual({ num: 2, more: false, szx: 5 });
    expect(last.payload!.length).toBe(1300 - 1024);
    expect(last.payload![0]).toBe(1024 & 0xff);
    const small = get(3, 2); // 64-byte blocks
    expect(small.payload!.length).toBe(64);
    expect(small.payload![0]).toBe(192);
    expect(get(40, 5).code).toBe(ResponseCode.BadOption);
  });

  test("observers are registered by GET Observe=0, bounded, and removed by Observe=1", () => {
    const t = new ResourceTable({ maxObservers: 1 });
    t.add({ path: "/o", observable: true, handlers: { GET: () => ({ payload: "v" }) } });
    const reg = (token: number, obs: number) => {
      const m = request("/o", { token: Uint8Array.of(token), options: [...pathOptions("/o"), { number: Option.Observe, value: encodeUint(obs) }] });
      const r = t.route(peer, m);
      if (r.kind !== "handler") throw new Error("route");
      return t.complete(r, { payload: "v" });
    };
    expect(reg(1, 0).options!.some((o) => o.number === Option.Observe)).toBe(true);
    expect(t.observerCount).toBe(1);
    expect(reg(2, 0).options!.some((o) => o.number === Option.Observe)).toBe(false); // full: not registered
    reg(1, 1);
    expect(t.observerCount).toBe(0);
  });

  test("/.well-known/core filters by rt and href (RFC 6690 §4.1)", () => {
    const t = new ResourceTable();
    t.add({ path: "/s/temp", rt: ["temperature"], handlers: { GET: () => ({}) } });
    t.add({ path: "/s/hum", rt: ["humidity"], handlers: { GET: () => ({}) } });
    expect(t.wellKnownCore(["rt=temp*"])).toBe('</s/temp>;rt="temperature"');
    expect(t.wellKnownCore(["href=/s/hum"])).toBe('</s/hum>;rt="humidity"');
    expect(() => t.add({ path: "/.well-known/core", handlers: {} })).toThrow(/invalid-argument/);
  });

  test("the resource count is bounded", () => {
    const t = new ResourceTable({ maxResources: 1 });
    t.add({ path: "/a", handlers: {} });
    expect(() => t.add({ path: "/b", handlers: {} })).toThrow(/limit/);
  });
});
