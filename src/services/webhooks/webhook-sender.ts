import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { pinnedLookup, resolveChecked, SsrfRefusal, type ParsedNetwork } from './ssrf-guard.js';

/** Bytes of a response read at most; the rest is never read. */
export const MAX_RESPONSE_BYTES = 4096;
/** Bytes of the response kept with the attempt. */
export const EXCERPT_BYTES = 1024;

/** A new signing secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks). */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256, keyed with the secret's
 * bytes (the base64 after `whsec_`), of `{id}.{timestamp}.{body}`.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface SendOptions {
  allowHttp: boolean;
  allowedNetworks: readonly ParsedNetwork[];
  timeoutMs: number;
}

export interface WebhookMessage {
  url: string;
  /** The event id: the same on every attempt, so receivers can deduplicate. */
  id: string;
  body: string;
  secret: string;
}

/**
 * What became of one attempt: `delivered` (2xx), `gone` (410: the endpoint is disabled),
 * `refused` (the SSRF guard or the scheme refused it: not retried), `retry` (anything else:
 * other status codes, 3xx included since redirects are not followed, timeouts, network errors).
 */
export type SendOutcome = 'delivered' | 'gone' | 'refused' | 'retry';

export interface SendResult {
  outcome: SendOutcome;
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  startedAt: Date;
  durationMs: number;
}

const classify = (status: number): SendOutcome =>
  status >= 200 && status < 300 ? 'delivered' : status === 410 ? 'gone' : 'retry';

/**
 * One signed POST. Never throws: every failure is a result. The whole attempt (resolve,
 * connect, send, read) is bounded by `timeoutMs`, and at most MAX_RESPONSE_BYTES are read.
 */
export async function sendWebhook(msg: WebhookMessage, options: SendOptions): Promise<SendResult> {
  const startedAt = new Date();
  const started = performance.now();
  const done = (partial: Omit<SendResult, 'startedAt' | 'durationMs'>): SendResult => ({
    ...partial,
    startedAt,
    durationMs: Math.round(performance.now() - started),
  });
  let url: URL;
  try {
    url = new URL(msg.url);
  } catch {
    return done({ outcome: 'refused', statusCode: null, error: 'invalid URL', excerpt: null });
  }
  if (url.protocol !== 'https:' && !(options.allowHttp && url.protocol === 'http:')) {
    const error = `refused: ${url.protocol} URLs are not allowed`;
    return done({ outcome: 'refused', statusCode: null, error, excerpt: null });
  }
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
  try {
    const checked = await Promise.race([
      resolveChecked(url.hostname, options.allowedNetworks),
      new Promise<never>((_, reject) =>
        deadline.signal.addEventListener('abort', () => reject(new Error('timeout'))),
      ),
    ]);
    const timestamp = Math.floor(Date.now() / 1000);
    const response = await post(url, msg, timestamp, checked, deadline.signal);
    return done({
      outcome: classify(response.status),
      statusCode: response.status,
      error: null,
      excerpt: response.excerpt,
    });
  } catch (err) {
    if (err instanceof SsrfRefusal) {
      return done({ outcome: 'refused', statusCode: null, error: err.message, excerpt: null });
    }
    const error = deadline.signal.aborted
      ? `timeout after ${options.timeoutMs} ms`
      : ((err as Error).message || String(err)).slice(0, 500);
    return done({ outcome: 'retry', statusCode: null, error, excerpt: null });
  } finally {
    clearTimeout(timer);
  }
}

function post(
  url: URL,
  msg: WebhookMessage,
  timestamp: number,
  checked: Awaited<ReturnType<typeof resolveChecked>>,
  signal: AbortSignal,
): Promise<{ status: number; excerpt: string }> {
  const client = url.protocol === 'https:' ? https : http;
  const body = Buffer.from(msg.body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        signal,
        // Connect to the address checked, never to a fresh resolution; Host and SNI stay the name.
        lookup: pinnedLookup(checked),
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': 'Infield-Webhooks/1',
          'webhook-id': msg.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(msg.secret, msg.id, timestamp, msg.body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
          // A character cut at the limit, and NULs (PostgreSQL text refuses them), are dropped.
          // eslint-disable-next-line no-control-regex
          const clean = excerpt.replace(/\uFFFD+$/, '').replace(/\u0000/g, '');
          resolve({ status: res.statusCode ?? 0, excerpt: clean });
          // Nothing more is read: the connection is closed (it is not pooled).
          res.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_RESPONSE_BYTES) finish();
        });
        res.on('end', finish);
        res.on('error', (err) => (settled ? undefined : reject(err)));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
