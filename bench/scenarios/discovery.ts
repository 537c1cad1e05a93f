// GET of the OpenID discovery document (no store, no client auth).
import { http, type Row, type Target } from '../lib.js';

export async function discoveryScenario(target: Target): Promise<Row> {
  return http(target, 'discovery document', { method: 'GET', path: target.discoveryPath });
}
