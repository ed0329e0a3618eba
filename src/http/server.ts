import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { unavailable } from '../errors.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 = ephemeral) with bounded header and request times. */
export async function startServer(
  app: Koa<never> | Koa,
  options: { port: number; host?: string },
): Promise<RunningServer> {
  const server = http.createServer((app as Koa).callback());
  server.headersTimeout = 15_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? unavailable(`Port ${options.port} is already in use (set PORT or --port)`)
          : err,
      ),
    );
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host =
    options.host === undefined || options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeIdleConnections();
        // Requests still running get a grace period, then their sockets are cut.
        setTimeout(() => server.closeAllConnections(), 10_000).unref();
      }),
  };
}
