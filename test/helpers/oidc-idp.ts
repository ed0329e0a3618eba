import { createHash, generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** A person the test identity provider knows, by account id (= `sub`). */
export interface IdpAccount {
  email: string;
  email_verified: boolean;
  name?: string;
}

export interface IdpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

/**
 * A real OpenID provider (`oidc-provider`) on an ephemeral loopback port. The
 * login interaction is answered at once with `nextAccount` (no consent
 * screen: grants are made on the fly). `substituteTokenResponse` makes it
 * misbehave once: the next token request is answered with that body instead
 * of the real one (tokens for another client, another nonce…).
 */
export interface TestIdp {
  readonly issuer: string;
  /** The provider's signing key (private JWK), to forge tokens it would have signed. */
  readonly signingKey: JsonWebKey & { kid: string };
  readonly accounts: Map<string, IdpAccount>;
  nextAccount: string;
  substituteTokenResponse: Record<string, unknown> | undefined;
  close(): Promise<void>;
}

export async function startTestIdp(clients: IdpClient[]): Promise<TestIdp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };
  const accounts = new Map<string, IdpAccount>();
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      ...c,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: false } },
    findAccount: async (_ctx, id) => {
      const account = accounts.get(id);
      if (account === undefined) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, ...account }),
      };
    },
    // First-party test clients: consent is implied.
    loadExistingGrant: async (ctx) => {
      const clientId = ctx.oidc.client!.clientId;
      const accountId = ctx.oidc.session!.accountId!;
      const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  const handle = provider.callback();
  const idp: TestIdp = {
    issuer,
    signingKey,
    accounts,
    nextAccount: '',
    substituteTokenResponse: undefined,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    if (req.method === 'GET' && path.startsWith('/interaction/')) {
      provider
        .interactionFinished(
          req,
          res,
          { login: { accountId: idp.nextAccount } },
          { mergeWithLastSubmission: false },
        )
        .catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
      return;
    }
    const substitute = idp.substituteTokenResponse;
    if (req.method === 'POST' && path === '/token' && substitute !== undefined) {
      idp.substituteTokenResponse = undefined;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(substitute));
      });
      return;
    }
    void handle(req, res);
  });
  return idp;
}

/** A minimal cookie jar: name → value, sent back to every path of one origin. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(res: { headers: { getSetCookie(): string[] } }): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0\b|expires=thu, 01 jan 1970/i.test(line)) {
        this.cookies.delete(name);
      } else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

/**
 * Follows the provider's side of an authorization request (`authUrl`) as a
 * browser would, signing in as `account`, and returns the redirect back to
 * the client (its redirect_uri with code, state, iss).
 */
export async function authorizeAtIdp(idp: TestIdp, authUrl: string, account: string) {
  idp.nextAccount = account;
  const jar = new CookieJar();
  let url = authUrl;
  for (let hop = 0; hop < 6; hop += 1) {
    const res = await fetch(url, { redirect: 'manual', headers: { Cookie: jar.header() } });
    jar.take(res);
    await res.text();
    const location = res.headers.get('location');
    if (location === null) throw new Error(`IdP answered ${res.status} without a redirect`);
    const next = new URL(location, url);
    if (next.origin !== idp.issuer) return next;
    url = next.href;
  }
  throw new Error('IdP redirected too often');
}

/**
 * A real token response of the provider for `client`, obtained by running the
 * code flow directly (PKCE, the given nonce): what a misbehaving provider
 * would hand to another client.
 */
export async function tokenResponseFor(
  idp: TestIdp,
  client: IdpClient,
  account: string,
  nonce: string,
): Promise<Record<string, unknown>> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL('/auth', idp.issuer);
  auth.search = new URLSearchParams({
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid email profile',
    redirect_uri: client.redirect_uris[0]!,
    state: 'direct',
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  const back = await authorizeAtIdp(idp, auth.href, account);
  const code = back.searchParams.get('code');
  if (code === null) throw new Error(`no code: ${back.href}`);
  const res = await fetch(new URL('/token', idp.issuer), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirect_uris[0]!,
      code_verifier: verifier,
    }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
  return body;
}
