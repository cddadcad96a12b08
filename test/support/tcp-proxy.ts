// A TCP proxy between a server under test and its PostgreSQL, to stage the network failing without
// touching the database server other tests share: `pass` forwards, `refuse` resets every connection
// (those open and every new one, as a server that is down), `blackhole` keeps connections open and
// forwards nothing (a partition: packets dropped, nothing answers).
import net from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<[net.Socket, net.Socket | undefined]>();
  mode: ProxyMode = 'pass';
  port = 0;

  constructor(private readonly targetHost: string, private readonly targetPort: number) {}

  async start(): Promise<number> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Change what happens to traffic; open connections are reset (refuse) or stalled (blackhole). */
  set(mode: ProxyMode): void {
    this.mode = mode;
    for (const pair of this.pairs) {
      const [client, upstream] = pair;
      if (mode === 'refuse') {
        client.resetAndDestroy();
        upstream?.destroy();
        this.pairs.delete(pair);
      } else if (mode === 'blackhole') {
        client.unpipe();
        upstream?.unpipe();
        client.pause();
        upstream?.pause();
      } else {
        // the partition heals: what waited is delivered
        this.forward(pair);
      }
    }
  }

  private forward(pair: [net.Socket, net.Socket | undefined]): void {
    const client = pair[0];
    let upstream = pair[1];
    if (!upstream) {
      upstream = net.connect(this.targetPort, this.targetHost);
      pair[1] = upstream;
      upstream.on('error', () => client.destroy());
      upstream.on('close', () => client.destroy());
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    upstream.resume();
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: [net.Socket, net.Socket | undefined] = [client, undefined];
    this.pairs.add(pair);
    client.on('close', () => {
      pair[1]?.destroy();
      this.pairs.delete(pair);
    });
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    this.forward(pair);
  }

  async close(): Promise<void> {
    for (const [c, u] of this.pairs) {
      c.destroy();
      u?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
