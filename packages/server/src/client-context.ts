/**
 * What application hooks see of a connection.
 * @module
 */

/** What the server knows about a connection; passed to RPC handlers and `authorize`. */
export interface ClientContext {
  /** User id from the token. */
  readonly user: string;
  readonly connectionId: string;
  /** Public presence info from the token (`info` claim). */
  readonly info: unknown;
  /** Channel patterns from the token (`channels` claim), when present. */
  readonly channels: readonly string[] | undefined;
  /** True for operators: a token with `admin: true`, or the admin page's login. */
  readonly admin?: boolean;
}
