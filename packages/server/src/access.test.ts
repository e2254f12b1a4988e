import { describe, expect, it } from 'vitest';
import { checkAccess, claimAllows, refusal } from './access.js';
import { Namespaces } from './namespaces.js';
import { RpcError } from './rpc-error.js';

const ns = new Namespaces({
  feed: { publish: 'server' },
  open: { publish: 'clients' },
  vip: { subscribe: 'claim' },
  sys: { subscribe: 'nobody', publish: 'nobody' },
});
const alice = { user: 'alice', channels: undefined };
const claimed = { user: 'bob', channels: ['room:*', 'vip:gold'] };

describe('claimAllows', () => {
  it('lets a token without a claim use everything but claim-only namespaces', () => {
    expect(claimAllows(ns.policy('room:a'), alice, 'room:a')).toBe(true);
    expect(claimAllows(ns.policy('vip:gold'), alice, 'vip:gold')).toBe(false);
  });
  it('narrows to the claimed patterns', () => {
    expect(claimAllows(ns.policy('room:a'), claimed, 'room:a')).toBe(true);
    expect(claimAllows(ns.policy('vip:gold'), claimed, 'vip:gold')).toBe(true);
    expect(claimAllows(ns.policy('vip:silver'), claimed, 'vip:silver')).toBe(false);
    expect(claimAllows(ns.policy('feed:x'), claimed, 'feed:x')).toBe(false);
  });
  it('grants a user channel to its owner only, whatever the claim', () => {
    expect(claimAllows(ns.policy('user:alice'), alice, 'user:alice')).toBe(true);
    expect(claimAllows(ns.policy('user:alice'), claimed, 'user:alice')).toBe(false);
  });
});

describe('refusal', () => {
  const why = (
    channel: string,
    who: typeof alice | typeof claimed,
    action: 'subscribe' | 'publish' | 'presence',
    subscribed = false,
  ) => refusal(ns.policy(channel), who, channel, action, subscribed);

  it('allows what the defaults allow', () => {
    expect(why('room:a', alice, 'subscribe')).toBeUndefined();
    expect(why('room:a', alice, 'presence')).toBeUndefined();
    expect(why('room:a', alice, 'publish', true)).toBeUndefined();
    expect(why('open:a', alice, 'publish', false)).toBeUndefined();
  });
  it('refuses by namespace rule, claim and private channel, naming the reason', () => {
    expect(why('room:a', alice, 'publish', false)).toMatch(/subscribe to "room:a" before publishing/);
    expect(why('feed:a', alice, 'publish', true)).toMatch(/clients may not publish/);
    expect(why('sys:a', alice, 'publish', true)).toMatch(/clients may not publish/);
    expect(why('sys:a', alice, 'subscribe')).toMatch(/clients may not subscribe/);
    expect(why('vip:gold', alice, 'subscribe')).toMatch(/token does not grant/);
    expect(why('other:x', claimed, 'subscribe')).toMatch(/token does not grant/);
    expect(why('user:alice', claimed, 'subscribe')).toMatch(/another user's private channel/);
    expect(why('user:alice', alice, 'publish', true)).toMatch(/only the server publishes/);
    expect(why('user:alice', alice, 'subscribe')).toBeUndefined();
  });
});

describe('checkAccess', () => {
  const ctx = { user: 'alice', connectionId: 'c1', info: undefined, channels: undefined };
  it('runs the hook only after the rules allowed, and a false verdict refuses', async () => {
    const calls: string[] = [];
    const hook = (_: unknown, channel: string, action: string) => {
      calls.push(`${action} ${channel}`);
      return channel !== 'room:no';
    };
    await expect(checkAccess(ns.policy('room:a'), ctx, 'room:a', 'subscribe', false, hook)).resolves.toBeUndefined();
    const refused = checkAccess(ns.policy('room:no'), ctx, 'room:no', 'subscribe', false, hook);
    await expect(refused).rejects.toBeInstanceOf(RpcError);
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', message: 'not allowed to subscribe "room:no"' });
    await expect(checkAccess(ns.policy('sys:a'), ctx, 'sys:a', 'subscribe', false, hook)).rejects.toMatchObject({
      code: 'forbidden',
    });
    expect(calls).toEqual(['subscribe room:a', 'subscribe room:no']);
  });
  it('treats undefined from the hook as no objection', async () => {
    await expect(checkAccess(ns.policy('room:a'), ctx, 'room:a', 'presence', false, () => undefined)).resolves.toBe(
      undefined,
    );
  });
});
