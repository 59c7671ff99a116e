import { EventEmitter } from 'node:events';
import { Cluster, type Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isRedisConnectionError, RedisHealth } from './redis-health';

/** The part of an ioredis connection RedisHealth reads: its events and `status`. */
class Connection extends EventEmitter {
  status = 'connecting';
  ready() {
    this.status = 'ready';
    this.emit('ready');
  }
  lose(err?: Error) {
    this.status = 'reconnecting';
    if (err) this.emit('error', err);
    this.emit('reconnecting', 50);
  }
  refused() {
    this.status = 'connecting';
    this.emit(
      'error',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
    );
  }
  end() {
    this.status = 'end';
    this.emit('end');
  }
}

function tracker() {
  const log: string[] = [];
  let now = 1000;
  const health = new RedisHealth(
    {
      onDown: ({ reason }) => log.push(`down: ${reason}`),
      onUp: ({ downMs }) => log.push(`up after ${downMs} ms`),
      onError: (err, source) => log.push(`error from ${source}: ${err.message}`),
    },
    () => now,
  );
  const connect = (name: string) => {
    const c = new Connection();
    health.track(c as unknown as Redis, name);
    return c;
  };
  return { health, log, connect, advance: (ms: number) => (now += ms) };
}

describe('RedisHealth', () => {
  it('reports one outage for any number of connections and reconnect attempts, and one recovery once all are back', () => {
    const { health, log, connect, advance } = tracker();
    const conns = ['producer', 'worker a', 'worker b'].map(connect);
    for (const c of conns) c.ready();
    expect(health.up).toBe(true);

    for (const c of conns) c.lose(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    for (let i = 0; i < 20; i++) for (const c of conns) c.refused();
    advance(8000);
    expect(health.up).toBe(false);
    expect(health.ready()).toMatch(/^redis unavailable for 8 s/);

    conns[0]?.ready();
    conns[1]?.ready();
    expect(health.up).toBe(false);
    conns[2]?.ready();
    expect(health.up).toBe(true);
    expect(log).toEqual(['down: ECONNRESET: read ECONNRESET', 'up after 8000 ms']);
  });

  it('a connection that cannot connect at start-up is an outage too', () => {
    const { health, log, connect } = tracker();
    const c = connect('producer');
    c.refused();
    expect(health.up).toBe(false);
    c.ready();
    expect(log).toEqual(['down: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6379', 'up after 0 ms']);
  });

  it('a connection closed on purpose (end) is no outage and does not hold a recovery back', () => {
    const { health, log, connect } = tracker();
    const a = connect('a');
    const b = connect('b');
    a.ready();
    b.ready();
    a.end();
    expect(health.up).toBe(true);
    a.lose();
    expect(health.up).toBe(true);
    b.lose();
    b.end();
    expect(health.up).toBe(true);
    expect(log).toEqual(['down: connection lost', 'up after 0 ms']);
  });

  it('absorbs the outage errors queues repeat, and passes other Redis errors on', () => {
    const { health, log, connect } = tracker();
    const queue = new EventEmitter();
    health.absorb(queue, 'reconcile-reaperpod');
    const c = connect('producer');
    c.ready();
    queue.emit('error', new Error('ERR Error running script: bad argument'));
    c.lose();
    queue.emit('error', new Error('Connection is closed.'));
    queue.emit('error', new Error('anything said while Redis is away'));
    c.ready();
    queue.emit('error', Object.assign(new Error('Reached the max retries per request limit'), {}));
    expect(log).toEqual([
      'error from reconcile-reaperpod: ERR Error running script: bad argument',
      'down: connection lost',
      'up after 0 ms',
    ]);
    expect(health.absorbedErrors).toBe(3);
  });

  it('whenUp resolves at once while up, on recovery while down, and on abort', async () => {
    const { health, connect } = tracker();
    const c = connect('producer');
    c.ready();
    await health.whenUp();
    c.lose();
    let resolved = false;
    const waiting = health.whenUp().then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    c.ready();
    await waiting;
    expect(resolved).toBe(true);

    c.lose();
    const abort = new AbortController();
    const aborted = health.whenUp(abort.signal);
    abort.abort();
    await aborted;
    expect(health.up).toBe(false);
  });
});

describe('RedisHealth on a Redis Cluster', () => {
  it('a lost primary of the slot map is an outage until a refreshed map names another primary; a lost replica is none', () => {
    const log: string[] = [];
    const health = new RedisHealth({
      onDown: ({ reason }) => log.push(`down: ${reason}`),
      onUp: () => log.push('up'),
    });
    // Never connected: only its events and the two fields RedisHealth reads are used.
    const cluster = new Cluster([], { lazyConnect: true });
    health.track(cluster, 'cluster');
    const node = (host: string, port: number) => ({ options: { host, port } }) as unknown as Redis;
    cluster.status = 'ready';
    cluster.slots = Array.from({ length: 4 }, () => ['127.0.0.1:7000', '127.0.0.1:7003']);

    cluster.emit('-node', node('127.0.0.1', 7003));
    expect(log).toEqual([]);
    cluster.emit('-node', node('127.0.0.1', 7000));
    cluster.emit('node error', new Error('Connection is closed.'), '127.0.0.1:7000');
    expect(log).toEqual(['down: 127.0.0.1:7000: connection lost']);
    cluster.emit('refresh');
    expect(health.up).toBe(false);

    cluster.slots = Array.from({ length: 4 }, () => ['127.0.0.1:7003']);
    cluster.emit('refresh');
    expect(log).toEqual(['down: 127.0.0.1:7000: connection lost', 'up']);
    expect(health.up).toBe(true);
    // Shutting down (status no longer ready) is no outage.
    cluster.status = 'disconnecting';
    cluster.emit('-node', node('127.0.0.1', 7003));
    cluster.emit('end');
    expect(log).toHaveLength(2);
  });
});

describe('isRedisConnectionError', () => {
  it.each([
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    [Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }), true],
    [new Error('Connection is closed.'), true],
    [new Error('wrapped', { cause: new Error('Connection is closed.') }), true],
    [new Error('ERR unknown command'), false],
    ['ECONNREFUSED', false],
  ])('%s -> %s', (err, expected) => {
    expect(isRedisConnectionError(err)).toBe(expected);
  });
});
