/**
 * Test helpers: a real Tether server on loopback (port 0, HS256), restartable on the same port
 * with the same broker so channel history survives, and the server-side observations the tests
 * assert on (subscribe commands seen, the subscriptions gauge).
 */
import {
  type Broker,
  createServer,
  memoryBroker,
  type RpcHandler,
  type ServerOptions,
  signToken,
  type TetherServer,
} from '@tether/server';

export const SECRET = 'vue-test-secret-of-a-decent-length-0123456789';

export interface TestServer {
  server: TetherServer;
  port: number;
  url: string;
  broker: Broker;
  /** Channels of every `subscribe` command the server authorized, in order (across restarts). */
  subscribes: string[];
  /**
   * Closes this server and starts a new one on the same port and handlers — with the same broker
   * (history survives), or with `{ fresh: true }` a new one (history and epochs are lost).
   */
  restart(options?: { fresh?: boolean }): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(
  rpc: Record<string, RpcHandler> = {},
  extra: Partial<ServerOptions> = {},
): Promise<TestServer> {
  let broker = memoryBroker();
  const subscribes: string[] = [];
  const make = (port: number): TetherServer => {
    const server = createServer({
      ...extra,
      host: '127.0.0.1',
      port,
      auth: { jwtSecret: SECRET },
      broker,
      logLevel: 'silent',
      drainDelay: 0,
      authorize: (_ctx, channel, action) => {
        if (action === 'subscribe') subscribes.push(channel);
        return true;
      },
    });
    for (const [method, handler] of Object.entries(rpc)) server.rpc(method, handler);
    return server;
  };
  const first = make(0);
  const { port } = await first.listen();
  const t: TestServer = {
    server: first,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    broker,
    subscribes,
    async restart({ fresh = false } = {}) {
      await t.server.close();
      if (fresh) {
        broker = memoryBroker();
        t.broker = broker;
      }
      t.server = make(port);
      await t.server.listen();
    },
    close: () => t.server.close(),
  };
  return t;
}

export const token = (user = 'ann'): Promise<string> => signToken(SECRET, { user });

/** The server's `tether_subscriptions` gauge (active channel subscriptions). */
export async function subscriptionGauge(server: TetherServer): Promise<number> {
  const metric = await server.metrics.getSingleMetric('tether_subscriptions')?.get();
  return metric?.values[0]?.value ?? 0;
}
