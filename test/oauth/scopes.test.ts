// Contract 1 (issue 13): which scopes open an XMPP session, which restrict it,
// and what a new grant holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowsXmppLogin, grantScope, isRestrictedXmppLogin, largestGrantScopes, SCOPES } from '../../src/oauth/scopes.js';

describe('XMPP scopes', () => {
  it('issue 13: a token opens an XMPP session iff it holds one of the four XMPP scopes', () => {
    for (const s of ['xmpp:client:normal', 'xmpp', 'xmpp:account:read', 'xmpp:account:write']) {
      assert.equal(allowsXmppLogin(['openid', s]), true, s);
    }
    for (const scope of [[], ['openid'], ['openid', 'profile', 'offline_access'], ['xmpp:client'], ['XMPP']]) {
      assert.equal(allowsXmppLogin(scope), false, scope.join(' '));
    }
  });

  it('issue 13: the login is restricted iff it holds neither xmpp:client:normal nor xmpp', () => {
    assert.equal(isRestrictedXmppLogin(['xmpp:account:read']), true);
    assert.equal(isRestrictedXmppLogin(['xmpp:account:write', 'offline_access']), true);
    assert.equal(isRestrictedXmppLogin(['xmpp:client:normal']), false);
    assert.equal(isRestrictedXmppLogin(['xmpp', 'xmpp:account:write']), false);
    assert.equal(isRestrictedXmppLogin(['openid']), false, 'no XMPP login at all');
  });

  it('issue 13: discovery and registration know every XMPP scope', () => {
    for (const s of ['xmpp:client:normal', 'xmpp', 'xmpp:account:read', 'xmpp:account:write']) assert.ok(Object.hasOwn(SCOPES, s), s);
  });

  it('a grant leaves out scopes another granted scope includes', () => {
    assert.deepEqual(grantScope('xmpp:client:normal xmpp:account:read xmpp:account:write offline_access'), ['offline_access', 'xmpp:client:normal']);
    assert.deepEqual(grantScope('xmpp:account:read xmpp:account:write'), ['xmpp:account:write']);
    assert.deepEqual(grantScope('xmpp:account:read'), ['xmpp:account:read']);
    assert.deepEqual(grantScope('xmpp xmpp:client:normal'), ['xmpp:client:normal', 'xmpp'], 'aliases are both kept: clients look for the one they asked for');
    assert.deepEqual(grantScope('openid xmpp:account:write', ['openid']), ['openid'], 'the client\u2019s allowed scopes still apply');
    assert.deepEqual(largestGrantScopes(), [
      ['openid', 'profile', 'offline_access', 'xmpp:client:normal', 'xmpp'],
      ['openid', 'profile', 'offline_access', 'xmpp:account:write'],
    ]);
  });
});
