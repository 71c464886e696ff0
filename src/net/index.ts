/** Raw sockets: TCP client and server, UDP. See docs/net.md. */
export { NetError, type NetErrorCode } from "./errors.js";
export { TcpClient, TcpStream, type TcpClientOptions, type TcpHandlers, type TcpState, type TcpStreamOptions } from "./tcp.js";
export { TcpServer, type TcpServerOptions } from "./tcp-server.js";
export { UdpSocket, type UdpSocketOptions } from "./udp.js";
export { WriteQueue } from "./write-queue.js";
