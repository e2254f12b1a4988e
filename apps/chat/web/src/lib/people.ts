/** How people look in the app: initials and a stable colour per name; times a person reads. */

export function initials(name: string): string {
  const parts = name.split(/[\s._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? `${parts[0]?.[0] ?? ''}${parts[1]?.[0] ?? ''}` : name.slice(0, 2);
  return letters.toUpperCase();
}

export function colour(name: string): string {
  let h = 0;
  for (const c of name) h = (h * 31 + (c.codePointAt(0) ?? 0)) % 360;
  return `hsl(${h} 55% 42%)`;
}

export function clock(ts: number): string {
  const d = new Date(ts);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString()
    ? time
    : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

/** Splits a room message into text and `@mention` parts, so mentions can be highlighted without v-html. */
export function mentionParts(text: string): { text: string; mention: boolean }[] {
  const out: { text: string; mention: boolean }[] = [];
  let last = 0;
  for (const m of text.matchAll(/(^|[^\w@])(@[A-Za-z0-9_.-]{1,32})/g)) {
    const start = (m.index ?? 0) + (m[1]?.length ?? 0);
    if (start > last) out.push({ text: text.slice(last, start), mention: false });
    out.push({ text: m[2] as string, mention: true });
    last = start + (m[2]?.length ?? 0);
  }
  if (last < text.length) out.push({ text: text.slice(last), mention: false });
  return out;
}

export const NAME_PATTERN = '[A-Za-z0-9_.\\-]{1,32}';
