/**
 * bench:api — an authenticated GET /api/v1/forms/{id} (a published form: the form row and its
 * current version) through Infield's API against a floor doing the same essential work:
 *   (a) infield serve (bin/run.js, NODE_ENV=production, default LOG_LEVEL, logs to /dev/null),
 *   (b) bench/api-floor.ts: bare node:http + pg, the same token check and one transaction,
 * both with the Node flags of bin/run.js's shebang (a larger young generation),
 * both separate processes on 127.0.0.1 with the same database, JWT secret and pool size
 * (BENCH_POOL_MAX, default 10 as DATABASE_POOL_MAX). After a warm-up of each
 * (BENCH_WARMUP_SECONDS, 10: the product's JIT and heap take longer than the floor's to settle),
 * autocannon (in this process) runs product, floor, product, floor, BENCH_SECONDS (10) each with
 * BENCH_CONNECTIONS (64) keep-alive connections, and prints req/s, p50 and p99 per run, then
 * the averaged ratios product/floor against the targets (req/s ≥ 0.70×, p99 ≤ 1.5×). Last,
 * BENCH_MANY_CONNECTIONS (1000) connections against the product alone for BENCH_MANY_SECONDS
 * (10). Any error or non-2xx answer in any run makes the bench exit non-zero.
 * Needs the built CLI (npm run build); uses DATABASE_URL's server, or an embedded PostgreSQL.
 * BENCH_PROFILE_DIR=dir: product and floor also write a V8 CPU profile (.cpuprofile) there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { systemScope } from '../src/db/scope.js';
import { createLogger } from '../src/logger.js';
import { TenantService } from '../src/services/tenant-service.js';
import { admin, benchCluster, migratedDatabase } from './bench-database.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 64);
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 10);
const MANY_CONNECTIONS = Number(process.env['BENCH_MANY_CONNECTIONS'] ?? 1000);
const MANY_SECONDS = Number(process.env['BENCH_MANY_SECONDS'] ?? 10);
const POOL_MAX = Number(process.env['BENCH_POOL_MAX'] ?? 10);
const TARGET_RPS_RATIO = 0.7;
const TARGET_P99_RATIO = 1.5;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

interface Server {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

interface Measured {
  label: string;
  result: autocannon.Result;
  /** The server process's CPU time (user + system) per answered request; null off Linux. */
  cpuMsPerRequest: number | null;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** CPU seconds (user + system) a process has used so far, from /proc; null when unreadable. */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** A port nobody listens on right now (the server gets it through PORT). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves with the child's exit, or kills it when it outlives `ms`. */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Starts a server process (stdout read for its "listening on <url>" line, stderr to /dev/null)
 * and waits until it listens, at most 60 s.
 */
async function startServer(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<Server> {
  const devNull = fs.openSync('/dev/null', 'w');
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', devNull],
  });
  fs.closeSync(devNull);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child, 15_000);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`${name} did not listen in 60 s`)), 60_000);
      const watch = (chunk: Buffer): void => {
        seen = (seen + chunk.toString()).slice(-4096);
        const match = /listening on (http:\/\/[^\s]+)/.exec(seen);
        if (match === null) return;
        clearTimeout(timer);
        child.stdout?.off('data', watch);
        resolve(match[1]!);
      };
      child.stdout?.on('data', watch);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${name} exited (${code ?? signal}) before listening; run it by hand to see why: ` +
              `node ${args.join(' ')}`,
          ),
        );
      });
    });
    // Later output (shutdown lines) is drained and dropped.
    child.stdout?.resume();
    return { name, url, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The Node flags bin/run.js's shebang gives `infield` (what an operator runs), read from it so
 * they cannot drift; the floor runs with the same ones.
 */
const NODE_FLAGS = fs
  .readFileSync(path.join(REPO, 'bin', 'run.js'), 'utf8')
  .split('\n')[0]!
  .replace(/^#!\/usr\/bin\/env -S node\s*/, '')
  .split(/\s+/)
  .filter((flag) => flag.startsWith('--'));

/** BENCH_PROFILE_DIR: the product writes a V8 CPU profile there when it stops (for tuning). */
function profileArgs(): string[] {
  const dir = process.env['BENCH_PROFILE_DIR'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Env for both servers: only what they need, so a shell's settings cannot skew one side. */
function serverEnv(databaseUrl: string, secret: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: String(POOL_MAX),
    JWT_SECRET: secret,
    PORT: String(port),
    // Long enough for the whole run (the default is 900 s); tokens are verified the same way.
    ACCESS_TOKEN_TTL: '86400',
  };
}

/** One JSON call against a server; throws unless the status is the expected one. */
async function call<T>(
  url: string,
  method: string,
  expected: number,
  options: { token?: string; body?: unknown } = {},
): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== expected) {
    throw new Error(
      `${method} ${url}: ${res.status} (expected ${expected}): ${text.slice(0, 500)}`,
    );
  }
  return (text === '' ? {} : JSON.parse(text)) as T;
}

/** An enterprise tenant and its admin, provisioned as an operator would. */
async function provisionTenant(
  database: Awaited<ReturnType<typeof migratedDatabase>>,
): Promise<{ email: string; password: string }> {
  const email = 'admin@bench-api.example.test';
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await new TenantService({
    db: { database, scope: systemScope },
    actor: { type: 'operator', osUser: 'bench' },
    requestId: 'bench',
    logger: createLogger('silent'),
  }).provision({
    slug: 'bench-api',
    name: 'Bench API',
    plan: 'enterprise',
    admin_email: email,
    admin_password: password,
  });
  return { email, password };
}

/** Logs in through the product and creates and publishes the site-safety-inspection form. */
async function seedThroughApi(
  product: Server,
  credentials: { email: string; password: string },
): Promise<{ token: string; formId: string }> {
  const api = `${product.url}/api/v1`;
  const { access_token: token } = await call<{ access_token: string }>(
    `${api}/auth/login`,
    'POST',
    200,
    { body: credentials },
  );
  const schema: unknown = JSON.parse(
    fs.readFileSync(path.join(REPO, 'fixtures/forms/site-safety-inspection/schema.json'), 'utf8'),
  );
  const { id } = await call<{ id: string }>(`${api}/forms`, 'POST', 201, {
    token,
    body: { key: 'site-safety-inspection', title: 'Site safety inspection', json_schema: schema },
  });
  const published = await call<{ current_version: number; has_draft: boolean }>(
    `${api}/forms/${id}/publish`,
    'POST',
    200,
    { token },
  );
  if (published.current_version !== 1 || published.has_draft) {
    throw new Error(`publish left ${JSON.stringify(published)}`);
  }
  return { token, formId: id };
}

/** Both servers answer the same: the same form body, 401 without a token, 404 for no form. */
async function checkSameAnswers(
  product: Server,
  floor: Server,
  token: string,
  formId: string,
): Promise<number> {
  const bodies: string[] = [];
  for (const server of [product, floor]) {
    const form = `${server.url}/api/v1/forms/${formId}`;
    bodies.push(JSON.stringify(await call(form, 'GET', 200, { token })));
    await call(form, 'GET', 401);
    await call(`${server.url}/api/v1/forms/${randomUuid()}`, 'GET', 404, { token });
  }
  if (bodies[0] !== bodies[1]) {
    throw new Error(`the floor's form differs from the product's:\n${bodies[0]}\n${bodies[1]}`);
  }
  return Buffer.byteLength(bodies[0]!);
}

const randomUuid = (): string =>
  [8, 4, 4, 4, 12].map((n) => randomBytes(n / 2).toString('hex')).join('-');

/** One autocannon run: GET of the form with the bearer token, keep-alive connections. */
function load(
  server: Server,
  target: string,
  token: string,
  connections: number,
  seconds: number,
): Promise<autocannon.Result> {
  return autocannon({
    url: `${server.url}${target}`,
    method: 'GET',
    headers: { Authorization: `Bearer ${token}` },
    connections,
    duration: seconds,
    timeout: 10,
  });
}

/** A measured run: the load, and the server's CPU time over it. */
async function measure(
  label: string,
  server: Server,
  target: string,
  token: string,
): Promise<Measured> {
  const before = cpuSeconds(server.pid);
  const result = await load(server, target, token, CONNECTIONS, SECONDS);
  const after = cpuSeconds(server.pid);
  const cpuMsPerRequest =
    before === null || after === null || result.requests.total === 0
      ? null
      : ((after - before) * 1000) / result.requests.total;
  return { label, result, cpuMsPerRequest };
}

const failed = (r: autocannon.Result): boolean => r.errors > 0 || r.non2xx > 0;

function statusCounts(r: autocannon.Result): string {
  const stats = Object.entries(r.statusCodeStats ?? {})
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, s]) => `${code}: ${s.count ?? 0}`);
  return stats.length === 0 ? '' : ` (${stats.join(', ')})`;
}

function row(m: Measured): string {
  const r = m.result;
  const flag = failed(r) ? ' ← FAILED' : '';
  return (
    `| ${m.label} | ${Math.round(r.requests.average).toLocaleString('en')} | ` +
    `${r.latency.p50.toFixed(1)} | ${r.latency.p99.toFixed(1)} | ${r.non2xx}${statusCounts(r)} | ` +
    `${r.errors} (timeouts ${r.timeouts}) | ` +
    `${m.cpuMsPerRequest === null ? 'n/a' : m.cpuMsPerRequest.toFixed(2)} |${flag}`
  );
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Prints the runs and the ratios; true when no run saw an error or a non-2xx answer. */
function report(runs: Measured[]): boolean {
  console.log(
    `\n${SECONDS} s per run, ${CONNECTIONS} connections, after a ${WARMUP_SECONDS} s warm-up of each`,
  );
  console.log('| run | req/s | p50 ms | p99 ms | non-2xx | errors | server CPU ms/req |');
  console.log('|---|---|---|---|---|---|---|');
  for (const m of runs) console.log(row(m));
  const side = (prefix: string): Measured[] => runs.filter((m) => m.label.startsWith(prefix));
  const ratio = (of: (m: Measured) => number): number =>
    mean(side('product').map(of)) / mean(side('floor').map(of));
  const rps = ratio((m) => m.result.requests.average);
  const p99 = ratio((m) => m.result.latency.p99);
  console.log(
    `\nproduct/floor req/s: ${rps.toFixed(2)} (target ≥ ${TARGET_RPS_RATIO.toFixed(2)}: ` +
      `${rps >= TARGET_RPS_RATIO ? 'PASS' : 'MISS'})`,
  );
  console.log(
    `product/floor p99:   ${p99.toFixed(2)} (target ≤ ${TARGET_P99_RATIO.toFixed(2)}: ` +
      `${p99 <= TARGET_P99_RATIO ? 'PASS' : 'MISS'})`,
  );
  if (runs.every((m) => m.cpuMsPerRequest !== null)) {
    console.log(
      `product/floor server CPU per request: ${ratio((m) => m.cpuMsPerRequest!).toFixed(2)} ` +
        '(information: CPU time of the server process alone)',
    );
  }
  const bad = runs.filter((m) => failed(m.result));
  for (const m of bad) {
    console.error(
      `!! ${m.label}: ${m.result.errors} errors (${m.result.timeouts} timeouts), ` +
        `${m.result.non2xx} non-2xx answers${statusCounts(m.result)}: the comparison is not valid`,
    );
  }
  return bad.length === 0;
}

/** Many keep-alive connections against the product; true when every answer was a 2xx. */
function reportMany(r: autocannon.Result): boolean {
  console.log(
    `\nproduct with ${MANY_CONNECTIONS} keep-alive connections, ${MANY_SECONDS} s: ` +
      `${Math.round(r.requests.average).toLocaleString('en')} req/s, ` +
      `p50 ${r.latency.p50.toFixed(1)} ms, p99 ${r.latency.p99.toFixed(1)} ms, ` +
      `errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}${statusCounts(r)}`,
  );
  if (failed(r)) {
    console.error(`!! ${MANY_CONNECTIONS} connections: errors or non-2xx answers (0 required)`);
    return false;
  }
  console.log(`${MANY_CONNECTIONS} connections: 0 errors, 0 non-2xx (required): PASS`);
  return true;
}

async function main(): Promise<void> {
  const cluster = await benchCluster();
  const name = 'infield_bench_api';
  const servers: Server[] = [];
  let ok = false;
  try {
    const database = await migratedDatabase(cluster, name);
    const credentials = await provisionTenant(database).finally(() => database.close());
    const url = cluster.urlFor(name);
    const secret = randomBytes(48).toString('base64url');

    const product = await startServer(
      'infield serve',
      [...NODE_FLAGS, ...profileArgs(), path.join(REPO, 'bin', 'run.js'), 'serve', '--host', HOST],
      serverEnv(url, secret, await freePort()),
    );
    servers.push(product);
    const floor = await startServer(
      'api-floor',
      [
        ...NODE_FLAGS,
        ...profileArgs(),
        '--import',
        'tsx',
        path.join(REPO, 'bench', 'api-floor.ts'),
      ],
      serverEnv(url, secret, await freePort()),
    );
    servers.push(floor);
    const { token, formId } = await seedThroughApi(product, credentials);
    const bytes = await checkSameAnswers(product, floor, token, formId);
    const formPath = `/api/v1/forms/${formId}`;
    console.log(
      `GET ${formPath}: ${bytes} bytes of JSON, the same from both; pool ${POOL_MAX} each; ` +
        `on ${url.replace(/\/\/[^@]*@/, '//')}; ${os.availableParallelism()} CPU cores shared by ` +
        `both servers, PostgreSQL and autocannon (this process); node flags ${NODE_FLAGS.join(' ')}`,
    );

    for (const server of [product, floor]) {
      await load(server, formPath, token, CONNECTIONS, WARMUP_SECONDS);
    }
    const runs: Measured[] = [];
    for (const [i, server] of [product, floor, product, floor].entries()) {
      const label = `${server === product ? 'product' : 'floor'} ${Math.floor(i / 2) + 1}`;
      runs.push(await measure(label, server, formPath, token));
    }
    const compared = report(runs);
    const many = reportMany(await load(product, formPath, token, MANY_CONNECTIONS, MANY_SECONDS));
    ok = compared && many;
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await admin(cluster.adminUrl, `drop database if exists ${name} with (force)`).catch(
      () => undefined,
    );
    await cluster.stop();
  }
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
