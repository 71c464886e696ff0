/**
 * A bad build for the rollout test (test/cluster/rollout.test.ts): the default
 * device program whose self-test fails ("the sensor does not answer"), so
 * after an update the boot health check rolls it back to the previous slot.
 * Bundled for XS like src/app/main.ts.
 */
import { start } from "../../src/app/start.js";

start({ selfTest: () => "sensor: no answer on the bus" });
