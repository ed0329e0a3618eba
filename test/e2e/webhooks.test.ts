import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { cleanupTenants } from '../../jobs/cleanup.js';
import { deliverWebhooks } from '../../jobs/webhooks-deliver.js';
import { runExports } from '../../jobs/run-exports.js';
import { loadConfig } from '../../src/config.js';
import { MaintenanceService } from '../../src/services/maintenance-service.js';
import { metrics } from '../../src/metrics.js';
import { ExportRunner } from '../../src/services/exports/background-export-service.js';
import { createPlatform } from '../../src/services/platform.js';
import { SecretBox } from '../../src/services/secrets.js';
import { WebhookDeliveryService } from '../../src/services/webhooks/webhook-delivery-service.js';
import { WebhookEndpointService } from '../../src/services/webhooks/webhook-endpoint-service.js';
import { api, login } from '../helpers/api.js';
import { hasStackTrace, runCli } from '../helpers/cli.js';
import { useTestApi } from '../helpers/api-server.js';
import { TEST_JWT_SECRET } from '../helpers/http.js';
import { jobContext, operatorContext } from '../helpers/service-context.js';
import { testLogger } from '../helpers/test-cluster.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on 127.0.0.1: records every request; `reply` decides the answer by path. */
async function startReceiver() {
  const received: Received[] = [];
  const hanging: http.ServerResponse[] = [];
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      if (path.startsWith('/hang')) {
        hanging.push(res);
        return;
      }
      if (path.startsWith('/flaky') && n === 1) return void res.writeHead(500).end('try later');
      if (path.startsWith('/error')) return void res.writeHead(500).end('broken');
      if (path.startsWith('/gone')) return void res.writeHead(410).end('gone');
      if (path.startsWith('/redirect')) {
        return void res.writeHead(302, { Location: '/redirected' }).end();
      }
      if (path.startsWith('/big')) return void res.writeHead(200).end('x'.repeat(100_000));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  payload: {
    id: string;
    type: string;
    timestamp: string;
    tenant_id: string;
    data: Record<string, unknown>;
  };
  attempt_log: {
    attempt: number;
    status_code: number | null;
    error: string | null;
    response_excerpt: string | null;
  }[];
}

describe('webhooks', function () {
  this.timeout(120_000);
  const t = useTestApi({
    slug: 'hooks-co',
    plan: 'enterprise',
    storage: true,
    env: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32' },
  });
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const secrets = new Map<string, string>();

  const worker = (
    workerId = 'test-worker',
    options: { allowedNetworks?: string[]; timeoutMs?: number } = {},
  ) =>
    new WebhookDeliveryService(t.db.database, new SecretBox(TEST_JWT_SECRET), testLogger, {
      workerId,
      allowHttp: true,
      allowedNetworks: options.allowedNetworks ?? ['127.0.0.1/32'],
      timeoutMs: options.timeoutMs ?? 2000,
    });
  const deliver = (service = worker()) => deliverWebhooks(service, testLogger, t.tenant.tenantId);

  async function addEndpoint(path: string, events: string[], url = `${receiver.url}${path}`) {
    const res = await t.admin.post<{ id: string; secret: string }>('/webhooks', {
      url,
      events,
      description: `receiver ${path}`,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    secrets.set(res.body.id, res.body.secret);
    return res.body.id;
  }
  const deliveries = async (id: string): Promise<Delivery[]> => {
    const res = await t.admin.get<{ data: Delivery[] }>(`/webhooks/${id}/deliveries`);
    expect(res.status).to.equal(200);
    return res.body.data;
  };
  /** Makes every pending delivery due now (instead of waiting for its backoff). */
  const dueNow = () =>
    t.db.database.knex.raw(
      `update webhook_deliveries set next_attempt_at = now() where status = 'pending'`,
    );
  const verify = (endpointId: string, r: Received) =>
    new Webhook(secrets.get(endpointId)!).verify(r.body, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    }) as Delivery['payload'];

  let formId = '';
  let formNo = 0;
  /** A published form whose approval policy has one "any" step approved by the admin. */
  async function publishedForm(): Promise<string> {
    formNo += 1;
    const form = await t.admin.post<{ id: string }>('/forms', {
      key: `hook-form-${formNo}`,
      title: `Hook form ${formNo}`,
      json_schema: {
        type: 'object',
        properties: { amount: { type: 'number', maximum: 1000 } },
        required: ['amount'],
      },
      approval_policy: {
        steps: [{ name: 'Boss', approvers: { users: [t.tenant.adminEmail] }, rule: 'any' }],
      },
    });
    expect(form.status, JSON.stringify(form.body)).to.equal(201);
    expect((await t.admin.post(`/forms/${form.body.id}/publish`)).status).to.equal(200);
    return form.body.id;
  }
  async function submit(form: string, amount = 5): Promise<string> {
    const res = await t.admin.post<{ id: string }>(`/forms/${form}/submissions`, {
      data: { amount },
      submit: true,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id;
  }
  async function pendingApproval(submissionId: string): Promise<string> {
    const res = await t.admin.get<{ data: { id: string; submission_id: string }[] }>(
      '/approvals?status=pending&limit=200',
    );
    return res.body.data.find((a) => a.submission_id === submissionId)!.id;
  }

  before(async () => {
    receiver = await startReceiver();
    // The admin approves in tests: make them a superuser so every approval is theirs to decide.
    await t.db.database.knex('users').where('id', t.tenant.adminId).update({ is_superuser: true });
    formId = await publishedForm();
  });
  after(async () => {
    await receiver.close();
  });
  afterEach(async () => {
    // Each test starts with no endpoints (their deliveries and attempts go with them).
    await t.db.database.knex.raw('delete from webhook_endpoints');
  });

  it('registers an endpoint: the secret once, validation of URL and events, audited', async () => {
    const res = await t.admin.post<Record<string, unknown>>(
      '/webhooks',
      { url: 'https://hooks.example.test/in', events: ['form.published'], description: 'd' },
      { 'Idempotency-Key': 'hook-create-1' },
    );
    expect(res.status).to.equal(201);
    expect(res.body.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(res.body).to.include({ url: 'https://hooks.example.test/in', enabled: true });
    const replay = await t.admin.post<Record<string, unknown>>(
      '/webhooks',
      { url: 'https://hooks.example.test/in', events: ['form.published'], description: 'd' },
      { 'Idempotency-Key': 'hook-create-1' },
    );
    expect(replay.status).to.equal(201);
    expect(replay.body.id).to.equal(res.body.id);
    expect(replay.body).to.not.have.property('secret');
    const stored = await t.db.database.knex.raw(
      'select secret_sealed from webhook_endpoints where id = ?',
      [String(res.body.id)],
    );
    expect(stored.rows[0].secret_sealed).to.not.contain(String(res.body.secret).slice(6, 20));
    const got = await t.admin.get<Record<string, unknown>>(`/webhooks/${String(res.body.id)}`);
    expect(got.body).to.not.have.property('secret');
    expect(got.body).to.not.have.property('secret_sealed');
    const list = await t.admin.get<{ data: unknown[] }>('/webhooks');
    expect(list.body.data).to.have.length(1);

    for (const bad of [
      { url: 'https://user:pw@hooks.example.test/', events: ['form.published'] },
      { url: 'ftp://hooks.example.test/', events: ['form.published'] },
      { url: 'not a url', events: ['form.published'] },
      { url: `https://hooks.example.test/${'a'.repeat(2100)}`, events: ['form.published'] },
      { url: 'https://hooks.example.test/', events: ['form.deleted'] },
      { url: 'https://hooks.example.test/', events: [] },
    ]) {
      const refused = await t.admin.post('/webhooks', bad);
      expect(refused.status, JSON.stringify(bad)).to.equal(422);
    }
    // http:// needs WEBHOOK_ALLOW_HTTP (the service with a configuration without it).
    const strict = new WebhookEndpointService(
      operatorContext(t.db.database, t.tenant.tenantId),
      createPlatform(loadConfig({ JWT_SECRET: TEST_JWT_SECRET })),
    );
    let error: unknown;
    try {
      await strict.create({ url: 'http://hooks.example.test/', events: ['form.published'] });
    } catch (err) {
      error = err;
    }
    expect(error).to.have.property('status', 422);
    expect(JSON.stringify(error)).to.contain('must be an https:// URL');
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        JWT_SECRET: TEST_JWT_SECRET,
        WEBHOOK_ALLOW_HTTP: 'true',
      }),
    ).to.throw();

    const patched = await t.admin.patch<Record<string, unknown>>(
      `/webhooks/${String(res.body.id)}`,
      {
        events: ['export.done'],
        description: 'changed',
      },
    );
    expect(patched.status).to.equal(200);
    expect(patched.body).to.include({ description: 'changed' });
    expect((await t.admin.delete(`/webhooks/${String(res.body.id)}`)).status).to.equal(204);
    expect((await t.admin.get(`/webhooks/${String(res.body.id)}`)).status).to.equal(404);
    const audit = await t.db.database.knex.raw(
      `select action from audit_logs where resource_type = 'webhook' and resource_id = ? order by id`,
      [String(res.body.id)],
    );
    expect(audit.rows.map((r: { action: string }) => r.action)).to.deep.equal([
      'webhooks.create',
      'webhooks.update',
      'webhooks.delete',
    ]);
  });

  it('signs each delivery (verified with the standardwebhooks package) and sends form.published', async () => {
    const id = await addEndpoint('/published', ['form.published']);
    const form = await publishedForm();
    expect(await deliver()).to.deep.include({ delivered: 1, retrying: 0, failed: 0 });
    const [hit] = receiver.at('/published');
    expect(hit).to.not.equal(undefined);
    expect(hit!.headers['content-type']).to.equal('application/json');
    expect(String(hit!.headers['webhook-signature'])).to.match(/^v1,[A-Za-z0-9+/]+=*$/);
    const payload = verify(id, hit!);
    expect(payload).to.include({ type: 'form.published', tenant_id: t.tenant.tenantId });
    expect(payload.id).to.equal(hit!.headers['webhook-id']);
    expect(payload.data).to.deep.equal({ form_id: form, version: 1, title: `Hook form ${formNo}` });
    expect(Date.parse(payload.timestamp)).to.be.closeTo(Date.now(), 60_000);
    // A tampered body fails verification.
    expect(() => verify(id, { ...hit!, body: hit!.body.replace('form', 'farm') })).to.throw();
    const [d] = await deliveries(id);
    expect(d).to.include({ status: 'delivered', attempts: 1, last_status_code: 200 });
    expect(d!.attempt_log).to.have.length(1);
    expect(d!.attempt_log[0]).to.include({ attempt: 1, status_code: 200, response_excerpt: 'ok' });
  });

  it('queues nothing when the change rolls back (a submit refused by validation)', async () => {
    const id = await addEndpoint('/rollback', ['submission.submitted', 'approval.requested']);
    const refused = await t.admin.post(`/forms/${formId}/submissions`, {
      data: { amount: 5000 },
      submit: true,
    });
    expect(refused.status).to.equal(422);
    expect(await deliveries(id)).to.have.length(0);
    await submit(formId);
    expect((await deliveries(id)).map((d) => d.event_type).sort()).to.deep.equal([
      'approval.requested',
      'submission.submitted',
    ]);
  });

  it('sends submission and approval events: submit, approve, reject, changes requested, bulk', async () => {
    const id = await addEndpoint('/flow', [
      'submission.submitted',
      'submission.approved',
      'submission.rejected',
      'submission.changes_requested',
      'approval.requested',
    ]);
    const s1 = await submit(formId, 1);
    const s2 = await submit(formId, 2);
    const s3 = await submit(formId, 3);
    const s4 = await submit(formId, 4);
    const s5 = await submit(formId, 5);
    expect(
      (await t.admin.post(`/approvals/${await pendingApproval(s1)}/approve`, {})).status,
    ).to.equal(200);
    expect(
      (await t.admin.post(`/approvals/${await pendingApproval(s2)}/reject`, { comment: 'no' }))
        .status,
    ).to.equal(200);
    expect(
      (
        await t.admin.post(`/approvals/${await pendingApproval(s3)}/request-changes`, {
          comment: 'fix',
        })
      ).status,
    ).to.equal(200);
    const bulk = await t.admin.post<{ decided: number }>('/approvals/bulk', {
      decision: 'approve',
      ids: [await pendingApproval(s4), await pendingApproval(s5)],
    });
    expect(bulk.status, JSON.stringify(bulk.body)).to.equal(200);
    expect(bulk.body.decided).to.equal(2);
    const result = await deliver();
    expect(result).to.deep.include({ delivered: 15, retrying: 0, failed: 0 });
    const events = receiver.at('/flow').map((r) => verify(id, r));
    const of = (type: string) =>
      events
        .filter((e) => e.type === type)
        .map((e) => e.data.submission_id)
        .sort();
    expect(of('submission.submitted')).to.deep.equal([s1, s2, s3, s4, s5].sort());
    expect(of('approval.requested')).to.deep.equal([s1, s2, s3, s4, s5].sort());
    expect(of('submission.approved')).to.deep.equal([s1, s4, s5].sort());
    expect(of('submission.rejected')).to.deep.equal([s2]);
    expect(of('submission.changes_requested')).to.deep.equal([s3]);
    const rejected = events.find((e) => e.type === 'submission.rejected')!;
    expect(rejected.data).to.include({ form_id: formId, status: 'rejected', comment: 'no' });
    const requested = events.find((e) => e.type === 'approval.requested')!;
    expect(requested.data).to.include({ form_id: formId, step: 0, step_name: 'Boss' });
    // Every event has its own id.
    expect(new Set(events.map((e) => e.id)).size).to.equal(events.length);
  });

  it('sends export.done when a background export finishes', async () => {
    const id = await addEndpoint('/exports', ['export.done']);
    const queued = await t.admin.post<{ id: string }>('/exports', { form_id: formId });
    expect(queued.status).to.equal(202);
    const runner = new ExportRunner(t.db.database, t.storageDir, testLogger);
    expect(await runExports(runner, testLogger, t.tenant.tenantId)).to.deep.include({ done: 1 });
    await deliver();
    const [event] = receiver.at('/exports').map((r) => verify(id, r));
    expect(event).to.include({ type: 'export.done' });
    expect(event!.data).to.include({ export_id: queued.body.id, form_id: formId });
  });

  it('retries a 500 with backoff, then delivers; both attempts recorded', async () => {
    const id = await addEndpoint('/flaky', ['form.published']);
    await publishedForm();
    expect(await deliver()).to.deep.include({ delivered: 0, retrying: 1 });
    let [d] = await deliveries(id);
    expect(d).to.include({ status: 'pending', attempts: 1, last_status_code: 500 });
    const wait =
      Date.parse((d as unknown as { next_attempt_at: string }).next_attempt_at) - Date.now();
    expect(wait).to.be.within(20_000, 40_000);
    // Not due yet: nothing is sent.
    expect(await deliver()).to.deep.include({ delivered: 0, retrying: 0 });
    await dueNow();
    expect(await deliver()).to.deep.include({ delivered: 1 });
    [d] = await deliveries(id);
    expect(d).to.include({ status: 'delivered', attempts: 2, last_status_code: 200 });
    expect(d!.attempt_log.map((a) => [a.attempt, a.status_code, a.response_excerpt])).to.deep.equal(
      [
        [1, 500, 'try later'],
        [2, 200, 'ok'],
      ],
    );
    const hits = receiver.at('/flaky');
    expect(hits).to.have.length(2);
    expect(hits[0]!.headers['webhook-id']).to.equal(hits[1]!.headers['webhook-id']);
  });

  it('times out a receiver that hangs, records it and retries later', async () => {
    const id = await addEndpoint('/hang', ['form.published']);
    await publishedForm();
    const started = Date.now();
    expect(await deliver(worker('w', { timeoutMs: 500 }))).to.deep.include({ retrying: 1 });
    expect(Date.now() - started).to.be.below(5000);
    const [d] = await deliveries(id);
    expect(d).to.include({ status: 'pending', last_status_code: null });
    expect(d!.last_error).to.equal('timeout after 500 ms');
    expect(d!.attempt_log[0]!.error).to.equal('timeout after 500 ms');
  });

  it('reads a big response only up to its limit, and keeps 1 KiB of it', async () => {
    const id = await addEndpoint('/big', ['form.published']);
    await publishedForm();
    expect(await deliver()).to.deep.include({ delivered: 1 });
    const [d] = await deliveries(id);
    expect(d!.attempt_log[0]!.response_excerpt).to.equal('x'.repeat(1024));
  });

  it('disables the endpoint on 410: the delivery fails and nothing more is sent', async () => {
    const id = await addEndpoint('/gone', ['form.published']);
    await publishedForm();
    expect(await deliver()).to.deep.include({ failed: 1 });
    const endpoint = await t.admin.get<Record<string, unknown>>(`/webhooks/${id}`);
    expect(endpoint.body).to.include({ enabled: false });
    expect(String(endpoint.body.disabled_reason)).to.contain('410');
    const [d] = await deliveries(id);
    expect(d).to.include({ status: 'failed', last_status_code: 410 });
    await publishedForm();
    expect(await deliveries(id)).to.have.length(1);
    expect(await deliver()).to.deep.include({ delivered: 0, failed: 0 });
    expect(receiver.at('/gone')).to.have.length(1);
    const audit = await t.db.database.knex.raw(
      `select actor_type, actor_label from audit_logs where action = 'webhooks.disable' and resource_id = ?`,
      [id],
    );
    expect(audit.rows).to.deep.equal([{ actor_type: 'system', actor_label: 'deliver-webhooks' }]);
  });

  it('does not follow redirects: a 302 is a failed attempt', async () => {
    const id = await addEndpoint('/redirect', ['form.published']);
    await publishedForm();
    expect(await deliver()).to.deep.include({ retrying: 1 });
    expect(receiver.at('/redirected')).to.have.length(0);
    const [d] = await deliveries(id);
    expect(d).to.include({ status: 'pending', last_status_code: 302 });
  });

  it('refuses loopback without the allow-list, and private ranges, with an SSRF reason', async () => {
    const loop = await addEndpoint('/loopback', ['form.published']);
    const priv = await addEndpoint('/private', ['form.published'], 'http://10.1.2.3:9/private');
    const meta = await addEndpoint('/meta', ['form.published'], 'http://169.254.169.254/latest');
    await publishedForm();
    expect(await deliver(worker('strict', { allowedNetworks: [] }))).to.deep.include({
      delivered: 0,
      failed: 3,
    });
    expect(receiver.at('/loopback')).to.have.length(0);
    const reason = async (id: string) => (await deliveries(id))[0]!;
    expect(await reason(loop)).to.include({
      status: 'failed',
      last_error: 'refused: 127.0.0.1 resolves to 127.0.0.1 (loopback)',
    });
    expect(await reason(priv)).to.include({
      status: 'failed',
      last_error: 'refused: 10.1.2.3 resolves to 10.1.2.3 (private)',
    });
    expect(await reason(meta)).to.include({
      status: 'failed',
      last_error: 'refused: 169.254.169.254 resolves to 169.254.169.254 (metadata)',
    });
    // A name resolving to loopback is refused too (the resolved address is what is checked).
    const named = await addEndpoint(
      '/named',
      ['form.published'],
      `${receiver.url.replace('127.0.0.1', 'localhost')}/named`,
    );
    await publishedForm();
    await deliver(worker('strict', { allowedNetworks: [] }));
    expect((await reason(named)).last_error).to.match(
      /^refused: localhost resolves to .* \(loopback\)$/,
    );
  });

  it('connects to the address it checked for a host name, keeping the name as Host', async () => {
    const port = new URL(receiver.url).port;
    const id = await addEndpoint('/pinned', ['form.published'], `http://localhost:${port}/pinned`);
    await publishedForm();
    expect(
      await deliver(worker('named', { allowedNetworks: ['127.0.0.1/32', '::1/128'] })),
    ).to.deep.include({ delivered: 1 });
    const [hit] = receiver.at('/pinned');
    expect(hit!.headers.host).to.equal(`localhost:${port}`);
    expect(verify(id, hit!)).to.include({ type: 'form.published' });
  });

  it('two workers in parallel deliver each event exactly once', async () => {
    const id = await addEndpoint('/race', ['form.published']);
    for (let i = 0; i < 12; i += 1) {
      expect((await t.admin.post(`/webhooks/${id}/test`)).status).to.equal(202);
    }
    const [a, b] = await Promise.all([deliver(worker('worker-a')), deliver(worker('worker-b'))]);
    expect(a.delivered + b.delivered).to.equal(12);
    const ids = receiver.at('/race').map((r) => String(r.headers['webhook-id']));
    expect(ids).to.have.length(12);
    expect(new Set(ids).size).to.equal(12);
    const all = await deliveries(id);
    expect(all.every((d) => d.status === 'delivered' && d.attempts === 1)).to.equal(true);
  });

  it('gives up 24 h after the delivery was queued: failed', async () => {
    const id = await addEndpoint('/error', ['form.published']);
    await publishedForm();
    await t.db.database.knex.raw(
      `update webhook_deliveries set created_at = now() - interval '25 hours',
         window_started_at = now() - interval '25 hours'`,
    );
    expect(await deliver()).to.deep.include({ failed: 1 });
    const [d] = await deliveries(id);
    expect(d).to.include({ status: 'failed', last_status_code: 500 });
  });

  it('the cleanup job deletes deliveries finished 30 days ago, with their attempts', async () => {
    const id = await addEndpoint('/old', ['form.published']);
    await publishedForm();
    await deliver();
    const [done] = await deliveries(id);
    expect(done).to.include({ status: 'delivered' });
    const cleanup = () =>
      cleanupTenants(new MaintenanceService(jobContext(t.db.database, 'cleanup')), testLogger);
    // Younger than the retention: kept.
    expect((await cleanup()).webhook_deliveries_deleted).to.equal(0);
    await t.db.database.knex.raw(
      `update webhook_deliveries set window_started_at = now() - interval '31 days' where id = ?`,
      [done!.id],
    );
    expect((await cleanup()).webhook_deliveries_deleted).to.equal(1);
    expect(await deliveries(id)).to.deep.equal([]);
    expect(
      await t.db.database.knex('webhook_attempts').where('delivery_id', done!.id),
    ).to.deep.equal([]);
  });

  it('lists deliveries and redelivers one (same event id, a fresh window)', async () => {
    const id = await addEndpoint('/again', ['form.published']);
    const test = await t.admin.post<{ delivery_id: string; event_id: string }>(
      `/webhooks/${id}/test`,
    );
    expect(test.status).to.equal(202);
    await deliver();
    let [d] = await deliveries(id);
    expect(d).to.include({
      id: test.body.delivery_id,
      status: 'delivered',
      event_type: 'webhook.test',
    });
    const again = await t.admin.post<Delivery>(`/webhooks/${id}/deliveries/${d!.id}/redeliver`);
    expect(again.status).to.equal(202);
    expect(again.body).to.include({ status: 'pending', attempts: 0 });
    expect(await deliver()).to.deep.include({ delivered: 1 });
    [d] = await deliveries(id);
    expect(d).to.include({ status: 'delivered', attempts: 1 });
    expect(d!.attempt_log.map((a) => a.attempt)).to.deep.equal([1, 2]);
    const hits = receiver.at('/again');
    expect(hits.map((h) => h.headers['webhook-id'])).to.deep.equal([
      test.body.event_id,
      test.body.event_id,
    ]);
    expect(verify(id, hits[1]!)).to.include({ type: 'webhook.test' });
    expect(
      (
        await t.admin.post(
          `/webhooks/${id}/deliveries/01900000-0000-7000-8000-000000000000/redeliver`,
        )
      ).status,
    ).to.equal(404);
    const audit = await t.db.database.knex.raw(
      `select action from audit_logs where resource_type = 'webhook' and resource_id = ? order by id`,
      [id],
    );
    expect(audit.rows.map((r: { action: string }) => r.action)).to.deep.equal([
      'webhooks.create',
      'webhooks.test',
      'webhooks.redeliver',
    ]);
  });

  it('is managed from the CLI: webhook:add, webhook:list, webhook:test --wait, webhook:remove', async () => {
    const cli = async (args: string[], env: Record<string, string> = {}) => {
      const result = await runCli(args, {
        env: { DATABASE_URL: t.db.url, JWT_SECRET: TEST_JWT_SECRET, ...env },
      });
      expect(hasStackTrace(result.stdout + result.stderr), result.stderr).to.equal(false);
      return result;
    };
    const devEnv = { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32' };
    const url = `${receiver.url}/cli`;
    const refused = await cli([
      'webhook:add',
      '--tenant',
      'hooks-co',
      '--url',
      url,
      '--event',
      'form.published',
    ]);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.contain('must be an https:// URL');
    const added = await cli(
      [
        'webhook:add',
        '--tenant',
        'hooks-co',
        '--url',
        url,
        '--event',
        'form.published',
        '--event',
        'export.done',
        '--description',
        'from the CLI',
        '--json',
      ],
      devEnv,
    );
    expect(added.code, added.stderr).to.equal(0);
    const hook = JSON.parse(added.stdout) as { id: string; secret: string; events: string[] };
    expect(hook.secret).to.match(/^whsec_/);
    expect(hook.events).to.deep.equal(['form.published', 'export.done']);
    secrets.set(hook.id, hook.secret);
    const human = await cli(['webhook:list', '--tenant', 'hooks-co']);
    expect(human.stdout).to.contain(url);
    const listed = await cli(['webhook:list', '--tenant', 'hooks-co', '--json']);
    expect(
      (JSON.parse(listed.stdout) as { data: { id: string }[] }).data.map((w) => w.id),
    ).to.deep.equal([hook.id]);
    const tested = await cli(
      ['webhook:test', hook.id, '--tenant', 'hooks-co', '--wait', '--json'],
      devEnv,
    );
    expect(tested.code, tested.stderr).to.equal(0);
    const outcome = JSON.parse(tested.stdout) as {
      event_id: string;
      delivery: { status: string; last_status_code: number };
    };
    expect(outcome.delivery).to.include({ status: 'delivered', last_status_code: 200 });
    const [hit] = receiver.at('/cli');
    expect(verify(hook.id, hit!)).to.include({ id: outcome.event_id, type: 'webhook.test' });
    const removed = await cli(['webhook:remove', hook.id, '--tenant', 'hooks-co']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect((await t.admin.get(`/webhooks/${hook.id}`)).status).to.equal(404);
    expect((await cli(['webhook:remove', hook.id, '--tenant', 'hooks-co'])).code).to.equal(4);
  });

  it('counts attempts by outcome in infield_webhook_attempts_total', async () => {
    const text = await metrics().registry.getSingleMetricAsString('infield_webhook_attempts_total');
    for (const outcome of ['delivered', 'retry', 'failed', 'gone', 'refused']) {
      expect(text).to.match(
        new RegExp(`infield_webhook_attempts_total\\{outcome="${outcome}"\\} [1-9]`),
      );
    }
  });

  it('is tenant-scoped and needs the webhooks permissions', async () => {
    const id = await addEndpoint('/scoped', ['form.published']);
    const roles = (await t.admin.get<{ data: { id: string; name: string }[] }>('/roles')).body.data;
    await t.admin.post('/users', {
      email: 'viewer@hooks-co.test',
      password: 'person-password-1',
      role_ids: [roles.find((r) => r.name === 'approver')!.id],
    });
    const viewer = api(
      t.server,
      (await login(t.server, 'viewer@hooks-co.test', 'person-password-1')).access_token,
    );
    expect((await viewer.get('/webhooks')).status).to.equal(403);
    expect(
      (
        await viewer.post('/webhooks', {
          url: 'https://a.example.test/',
          events: ['form.published'],
        })
      ).status,
    ).to.equal(403);
    expect((await viewer.post(`/webhooks/${id}/test`)).status).to.equal(403);
  });
});
