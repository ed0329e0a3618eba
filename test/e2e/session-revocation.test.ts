import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { api, login } from '../helpers/api.js';
import { useTestApi } from '../helpers/api-server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const issuedAtSecond = (token: string): number => (jwt.decode(token) as { iat: number }).iat;

describe('revocation ends access tokens issued in the same second (issue 11, point 7)', function () {
  this.timeout(60_000);
  const t = useTestApi({ slug: 'revoke-co' });

  const status = async (token: string): Promise<number> =>
    (await api(t.server, token).get('/auth/me')).status;

  const revokedAtSecond = async (userId: string): Promise<number> => {
    const row = await t.db.database
      .knex('users')
      .where({ id: userId })
      .first('sessions_revoked_at', 'password_changed_at');
    const times = [row.sessions_revoked_at, row.password_changed_at]
      .filter((t): t is Date => t !== null)
      .map((t) => new Date(t).getTime());
    return Math.floor(Math.max(...times) / 1000);
  };

  /**
   * Logs in, revokes, and logs in again, starting just after a second boundary
   * so all three fall in the same second (checked from the tokens' `iat` and
   * the stored revocation time; retried on the rare run that straddles a
   * boundary). Returns the tokens issued before and after the revocation.
   */
  async function aroundRevocationInOneSecond(
    email: string,
    passwords: () => { before: string; after: string },
    userId: string,
    revoke: (token: string) => Promise<void>,
  ): Promise<{ before: string; after: string }> {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const password = passwords();
      await sleep(1000 - (Date.now() % 1000) + 5);
      const before = (await login(t.server, email, password.before)).access_token;
      await revoke(before);
      const after = (await login(t.server, email, password.after)).access_token;
      const second = await revokedAtSecond(userId);
      if (issuedAtSecond(before) === second && issuedAtSecond(after) === second) {
        return { before, after };
      }
    }
    throw new Error('could not fit login, revocation and login in one second');
  }

  async function newUser(email: string, password: string): Promise<string> {
    const res = await api(t.server, t.token).post<{ id: string }>('/users', { email, password });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.id;
  }

  it('logout: the token issued just before, in the same second, is refused; one issued just after works', async () => {
    const email = 'leaver@revoke-co.example.test';
    const password = 'leaver-password-1';
    const id = await newUser(email, password);
    const tokens = await aroundRevocationInOneSecond(
      email,
      () => ({ before: password, after: password }),
      id,
      async (token) => {
        expect((await api(t.server, token).post('/auth/logout', {})).status).to.equal(204);
      },
    );
    expect(await status(tokens.before)).to.equal(401);
    expect(await status(tokens.after)).to.equal(200);
  });

  it('password change: the token issued just before, in the same second, is refused; one issued just after works', async () => {
    const email = 'changer@revoke-co.example.test';
    const id = await newUser(email, 'changer-password-1');
    let current = 1;
    const tokens = await aroundRevocationInOneSecond(
      email,
      () => ({ before: `changer-password-${current}`, after: `changer-password-${current + 1}` }),
      id,
      async () => {
        current += 1;
        const res = await api(t.server, t.token).patch(`/users/${id}`, {
          password: `changer-password-${current}`,
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
      },
    );
    expect(await status(tokens.before)).to.equal(401);
    expect(await status(tokens.after)).to.equal(200);
  });

  it('disable (then enable again): the token issued just before, in the same second, is refused; one issued just after works', async () => {
    const email = 'paused@revoke-co.example.test';
    const password = 'paused-password-1';
    const id = await newUser(email, password);
    const tokens = await aroundRevocationInOneSecond(
      email,
      () => ({ before: password, after: password }),
      id,
      async () => {
        for (const value of ['disabled', 'active']) {
          const res = await api(t.server, t.token).patch(`/users/${id}`, { status: value });
          expect(res.status, JSON.stringify(res.body)).to.equal(200);
        }
      },
    );
    expect(await status(tokens.before)).to.equal(401);
    expect(await status(tokens.after)).to.equal(200);
  });
});
