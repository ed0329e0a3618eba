/**
 * bench:export — seeds 1,000,000 submissions of a 10-field form (typed answers) and 100,000 of
 * another, then times, on the same data in the same run:
 *   (a) psql -c "\copy (<the export's pivot query>) to stdout csv" > /dev/null, under the same
 *       role and tenant setting (so RLS costs the same), and
 *   (b) infield export --tenant … --form inspection > /dev/null (the whole CLI, start-up included),
 * at 100k and 1M rows, best of BENCH_ROUNDS runs each. Prints rows/s, the ratio (b)/(a) and the
 * peak RSS of (b) (from /usr/bin/time, else /proc VmHWM). Scale with BENCH_ROWS / BENCH_SMALL_ROWS.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tenantScope } from '../src/db/scope.js';
import { createLogger } from '../src/logger.js';
import { exportQuery } from '../src/services/exports/export-sql.js';
import { SubmissionExportService } from '../src/services/exports/submission-export-service.js';
import { admin, benchCluster, mib, migratedDatabase } from './bench-database.js';
import { seedSql } from './export-seed.js';
import { run, type Run } from './run-timed.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const SMALL_ROWS = Number(process.env['BENCH_SMALL_ROWS'] ?? 100_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  const cluster = await benchCluster();
  const logger = createLogger('silent');
  const name = 'infield_bench_export';
  const database = await migratedDatabase(cluster, name);
  const url = cluster.urlFor(name);
  try {
    let t = process.hrtime.bigint();
    await admin(url, seedSql(ROWS, 'bench'));
    await admin(url, seedSql(SMALL_ROWS, 'bench-small'));
    await admin(url, 'vacuum analyze');
    console.log(
      `seeded ${ROWS.toLocaleString('en')} + ${SMALL_ROWS.toLocaleString('en')} submissions ` +
        `(10 typed answers each) in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s`,
    );
    t = process.hrtime.bigint();

    const cases = [
      { slug: 'bench-small', rows: SMALL_ROWS },
      { slug: 'bench', rows: ROWS },
    ];
    const results: { rows: number; psql: Run; infield: Run }[] = [];
    for (const c of cases) {
      const tenant = await database.knex('tenants').where('slug', c.slug).first<{ id: string }>();
      const ctx = {
        db: { database, scope: tenantScope(tenant!.id) },
        actor: { type: 'operator' as const, osUser: 'bench' },
        requestId: 'bench',
        logger,
      };
      const prepared = await new SubmissionExportService(ctx).prepare({ key: 'inspection' }, {});
      const query = exportQuery(prepared.formId, prepared.columns, prepared.filter).replace(
        /\s+/g,
        ' ',
      );
      const psqlEnv = { PGOPTIONS: `-c role=infield_app -c app.tenant_id=${tenant!.id}` };
      const cliArgs = [
        path.join(REPO, 'bin', 'run.js'),
        'export',
        '--tenant',
        c.slug,
        '--form',
        'inspection',
      ];
      let best: { psql: Run; infield: Run } | undefined;
      for (let round = 0; round < ROUNDS; round += 1) {
        const psql = await run(
          'psql',
          [url, '-X', '-q', '-c', `\\copy (${query}) to stdout csv`],
          psqlEnv,
        );
        const infield = await run(process.execPath, cliArgs, {
          DATABASE_URL: url,
          LOG_LEVEL: 'warn',
        });
        best = {
          psql: best === undefined || psql.seconds < best.psql.seconds ? psql : best.psql,
          infield:
            best === undefined || infield.seconds < best.infield.seconds ? infield : best.infield,
        };
      }
      results.push({ rows: c.rows, ...best! });
    }

    console.log(`\nbest of ${ROUNDS} runs each, output to /dev/null`);
    for (const r of results) {
      const a = r.rows / r.psql.seconds;
      const b = r.rows / r.infield.seconds;
      console.log(
        `${r.rows.toLocaleString('en').padStart(9)} rows: psql \\copy ${r.psql.seconds.toFixed(2)} s ` +
          `(${Math.round(a).toLocaleString('en')} rows/s) | infield export ${r.infield.seconds.toFixed(2)} s ` +
          `(${Math.round(b).toLocaleString('en')} rows/s) | ratio (b)/(a) ${(b / a).toFixed(2)} (target >= 0.5) | ` +
          `infield peak RSS ${r.infield.peakKib === null ? 'n/a' : `${mib(r.infield.peakKib)} MiB`}`,
      );
    }
    const [small, large] = results;
    if (small?.infield.peakKib && large?.infield.peakKib) {
      const growth = large.infield.peakKib / small.infield.peakKib - 1;
      console.log(
        `peak RSS ${mib(small.infield.peakKib)} MiB at ${small.rows.toLocaleString('en')} rows, ` +
          `${mib(large.infield.peakKib)} MiB at ${large.rows.toLocaleString('en')} rows: ` +
          `${(growth * 100).toFixed(1)}% growth (target <= 200 MiB and within 20%)`,
      );
    }
  } finally {
    await database.close();
    await admin(cluster.adminUrl, `drop database if exists ${name} with (force)`).catch(
      () => undefined,
    );
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
