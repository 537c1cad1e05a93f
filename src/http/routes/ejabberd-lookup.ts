// Placeholder until the ejabberd X-OAUTH2 lookup lands (issue 5).
import { Router } from 'express';
import type { CoreDeps } from '../../oauth/context.js';

export function ejabberdLookupRoutes(_core: CoreDeps): Router {
  return Router();
}
