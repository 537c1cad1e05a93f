// A TCP relay in front of the XMPP server: counts connection attempts and can
// "freeze" (keep sockets open, drop all bytes) to simulate a half-open link.
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';

export interface TestProxy {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes received from the client side so far. */
  readonly bytesFromClient: number;
  frozen: boolean;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, bytesFromClient: 0, frozen: false };
  const server = createServer((client) => {
    state.connections++;
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (d) => {
      state.bytesFromClient += d.length;
      if (!state.frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!state.frozen) client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    get bytesFromClient() {
      return state.bytesFromClient;
    },
    get frozen() {
      return state.frozen;
    },
    set frozen(v: boolean) {
      state.frozen = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
