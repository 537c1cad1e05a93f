// proxy-addr (Express's own client-address resolver): only what the lean dispatcher uses.
declare module 'proxy-addr' {
  import type { IncomingMessage } from 'node:http';
  type Trust = (addr: string, i: number) => boolean;
  function proxyaddr(req: IncomingMessage, trust: Trust): string;
  export default proxyaddr;
}
