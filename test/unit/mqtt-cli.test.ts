// `mote mqtt -L URL`: what the URL holds is checked before any connection is tried.
import { describe, expect, test } from "vitest";
import { main } from "../../cli/main.js";

function capture() {
  const err: string[] = [];
  return { io: { out: () => {}, err: (t: string) => void err.push(t) }, err };
}

describe("mote mqtt -L", () => {
  test.each(["mqtt://%zz@h/t", "mqtts://a%E0:p@broker.local/t", "mqtt://u:%2@h/t", "mqtt://h/bad%zztopic"])(
    "%s is a one-line usage error with exit status 2, not a URIError (fuzz F1)",
    async (url) => {
      const c = capture();
      expect(await main(["mqtt", "pub", "-L", url, "-m", "x"], c.io)).toBe(2);
      expect(c.err).toHaveLength(1);
      expect(c.err[0]).toMatch(/^mote: usage: -L has a bad %-escape in the (user name|password|topic): "[^"\n]*"\n$/);
    },
  );
});
