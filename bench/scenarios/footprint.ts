// Bytes in Redis per refresh token, index entry and grant.
import { Redis } from 'ioredis';

export interface Footprint {
  refreshBytes: number;
  grantBytes: number;
  refreshKeys: number;
  grants: number;
  /** The grants' refresh-token indexes (sorted sets of digests by expiry), per entry. */
  indexBytesPerEntry: number;
  indexEntries: number;
}

export async function redisFootprint(redisUrl: string): Promise<Footprint> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', 'xo:{g:*', 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const refresh = keys.filter((k) => k.includes('}:rt:'));
    const grants = keys.filter((k) => k.endsWith('}'));
    const indexes = keys.filter((k) => k.endsWith('}:rts'));
    const sample = async (ks: string[]) => {
      const some = ks.slice(0, 200);
      const sizes = await Promise.all(some.map((k) => redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0') as Promise<number | null>));
      const known = sizes.filter((s): s is number => typeof s === 'number');
      return known.length ? known.reduce((a, b) => a + b, 0) / known.length : NaN;
    };
    let indexBytes = 0;
    let indexEntries = 0;
    for (const k of indexes) {
      indexBytes += ((await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) as number | null) ?? 0;
      indexEntries += await redis.zcard(k);
    }
    return {
      refreshBytes: await sample(refresh),
      grantBytes: await sample(grants),
      refreshKeys: refresh.length,
      grants: grants.length,
      indexBytesPerEntry: indexEntries ? indexBytes / indexEntries : NaN,
      indexEntries,
    };
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------
