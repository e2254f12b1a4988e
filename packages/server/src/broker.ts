/**
 * The broker contract moved to `@tether/broker`; this file only re-exports it while the server's
 * own modules move their imports. Import from `@tether/broker` instead.
 * @deprecated
 * @module
 */
export * from '@tether/broker';
