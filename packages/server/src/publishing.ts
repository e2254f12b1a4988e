/**
 * The publish pipeline shared by clients, server code and the HTTP API: validate once, check
 * the namespace's size limit, store through the broker, count it.
 * @module
 */
import type { Broker } from '@tether/broker';
import { channelNameError, MAX_KEY_LENGTH, type PublishResult, unsafeValue } from '@tether/protocol';
import { forbidden } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import type { ChannelPolicy, Namespaces } from './namespaces.js';
import { RpcError } from './rpc-error.js';

/** Where a publication came from (the `source` label of `tether_publications_total`). */
export type PublishSource = 'client' | 'server' | 'http';

/** How one publication arrives at `store`. */
export interface PublishRequest {
  key?: string | undefined;
  /** User id of the publishing connection (clients only). */
  from?: string | undefined;
  /** The data's size in bytes of JSON, when the caller already serialised it. */
  bytes?: number | undefined;
}

/**
 * Checks what server code hands to `tether.publish` and returns the data's size in bytes of
 * JSON. Client and HTTP data arrive decoded from JSON/MessagePack; server code can hand over
 * anything, so refuse what cannot be sent now rather than store a publication no subscriber can
 * receive. Throws `TypeError`.
 */
export function validateServerPublish(channel: string, data: unknown, key: unknown): number {
  const why = channelNameError(channel);
  if (why) throw new TypeError(`publish: ${why}`);
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch {
    json = undefined;
  }
  if (json === undefined)
    throw new TypeError('publish: data must be JSON-serialisable (no undefined, BigInt or cycles)');
  // The rules frames get: plain objects, no __proto__/constructor/prototype keys, bounded depth
  // (counted as inside a frame, where data sits one level down).
  const unsafe = unsafeValue([data]);
  if (unsafe) throw new TypeError(`publish: data refused: ${unsafe}`);
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH))
    throw new TypeError(`publish: key must be a string of 1-${MAX_KEY_LENGTH} characters`);
  return Buffer.byteLength(json);
}

export class Publisher {
  constructor(
    private readonly broker: Broker,
    private readonly ns: Namespaces,
    private readonly metrics: ServerMetrics,
    private readonly dedupTtl: number,
  ) {}

  /**
   * Server code and the HTTP API (the admin page's publish too): allowed unless the namespace
   * says `publish: 'nobody'`. HTTP data meets the frame data rules here (server code's was
   * checked by `validateServerPublish`).
   */
  fromBackend(source: 'server' | 'http', channel: string, data: unknown, request: PublishRequest = {}) {
    const unsafe = source === 'http' ? unsafeValue([data]) : null;
    if (unsafe) return Promise.reject(new RpcError('bad_request', unsafe));
    const policy = this.ns.policy(channel);
    if (policy.publish === 'nobody') return Promise.reject(forbidden(`nobody may publish to "${channel}"`));
    return this.store(source, channel, data, policy, request);
  }

  /** Stores one publication whose publisher was already allowed to publish. */
  async store(
    source: PublishSource,
    channel: string,
    data: unknown,
    policy: ChannelPolicy,
    { key, from, bytes }: PublishRequest,
  ): Promise<PublishResult> {
    if (data === undefined) throw new RpcError('bad_request', 'data must not be undefined');
    if (Number.isFinite(policy.maxDataSize) && (bytes ?? Buffer.byteLength(JSON.stringify(data))) > policy.maxDataSize)
      throw new RpcError('too_large', `data larger than ${policy.maxDataSize} bytes`);
    const out = await this.broker.publish(channel, data, {
      ...(key !== undefined && { key }),
      ...(from !== undefined && { from }),
      historySize: policy.historySize,
      historyTtl: policy.historyTtl,
      dedupTtl: this.dedupTtl,
    });
    if (!out.duplicate) this.metrics.publications.inc({ source });
    return { offset: out.publication.offset, epoch: out.publication.epoch };
  }
}
