// XEP-0199 client-to-server pings: a half-open TCP connection (server host gone,
// NAT timeout) shows no error until we write, so probe it on a timer.

export interface KeepaliveOptions {
  /** 0 disables keep-alive. */
  intervalMs: number;
  timeoutMs: number;
}

/**
 * Calls `ping` every interval (never two at once); `ping` must resolve on any
 * answer, even an error reply. A TimeoutError means the peer is gone: `onDead`.
 * Returns a function that stops the timer.
 */
export function startKeepalive(
  { intervalMs, timeoutMs }: KeepaliveOptions,
  ping: (timeoutMs: number) => Promise<unknown>,
  onDead: () => void,
): () => void {
  if (intervalMs <= 0) return () => {};
  let inFlight = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    ping(timeoutMs)
      .catch((err: unknown) => {
        if (!stopped && (err as { name?: string } | null)?.name === 'TimeoutError') onDead();
      })
      .finally(() => {
        inFlight = false;
      });
  }, intervalMs);
  // The socket keeps the process alive while online; this timer shouldn't.
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
