/**
 * bench:cli — the CLI's start-up cost beside its floors, in one run on one machine:
 *   infield --help, infield --version          vs  node -e 0
 *   infield tenant:list --json (3 tenants)     vs  psql -c 'select 1' (same database)
 * and, for reference, bare imports against psql's floor: @oclif/core, and the product card's CLI
 * and data libraries together (@oclif/core, knex, objection, pg), which any command that reads
 * the database through them pays before it runs.
 * Each command runs BENCH_ROUNDS times, interleaved (A B A B …) so drift hits all alike; the
 * median wall time and the highest peak RSS are printed with the ratio to the floor and the
 * issue's target. Needs the built CLI (npm run build) and psql on PATH; uses DATABASE_URL's
 * server, or an embedded PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { admin, benchCluster, migratedDatabase } from './bench-database.js';
import { run, type Run } from './run-timed.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(REPO, 'bin', 'run.js');

interface Case {
  name: string;
  command: string;
  args: string[];
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  if (spawnSync('psql', ['--version']).status !== 0) throw new Error('bench:cli needs psql');
  const cluster = await benchCluster();
  const name = 'infield_bench_cli';
  const database = await migratedDatabase(cluster, name);
  await database.close();
  const url = cluster.urlFor(name);
  const env = { DATABASE_URL: url, LOG_LEVEL: 'warn' };
  try {
    await admin(
      url,
      `insert into tenants (slug, name, plan) values ('acme', 'Acme', 'pro'),
         ('globex', 'Globex', 'free'), ('initech', 'Initech', 'enterprise')`,
    );
    const cases: Case[] = [
      { name: 'node -e 0', command: process.execPath, args: ['-e', '0'] },
      { name: 'infield --version', command: process.execPath, args: [BIN, '--version'] },
      { name: 'infield --help', command: process.execPath, args: [BIN, '--help'] },
      // What any oclif command pays before its own code runs: the library the product card names.
      {
        name: 'node: import @oclif/core',
        command: process.execPath,
        args: ['--input-type=module', '-e', "await import('@oclif/core')"],
      },
      {
        name: 'node: import @oclif/core, knex, objection, pg',
        command: process.execPath,
        args: [
          '--input-type=module',
          '-e',
          "await Promise.all(['@oclif/core', 'knex', 'objection', 'pg'].map((m) => import(m)))",
        ],
      },
      { name: "psql -c 'select 1'", command: 'psql', args: [url, '-c', 'select 1'] },
      {
        name: 'infield tenant:list --json',
        command: process.execPath,
        args: [BIN, 'tenant:list', '--json'],
      },
    ];
    // One warm-up each: the first run of anything pays for cold file caches.
    for (const c of cases) await run(c.command, c.args, env);
    const runs = new Map<string, Run[]>(cases.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of cases) runs.get(c.name)!.push(await run(c.command, c.args, env));
    }
    const wall = (n: string): number => median(runs.get(n)!.map((r) => r.seconds));
    const rss = (n: string): number | null => {
      const peaks = runs.get(n)!.map((r) => r.peakKib);
      return peaks.some((p) => p === null) ? null : Math.max(...(peaks as number[])) / 1024;
    };
    const floors: Record<string, string> = {
      'node: import @oclif/core': "psql -c 'select 1'",
      'node: import @oclif/core, knex, objection, pg': "psql -c 'select 1'",
      'infield --version': 'node -e 0',
      'infield --help': 'node -e 0',
      'infield tenant:list --json': "psql -c 'select 1'",
    };
    const targets: Record<string, number> = {
      'infield --version': 3,
      'infield --help': 3,
      'infield tenant:list --json': 4,
    };
    console.log(
      `median of ${ROUNDS} interleaved runs each (after one warm-up), on ${url.replace(/\/\/[^@]*@/, '//')}`,
    );
    console.log('| command | wall (median) | peak RSS | × floor | target |');
    console.log('|---|---|---|---|---|');
    for (const c of cases) {
      const floor = floors[c.name];
      const ratio =
        floor === undefined ? '' : `${(wall(c.name) / wall(floor)).toFixed(2)}× ${floor}`;
      const target = targets[c.name];
      const peak = rss(c.name);
      const met =
        target === undefined ? '' : wall(c.name) / wall(floor!) <= target ? 'met' : 'missed';
      console.log(
        `| ${c.name} | ${(wall(c.name) * 1000).toFixed(0)} ms | ${peak === null ? 'n/a' : `${peak.toFixed(1)} MiB`} | ${ratio} | ${target === undefined ? '' : `≤ ${target}× (${met})`} |`,
      );
    }
    const helpPeak = rss('infield --help');
    if (helpPeak !== null) {
      console.log(
        `peak RSS of --help: ${helpPeak.toFixed(1)} MiB (target ≤ 70 MiB: ${helpPeak <= 70 ? 'met' : 'missed'})`,
      );
    }
  } finally {
    await admin(cluster.adminUrl, `drop database if exists ${name} with (force)`);
    await cluster.stop();
  }
}

await main();
