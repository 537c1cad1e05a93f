import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StartupError } from '../util/startup-error.js';

export interface Listening {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish, then closes idle keep-alive sockets. */
  close(): Promise<void>;
}

export function listen(app: RequestListener, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    // Slow clients may not hold sockets open forever; the timeouts are checked
    // every 2 s (Node's default check runs every 30 s, tripling the bound).
    const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, connectionsCheckingInterval: 2_000 }, app);
    server.keepAliveTimeout = 5_000;
    const failed = (err: NodeJS.ErrnoException) => reject(listenFailure(err, host, port));
    server.once('error', failed);
    server.listen(port, host);
    server.once('listening', () => {
      server.off('error', failed);
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        server,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/** Names the cause of a failed listen and the setting that fixes it. */
export function listenFailure(err: NodeJS.ErrnoException, host: string, port: number): StartupError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new StartupError(
        `HTTP address ${where} is already in use`,
        'stop the other process using it, or set http.port (XMPP_OAUTH_HTTP__PORT) to a free port',
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
      return new StartupError(
        `no permission to listen on HTTP address ${where}`,
        port < 1024
          ? 'ports below 1024 need privileges: set http.port to 1024 or above (and put a reverse proxy in front), or grant CAP_NET_BIND_SERVICE'
          : 'check the firewall or security policy (SELinux, AppArmor) of this host, or set http.host/http.port',
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new StartupError(
        `HTTP address ${where}: ${host} is not an address of this machine`,
        'set http.host (XMPP_OAUTH_HTTP__HOST) to one of its addresses, 127.0.0.1 behind a reverse proxy, or 0.0.0.0 for all',
        { cause: err },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(
        `HTTP host name ${host} does not resolve`,
        'set http.host to an IP address of this machine (127.0.0.1 behind a reverse proxy, 0.0.0.0 for all)',
        { cause: err },
      );
    default:
      return new StartupError(
        `cannot listen on HTTP address ${where}: ${err.code ?? err.message}`,
        'check http.host and http.port',
        { cause: err },
      );
  }
}
