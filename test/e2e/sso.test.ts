import { createSign, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { cleanupTenants } from '../../jobs/cleanup.js';
import { MaintenanceService } from '../../src/services/maintenance-service.js';
import { jobContext } from '../helpers/service-context.js';
import { testLogger } from '../helpers/test-cluster.js';
import { api, login, provisionTenant } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';
import { runCli } from '../helpers/cli.js';
import { TEST_JWT_SECRET } from '../helpers/http.js';
import {
  authorizeAtIdp,
  CookieJar,
  startTestIdp,
  tokenResponseFor,
  type IdpClient,
  type TestIdp,
} from '../helpers/oidc-idp.js';

const PUBLIC_URL = 'http://infield.test';
const SLUG = 'sso-co';
const callbackUri = (slug: string) => `${PUBLIC_URL}/api/v1/auth/sso/${slug}/callback`;
const CLIENT: IdpClient = {
  client_id: 'infield-app',
  client_secret: 'infield-app-secret-0123456789',
  redirect_uris: [callbackUri(SLUG), callbackUri('sso-alt')],
};
const OTHER_CLIENT: IdpClient = {
  client_id: 'another-app',
  client_secret: 'another-app-secret-0123456789',
  redirect_uris: ['http://another-app.test/cb'],
};

interface Problem {
  status: number;
  code: string;
  detail: string;
}

describe('single sign-on with OpenID Connect (a real oidc-provider)', function () {
  this.timeout(120_000);
  const t = useTestApi({
    slug: SLUG,
    plan: 'enterprise',
    env: { SSO_ALLOW_HTTP: 'true', PUBLIC_URL },
  });
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp([CLIENT, OTHER_CLIENT]);
    const people: [string, string, boolean][] = [
      ['ann', 'ann@corp.test', true],
      ['bob', 'bob@corp.test', true],
      ['eve', 'eve@elsewhere.test', true],
      ['uma', 'uma@corp.test', false],
      ['dan', 'dan@corp.test', true],
      ['oli', 'oli@corp.test', true],
      ['nia', 'nia@corp.test', true],
    ];
    for (const [id, email, verified] of people) {
      idp.accounts.set(id, { email, email_verified: verified, name: `Person ${id}` });
    }
  });
  after(async () => {
    await idp?.close();
  });

  const settings = (over: Record<string, unknown> = {}) => ({
    issuer: idp.issuer,
    client_id: CLIENT.client_id,
    client_secret: CLIENT.client_secret,
    allowed_email_domains: ['corp.test', `${SLUG}.example.test`],
    default_role: 'submitter',
    ...over,
  });
  const users = async (email: string) =>
    (await t.db.database.knex('users').whereRaw('lower(email) = ?', [email])) as {
      id: string;
      tenant_id: string;
      status: string;
    }[];
  const audit = async (action: string) =>
    (await t.db.database
      .knex('audit_logs')
      .where({ tenant_id: t.tenant.tenantId, action })
      .orderBy('created_at')) as { actor_type: string; after: Record<string, unknown> }[];

  /** GET …/start: the provider URL and the browser-binding cookie. */
  async function start(slug = SLUG) {
    const res = await t.server.request(`/api/v1/auth/sso/${slug}/start`, { redirect: 'manual' });
    const text = await res.text();
    expect(res.status, text).to.equal(302);
    const jar = new CookieJar();
    jar.take(res);
    return { location: new URL(res.headers.get('location')!), cookie: jar.header() };
  }

  /** The browser's return to Infield's callback (redirect_uri rewritten to the test server). */
  async function callback(back: URL, cookie: string | undefined) {
    const res = await t.server.request(`${back.pathname}${back.search}`, {
      redirect: 'manual',
      headers: cookie === undefined ? {} : { Cookie: cookie },
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? {} : JSON.parse(text) };
  }

  /** The whole flow as a browser: start, sign in at the provider as `account`, come back. */
  async function signIn(account: string, slug = SLUG) {
    const started = await start(slug);
    const back = await authorizeAtIdp(idp, started.location.href, account);
    return { ...(await callback(back, started.cookie)), back, cookie: started.cookie };
  }

  describe('settings: PUT/GET/DELETE /tenants/me/sso', () => {
    it('is 404 before it is configured', async () => {
      const res = await t.admin.get<Problem>('/tenants/me/sso');
      expect(res.status).to.equal(404);
    });

    it('refuses bad settings with 422 naming each field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ client_secret: undefined }, '/client_secret'],
        [{ issuer: 'not a url' }, '/issuer'],
        [{ issuer: 'ftp://idp.example.test' }, '/issuer'],
        [{ issuer: 'https://idp.example.test/?tenant=x' }, '/issuer'],
        [{ allowed_email_domains: ['corp'] }, '/allowed_email_domains/0'],
        [{ allowed_email_domains: [] }, '/allowed_email_domains'],
        [{ default_role: 'no-such-role' }, '/default_role'],
        [{ sso_only: true, enabled: false }, '/sso_only'],
        // The admin's own domain is not allowed: sso_only would lock them out.
        [{ sso_only: true, allowed_email_domains: ['corp.test'] }, '/sso_only'],
        [{ extra: 1 }, ''],
      ];
      for (const [over, path] of cases) {
        const res = await t.admin.put<{ errors: { path: string }[] }>(
          '/tenants/me/sso',
          settings(over),
        );
        expect(res.status, JSON.stringify(over)).to.equal(422);
        if (path !== '') {
          expect(
            res.body.errors.map((e) => e.path),
            JSON.stringify(over),
          ).to.include(path);
        }
      }
      expect(await t.db.database.knex('tenant_sso').count({ n: '*' })).to.deep.equal([{ n: 0 }]);
    });

    it('refuses someone less powerful than the tenant’s users (they could sign in as anyone)', async () => {
      const admin = t.admin;
      const role = await admin.post<{ id: string }>('/roles', {
        name: 'sso-operator',
        permissions: ['tenants.read', 'tenants.update', 'roles.read'],
      });
      await admin.post('/users', {
        email: 'sso-op@sso-co.example.test',
        password: 'sso-op-password-1',
        role_ids: [role.body.id],
      });
      const token = (await login(t.server, 'sso-op@sso-co.example.test', 'sso-op-password-1'))
        .access_token;
      const res = await api(t.server, token).put<Problem>('/tenants/me/sso', settings());
      expect(res.status).to.equal(403);
      expect(res.body.detail).to.contain('users of this tenant hold permissions you lack');
    });

    it('stores the secret sealed, never returns it, and audits without it', async () => {
      const put = await t.admin.put<Record<string, unknown>>('/tenants/me/sso', settings());
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      expect(put.body).to.include({
        issuer: idp.issuer,
        client_id: CLIENT.client_id,
        client_secret_set: true,
        enabled: true,
        sso_only: false,
        redirect_uri: callbackUri(SLUG),
      });
      expect(put.body['default_role']).to.include({ name: 'submitter' });
      const got = await t.admin.get<Record<string, unknown>>('/tenants/me/sso');
      expect(got.status).to.equal(200);
      expect(JSON.stringify(got.body)).not.to.contain(CLIENT.client_secret);
      expect(got.body).not.to.have.property('client_secret');
      const [row] = await t.db.database.knex('tenant_sso').select('client_secret_sealed');
      expect(row.client_secret_sealed).to.match(/^v1\./);
      expect(row.client_secret_sealed).not.to.contain(CLIENT.client_secret);
      // An update without client_secret keeps the stored one.
      const again = await t.admin.put('/tenants/me/sso', settings({ client_secret: undefined }));
      expect(again.status).to.equal(200);
      const rows = [...(await audit('tenants.sso_create')), ...(await audit('tenants.sso_update'))];
      expect(rows).to.have.length(2);
      expect(JSON.stringify(rows)).not.to.contain(CLIENT.client_secret);
      expect(rows[1]!.after).to.include({ client_secret_changed: false });
    });
  });

  describe('the sign-in flow', () => {
    before(async () => {
      const put = await t.admin.put('/tenants/me/sso', settings());
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
    });

    it('start redirects to the provider with code flow, PKCE S256, state and nonce', async () => {
      const { location, cookie } = await start();
      expect(location.origin).to.equal(idp.issuer);
      const q = location.searchParams;
      expect(q.get('response_type')).to.equal('code');
      expect(q.get('client_id')).to.equal(CLIENT.client_id);
      expect(q.get('redirect_uri')).to.equal(callbackUri(SLUG));
      expect(q.get('scope')).to.equal('openid email profile');
      expect(q.get('code_challenge_method')).to.equal('S256');
      expect(q.get('code_challenge')).to.match(/^[\w-]{43}$/);
      expect(q.get('state')).to.have.length.above(20);
      expect(q.get('nonce')).to.have.length.above(20);
      expect(cookie).to.match(/^infield_sso=[\w-]{43}$/);
    });

    it('an unknown tenant or one without SSO is 404', async () => {
      expect((await t.server.request('/api/v1/auth/sso/no-such-co/start')).status).to.equal(404);
      await provisionTenant(t.db.database, 'sso-none');
      expect((await t.server.request('/api/v1/auth/sso/sso-none/start')).status).to.equal(404);
    });

    it('creates the user just in time with the default role; the tokens work', async () => {
      expect(await users('ann@corp.test')).to.have.length(0);
      const res = await signIn('ann');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ token_type: 'bearer' });
      expect(res.body.refresh_token).to.be.a('string');
      expect(res.headers.get('cache-control')).to.equal('no-store');
      const me = await api(t.server, res.body.access_token).get<{
        user: { email: string; full_name: string };
        roles: { name: string }[];
        tenant: { slug: string };
      }>('/auth/me');
      expect(me.status).to.equal(200);
      expect(me.body.user).to.include({ email: 'ann@corp.test', full_name: 'Person ann' });
      expect(me.body.roles.map((r) => r.name)).to.deep.equal(['submitter']);
      expect(me.body.tenant.slug).to.equal(SLUG);
      // The refresh token is a normal one.
      const refreshed = await api(t.server).post('/auth/refresh', {
        refresh_token: res.body.refresh_token,
      });
      expect(refreshed.status).to.equal(200);
      const created = await audit('users.create');
      expect(created.at(-1)!.after).to.include({ email: 'ann@corp.test', via: 'sso', sub: 'ann' });
      const logins = await audit('auth.login');
      expect(logins.at(-1)!.after).to.include({ via: 'sso', issuer: idp.issuer });
    });

    it('a second sign-in links the same user', async () => {
      const [before] = await users('ann@corp.test');
      const res = await signIn('ann');
      expect(res.status).to.equal(200);
      const after = await users('ann@corp.test');
      expect(after).to.have.length(1);
      expect(after[0]!.id).to.equal(before!.id);
    });

    it('links an existing password user (the admin) rather than creating one', async () => {
      idp.accounts.set('admin', { email: t.tenant.adminEmail, email_verified: true });
      const res = await signIn('admin');
      expect(res.status).to.equal(200);
      const me = await api(t.server, res.body.access_token).get<{ user: { id: string } }>(
        '/auth/me',
      );
      expect(me.body.user.id).to.equal(t.tenant.adminId);
    });

    it('refuses an ID token with another nonce (a real token of the provider)', async () => {
      const started = await start();
      idp.substituteTokenResponse = await tokenResponseFor(idp, CLIENT, 'bob', 'another-nonce');
      const back = await authorizeAtIdp(idp, started.location.href, 'bob');
      const res = await callback(back, started.cookie);
      expect(res.status, JSON.stringify(res.body)).to.equal(401);
      expect(res.body.code).to.equal('SSO_FAILED');
      expect(res.body.detail, res.body.detail).to.match(/nonce/);
      expect(await users('bob@corp.test')).to.have.length(0);
    });

    it('refuses an ID token issued to another client (audience), same nonce', async () => {
      const started = await start();
      const nonce = started.location.searchParams.get('nonce')!;
      idp.substituteTokenResponse = await tokenResponseFor(idp, OTHER_CLIENT, 'bob', nonce);
      const back = await authorizeAtIdp(idp, started.location.href, 'bob');
      const res = await callback(back, started.cookie);
      expect(res.status, JSON.stringify(res.body)).to.equal(401);
      expect(res.body.detail, res.body.detail).to.match(/aud/);
      expect(await users('bob@corp.test')).to.have.length(0);
    });

    it('refuses an expired ID token and one not signed with the provider’s keys', async () => {
      const forged = (nonce: string, over: Record<string, unknown>, key = idp.signingKey) =>
        signJwt(
          {
            iss: idp.issuer,
            aud: CLIENT.client_id,
            sub: 'bob',
            nonce,
            email: 'bob@corp.test',
            email_verified: true,
            iat: Math.floor(Date.now() / 1000),
            exp: Math.floor(Date.now() / 1000) + 300,
            ...over,
          },
          key,
        );
      const otherKey = await startTestIdp([]).then(async (other) => {
        await other.close();
        return { ...other.signingKey, kid: idp.signingKey.kid };
      });
      const cases: [Record<string, unknown>, typeof idp.signingKey, RegExp][] = [
        [
          { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 },
          idp.signingKey,
          /exp/,
        ],
        [{}, otherKey, /signature/i],
      ];
      for (const [over, key, why] of cases) {
        const started = await start();
        const nonce = started.location.searchParams.get('nonce')!;
        idp.substituteTokenResponse = {
          access_token: 'opaque',
          token_type: 'Bearer',
          expires_in: 60,
          id_token: forged(nonce, over, key),
        };
        const back = await authorizeAtIdp(idp, started.location.href, 'bob');
        const res = await callback(back, started.cookie);
        expect(res.status, JSON.stringify(res.body)).to.equal(401);
        expect(res.body.detail, res.body.detail).to.match(why);
      }
      expect(await users('bob@corp.test')).to.have.length(0);
    });

    it('refuses an email outside the allowed domains with 403, and creates nobody', async () => {
      const res = await signIn('eve');
      expect(res.status, JSON.stringify(res.body)).to.equal(403);
      expect(res.body.code).to.equal('SSO_EMAIL_DOMAIN_NOT_ALLOWED');
      expect(await users('eve@elsewhere.test')).to.have.length(0);
      const refused = await audit('auth.sso_refused');
      expect(refused.at(-1)!.after).to.include({
        reason: 'email_domain_not_allowed',
        email: 'eve@elsewhere.test',
      });
    });

    it('refuses an unverified email with 403', async () => {
      const res = await signIn('uma');
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('SSO_EMAIL_UNVERIFIED');
      expect(await users('uma@corp.test')).to.have.length(0);
    });

    it('refuses a replayed state, an unknown state, no state and another browser', async () => {
      const done = await signIn('ann');
      expect(done.status).to.equal(200);
      const replay = await callback(done.back, done.cookie);
      expect(replay.status).to.equal(401);
      expect(replay.body.detail).to.contain('already used state');

      const unknown = new URL(done.back);
      unknown.searchParams.set('state', randomBytes(32).toString('base64url'));
      expect((await callback(unknown, done.cookie)).status).to.equal(401);
      const none = new URL(done.back);
      none.searchParams.delete('state');
      expect((await callback(none, done.cookie)).status).to.equal(401);

      // A callback URL taken to another browser (login CSRF): refused, and the state is spent.
      const started = await start();
      const back = await authorizeAtIdp(idp, started.location.href, 'ann');
      const stolen = await callback(back, 'infield_sso=someone-else');
      expect(stolen.status).to.equal(401);
      expect(stolen.body.detail).to.contain('did not start');
      expect((await callback(back, started.cookie)).status).to.equal(401);
    });

    it('the cleanup job deletes sign-ins started and never finished, once expired', async () => {
      await start();
      const pending = () => t.db.database.knex('sso_logins').where('tenant_id', t.tenant.tenantId);
      const before = (await pending()).length;
      expect(before).to.be.above(0);
      await pending().update({ expires_at: new Date(Date.now() - 1000) });
      const cleaned = await cleanupTenants(
        new MaintenanceService(jobContext(t.db.database, 'cleanup')),
        testLogger,
      );
      expect(cleaned.sso_logins_deleted).to.equal(before);
      expect(await pending()).to.deep.equal([]);
    });

    it('a provider error in the callback is a 401, never a 500', async () => {
      const started = await start();
      const state = started.location.searchParams.get('state')!;
      const res = await callback(
        new URL(`${callbackUri(SLUG)}?error=access_denied&state=${state}&iss=${idp.issuer}`),
        started.cookie,
      );
      expect(res.status, JSON.stringify(res.body)).to.equal(401);
      expect(res.body.detail).to.contain('access_denied');
    });

    it('refuses (409) an email whose account lives in another tenant, creating nothing', async () => {
      const other = await provisionTenant(t.db.database, 'sso-other');
      await api(
        t.server,
        (await login(t.server, other.adminEmail, other.adminPassword)).access_token,
      ).post('/users', { email: 'dan@corp.test', password: 'dan-password-123' });
      const res = await signIn('dan');
      expect(res.status, JSON.stringify(res.body)).to.equal(409);
      expect(res.body.detail).to.contain('another tenant');
      const rows = await users('dan@corp.test');
      expect(rows.map((r) => r.tenant_id)).to.deep.equal([other.tenantId]);
    });

    it('refuses a disabled user with 403', async () => {
      const first = await signIn('oli');
      expect(first.status).to.equal(200);
      const [oli] = await users('oli@corp.test');
      const patched = await t.admin.patch(`/users/${oli!.id}`, { status: 'disabled' });
      expect(patched.status).to.equal(200);
      const res = await signIn('oli');
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('USER_DISABLED');
    });

    it('sso_only refuses password login (403 SSO_REQUIRED); SSO still works', async () => {
      const put = await t.admin.put('/tenants/me/sso', settings({ sso_only: true }));
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const pw = await api(t.server).post<Problem>('/auth/login', {
        email: t.tenant.adminEmail,
        password: t.tenant.adminPassword,
      });
      expect(pw.status).to.equal(403);
      expect(pw.body.code).to.equal('SSO_REQUIRED');
      // A wrong password still gets the usual 401: nothing tells a stranger the tenant is SSO-only.
      const wrong = await api(t.server).post('/auth/login', {
        email: t.tenant.adminEmail,
        password: 'not-the-password',
      });
      expect(wrong.status).to.equal(401);
      // Another tenant's password login is unaffected.
      const other = await api(t.server).post('/auth/login', {
        email: 'admin@sso-other.example.test',
        password: 'pw-sso-other-0123456789',
      });
      expect(other.status).to.equal(200);
      expect((await signIn('nia')).status).to.equal(200);
      await t.admin.put('/tenants/me/sso', settings({ sso_only: false }));
      expect(
        (await login(t.server, t.tenant.adminEmail, t.tenant.adminPassword)).access_token,
      ).to.be.a('string');
    });

    it('DELETE removes the settings: start is 404 again', async () => {
      const del = await t.admin.call('DELETE', '/tenants/me/sso');
      expect(del.status).to.equal(204);
      expect((await t.admin.call('DELETE', '/tenants/me/sso')).status).to.equal(404);
      expect((await t.server.request(`/api/v1/auth/sso/${SLUG}/start`)).status).to.equal(404);
      expect(await audit('tenants.sso_delete')).to.have.length(1);
    });
  });

  describe('CLI: sso:set, sso:show, sso:remove', () => {
    const env = () => ({
      env: { DATABASE_URL: t.db.url, JWT_SECRET: TEST_JWT_SECRET, PUBLIC_URL },
    });

    it('sets, shows and removes a tenant’s settings; the API then signs in with them', async () => {
      const set = await runCli(
        [
          'sso:set',
          '--tenant',
          SLUG,
          '--issuer',
          idp.issuer,
          '--client-id',
          CLIENT.client_id,
          '--client-secret',
          CLIENT.client_secret,
          '--domains',
          'corp.test, sso-co.example.test',
          '--default-role',
          'viewer',
          '--json',
        ],
        { env: { ...env().env, SSO_ALLOW_HTTP: 'true' } },
      );
      expect(set.code, set.stderr).to.equal(0);
      const shown = JSON.parse(set.stdout) as Record<string, unknown>;
      expect(shown).to.include({ issuer: idp.issuer, sso_only: false });
      expect(shown['allowed_email_domains']).to.deep.equal(['corp.test', 'sso-co.example.test']);
      expect(set.stdout).not.to.contain(CLIENT.client_secret);

      const show = await runCli(['sso:show', '--tenant', SLUG], env());
      expect(show.code, show.stderr).to.equal(0);
      expect(show.stdout).to.contain(idp.issuer);
      expect(show.stdout).to.contain('viewer');
      expect(show.stdout).not.to.contain(CLIENT.client_secret);

      // The secret the CLI sealed opens in the API (same JWT_SECRET): a sign-in works.
      idp.accounts.set('vic', { email: 'vic@corp.test', email_verified: true });
      const res = await signIn('vic');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const me = await api(t.server, res.body.access_token).get<{ roles: { name: string }[] }>(
        '/auth/me',
      );
      expect(me.body.roles.map((r) => r.name)).to.deep.equal(['viewer']);

      const ops = await t.db.database
        .knex('audit_logs')
        .where({ tenant_id: t.tenant.tenantId, actor_type: 'operator' })
        .whereLike('action', 'tenants.sso_%');
      expect(ops.map((r: { action: string }) => r.action)).to.deep.equal(['tenants.sso_create']);

      const removed = await runCli(['sso:remove', '--tenant', SLUG], env());
      expect(removed.code, removed.stderr).to.equal(0);
      const gone = await runCli(['sso:show', '--tenant', SLUG], env());
      expect(gone.code).to.equal(4);
    });

    it('refuses an http issuer without SSO_ALLOW_HTTP (exit 3) and an unknown tenant (exit 4)', async () => {
      const args = (tenant: string) => [
        'sso:set',
        '--tenant',
        tenant,
        '--issuer',
        idp.issuer,
        '--client-id',
        'x',
        '--client-secret',
        'y',
        '--domains',
        'corp.test',
        '--default-role',
        'submitter',
      ];
      const http = await runCli(args(SLUG), env());
      expect(http.code).to.equal(3);
      expect(http.stderr).to.contain('https://');
      const unknown = await runCli(args('no-such-co'), env());
      expect(unknown.code).to.equal(4);
    });
  });
});

/** An RS256 JWT signed with `key` (the provider's own key, or another with its kid). */
function signJwt(
  claims: Record<string, unknown>,
  key: { kid: string } & Record<string, unknown>,
): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'RS256', typ: 'JWT', kid: key.kid })}.${enc(claims)}`;
  const signer = createSign('RSA-SHA256');
  signer.update(input);
  const signature = signer.sign({ key: key as never, format: 'jwk' }).toString('base64url');
  return `${input}.${signature}`;
}

describe('single sign-on with SSO_REDIRECT_URL: the callback hands the tokens to the frontend', function () {
  this.timeout(60_000);
  const t = useTestApi({
    slug: SLUG,
    env: { SSO_ALLOW_HTTP: 'true', PUBLIC_URL, SSO_REDIRECT_URL: 'https://app.example.test/sso' },
  });
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp([CLIENT]);
    idp.accounts.set('ann', { email: 'ann@corp.test', email_verified: true });
  });
  after(async () => {
    await idp?.close();
  });

  it('answers 302 to SSO_REDIRECT_URL with the pair in the fragment; errors stay problem+json', async () => {
    const put = await t.admin.put('/tenants/me/sso', {
      issuer: idp.issuer,
      client_id: CLIENT.client_id,
      client_secret: CLIENT.client_secret,
      allowed_email_domains: ['corp.test'],
      default_role: 'submitter',
    });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    const started = await t.server.request(`/api/v1/auth/sso/${SLUG}/start`, {
      redirect: 'manual',
    });
    const jar = new CookieJar();
    jar.take(started);
    const back = await authorizeAtIdp(idp, started.headers.get('location')!, 'ann');
    const res = await t.server.request(`${back.pathname}${back.search}`, {
      redirect: 'manual',
      headers: { Cookie: jar.header() },
    });
    expect(res.status).to.equal(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal('https://app.example.test/sso');
    expect(location.search).to.equal('');
    const pair = new URLSearchParams(location.hash.slice(1));
    expect(pair.get('token_type')).to.equal('bearer');
    const me = await api(t.server, pair.get('access_token')!).get('/auth/me');
    expect(me.status).to.equal(200);
    const replay = await t.server.request(`${back.pathname}${back.search}`, {
      redirect: 'manual',
      headers: { Cookie: jar.header() },
    });
    expect(replay.status).to.equal(401);
    expect(replay.headers.get('content-type')).to.contain('application/problem+json');
  });
});
