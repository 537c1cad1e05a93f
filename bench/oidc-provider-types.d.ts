// The part of oidc-provider's API the benchmark uses (the package ships no types).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ClientInstance {
    clientId: string;
  }

  interface TokenModel {
    save(): Promise<string>;
  }
  interface TokenModelClass<T> {
    new (payload: Record<string, unknown>): T;
  }

  export interface GrantInstance extends TokenModel {
    addOIDCScope(scope: string): void;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
    readonly Grant: TokenModelClass<GrantInstance>;
    readonly RefreshToken: TokenModelClass<TokenModel>;
    readonly AccessToken: TokenModelClass<TokenModel>;
    readonly Client: { find(id: string): Promise<ClientInstance | undefined> };
  }
  export default Provider;
}
