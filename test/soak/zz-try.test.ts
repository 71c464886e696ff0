import { test } from "vitest";
import { runMqttChaos } from "../../soak/mqtt-chaos.js";
test("x", async () => { const r = await runMqttChaos({ count: 500, brokerRestarts: 2, wifiDrops: 2, powerCuts: 2, floods: 1, floodMs: 2000, settleTimeoutMs: 60000, log: (l) => console.log(l) }); console.log(JSON.stringify(r)); }, 300000);
