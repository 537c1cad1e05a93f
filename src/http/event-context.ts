import type { RequestHandler } from 'express';
import { withEventContext } from '../oauth/account-life/security-events.js';

/**
 * Every security event a browser request causes (an approval, an app
 * password, a password change) is recorded with the browser's address and
 * user agent, whichever core step records it.
 */
export function eventContext(): RequestHandler {
  return (req, _res, next) => {
    withEventContext({ address: req.ip, userAgent: req.get('user-agent') }, () => next());
  };
}
