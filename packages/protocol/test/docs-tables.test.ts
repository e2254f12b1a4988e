// docs/PROTOCOL.md is what outside implementers read: its tables of error codes, close codes and
// frame types must say exactly what the code exports, so these tests parse the tables and compare.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_FRAME_TYPES, CLOSE_POLICY, CloseCode, ERROR_CODES, SERVER_FRAME_TYPES } from '../src/index.js';

const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8');

/** The rows of the first table under the heading `heading` (any level), as arrays of cell texts. */
function table(heading: string): string[][] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '').trim() === heading);
  if (start < 0) throw new Error(`docs/PROTOCOL.md has no heading "${heading}"`);
  const rows: string[][] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^#+ /.test(line)) break;
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  if (rows.length < 3) throw new Error(`no table under "${heading}"`);
  return rows.slice(2); // header and separator
}

/** The backquoted names in a cell: "`join` / `leave`" → ["join", "leave"]. */
const names = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

describe('docs/PROTOCOL.md tables match the exported constants', () => {
  it('lists every error code, and no other', () => {
    const documented = table('Errors').flatMap((row) => names(row[0] as string));
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('lists every close code, and no other', () => {
    const documented = table('Close codes').map((row) => Number(row[0]));
    expect([...documented].sort()).toEqual([...new Set(Object.values(CloseCode))].sort());
  });

  it("says 'stop' exactly for the close codes the client does not reconnect after", () => {
    for (const row of table('Close codes')) {
      const code = Number(row[0]);
      const action = (row[2] as string).toLowerCase();
      const stops = action === 'nothing' || action.startsWith('stop');
      expect({ code, reconnect: !stops }).toEqual({ code, reconnect: CLOSE_POLICY[code]?.reconnect });
    }
  });

  it('lists every client frame type, and no other', () => {
    const documented = table('From the client').flatMap((row) => names(row[0] as string));
    expect([...new Set(documented)].sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
  });

  it('lists every server frame type, and no other', () => {
    const documented = table('From the server').flatMap((row) => names(row[0] as string));
    expect([...new Set(documented)].sort()).toEqual([...SERVER_FRAME_TYPES].sort());
  });
});
