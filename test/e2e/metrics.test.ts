import { expect } from 'chai';
import { api, login, provisionTenant } from '../helpers/api.js';
import { spawnCli } from '../helpers/cli.js';
import { httpClient, startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, freePort, type TestDatabase } from '../helpers/test-cluster.js';

const TOKEN = 'metrics-token-0123456789';

describe('metrics: Prometheus text for the API (behind METRICS_TOKEN) and the worker (own port)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let server: TestServer;
  let closed: TestServer;

  before(async () => {
    db = await createTestDatabase();
    server = await startTestServer(db.database, { env: { METRICS_TOKEN: TOKEN } });
    closed = await startTestServer(db.database);
  });
  after(async () => {
    await server?.close();
    await closed?.close();
    await db?.drop();
  });

  const scrape = (as?: string) =>
    server.request('/metrics', as === undefined ? {} : { headers: { Authorization: as } });

  it('is never open by default: 404 without METRICS_TOKEN', async () => {
    const res = await closed.request('/metrics', {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).to.equal(404);
    expect(res.headers.get('content-type')).to.contain('application/problem+json');
    await res.arrayBuffer();
  });

  it('refuses a missing or wrong token with 401', async () => {
    for (const header of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`]) {
      const res = await scrape(header);
      expect(res.status, String(header)).to.equal(401);
      await res.arrayBuffer();
    }
  });

  /** A sample's value in Prometheus text, 0 when absent (other test files share this process). */
  const sample = (text: string, series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };

  it('counts requests by route template, method and status, with latency, pool and exports', async () => {
    const ok = 'infield_http_requests_total{route="/api/v1/forms/:id",method="GET",status="200"}';
    const missing =
      'infield_http_requests_total{route="/api/v1/forms/:id",method="GET",status="404"}';
    const created =
      'infield_http_request_duration_seconds_count{route="/api/v1/forms",method="POST",status="201"}';
    const before = await (await scrape(`Bearer ${TOKEN}`)).text();

    const tenant = await provisionTenant(db.database, 'metrics-co', 'enterprise');
    const token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
    const client = api(server, token);
    const form = await client.post<{ id: string }>('/forms', {
      key: 'm',
      title: 'M',
      json_schema: { type: 'object', properties: { a: { type: 'string' } } },
    });
    expect(form.status).to.equal(201);
    expect((await client.get(`/forms/${form.body.id}`)).status).to.equal(200);
    expect((await client.get('/forms/01900000-0000-7000-8000-000000000000')).status).to.equal(404);
    const csv = await server.request(`/api/v1/forms/${form.body.id}/submissions.csv`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    await csv.arrayBuffer();

    // The CSV body can be complete a moment before the export's COMMIT returns and the gauge drops.
    let res = await scrape(`Bearer ${TOKEN}`);
    let text = await res.text();
    for (let tries = 0; tries < 50 && !/^infield_exports_running 0$/m.test(text); tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await scrape(`Bearer ${TOKEN}`);
      text = await res.text();
    }
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.contain('text/plain');
    expect(sample(text, ok) - sample(before, ok)).to.equal(1);
    expect(sample(text, missing) - sample(before, missing)).to.equal(1);
    expect(sample(text, created) - sample(before, created)).to.equal(1);
    expect(text).to.match(
      /infield_http_request_duration_seconds_bucket\{le="0\.005",route="\/api\/v1\/forms",method="POST",status="201"\} \d+/,
    );
    expect(text).to.match(/^infield_db_pool_in_use \d+$/m);
    expect(text).to.match(/^infield_db_pool_waiting \d+$/m);
    expect(text).to.match(/^infield_db_pool_max \d+$/m);
    expect(text).to.match(/^infield_exports_running 0$/m);
    expect(text).to.contain('infield_emails_queued_total');
    expect(text).to.contain('infield_process_cpu_seconds_total');
  });

  it('serves the worker side on --metrics-port: jobs by name', async () => {
    const port = await freePort();
    const worker = spawnCli(['worker', '--metrics-port', String(port)], {
      env: { DATABASE_URL: db.url },
    });
    const client = httpClient(`http://127.0.0.1:${port}`);
    try {
      await worker.waitFor(/Metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
      const res = await client.request('/metrics');
      expect(res.status).to.equal(200);
      const text = await res.text();
      for (const job of ['cleanup', 'deliver-emails', 'run-exports']) {
        expect(text).to.match(new RegExp(`infield_jobs_run_total\\{job="${job}"\\} \\d+`));
        expect(text).to.match(new RegExp(`infield_jobs_failed_total\\{job="${job}"\\} \\d+`));
      }
      expect(text).to.contain('infield_job_duration_seconds');
      expect(text).to.contain('infield_emails_sent_total');
      expect(text).to.match(/^infield_db_pool_max \d+$/m);
      const other = await client.request('/other');
      expect(other.status).to.equal(404);
      await other.arrayBuffer();
    } finally {
      await client.close();
      expect(await worker.stop('SIGTERM')).to.deep.equal({ code: 0, signal: null });
    }
  });
});
