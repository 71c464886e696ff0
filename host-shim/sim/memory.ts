/**
 * Host memory of the simulator: this Node process plus its XS worker processes
 * (each engine is an xsnap-worker child). Linux /proc only; elsewhere the
 * children are unknown and only this process counts.
 */
import { readFileSync, readdirSync } from "node:fs";

export interface HostMemory {
  /** Resident set of this Node process, bytes. */
  nodeRss: number;
  /** Sum of the resident sets of the child processes (XS engines), bytes. */
  childrenRss: number;
  children: number;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * esbuild's service process (it bundles the program once, then idles until Node
 * exits) is a build tool, not part of the simulated devices: it is not counted.
 */
function isBuildTool(pid: number): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0];
    return argv0.endsWith("/esbuild");
  } catch {
    return true; // already gone
  }
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text.length > 0) for (const c of text.split(/\s+/)) if (!isBuildTool(Number(c))) out.push(Number(c));
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

export function hostMemory(): HostMemory {
  const kids = childPids(process.pid);
  let childrenRss = 0;
  for (const k of kids) childrenRss += rssOf(k);
  return { nodeRss: process.memoryUsage().rss, childrenRss, children: kids.length };
}

/** Memory per device: (children + Node growth since `baselineNodeRss`) / devices. */
export function memoryPerDevice(devices: number, baselineNodeRss: number): { bytesPerDevice: number; devicesPerGB: number; memory: HostMemory } {
  const memory = hostMemory();
  const total = memory.childrenRss + Math.max(0, memory.nodeRss - baselineNodeRss);
  const bytesPerDevice = devices > 0 ? total / devices : 0;
  return { bytesPerDevice, devicesPerGB: bytesPerDevice > 0 ? Math.floor(1024 ** 3 / bytesPerDevice) : 0, memory };
}
