// Issue 26 #2, #3: the second-factor core's small parts: the sealed TOTP key,
// recovery-code spelling, the TOTP window, and the amr -> acr mapping that
// ID tokens, acr_values and upstream sign-ins share.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { ACR_MULTI_FACTOR, ACR_ONE_FACTOR, acrFor, acrRequirement, completeAmr, isMultiFactor } from '../../src/accounts/second-factor/assurance.js';
import { newRecoveryCodes, normaliseRecoveryCode, recoveryCodeDigest } from '../../src/accounts/second-factor/recovery-codes.js';
import { SecretBox } from '../../src/accounts/second-factor/secret-box.js';
import { newTotpSecret, totpStep } from '../../src/accounts/second-factor/totp.js';
import { upstreamAmr } from '../../src/upstream/sign-in.js';

describe('issue 26: second-factor core', () => {
  it('issue 26: the sealed TOTP key opens only for its account and only untampered; another deployment secret cannot open it', () => {
    const box = new SecretBox(randomBytes(32), 'totp secret');
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'alice@example.org');
    assert.ok(!sealed.includes('JBSWY3DPEHPK3PXP'));
    assert.equal(box.open(sealed, 'alice@example.org'), 'JBSWY3DPEHPK3PXP');
    assert.equal(box.open(sealed, 'mallory@example.org'), null, 'bound to the account');
    const parts = sealed.split('.');
    parts[2] = parts[2]!.slice(0, -2) + (parts[2]!.endsWith('AA') ? 'BB' : 'AA');
    assert.equal(box.open(parts.join('.'), 'alice@example.org'), null, 'tampered');
    assert.equal(new SecretBox(randomBytes(32), 'totp secret').open(sealed, 'alice@example.org'), null);
  });

  it('issue 26: recovery codes are ten distinct, typed loosely (case, dashes, o for 0), digested; TOTP codes match one step either side and name their step', () => {
    const codes = newRecoveryCodes();
    assert.equal(new Set(codes).size, 10);
    const code = codes[0]!;
    assert.equal(recoveryCodeDigest(` ${code.toUpperCase().replace(/-/g, ' ')} `), recoveryCodeDigest(code));
    assert.equal(normaliseRecoveryCode('abcd-efgh-jkoo'), 'abcdefghjk00');
    assert.equal(recoveryCodeDigest('short'), null);

    const secret = newTotpSecret();
    const app = new TOTP({ secret: Secret.fromBase32(secret) });
    const now = 1_700_000_000_000;
    const step = Math.floor(now / 30_000);
    assert.equal(totpStep(secret, app.generate({ timestamp: now }), now), step);
    assert.equal(totpStep(secret, app.generate({ timestamp: now + 30_000 }), now), step + 1);
    assert.equal(totpStep(secret, app.generate({ timestamp: now - 30_000 }).replace(/^(\d{3})/, '$1 '), now), step - 1, 'a typed space');
    assert.equal(totpStep(secret, app.generate({ timestamp: now + 90_000 }), now), null, 'outside the window');
    assert.equal(totpStep(secret, 'abcdef', now), null);
  });

  it('issue 26: amr shows two factors with mfa, or two kinds of factor; acr follows; acr_values are read as any, mfa or unknown; an IdP acr listed as multi-factor adds mfa', () => {
    assert.equal(isMultiFactor(['pwd']), false);
    assert.equal(isMultiFactor(['pwd', 'pin']), false, 'two of one kind');
    assert.deepEqual(completeAmr(['pwd', 'otp']), ['pwd', 'otp', 'mfa']);
    assert.deepEqual(completeAmr(['hwk', 'mfa', 'mfa']), ['hwk', 'mfa']);
    assert.equal(acrFor(['pwd']), ACR_ONE_FACTOR);
    assert.equal(acrFor(['pwd', 'otp', 'mfa']), ACR_MULTI_FACTOR);
    assert.equal(acrRequirement(undefined), 'any');
    assert.equal(acrRequirement(`${ACR_MULTI_FACTOR}`), 'mfa');
    assert.equal(acrRequirement(`${ACR_ONE_FACTOR} ${ACR_MULTI_FACTOR}`), 'any');
    assert.equal(acrRequirement('urn:other:loa:3'), 'unknown');
    assert.deepEqual(upstreamAmr({ amr: ['pwd'], acr: 'urn:idp:mfa' }, ['urn:idp:mfa']), ['pwd', 'mfa']);
    assert.deepEqual(upstreamAmr({ amr: ['pwd'], acr: 'urn:idp:mfa' }, []), ['pwd']);
    assert.deepEqual(upstreamAmr({ amr: ['pwd', 'Not A Method', 42] }, []), ['pwd'], 'only RFC 8176-shaped names');
  });
});
