import { expect } from 'chai';
import { TEST_REDIS_URL, uniqueRedisPrefix } from '../helpers/rate-limits.js';
import { requireRedis } from '../helpers/services.js';
import jwt from 'jsonwebtoken';
import { totpCode } from '../../src/services/totp.js';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../src/services/token-service.js';
import { api, login, provisionTenant } from '../helpers/api.js';
import { startTestServer, TEST_JWT_SECRET } from '../helpers/http.js';
import { useTestApi } from '../helpers/api-server.js';

describe('authentication', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'acme' });

  const sign = (
    payload: Record<string, unknown>,
    options: jwt.SignOptions = {},
    secret = TEST_JWT_SECRET,
  ) =>
    jwt.sign(payload, secret, {
      algorithm: 'HS256',
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      expiresIn: 300,
      subject: t.tenant.adminId,
      ...options,
    });

  it('logs in and tells who I am', async () => {
    const tokens = await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword);
    expect(tokens).to.include.keys('access_token', 'refresh_token');
    const me = await api(t.server, tokens.access_token).get<{
      user: { email: string };
      tenant: { slug: string };
      roles: { name: string }[];
      permissions: string[];
    }>('/auth/me');
    expect(me.status).to.equal(200);
    expect(me.body.user.email).to.equal(t.tenant.adminEmail);
    expect(me.body.tenant.slug).to.equal('acme');
    expect(me.body.roles.map((r) => r.name)).to.deep.equal(['admin']);
    expect(me.body.permissions).to.include.members(['users.create', 'roles.read', 'audit.read']);
  });

  it('answers an unknown email and a wrong password identically', async () => {
    const unknown = await api(t.server).post('/auth/login', {
      email: 'nobody@acme.example.test',
      password: 'whatever-123',
    });
    const wrong = await api(t.server).post('/auth/login', {
      email: t.tenant.adminEmail,
      password: 'wrong-password-1',
    });
    expect(unknown.status).to.equal(401);
    expect(wrong.status).to.equal(401);
    const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
    expect(strip(unknown.body)).to.deep.equal(strip(wrong.body));
  });

  it('throttles repeated failures per email and IP, alike for unknown emails, then lets the right password in', async () => {
    const victim = await provisionTenant(t.db.database, 'throttle');
    for (const email of [victim.adminEmail, 'ghost@throttle.example.test']) {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        statuses.push(
          (await api(t.server).post('/auth/login', { email, password: `bad-password-${i}` }))
            .status,
        );
      }
      expect(statuses, email).to.deep.equal([401, 401, 401, 401, 401, 429]);
    }
    const blocked = await api(t.server).post('/auth/login', {
      email: victim.adminEmail,
      password: victim.adminPassword,
    });
    expect(blocked.status).to.equal(429);
    expect(Number(blocked.headers.get('retry-after'))).to.be.greaterThan(0);
  });

  it('shares throttles between API instances through Redis when REDIS_URL is set', async function () {
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueRedisPrefix('auth') };
    await requireRedis(this, TEST_REDIS_URL);
    const one = await startTestServer(t.db.database, { env });
    const two = await startTestServer(t.db.database, { env });
    try {
      const email = `shared-${Date.now()}@nowhere.example.test`;
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        const target = i % 2 === 0 ? one : two;
        statuses.push(
          (await api(target).post('/auth/login', { email, password: `bad-password-${i}` })).status,
        );
      }
      expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('rotates refresh tokens and revokes the family when a spent one is replayed', async () => {
    const first = await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword);
    const second = await api(t.server).post<{ access_token: string; refresh_token: string }>(
      '/auth/refresh',
      {
        refresh_token: first.refresh_token,
      },
    );
    expect(second.status).to.equal(200);
    expect(second.body.refresh_token).to.not.equal(first.refresh_token);
    const replay = await api(t.server).post('/auth/refresh', {
      refresh_token: first.refresh_token,
    });
    expect(replay.status).to.equal(401);
    // The replay revoked the family: the newest token is dead too.
    const afterReplay = await api(t.server).post('/auth/refresh', {
      refresh_token: second.body.refresh_token,
    });
    expect(afterReplay.status).to.equal(401);
  });

  it('logout ends the session: refresh and access tokens stop working', async () => {
    const tokens = await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const out = await api(t.server, tokens.access_token).post('/auth/logout', {
      refresh_token: tokens.refresh_token,
    });
    expect(out.status).to.equal(204);
    expect(
      (await api(t.server).post('/auth/refresh', { refresh_token: tokens.refresh_token })).status,
    ).to.equal(401);
    expect((await api(t.server, tokens.access_token).get('/auth/me')).status).to.equal(401);
  });

  describe('token attacks', () => {
    const expect401 = async (token: string, what: string) => {
      const res = await api(t.server, token).get('/auth/me');
      expect(res.status, what).to.equal(401);
      expect(res.body['code'], what).to.equal('UNAUTHORIZED');
    };

    it('refuses alg none, a wrong key, an edited payload, expiry, wrong aud/iss and a missing type', async () => {
      const good = (await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword))
        .access_token;
      const [header, payload, signature] = good.split('.');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
      await expect401(none, 'alg none');
      await expect401(
        sign(
          { tid: t.tenant.tenantId, typ: 'access' },
          {},
          'another-secret-that-is-long-enough-000000',
        ),
        'wrong key',
      );
      const edited = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      edited.tid = '00000000-0000-7000-8000-000000000000';
      await expect401(
        `${header}.${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${signature}`,
        'edited payload',
      );
      await expect401(
        sign({ tid: t.tenant.tenantId, typ: 'access' }, { expiresIn: -10 }),
        'expired',
      );
      await expect401(
        sign({ tid: t.tenant.tenantId, typ: 'access' }, { audience: 'someone-else' }),
        'wrong aud',
      );
      await expect401(
        sign({ tid: t.tenant.tenantId, typ: 'access' }, { issuer: 'evil' }),
        'wrong iss',
      );
      await expect401(sign({ tid: t.tenant.tenantId }), 'no type');
      await expect401(sign({ tid: t.tenant.tenantId, typ: 'refresh' }), 'refresh type');
      const rs = jwt.sign({ tid: t.tenant.tenantId, typ: 'access' }, TEST_JWT_SECRET, {
        algorithm: 'HS512',
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        subject: t.tenant.adminId,
      });
      await expect401(rs, 'other algorithm with the same key');
      // A token must carry the user's current session version (revocations bump it).
      const { session_version: sv } = (await t.db.database
        .knex('users')
        .where({ id: t.tenant.adminId })
        .first('session_version')) as { session_version: number };
      await expect401(sign({ tid: t.tenant.tenantId, typ: 'access' }), 'no session version');
      await expect401(sign({ tid: t.tenant.tenantId, typ: 'access', sv: sv + 1 }), 'other version');
      // Sanity: a correctly made token is accepted, so the refusals above are about the defects.
      expect(
        (await api(t.server, sign({ tid: t.tenant.tenantId, typ: 'access', sv })).get('/auth/me'))
          .status,
      ).to.equal(200);
    });

    it('never takes a refresh token as access or the reverse', async () => {
      const tokens = await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword);
      await expect401(tokens.refresh_token, 'refresh as access');
      expect(
        (await api(t.server).post('/auth/refresh', { refresh_token: tokens.access_token })).status,
      ).to.equal(401);
    });

    it('refuses tokens of a disabled user at once, and a suspended tenant with a 403 that says so', async () => {
      const other = await provisionTenant(t.db.database, 'fragile');
      const admin = await login(t.server, other.adminEmail, other.adminPassword);
      const created = await api(t.server, admin.access_token).post<{ id: string }>('/users', {
        email: 'worker@fragile.example.test',
        password: 'worker-password-1',
      });
      expect(created.status).to.equal(201);
      const worker = await login(t.server, 'worker@fragile.example.test', 'worker-password-1');
      expect((await api(t.server, worker.access_token).get('/auth/me')).status).to.equal(200);
      await api(t.server, admin.access_token).patch(`/users/${created.body.id}`, {
        status: 'disabled',
      });
      await expect401(worker.access_token, 'disabled user');
      expect(
        (await api(t.server).post('/auth/refresh', { refresh_token: worker.refresh_token })).status,
      ).to.equal(401);

      const { TenantService } = await import('../../src/services/tenant-service.js');
      const { systemScope } = await import('../../src/db/scope.js');
      const { testLogger } = await import('../helpers/test-cluster.js');
      const operator = new TenantService({
        db: { database: t.db.database, scope: systemScope },
        actor: { type: 'operator', osUser: 'test' },
        requestId: 't',
        logger: testLogger,
      });
      await operator.setStatus('fragile', 'suspended');
      const suspended = await api(t.server, admin.access_token).get('/auth/me');
      expect(suspended.status).to.equal(403);
      expect(suspended.body['code']).to.equal('TENANT_SUSPENDED');
      const loginSuspended = await api(t.server).post('/auth/login', {
        email: other.adminEmail,
        password: other.adminPassword,
      });
      expect(loginSuspended.status).to.equal(403);
      expect(loginSuspended.body['detail']).to.match(/suspended/);
      await operator.setStatus('fragile', 'active');
      expect((await api(t.server, admin.access_token).get('/auth/me')).status).to.equal(200);
    });
  });

  it('enrols TOTP; then login needs a code, and each code works once', async () => {
    const mfa = await provisionTenant(t.db.database, 'mfa-co');
    const tokens = await login(t.server, mfa.adminEmail, mfa.adminPassword);
    const setup = await api(t.server, tokens.access_token).post<{
      secret: string;
      otpauth_url: string;
    }>('/auth/mfa/setup');
    expect(setup.status).to.equal(200);
    expect(setup.body.otpauth_url).to.match(/^otpauth:\/\/totp\//);
    const bad = await api(t.server, tokens.access_token).post('/auth/mfa/enable', {
      totp: '000000',
    });
    expect(bad.status).to.equal(422);
    const now = Date.now();
    const enable = await api(t.server, tokens.access_token).post('/auth/mfa/enable', {
      totp: totpCode(setup.body.secret, now),
    });
    expect(enable.status).to.equal(200);

    const without = await api(t.server).post('/auth/login', {
      email: mfa.adminEmail,
      password: mfa.adminPassword,
    });
    expect(without.status).to.equal(401);
    expect(without.body['code']).to.equal('MFA_REQUIRED');
    // The enabling code was spent; the next step's code works once.
    const nextCode = totpCode(setup.body.secret, now + 30_000);
    const ok = await api(t.server).post('/auth/login', {
      email: mfa.adminEmail,
      password: mfa.adminPassword,
      totp: nextCode,
    });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    const reused = await api(t.server).post('/auth/login', {
      email: mfa.adminEmail,
      password: mfa.adminPassword,
      totp: nextCode,
    });
    expect(reused.status).to.equal(401);
  });

  it('accepts an invitation from the emailed link and logs the user in', async () => {
    const tokens = await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword);
    const invited = await api(t.server, tokens.access_token).post<{ id: string; status: string }>(
      '/users/invite',
      {
        email: 'newbie@acme.example.test',
        full_name: 'New Bie',
      },
    );
    expect(invited.status).to.equal(201);
    expect(invited.body.status).to.equal('invited');
    const outbox = await t.db.database
      .knex('email_outbox')
      .where({ kind: 'user.invited' })
      .select('to_addresses', 'text_body');
    const mail = outbox.find((m: { to_addresses: string[] }) =>
      m.to_addresses.includes('newbie@acme.example.test'),
    );
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail.text_body)?.[1];
    expect(token).to.be.a('string');
    const accepted = await api(t.server).post('/auth/invitations/accept', {
      token,
      password: 'newbie-password-1',
    });
    expect(accepted.status).to.equal(200);
    expect(
      (
        await api(t.server).post('/auth/invitations/accept', {
          token,
          password: 'newbie-password-1',
        })
      ).status,
    ).to.equal(401);
    await login(t.server, 'newbie@acme.example.test', 'newbie-password-1');
  });

  it('self-service signup creates a free tenant and returns tokens; it can be switched off', async () => {
    const res = await api(t.server).post<{
      tenant: { slug: string; plan: string };
      access_token: string;
    }>('/tenants/signup', {
      slug: 'self-made',
      name: 'Self Made',
      admin_email: 'owner@self-made.example.test',
      admin_password: 'owner-password-1',
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.tenant).to.include({ slug: 'self-made', plan: 'free' });
    expect((await api(t.server, res.body.access_token).get('/tenants/me')).status).to.equal(200);
    const dup = await api(t.server).post('/tenants/signup', {
      slug: 'self-made',
      name: 'Again',
      admin_email: 'other@self-made.example.test',
      admin_password: 'owner-password-1',
    });
    expect(dup.status).to.equal(409);

    const off = await startTestServer(t.db.database, { env: { SIGNUP_ENABLED: 'false' } });
    try {
      const refused = await api(off).post('/tenants/signup', {
        slug: 'nope-co',
        name: 'Nope',
        admin_email: 'x@nope.example.test',
        admin_password: 'owner-password-1',
      });
      expect(refused.status).to.equal(403);
      expect(refused.body['code']).to.equal('SIGNUP_DISABLED');
    } finally {
      await off.close();
    }
  });
});
