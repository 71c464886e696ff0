import { describe, expect, test } from "vitest";
import { parseArgs, parseEngine, parsePort, UsageError } from "../../cli/args.js";
import { MoteError } from "../../src/errors.js";

const specs = {
  host: { short: "h", value: true },
  port: { short: "p", value: true },
  verbose: { short: "v" },
  retain: { short: "r" },
  topic: { short: "t", value: true, repeat: true },
  engine: { value: true },
};

describe("the CLI argument parser", () => {
  test("reads short options with a separate or attached value, and positionals in between", () => {
    expect(parseArgs(["-h", "example.org", "pos1", "-p1883", "pos2"], specs)).toEqual({
      options: { host: "example.org", port: "1883" },
      positional: ["pos1", "pos2"],
    });
  });

  test("reads grouped short flags, and a value option at the end of a group", () => {
    expect(parseArgs(["-vr"], specs).options).toEqual({ verbose: true, retain: true });
    expect(parseArgs(["-vh", "x"], specs).options).toEqual({ verbose: true, host: "x" });
  });

  test("reads long options as --name value and --name=value, and long flags", () => {
    expect(parseArgs(["--engine", "xs", "--host=a=b", "--verbose"], specs).options).toEqual({ engine: "xs", host: "a=b", verbose: true });
  });

  test("collects a repeatable option into a list", () => {
    expect(parseArgs(["-t", "a/#", "--topic", "b", "-tc"], specs).options.topic).toEqual(["a/#", "b", "c"]);
  });

  test("treats everything after -- as positional, and a negative number as a positional", () => {
    expect(parseArgs(["--", "-v", "--host"], specs).positional).toEqual(["-v", "--host"]);
    expect(parseArgs(["-5"], specs).positional).toEqual(["-5"]);
  });

  test("rejects unknown options, missing values and values on flags with a usage error", () => {
    for (const argv of [["-z"], ["--nope"], ["-h"], ["--host"], ["--verbose=yes"]]) {
      let caught: unknown;
      try {
        parseArgs(argv, specs);
      } catch (e) {
        caught = e;
      }
      expect(caught, argv.join(" ")).toBeInstanceOf(UsageError);
      expect(caught).toBeInstanceOf(MoteError);
      expect((caught as UsageError).code).toBe("usage");
    }
  });

  test("does not treat Object.prototype names as options", () => {
    expect(() => parseArgs(["--constructor"], specs)).toThrow(UsageError);
    expect(() => parseArgs(["--toString=1"], specs)).toThrow(UsageError);
  });

  test("parses ports strictly", () => {
    expect(parsePort("0")).toBe(0);
    expect(parsePort("65535")).toBe(65535);
    for (const bad of ["65536", "-1", "80a", "", " 80", "1e3", undefined]) expect(() => parsePort(bad)).toThrow(UsageError);
  });

  test("knows the two engines and defaults to node", () => {
    expect(parseEngine(undefined)).toBe("node");
    expect(parseEngine("xs")).toBe("xs");
    expect(() => parseEngine("v8")).toThrow(/--engine must be node, xs or moddable/);
    expect(() => parseEngine(true)).toThrow(UsageError);
  });
});

describe("option names that shadow Object.prototype members (fuzz finding F3)", () => {
  test("a repeatable option named toString collects its values instead of crashing", () => {
    expect(parseArgs(["--toString", "a", "--toString", "b"], { toString: { value: true, repeat: true } }).options.toString).toEqual(["a", "b"]);
  });
  test("an unknown option named like a prototype member is a usage error", () => {
    expect(() => parseArgs(["--constructor"], {})).toThrow(/unknown option --constructor/);
  });
});
