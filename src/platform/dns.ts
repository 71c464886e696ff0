/**
 * Host name -> IPv4 address over `embedded:network/dns/resolver/udp`
 * (ECMA-419 2nd ed. DNS resolver; Moddable modules/network/dns). IP
 * literals need no lookup. The callback always runs asynchronously, once.
 */
import Resolver from "embedded:network/dns/resolver/udp";
import UDP from "embedded:io/socket/udp";
import Net from "net";
import { MoteError } from "../errors.js";
import { setTimer } from "./timer.js";
import { isIpAddress, socketErrorCode, type SocketErrorCode } from "./tcp.js";

// RFC 1035 §2.3.4: 255 octets on the wire, so at most 253 characters of text.
const MAX_HOST_LENGTH = 253;

// One resolver for the whole program (it owns one UDP socket), made on first use.
const shared: { resolver: Resolver | undefined } = { resolver: undefined };

function resolver(): Resolver {
  if (shared.resolver === undefined) {
    let servers: string[] | undefined;
    try {
      servers = Net.get("DNS");
    } catch {
      servers = undefined;
    }
    shared.resolver = new Resolver({
      socket: { io: UDP },
      servers: servers !== undefined && servers.length > 0 ? servers : ["8.8.8.8", "1.1.1.1"],
    });
  }
  return shared.resolver;
}

/** RFC 1123 §2.1 host name syntax: dot-separated labels of letters, digits, hyphens. */
export function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > MAX_HOST_LENGTH) return false;
  const labels = host.endsWith(".") ? host.slice(0, -1).split(".") : host.split(".");
  return labels.every((l) => l.length > 0 && l.length <= 63 && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(l));
}

export function resolveHost(host: string, callback: (address: string | undefined, error?: SocketErrorCode) => void): void {
  if (typeof host !== "string" || host.length === 0) throw new MoteError("invalid-argument", "host must be a non-empty string");
  let done = false;
  const finish = (address: string | undefined, error?: SocketErrorCode) => {
    if (done) return;
    done = true;
    if (error === undefined) callback(address);
    else callback(undefined, error);
  };
  const later = (address: string | undefined, error?: SocketErrorCode) => setTimer(() => finish(address, error), 0);
  if (isIpAddress(host)) {
    later(host);
    return;
  }
  if (!isHostName(host)) {
    later(undefined, "dns");
    return;
  }
  try {
    resolver().resolve({
      host,
      onResolved(_host: string, address: string) {
        later(String(address));
      },
      onError(_host: string, error?: Error) {
        later(undefined, socketErrorCode(error, "dns") === "error" ? "dns" : socketErrorCode(error, "dns"));
      },
    });
  } catch {
    later(undefined, "dns"); // resolver table full
  }
}
