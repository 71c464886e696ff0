/**
 * Node twin of `mc/config`: the build-time configuration object that
 * `mcconfig key=value ...` and the manifest's "config" section produce on
 * the device. On the desktop it starts from defaults that match the
 * simulator (hardware.ts's default network) and can be changed by tests or
 * the simulator with `setBuildConfig()` before the device code reads it.
 */
const config: Record<string, unknown> = {
  file: { root: "/mod/" },
  ssid: "mote-sim",
  password: "mote-sim-password",
};

/** Replaces/overlays build-time values (undefined removes a key). */
export function setBuildConfig(values: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete config[key];
    else config[key] = value;
  }
}

export default config;
