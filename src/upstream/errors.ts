/** Why an upstream sign-in was refused; `code` picks the page text, `detail` goes to the log only. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly code: 'unknown-provider' | 'unavailable' | 'state' | 'denied' | 'failed' | 'bad-claim' | 'not-allowed' | 'collision' | 'disabled' | 'reserved',
    readonly detail: string,
  ) {
    super(detail);
  }

  /** Refusals of the person (their claims, their account); the rest are failures of the exchange. */
  get status(): number {
    return this.code === 'unavailable' ? 503 : this.code === 'unknown-provider' ? 404 : this.code === 'state' || this.code === 'failed' ? 400 : 403;
  }
}
