// TLS settings for every Redis connection (single node, Sentinels and the
// nodes they name, Cluster nodes), read from the files the config names.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { StartupError } from '../util/startup-error.js';

export interface RedisTlsConfig {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  servername?: string;
}

export function redisTlsOptions(tls: RedisTlsConfig): ConnectionOptions {
  const read = (key: keyof RedisTlsConfig, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new StartupError(
        `cannot read redis.tls.${key} ${file} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(err))})`,
        'point it at a PEM file readable by the user running xmpp-oauth',
        { cause: err },
      );
    }
  };
  return {
    ...(tls.ca_file ? { ca: read('ca_file', tls.ca_file) } : {}),
    ...(tls.cert_file ? { cert: read('cert_file', tls.cert_file), key: read('key_file', tls.key_file) } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}
