/**
 * Process helpers: start a child pinned to one core (with `taskset` where it exists) and with the
 * file limit raised to the hard limit, read a process's CPU time from /proc, and talk to a
 * child in JSON lines.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const has = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const TASKSET = process.platform === 'linux' && has('taskset');
const cores = (() => {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || 1;
  } catch {
    return 1;
  }
})();
/** Servers run on core 0, the generator on core 1 (when there are two). */
export const SERVER_CPU = 0;
export const GENERATOR_CPU = cores > 1 ? 1 : 0;
export const CORES = cores;

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used so far (0 where /proc is missing or it ended). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** The file-descriptor limit this shell gets after raising the soft limit to the hard one. */
export function fileLimit(): string {
  try {
    return execFileSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Spawns `node <args>` (TypeScript through tsx, packages from source) pinned to `cpu`, with the
 * soft file limit raised to the hard limit. `exec` keeps the pid: it is node's own.
 */
export function spawnNode(cpu: number, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', '--conditions=source', ...args];
  const cmd = TASKSET ? ['taskset', '-c', String(cpu), ...node] : node;
  return spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...cmd], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
}

/** JSON lines from a child's stdout (other lines are ignored), one awaited at a time. */
export class Lines {
  private readonly queue: unknown[] = [];
  private waiting: ((value: unknown) => void) | undefined;
  private ended = false;
  private onEnd: ((err: Error) => void) | undefined;

  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return;
      }
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        this.onEnd = undefined;
        w(value);
      } else this.queue.push(value);
    });
    child.once('exit', (code, signal) => {
      this.ended = true;
      this.onEnd?.(new Error(`child exited (${signal ?? code}) before answering`));
    });
  }

  /** The next JSON line, or a rejection after `timeoutMs` or when the child exits. */
  next<T>(timeoutMs: number): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift() as T);
    if (this.ended) return Promise.reject(new Error('child exited'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.onEnd = undefined;
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (v) => {
        clearTimeout(timer);
        resolve(v as T);
      };
      this.onEnd = (err) => {
        clearTimeout(timer);
        this.waiting = undefined;
        reject(err);
      };
    });
  }
}

/** Kills a child (SIGKILL) and waits for it to be gone, at most 5 s. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A profiled server exits on SIGTERM so V8 writes its profile; the rest are killed outright.
  if (child.spawnargs.some((a) => a === '--cpu-prof')) {
    child.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode !== null || child.signalCode !== null) return;
  }
  child.kill('SIGKILL');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
}
