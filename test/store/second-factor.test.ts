// The second-factor store domain (issue 26 #2), the same checks on the memory
// store and a real redis-server: a TOTP step taken once and only forwards (also
// under a concurrent burst), recovery codes once each, removal, and a record
// of an earlier account of the same JID never applying to a new one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySecondFactorStore } from '../../src/store/second-factor/memory.js';
import { RedisSecondFactorStore } from '../../src/store/second-factor/redis.js';
import type { SecondFactorStore } from '../../src/store/second-factor/types.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { useRedisClient } from '../helpers/redis.js';

const JID = 'alice@example.org';
const totp = { sealedSecret: 'v1.sealed', addedAt: 1 };

function contract(name: string, make: () => SecondFactorStore) {
  describe(`issue 26: second-factor store (${name})`, () => {
    it('issue 26: a TOTP step is taken once and only forwards, even in a concurrent burst; recovery codes once each; removal drops both', async () => {
      const s = make();
      assert.equal(await s.useTotpStep(JID, 5), false, 'no TOTP, no step');
      await s.enrolTotp(JID, 100, totp, ['d1', 'd2']);
      assert.deepEqual(await s.get(JID), { accountCreatedAt: 100, totp, recoveryCodesLeft: 2, passwordLogins: undefined });
      const burst = await Promise.all(Array.from({ length: 10 }, () => s.useTotpStep(JID, 7)));
      assert.equal(burst.filter(Boolean).length, 1, 'one of ten concurrent uses of a step wins');
      assert.equal(await s.useTotpStep(JID, 6), false, 'an older step');
      assert.equal(await s.useTotpStep(JID, 8), true);
      assert.equal(await s.useRecoveryCode(JID, 'd1'), true);
      assert.equal(await s.useRecoveryCode(JID, 'd1'), false);
      assert.equal(await s.useRecoveryCode(JID, 'nope'), false);
      assert.equal((await s.get(JID))?.recoveryCodesLeft, 1);
      assert.equal(await s.removeTotp(JID), true);
      assert.equal(await s.removeTotp(JID), false);
      assert.equal(await s.useRecoveryCode(JID, 'd2'), false, 'recovery codes go with the factor');
      assert.equal((await s.get(JID))?.totp, undefined);
    });

    it('issue 26: replacing recovery codes keeps the TOTP factor and its last step; refused without TOTP or for another account', async () => {
      const s = make();
      assert.equal(await s.replaceRecoveryCodes(JID, 100, ['x']), false, 'no TOTP, nothing written');
      assert.equal(await s.get(JID), null);
      await s.enrolTotp(JID, 100, totp, ['d1', 'd2']);
      assert.equal(await s.useTotpStep(JID, 9), true);
      assert.equal(await s.replaceRecoveryCodes(JID, 200, ['x']), false, 'another account of the JID');
      assert.equal(await s.replaceRecoveryCodes(JID, 100, ['n1', 'n2', 'n3']), true);
      assert.equal(await s.useTotpStep(JID, 9), false, 'the used step stays used');
      assert.equal(await s.useRecoveryCode(JID, 'd1'), false, 'old codes are gone');
      assert.equal(await s.useRecoveryCode(JID, 'n2'), true);
      assert.deepEqual(await s.get(JID), { accountCreatedAt: 100, totp, recoveryCodesLeft: 2, passwordLogins: undefined });
      await s.setPasswordLogins(JID, 100, 'app_passwords_only');
      assert.deepEqual(await s.passwordLogins(JID), { accountCreatedAt: 100, passwordLogins: 'app_passwords_only' });
      assert.equal(await s.passwordLogins('nobody@example.org'), null);
    });

    it('issue 26: a write for a re-created account (another createdAt) starts from nothing; password logins are kept per account', async () => {
      const s = make();
      await s.enrolTotp(JID, 100, totp, ['d1']);
      await s.setPasswordLogins(JID, 100, 'app_passwords_only');
      assert.equal((await s.get(JID))?.passwordLogins, 'app_passwords_only');
      await s.setPasswordLogins(JID, 200, 'anywhere');
      assert.deepEqual(await s.get(JID), { accountCreatedAt: 200, totp: undefined, recoveryCodesLeft: 0, passwordLogins: 'anywhere' });
      await s.forget(JID);
      assert.equal(await s.get(JID), null);
    });
  });
}

contract('memory', () => new MemorySecondFactorStore());

describe('issue 26: second-factor store on redis', () => {
  const redis = useRedisClient();
  let n = 0;
  contract('redis', () => new RedisSecondFactorStore(redis.client, new RedisKeys(`t${++n}:`)));
});
