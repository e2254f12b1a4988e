/**
 * The `tether` command: `tether serve` runs a server configured by flags, `TETHER_*`
 * environment variables and an optional JSON config file (flags win over the environment,
 * the environment over the file). SIGTERM and SIGINT drain and exit 0.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Broker, createMemoryBroker } from '@tether/broker';
import { type Duration, toMs } from '@tether/protocol';
import { cac } from 'cac';
import type { AdminOptions } from './admin/index.js';
import type { AuthOptions } from './auth.js';
import { createLogger, type Logger } from './logger.js';
import type { NamespaceOptions } from './namespaces.js';
import {
  type AuthorizeHook,
  DEFAULTS,
  type LimitOptions,
  type ServerHeartbeatOptions,
  type ServerOptions,
} from './options.js';
import { createServer, type TetherServer } from './server.js';
import { serveStatic } from './static-files.js';

/** What a `--config` file may set (everything else comes from flags and the environment). */
export interface ConfigFile {
  host?: string;
  port?: number;
  path?: string;
  namespaces?: Record<string, NamespaceOptions>;
  limits?: LimitOptions;
  heartbeat?: ServerHeartbeatOptions;
  allowedOrigins?: string[];
  dedupTtl?: Duration;
  presenceTtl?: Duration;
  presenceInterval?: Duration;
  presenceListLimit?: number;
  maxPresencePage?: number;
  drainDelay?: Duration;
  drainSpread?: Duration;
  drainDeadline?: Duration;
  /** With --admin: the dashboard's `page`, `interval`, `lease` (the key alone does not turn it on). */
  admin?: AdminOptions;
}

/** This package's version (src/ and dist/ both sit beside package.json). */
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** The broker `tether serve` uses unless told otherwise: durable on one node. */
const DEFAULT_BROKER = 'sqlite';
const DEFAULT_DATA_DIR = '.data';
const { limits: L, heartbeat: H, serve: S } = DEFAULTS;

/**
 * One row per option: the flag, its environment variable, what it means, and its default as
 * printed (taken from `DEFAULTS`; the README table mirrors this).
 */
export const CLI_OPTIONS = [
  ['--host <host>', 'TETHER_HOST', 'interface to bind', DEFAULTS.host],
  ['--port <port>', 'TETHER_PORT', 'port to listen on', String(DEFAULTS.port)],
  ['--path <path>', 'TETHER_PATH', 'WebSocket endpoint path', DEFAULTS.path],
  [
    '--jwt-secret <secret>',
    'TETHER_JWT_SECRET',
    'HS256 secret (required when NODE_ENV=production)',
    'generated in development',
  ],
  ['--jwt-public-key <pem-or-file>', 'TETHER_JWT_PUBLIC_KEY', 'RS256/ES256 public key (PEM text or a file)', ''],
  ['--jwks-url <url>', 'TETHER_JWKS_URL', 'JWKS URL for RS256/ES256 tokens', ''],
  ['--api-key <key>', 'TETHER_API_KEY', 'key for the HTTP API (none = API off)', ''],
  ['--require-exp', 'TETHER_REQUIRE_EXP', 'refuse tokens without an exp claim (401)', 'off'],
  [
    '--broker <kind>',
    'TETHER_BROKER',
    'memory, sqlite (needs @tether/sqlite) or redis (needs @tether/redis)',
    DEFAULT_BROKER,
  ],
  ['--data-dir <dir>', 'TETHER_DATA_DIR', 'where the SQLite file (tether.db) lives', DEFAULT_DATA_DIR],
  ['--redis-url <url>', 'TETHER_REDIS_URL', 'Redis for the redis broker', '@tether/redis default (local Redis)'],
  ['--redis-prefix <prefix>', 'TETHER_REDIS_PREFIX', 'key prefix in Redis', '@tether/redis default'],
  ['--heartbeat-interval <ms>', 'TETHER_HEARTBEAT_INTERVAL', 'server ping interval', String(H.interval)],
  ['--heartbeat-timeout <ms>', 'TETHER_HEARTBEAT_TIMEOUT', 'silence tolerated after the interval', String(H.timeout)],
  ['--max-payload <bytes>', 'TETHER_MAX_PAYLOAD', 'largest frame / API body', String(L.maxPayload)],
  ['--max-buffered <bytes>', 'TETHER_MAX_BUFFERED', 'send buffer per client before 4009', String(L.maxBuffered)],
  ['--messages-per-second <n>', 'TETHER_MESSAGES_PER_SECOND', 'per-connection rate limit', String(L.messagesPerSecond)],
  ['--max-subscriptions <n>', 'TETHER_MAX_SUBSCRIPTIONS', 'channels per connection', String(L.maxSubscriptions)],
  ['--max-connections <n>', 'TETHER_MAX_CONNECTIONS', 'connections per server (then 503)', String(L.maxConnections)],
  [
    '--api-key-failures <n>',
    'TETHER_API_KEY_FAILURES',
    'failed API-key attempts per address per minute (then 429)',
    String(L.apiKeyFailures),
  ],
  ['--static <dir>', 'TETHER_STATIC_DIR', 'serve a built web app (e.g. the chat app) at /', ''],
  ['--allowed-origins <list>', 'TETHER_ALLOWED_ORIGINS', 'comma-separated; empty = same origin only', ''],
  [
    '--drain-delay <duration>',
    'TETHER_DRAIN_DELAY',
    'SIGTERM/SIGINT: keep serving this long while /readyz says 503, before closing clients',
    S.drainDelay,
  ],
  [
    '--drain-spread <duration>',
    'TETHER_DRAIN_SPREAD',
    'then close clients with 1012 in batches over this window',
    S.drainSpread,
  ],
  ['--drain-deadline <duration>', 'TETHER_DRAIN_DEADLINE', 'and exit within this', S.drainDeadline],
  ['--log-level <level>', 'TETHER_LOG_LEVEL', 'pino level', 'info'],
  ['--config <file>', 'TETHER_CONFIG', 'JSON config file (namespaces, limits, …)', ''],
  [
    '--plugin <module>',
    'TETHER_PLUGIN',
    'ES module to load: its `namespaces` and `authorize` exports are used, its `setup(tether)` runs before listen',
    '',
  ],
  ['--dev', 'TETHER_DEV', 'development mode: POST /api/dev/login issues tokens', 'off'],
  [
    '--admin',
    'TETHER_ADMIN',
    'serve the admin dashboard at /admin (needs @tether/admin, and --api-key or a JWT key)',
    'off',
  ],
] as const;

type Flags = Record<string, string | number | boolean | undefined>;

const camel = (flag: string): string =>
  (flag.split(' ')[0] as string).replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Flag value, else environment variable, else undefined: always a string (cac turns numbers into numbers). */
function setting(flags: Flags, flag: string, envName: string): string | undefined {
  const v = flags[camel(flag)];
  if (v !== undefined && v !== '') return String(v);
  const e = process.env[envName];
  return e === undefined || e === '' ? undefined : e;
}

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new RangeError(`${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Loads an optional broker package. Only its own absence gets the "install it" message; any other
 * failure (a native module that did not build, say) is reported as it is.
 */
async function optional<T>(load: () => Promise<T>, pkg: string, kind: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const missing =
      err instanceof Error &&
      (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
      err.message.includes(`'${pkg}'`);
    if (!missing) throw err;
    throw new TypeError(`the ${kind} broker needs ${pkg}: npm install ${pkg} (or run with --broker memory)`);
  }
}

async function makeBroker(kind: string, get: (flag: string) => string | undefined, logger: Logger): Promise<Broker> {
  switch (kind) {
    case 'memory':
      return createMemoryBroker();
    case 'sqlite': {
      const { createSqliteBroker } = await optional(() => import('@tether/sqlite'), '@tether/sqlite', 'sqlite');
      const dir = resolve(get('--data-dir <dir>') ?? DEFAULT_DATA_DIR);
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'tether.db');
      logger.info({ file }, 'sqlite broker');
      return createSqliteBroker({ file });
    }
    case 'redis': {
      const { createRedisBroker } = await optional(() => import('@tether/redis'), '@tether/redis', 'redis');
      const url = get('--redis-url <url>');
      const prefix = get('--redis-prefix <prefix>');
      return createRedisBroker({ ...(url !== undefined && { url }), ...(prefix !== undefined && { prefix }) });
    }
    default:
      throw new TypeError(`unknown broker "${kind}": use memory, sqlite or redis`);
  }
}

/** What a `--plugin` module may export. */
export interface CliPlugin {
  /** Namespace settings merged under those of the `--config` file. */
  namespaces?: Record<string, NamespaceOptions>;
  /** Passed to `createServer` as its `authorize` hook (it can only narrow the namespace rules). */
  authorize?: AuthorizeHook;
  /** Called with the server before it listens: register RPC methods, start publishers. */
  setup?: (tether: TetherServer) => void | Promise<void>;
}

const plugins = new Map<string, CliPlugin>();

/** Imports a `--plugin` module (a path relative to the working directory, or a package name). */
async function loadPlugin(specifier: string | undefined): Promise<CliPlugin | undefined> {
  if (!specifier) return undefined;
  const cached = plugins.get(specifier);
  if (cached) return cached;
  const url = /^\.{0,2}\//.test(specifier) ? pathToFileURL(resolve(specifier)).href : specifier;
  const mod = (await import(url)) as CliPlugin;
  if (mod.setup !== undefined && typeof mod.setup !== 'function')
    throw new TypeError(`--plugin ${specifier}: setup must be a function`);
  plugins.set(specifier, mod);
  return mod;
}

/** Builds the server options for `tether serve` from flags, environment and config file. */
export async function serveOptions(flags: Flags, logger: Logger): Promise<ServerOptions> {
  const get = (flag: string): string | undefined => {
    const row = CLI_OPTIONS.find((r) => r[0] === flag);
    if (!row) throw new Error(`unknown CLI option ${flag}`);
    return setting(flags, row[0], row[1]);
  };
  const production = process.env.NODE_ENV === 'production';
  const dev = flags.dev === true || ['1', 'true', 'yes'].includes(process.env.TETHER_DEV ?? '');
  if (dev && production) throw new TypeError('--dev issues tokens to anyone; it is refused when NODE_ENV=production');

  const configPath = get('--config <file>');
  const config: ConfigFile = configPath ? (JSON.parse(readFileSync(resolve(configPath), 'utf8')) as ConfigFile) : {};

  const auth: AuthOptions = {};
  const publicKey = get('--jwt-public-key <pem-or-file>');
  const jwksUrl = get('--jwks-url <url>');
  let secret = get('--jwt-secret <secret>');
  let generatedSecret = false;
  if (publicKey)
    auth.publicKey = publicKey.includes('-----BEGIN') ? publicKey : readFileSync(resolve(publicKey), 'utf8');
  else if (jwksUrl) auth.jwksUrl = jwksUrl;
  else {
    if (!secret) {
      if (production) throw new TypeError('NODE_ENV=production needs TETHER_JWT_SECRET (or a public key / JWKS URL)');
      secret = randomBytes(32).toString('base64url');
      generatedSecret = true;
      // Printed once so a developer can sign tokens with it; never happens in production.
      logger.warn(`no TETHER_JWT_SECRET set: generated a development secret for this run: ${secret}`);
    }
    auth.jwtSecret = secret;
  }

  const origins = get('--allowed-origins <list>');
  const limits: LimitOptions = { ...config.limits };
  const setLimit = (key: keyof LimitOptions, flag: string): void => {
    const v = num(get(flag), flag);
    if (v !== undefined) limits[key] = v;
  };
  setLimit('maxPayload', '--max-payload <bytes>');
  setLimit('maxBuffered', '--max-buffered <bytes>');
  setLimit('messagesPerSecond', '--messages-per-second <n>');
  setLimit('maxSubscriptions', '--max-subscriptions <n>');
  setLimit('maxConnections', '--max-connections <n>');
  setLimit('apiKeyFailures', '--api-key-failures <n>');
  if (flags.requireExp === true || ['1', 'true', 'yes'].includes(process.env.TETHER_REQUIRE_EXP ?? ''))
    auth.requireExp = true;
  const heartbeat: ServerHeartbeatOptions = { ...config.heartbeat };
  const interval = num(get('--heartbeat-interval <ms>'), 'heartbeat interval');
  const timeout = num(get('--heartbeat-timeout <ms>'), 'heartbeat timeout');
  if (interval !== undefined) heartbeat.interval = interval;
  if (timeout !== undefined) heartbeat.timeout = timeout;

  const apiKey = get('--api-key <key>');
  const options: ServerOptions = {
    host: get('--host <host>') ?? config.host ?? DEFAULTS.host,
    port: num(get('--port <port>'), 'port') ?? config.port ?? DEFAULTS.port,
    path: get('--path <path>') ?? config.path ?? DEFAULTS.path,
    auth,
    logger,
    broker: await makeBroker(get('--broker <kind>') ?? DEFAULT_BROKER, get, logger),
    limits,
    heartbeat,
    devLogin: dev,
    drainDelay: get('--drain-delay <duration>') ?? config.drainDelay ?? S.drainDelay,
    drainSpread: get('--drain-spread <duration>') ?? config.drainSpread ?? S.drainSpread,
    drainDeadline: get('--drain-deadline <duration>') ?? config.drainDeadline ?? S.drainDeadline,
  };
  if (apiKey) options.apiKey = apiKey;
  else if (dev) {
    options.apiKey = randomBytes(18).toString('base64url');
    logger.warn(`no TETHER_API_KEY set: generated a development API key for this run: ${options.apiKey}`);
  }
  if (flags.admin === true || ['1', 'true', 'yes'].includes(process.env.TETHER_ADMIN ?? '')) {
    // A generated secret signs no operator's token: without an API key nobody could log in.
    if (!options.apiKey && generatedSecret)
      throw new TypeError(
        '--admin needs a way to authenticate operators: --api-key (TETHER_API_KEY), or a JWT key (--jwt-secret, --jwt-public-key, --jwks-url) for tokens with admin: true',
      );
    options.admin = config.admin ?? true;
  }
  const staticDir = get('--static <dir>');
  if (staticDir) options.onRequest = serveStatic(staticDir);
  if (config.namespaces) options.namespaces = config.namespaces;
  const plugin = await loadPlugin(get('--plugin <module>'));
  if (plugin?.namespaces) options.namespaces = { ...plugin.namespaces, ...options.namespaces };
  if (plugin?.authorize) options.authorize = plugin.authorize;
  if (config.dedupTtl !== undefined) options.dedupTtl = config.dedupTtl;
  if (config.presenceTtl !== undefined) options.presenceTtl = config.presenceTtl;
  if (config.presenceInterval !== undefined) options.presenceInterval = config.presenceInterval;
  if (config.presenceListLimit !== undefined) options.presenceListLimit = config.presenceListLimit;
  if (config.maxPresencePage !== undefined) options.maxPresencePage = config.maxPresencePage;
  const allowed =
    origins !== undefined
      ? origins
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean)
      : config.allowedOrigins;
  if (allowed) options.allowedOrigins = allowed;
  return options;
}

/** Runs the CLI with `argv` (without the node and script entries). Resolves once the command started. */
export async function main(argv: string[]): Promise<TetherServer | undefined> {
  const cli = cac('tether');
  const serve = cli.command('serve', 'Run a Tether server');
  for (const [flag, env, description, def] of CLI_OPTIONS)
    serve.option(flag, `${description} (env ${env}${def ? `, default ${def}` : ''})`);
  cli.help();
  // `tether --version` / `-v`: cac prints `tether/<version> <platform> node-<version>`.
  cli.version(VERSION);
  const parsed = cli.parse(['node', 'tether', ...argv], { run: false });
  if (parsed.options.help || parsed.options.h || parsed.options.version || parsed.options.v) return undefined;
  if (cli.matchedCommandName !== 'serve') {
    cli.outputHelp();
    process.exitCode = 1;
    return undefined;
  }
  const flags = parsed.options as Flags;
  const logger = createLogger(setting(flags, '--log-level <level>', 'TETHER_LOG_LEVEL'));
  let tether: TetherServer;
  let deadline: number;
  try {
    const options = await serveOptions(flags, logger);
    tether = createServer(options);
    deadline = toMs(options.drainDeadline ?? S.drainDeadline, 'drain deadline');
    const pluginName = setting(flags, '--plugin <module>', 'TETHER_PLUGIN');
    const plugin = await loadPlugin(pluginName);
    if (plugin?.setup) {
      await plugin.setup(tether);
      logger.info({ plugin: pluginName }, 'plugin set up');
    }
    const address = await tether.listen();
    if (flags.dev === true || process.env.TETHER_DEV) {
      logger.info(
        `development login: curl -s -X POST http://localhost:${address.port}/api/dev/login -H 'content-type: application/json' -d '{"user":"alice"}'`,
      );
    }
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? { message: err.message } : err }, 'tether failed to start');
    process.exitCode = 1;
    return undefined;
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining before exit');
    // If draining itself hangs, leave anyway shortly after the deadline.
    setTimeout(() => process.exit(1), deadline + 2_000).unref();
    tether.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return tether;
}

// Run when executed directly (`node --import tsx src/cli.ts serve`); bin/tether.js calls main() itself.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void main(process.argv.slice(2));
}
