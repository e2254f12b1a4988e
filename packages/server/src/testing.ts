/**
 * `@tether/server/testing`: the conformance suites now live in `@tether/broker/testing`; this
 * entry re-exports them for one release.
 * @deprecated Import from `@tether/broker/testing`.
 * @module
 */
export * from '@tether/broker/testing';
