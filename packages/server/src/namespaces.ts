/**
 * Namespace options (history, presence, who may publish and subscribe) and channel patterns.
 * @module
 */
import { channelNamespace, type Duration, toMs } from '@tether/protocol';

/**
 * Who may publish to a namespace's channels:
 * `subscribers` — connections subscribed to the channel (and server code and the HTTP API);
 * `clients` — any connection allowed to subscribe, subscribed or not (and server code);
 * `server` — only server code (`tether.publish`) and the HTTP API;
 * `nobody` — nobody, not even server code (presence-only channels).
 */
export type PublishPolicy = 'subscribers' | 'clients' | 'server' | 'nobody';

/**
 * Who may subscribe: `authenticated` — any authenticated connection (narrowed by the token's
 * `channels` claim when it has one); `claim` — only connections whose token's `channels` claim
 * matches the channel; `nobody` — no client (server-side bookkeeping channels).
 */
export type SubscribePolicy = 'authenticated' | 'claim' | 'nobody';

/** Options of one namespace (`room` in `room:lobby`). */
export interface NamespaceOptions {
  /**
   * Publications kept for recovery: how many and for how long. `false` keeps none
   * (offsets still advance, so a resubscribe with `since` reports `recovered: false` after a miss).
   * @default { size: 100, ttl: '10m' }
   */
  history?: { size?: number; ttl?: Duration } | false;
  /** Track presence and send `join` / `leave` frames to subscribers. @default true */
  presence?: boolean;
  /** @default 'subscribers' */
  publish?: PublishPolicy;
  /** @default 'authenticated' */
  subscribe?: SubscribePolicy;
  /** Largest `data` accepted from a publisher, in bytes of JSON; bigger gets `too_large`. @default no limit beyond maxPayload */
  maxDataSize?: number;
}

/** Namespace options with every default applied. */
export interface ChannelPolicy {
  historySize: number;
  historyTtl: number;
  presence: boolean;
  publish: PublishPolicy;
  subscribe: SubscribePolicy;
  maxDataSize: number;
  /** For `user:<id>` channels: the only user who may subscribe. */
  privateTo?: string;
}

/** The namespace defaults: the only table of them (`maxDataSize` has none: no limit beyond `maxPayload`). */
export const DEFAULT_NAMESPACE = {
  history: { size: 100, ttl: '10m' },
  presence: true,
  publish: 'subscribers',
  subscribe: 'authenticated',
} as const satisfies Required<Omit<NamespaceOptions, 'maxDataSize'>>;

/** `DEFAULT_NAMESPACE` as a policy. */
const DEFAULT_POLICY: ChannelPolicy = {
  historySize: DEFAULT_NAMESPACE.history.size,
  historyTtl: toMs(DEFAULT_NAMESPACE.history.ttl, 'history.ttl'),
  presence: DEFAULT_NAMESPACE.presence,
  publish: DEFAULT_NAMESPACE.publish,
  subscribe: DEFAULT_NAMESPACE.subscribe,
  maxDataSize: Number.POSITIVE_INFINITY,
};

/** `user:<id>` channels are private to that user. */
const USER_PREFIX = 'user:';

const PUBLISH: readonly PublishPolicy[] = ['subscribers', 'clients', 'server', 'nobody'];
const SUBSCRIBE: readonly SubscribePolicy[] = ['authenticated', 'claim', 'nobody'];

function resolve(name: string, base: ChannelPolicy, opts: NamespaceOptions): ChannelPolicy {
  const where = name === '*' ? 'namespaces["*"]' : `namespaces.${name || '""'}`;
  if (opts.publish !== undefined && !PUBLISH.includes(opts.publish))
    throw new TypeError(`${where}.publish must be one of ${PUBLISH.join(', ')}`);
  if (opts.subscribe !== undefined && !SUBSCRIBE.includes(opts.subscribe))
    throw new TypeError(`${where}.subscribe must be one of ${SUBSCRIBE.join(', ')}`);
  const out = { ...base };
  if (opts.history === false) {
    out.historySize = 0;
    out.historyTtl = 0;
  } else if (opts.history) {
    if (opts.history.size !== undefined) {
      if (!Number.isSafeInteger(opts.history.size) || opts.history.size < 0)
        throw new RangeError(`${where}.history.size must be an integer >= 0`);
      out.historySize = opts.history.size;
    }
    if (opts.history.ttl !== undefined) out.historyTtl = toMs(opts.history.ttl, `${where}.history.ttl`);
  }
  if (opts.presence !== undefined) out.presence = opts.presence;
  if (opts.publish !== undefined) out.publish = opts.publish;
  if (opts.subscribe !== undefined) out.subscribe = opts.subscribe;
  if (opts.maxDataSize !== undefined) {
    if (!Number.isSafeInteger(opts.maxDataSize) || opts.maxDataSize <= 0)
      throw new RangeError(`${where}.maxDataSize must be a positive integer`);
    out.maxDataSize = opts.maxDataSize;
  }
  return out;
}

/**
 * Resolves channel names to policies. `namespaces['*']` overrides the defaults for every
 * namespace not listed; `user:<id>` channels are always private to that user and published
 * only by server code, whatever the config says.
 */
export class Namespaces {
  /** The policy of every namespace not listed. */
  readonly fallback: ChannelPolicy;
  private readonly byName = new Map<string, ChannelPolicy>();

  constructor(config: Record<string, NamespaceOptions> = {}) {
    this.fallback = config['*'] ? resolve('*', DEFAULT_POLICY, config['*']) : DEFAULT_POLICY;
    for (const [name, opts] of Object.entries(config)) {
      if (name === '*') continue;
      this.byName.set(name, resolve(name, this.fallback, opts ?? {}));
    }
  }

  policy(channel: string): ChannelPolicy {
    const ns = channelNamespace(channel);
    const policy = this.byName.get(ns) ?? this.fallback;
    if (`${ns}:` !== USER_PREFIX) return policy;
    const publish = policy.publish === 'nobody' ? 'nobody' : 'server';
    return { ...policy, publish, subscribe: 'authenticated', privateTo: channel.slice(USER_PREFIX.length) };
  }
}

/**
 * Does `channel` match `pattern`? `*` matches any run of characters (`room:*`, `doc:*:comments`);
 * everything else matches itself.
 */
export function matchChannel(pattern: string, channel: string): boolean {
  if (!pattern.includes('*')) return pattern === channel;
  const parts = pattern.split('*');
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (!channel.startsWith(first) || channel.length < first.length + last.length) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = channel.indexOf(parts[i] as string, at);
    if (found < 0) return false;
    at = found + (parts[i] as string).length;
  }
  return channel.length - last.length >= at && channel.endsWith(last);
}
