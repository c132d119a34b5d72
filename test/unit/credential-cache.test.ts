// The credential cache serves a caller for a few seconds, and never after a revocation it can know of.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCredentialCache } from '../../src/auth/credential-cache.ts';
import type { IdentityStore } from '../../src/store/store.ts';

function setup(externalWrites?: () => number) {
  let now = 1_000_000;
  const cache = createCredentialCache({ ttlMs: 5_000, maxEntries: 4, now: () => now, ...(externalWrites && { externalWrites }) });
  return { cache, advance: (ms: number) => (now += ms), now: () => now };
}

describe('credential cache', () => {
  it('serves an entry until the TTL or the token expiry, whichever comes first', () => {
    const { cache, advance, now } = setup();
    cache.set('t:a', 'alice', now() + 60_000, cache.generation());
    cache.set('t:b', 'bob', now() + 1_000, cache.generation());
    assert.equal(cache.get('t:a'), 'alice');
    advance(1_000);
    assert.equal(cache.get('t:b'), undefined, 'the token expired');
    assert.equal(cache.get('t:a'), 'alice');
    advance(4_000);
    assert.equal(cache.get('t:a'), undefined, 'the TTL ran out');
  });

  it('is cleared by every revoking, deleting or updating identity write, and not by reads or inserts', async () => {
    const { cache, now } = setup();
    const calls: string[] = [];
    const identity = {
      getToken: async () => (calls.push('getToken'), undefined),
      insertToken: async () => void calls.push('insertToken'),
      revokeToken: async () => void calls.push('revokeToken'),
      revokeUserTokens: async () => (calls.push('revokeUserTokens'), 1),
      updateUser: async () => void calls.push('updateUser'),
      deleteAccessKey: async () => void calls.push('deleteAccessKey'),
    } as unknown as IdentityStore;
    cache.watch(identity);
    for (const [op, clears] of [['getToken', false], ['insertToken', false], ['revokeToken', true], ['revokeUserTokens', true], ['updateUser', true], ['deleteAccessKey', true]] as const) {
      cache.set('t:a', 'alice', now() + 60_000, cache.generation());
      await (identity as any)[op]('x');
      assert.equal(cache.get('t:a'), clears ? undefined : 'alice', op);
    }
    assert.deepEqual(calls, ['getToken', 'insertToken', 'revokeToken', 'revokeUserTokens', 'updateUser', 'deleteAccessKey'], 'the store methods still run');
    assert.equal(await identity.revokeUserTokens('u', 0), 1, 'and return their result');
  });

  it('does not cache a lookup that raced with a revocation', async () => {
    const { cache, now } = setup();
    const identity = { revokeToken: async () => {} } as unknown as IdentityStore;
    cache.watch(identity);
    const readAt = cache.generation(); // the lookup reads the store...
    await identity.revokeToken('a'); // ...a revocation commits meanwhile...
    cache.set('t:a', 'alice', now() + 60_000, readAt); // ...and the stale answer is not kept
    assert.equal(cache.get('t:a'), undefined);
  });

  it('starts over when another process wrote to the store', () => {
    let writes = 7;
    const { cache, now } = setup(() => writes);
    cache.set('t:a', 'alice', now() + 60_000, cache.generation());
    assert.equal(cache.get('t:a'), 'alice');
    writes = 8; // e.g. `notebookd admin token revoke` on the same SQLite file
    assert.equal(cache.get('t:a'), undefined);
    cache.set('t:a', 'alice', now() + 60_000, cache.generation());
    assert.equal(cache.get('t:a'), 'alice');
  });

  it('stays bounded', () => {
    const { cache, now } = setup();
    for (let i = 0; i < 20; i++) cache.set(`t:${i}`, i, now() + 60_000, cache.generation());
    assert.ok(cache.size() <= 4, `size ${cache.size()}`);
    assert.equal(cache.get('t:19'), 19, 'the newest stays');
  });
});
