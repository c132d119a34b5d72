import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, needsRehash, verifyPassword } from '../../src/auth/password.ts';
import { constantTimeEqual, hashToken, newAccessKey, newSecretKey, newToken } from '../../src/auth/secrets.ts';

describe('password', () => {
  it('round-trips and rejects a wrong password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.match(stored, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    assert.equal(await verifyPassword('correct horse battery staple', stored), true);
    assert.equal(await verifyPassword('correct horse battery stapler', stored), false);
    assert.equal(await verifyPassword('', stored), false);
    assert.equal(needsRehash(stored), false);
  });

  it('salts: two hashes of the same password differ and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('pw'), hashPassword('pw')]);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('pw', a), true);
    assert.equal(await verifyPassword('pw', b), true);
  });

  it('treats composed and decomposed accents as the same password', async () => {
    const stored = await hashPassword('caf\u00e9');
    assert.equal(await verifyPassword('cafe\u0301', stored), true);
  });

  it('returns false, never throws, for tampered or malformed stored hashes', async () => {
    const stored = await hashPassword('pw');
    const parts = stored.split('$');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const tampered = [
      [...parts.slice(0, 5), flip(parts[5]!)].join('$'), // hash
      [...parts.slice(0, 4), flip(parts[4]!), parts[5]].join('$'), // salt
      ['scrypt', '16384', ...parts.slice(2)].join('$'), // cost
      ['scrypt', '1073741824', ...parts.slice(2)].join('$'), // absurd cost must not be attempted
      ['scrypt', '12345', ...parts.slice(2)].join('$'), // N not a power of two
      parts.slice(0, 5).join('$'),
      'bcrypt$2b$10$abc',
      '',
    ];
    for (const t of tampered) assert.equal(await verifyPassword('pw', t), false, t);
    assert.equal(needsRehash(['scrypt', '16384', ...parts.slice(2)].join('$')), true);
  });
});

describe('secrets', () => {
  it('tokens are prefixed, url-safe, 256-bit and unique', () => {
    const t = newToken();
    assert.match(t, /^nbd_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(newToken(), t);
  });

  it('hashToken is sha256 hex', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('access and secret keys have the Huawei shapes', () => {
    assert.match(newAccessKey(), /^[A-Z0-9]{20}$/);
    assert.match(newSecretKey(), /^[A-Za-z0-9]{40}$/);
    assert.notEqual(newSecretKey(), newSecretKey());
  });

  it('constantTimeEqual', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abc', 'abd'), false);
    assert.equal(constantTimeEqual('abc', 'abcd'), false);
    assert.equal(constantTimeEqual('', ''), true);
    assert.equal(constantTimeEqual(Buffer.from('x'), 'x'), true);
  });
});
