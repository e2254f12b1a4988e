/**
 * Channel names: `namespace:rest` (`room:lobby`, `user:42`) or a bare name in the default namespace.
 * @module
 */

export const MAX_CHANNEL_LENGTH = 255;

// Control characters (C0, DEL, C1) never belong in a name that ends up in logs, keys and URLs.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const NAMESPACE = /^[A-Za-z0-9_.-]+$/;

/** Returns why `name` is not a valid channel name, or `null` when it is. */
export function channelNameError(name: unknown): string | null {
  if (typeof name !== 'string') return 'channel must be a string';
  if (name.length === 0) return 'channel must not be empty';
  if (name.length > MAX_CHANNEL_LENGTH) return `channel must be at most ${MAX_CHANNEL_LENGTH} characters`;
  if (CONTROL.test(name)) return 'channel must not contain control characters';
  const colon = name.indexOf(':');
  if (colon === 0) return 'channel namespace must not be empty';
  if (colon > 0 && !NAMESPACE.test(name.slice(0, colon)))
    return 'channel namespace may contain only letters, digits, "_", "." and "-"';
  if (colon === name.length - 1) return 'channel name after the namespace must not be empty';
  return null;
}

/** The namespace of a channel (`room` for `room:lobby`), or `''` for a bare name. */
export function channelNamespace(name: string): string {
  const colon = name.indexOf(':');
  return colon > 0 ? name.slice(0, colon) : '';
}
