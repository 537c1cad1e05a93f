// Issue 26 (review): the one decision every browser flow asks before it goes
// on: nothing, a second step, a factor's enrolment, the full sign-in, or a
// request that cannot be met.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signInDue, type AssuranceInput } from '../../src/oauth/account-life/sign-in-assurance.js';

const NOW = 1_800_000_000;
const RECENT = 900;
const due = (over: Partial<AssuranceInput> & { age?: number; amr?: string[]; required?: 'none' | 'optional' | 'required' }) =>
  signInDue({
    kinds: over.kinds ?? [],
    signIn: over.signIn === null ? null : { amr: over.amr ?? ['pwd'], authTime: NOW - (over.age ?? 0) },
    fresh: over.fresh ?? false,
    now: NOW,
    policy: { mfaRequired: over.required ?? 'optional', recentSignIn: RECENT },
    request: over.request,
  });

describe('issue 26: signInDue', () => {
  it('issue 26: a first factor just shown is followed by the account factor, or its enrolment when required', () => {
    assert.deepEqual(due({ fresh: true, kinds: ['totp', 'passkey'] }), { due: 'second-factor', kinds: ['totp', 'passkey'] });
    assert.deepEqual(due({ fresh: true, kinds: ['totp'], required: 'none' }), { due: 'second-factor', kinds: ['totp'] }, 'none still asks a factor set up');
    assert.deepEqual(due({ fresh: true, required: 'required' }), { due: 'enrol' });
    assert.deepEqual(due({ fresh: true }), { due: 'nothing' });
    assert.deepEqual(due({ fresh: true, amr: ['hwk', 'user', 'mfa'], kinds: ['passkey'] }), { due: 'nothing' }, 'a passkey alone is two factors');
  });

  it('issue 26: an existing one-factor session steps up only when two are wanted, and only while its sign-in is recent', () => {
    assert.deepEqual(due({ kinds: ['totp'] }), { due: 'nothing' }, 'nothing asks for two');
    assert.deepEqual(due({ kinds: ['totp'], request: { acrValues: 'urn:xmpp-oauth:acr:2fa' } }), { due: 'second-factor', kinds: ['totp'] });
    assert.deepEqual(due({ required: 'required', age: RECENT }), { due: 'enrol' });
    assert.deepEqual(due({ required: 'required', age: RECENT + 1 }), { due: 'sign-in', why: 'not-recent' }, 'an old session enrols nothing');
    assert.deepEqual(due({ kinds: ['totp'], required: 'required', age: RECENT + 1 }), { due: 'sign-in', why: 'not-recent' });
    assert.deepEqual(due({ required: 'required', age: 10 * RECENT, amr: ['pwd', 'otp', 'mfa'] }), { due: 'nothing' }, 'two factors shown: age does not matter');
  });

  it('issue 26: no session, prompt=login and max_age ask for the sign-in unless it was just made; acr_values that cannot be met', () => {
    assert.deepEqual(due({ signIn: null }), { due: 'sign-in', why: 'none' });
    assert.deepEqual(due({ request: { promptLogin: true } }), { due: 'sign-in', why: 'prompt-login' });
    assert.deepEqual(due({ age: 61, request: { maxAge: 60 } }), { due: 'sign-in', why: 'max-age' });
    assert.deepEqual(due({ age: 61, fresh: true, request: { maxAge: 0, promptLogin: true } }), { due: 'nothing' });
    assert.equal(due({ request: { acrValues: 'urn:other' } }).due, 'unmet');
    assert.deepEqual(due({ request: { acrValues: 'urn:xmpp-oauth:acr:2fa' } }), { due: 'unmet', description: 'the account has no second factor' });
    assert.deepEqual(due({ request: { acrValues: 'urn:xmpp-oauth:acr:1fa urn:xmpp-oauth:acr:2fa' } }), { due: 'nothing' });
  });
});
