/** A program that only reports a status (test/xs/sim-chip-heap.test.ts): one whose image the simulator does not know. */
(globalThis as unknown as Record<string, unknown>).moteStatus = () => ({
  healthy: true,
  id: "app",
  wifi: { state: "up" },
  mqtt: { state: "connected" },
  counters: { msgsIn: 0, msgsOut: 0, msgsDropped: 0 },
  queueDepth: 0,
  uptimeMs: 0,
});
