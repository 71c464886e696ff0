// Test-only host modules served by test/xs/bridge.test.ts through the XS bridge.
declare module "mote:test/probe" {
  const probe: unknown;
  export default probe;
}
declare module "mote:test/missing" {
  const missing: unknown;
  export default missing;
}
