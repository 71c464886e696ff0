#!/usr/bin/env node
// Builds mote's headless runner for Moddable's lin builds (host-shim/moddable/mchost.c)
// into .moddable/bin/mchost, against the SDK in $MODDABLE (default: the folder the
// SDK's setup fills, ~/.cache/moddable-8.2.3). Needs cc and GLib's headers
// (Debian: build-essential pkg-config libglib2.0-dev; the SDK's own lin build needs
// them too). `npm run moddable:host`; the Moddable tier and `bench moddable` also call
// it when no runner is built yet.
import { buildMchost } from "./mchost-lib.mjs";

try {
  const out = buildMchost({ force: process.argv.includes("--force") });
  console.log(`mchost: ${out}`);
} catch (e) {
  console.error(`mote: mchost: ${e.message}`);
  process.exit(1);
}
