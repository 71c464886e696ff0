import { describe, expect, test } from "vitest";
import { errorLine } from "../../cli/engine.js";
import { main } from "../../cli/main.js";
import { MoteError } from "../../src/errors.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) }, out, err };
}

describe("mote dispatch", () => {
  test("with no command prints usage on stderr and exits 2; help prints it on stdout and exits 0", async () => {
    const a = capture();
    expect(await main([], a.io)).toBe(2);
    expect(a.err.join("")).toMatch(/^usage: mote/);
    const b = capture();
    expect(await main(["help"], b.io)).toBe(0);
    expect(b.out.join("")).toMatch(/mote tcp connect HOST PORT/);
  });

  test("an unknown command is a usage error, exit 2, one line", async () => {
    const c = capture();
    expect(await main(["frobnicate"], c.io)).toBe(2);
    expect(c.err).toEqual(['mote: usage: unknown command "frobnicate" (try mote help)\n']);
  });

  test("a usage error inside a group exits 2 with one line naming the code", async () => {
    const c = capture();
    expect(await main(["tcp", "connect", "127.0.0.1", "99999"], c.io)).toBe(2);
    expect(c.err).toEqual(['mote: usage: PORT must be 0-65535, not "99999"\n']);
    const d = capture();
    expect(await main(["udp", "send", "--engine", "jvm", "h", "1", "m"], d.io)).toBe(2);
    expect(d.err.join("")).toMatch(/^mote: usage: --engine must be node, xs or moddable/);
  });
});

describe("error lines", () => {
  test("name the error code once, on one line", () => {
    expect(errorLine(new MoteError("refused", "127.0.0.1:9"))).toBe("mote: refused: 127.0.0.1:9");
    expect(errorLine(new MoteError("refused", "refused: refused: 127.0.0.1:9"))).toBe("mote: refused: 127.0.0.1:9");
    // the operating system's names and texts become mote's code and words
    expect(errorLine(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }))).toBe(
      "mote: refused: the connection was refused: nothing listens on that port (127.0.0.1:9)",
    );
    expect(errorLine(Object.assign(new Error("ENOENT: no such file or directory, open 'in.bin'"), { code: "ENOENT" }))).toBe(
      "mote: no-such-file: no such file or directory: in.bin",
    );
    expect(errorLine(new MoteError("timeout"))).toBe("mote: timeout: no answer in time");
    // an error without a code property whose text leads with one (ota-sign, the XS bridge)
    expect(errorLine(new Error("bad-key: not a PEM private key"))).toBe("mote: bad-key: not a PEM private key");
    expect(errorLine(new Error("Error: address-in-use: bind EADDRINUSE 0.0.0.0:5683"))).toBe(
      "mote: address-in-use: the address and port are already in use (0.0.0.0:5683)",
    );
    expect(errorLine(new Error("Not a code: text"))).toBe("mote: error: Not a code: text");
    expect(errorLine(new Error("two\nlines"))).toBe("mote: error: two");
    expect(errorLine("text")).toBe("mote: error: text");
  });
});
