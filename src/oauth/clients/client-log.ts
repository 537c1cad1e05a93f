import { tokenClientId } from '../tokens/tokens.js';

/**
 * How log lines name a client: by the name people know it by, and by a short
 * id (the form its tokens' client_id claim carries). A registered client's id
 * is a long JWT, whose first characters say nothing and are the same for all.
 */
export function clientLog(client: { id: string; name?: string }): { client?: string; client_id: string } {
  return { client: client.name, client_id: tokenClientId(client.id) };
}
