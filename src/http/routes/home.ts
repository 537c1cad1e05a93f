import { Router } from 'express';
import type { Config } from '../../config/schema.js';
import type { Views } from '../views.js';

/** What the landing page says about trial mode (never the demo password: only the start-up output has it). */
export interface TrialNotice {
  account: string;
  registerCommand: string;
}

/**
 * The landing page at `/`: what this server is and where each kind of visitor
 * goes next (people to /account and the device page, developers to /docs and
 * discovery). In trial mode it also says how to try the flow.
 */
export function homeRoutes({ config, views, trial }: { config: Config; views: Views; trial?: TrialNotice }): Router {
  const router = Router();
  const page = () =>
    views.render('home', {
      title: 'home.title',
      hosts: config.xmpp.hosts.join(', '),
      device: config.allowed_grant_types.includes('device_code'),
      registration: Boolean(config.registration_key),
      issuer: config.issuer,
      trial,
      authorizeExample: trial ? `${config.issuer}/oauth2/authorize?response_type=code&client_id=CLIENT_ID&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=openid&code_challenge=CHALLENGE&code_challenge_method=S256` : undefined,
      termsUrl: config.terms_url,
      policyUrl: config.policy_url,
    });
  // The page is the same for everyone on a given configuration: render it once.
  let html: string | undefined;
  router.get('/', (_req, res) => {
    html ??= page();
    res.set('Cache-Control', 'no-cache').type('html').send(html);
  });
  return router;
}
