/**
 * The network stack of one simulated device: its TCP and UDP sockets go out
 * only while its station has an address, as on the board.
 *
 * Why: the Node twins reach 127.0.0.1 whatever the simulated radio says, so a
 * device whose access point is gone could still reach its broker — the
 * simulator would show what hardware cannot do (MQTT connected under
 * `wifi down (no-ap)`). With no address lwip has no route: `tcp_connect`
 * fails (ERR_RTE) and a datagram is not sent. Here a TCP connect made without
 * an address fails at once with `unreachable`, and a datagram is dropped.
 *
 * Refusal: the device reaches its peers through fault proxies, which accept
 * every TCP connection even when the broker behind them is down (a cut, a
 * restart, a dead external broker), so the device would never see what a
 * board sees there — the connection refused. `refusal(address, port)` lets
 * the proxy in front say so: the connect then fails with `refused`.
 */
import NodeTCP, { type TcpOptions } from "../node/tcp.js";
import NodeUDP from "../node/udp.js";
import type { SimHardware } from "./device.js";

export interface NetworkStackOptions {
  /** Why a connect to `address:port` is refused now ("refused: ..."), or undefined. */
  refusal?(address: string, port: number): string | undefined;
}

/** The hardware's modules plus TCP and UDP that follow its station's address. */
export function withNetworkStack(hardware: SimHardware, options: NetworkStackOptions = {}): SimHardware {
  return {
    ...hardware,
    dropWifi: (ms) => hardware.dropWifi(ms),
    close: () => hardware.close?.(),
    modules: () => {
      const modules = hardware.modules();
      const net = modules.net?.default as { get(what: string): unknown } | undefined;
      const online = () => net === undefined || String(net.get("IP") ?? "") !== "";
      return {
        ...modules,
        "embedded:io/socket/tcp": { default: stationTcp(online, options.refusal) },
        "embedded:io/socket/udp": { default: stationUdp(online) },
      };
    },
  };
}

// The class names differ from the twins' own (TCP, UDP): esbuild 0.28 renames the imported
// NodeTCP/NodeUDP back to "TCP"/"UDP" when it bundles (dist/node/cli.mjs, dist/node/sim.mjs)
// and does not rename a class expression of the same name, so `class UDP extends UDP` threw
// "Cannot access 'UDP' before initialization" and `new TCP()` recursed in `mote sim`.
function stationTcp(online: () => boolean, refusal: NetworkStackOptions["refusal"]): unknown {
  return class StationTcp {
    constructor(options: TcpOptions) {
      if (options.from != null) return new NodeTCP(options) as unknown as StationTcp;
      const why = online() ? refusal?.(String(options.address), Number(options.port)) : "unreachable: no route (the station has no IP address)";
      return (why === undefined ? new NodeTCP(options) : new FailedConnect(options, why)) as unknown as StationTcp;
    }
  };
}

/** A connect that failed: onError on the next turn (never inside the constructor), as lwip reports it. */
class FailedConnect {
  remoteAddress: string | undefined = undefined;
  remotePort: number | undefined = undefined;
  readonly format = "buffer";
  target: unknown;
  #onError: TcpOptions["onError"];

  constructor(options: TcpOptions, why: string) {
    this.target = options.target;
    this.#onError = options.onError;
    setImmediate(() => {
      const f = this.#onError;
      this.#onError = undefined;
      f?.call(this as never, new Error(why));
    });
  }

  read(): ArrayBuffer | undefined {
    return undefined;
  }

  write(): number {
    throw new Error("not ready");
  }

  close(): void {
    this.#onError = undefined;
  }
}

function stationUdp(online: () => boolean): unknown {
  return class StationUdp extends NodeUDP {
    override write(data: ArrayBuffer | ArrayBufferView, address: string, port: number): void {
      if (online()) super.write(data, address, port);
      // else: no route, the datagram is not sent (UDP says nothing; CoAP retransmits)
    }
  };
}
