import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { api, login, provisionTenant, uploadFile } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const MiB = 1024 * 1024;

interface RawPart {
  name: string;
  filename?: string;
  type?: string;
  body: Buffer | string;
}

/** A multipart/form-data body written by hand, so tests can send what no well-behaved client would. */
function multipart(parts: RawPart[], options: { close?: boolean } = {}) {
  const boundary = `----infield${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition =
      part.filename === undefined
        ? `form-data; name="${part.name}"`
        : `form-data; name="${part.name}"; filename="${part.filename}"`;
    const head =
      `--${boundary}\r\nContent-Disposition: ${disposition}\r\n` +
      (part.type === undefined ? '' : `Content-Type: ${part.type}\r\n`) +
      '\r\n';
    chunks.push(Buffer.from(head), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  if (options.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

const filePart = (body: Buffer | string, name = 'file', filename = 'doc.pdf'): RawPart => ({
  name,
  filename,
  type: 'application/pdf',
  body,
});

/** Every regular file under a directory, as relative paths (an absent directory is empty). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('uploads: every refusal names its problem and leaves no file behind', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let server: TestServer;
  let storageDir: string;
  // The process temp directory, private to this file: the old parser wrote there.
  let tmpDir: string;
  let savedTmpDir: string | undefined;
  let token: string;
  let freeToken: string;
  let advancedToken: string;

  before(async () => {
    storageDir = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-uploads-store-'));
    tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-uploads-tmp-'));
    savedTmpDir = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmpDir;
    db = await createTestDatabase();
    server = await startTestServer(db.database, { env: { STORAGE_DIR: storageDir } });
    const pro = await provisionTenant(db.database, 'uploads-pro', 'pro');
    const free = await provisionTenant(db.database, 'uploads-free', 'free');
    token = (await login(server, pro.adminEmail, pro.adminPassword)).access_token;
    freeToken = (await login(server, free.adminEmail, free.adminPassword)).access_token;
    const advanced = await provisionTenant(db.database, 'uploads-advanced', 'advanced');
    advancedToken = (await login(server, advanced.adminEmail, advanced.adminPassword)).access_token;
  });
  after(async () => {
    if (savedTmpDir === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = savedTmpDir;
    await server?.close();
    await db?.drop();
    await fs.rm(storageDir, { recursive: true, force: true });
    await fs.rm(tmpDir, { recursive: true, force: true });
  });

  /** Files in the temp directory and the store, compared with a snapshot taken before. */
  const snapshot = async () => ({
    tmp: await filesUnder(tmpDir),
    store: await filesUnder(storageDir),
  });
  /** What a request left behind: new files in the temp dir or the store, upload directories. */
  async function leftBehind(before: { tmp: string[]; store: string[] }) {
    // The server may still be closing files of a request it answered; give it a bounded moment.
    let now = await snapshot();
    for (let i = 0; i < 50; i += 1) {
      if (now.tmp.length <= before.tmp.length && now.store.length <= before.store.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      now = await snapshot();
    }
    return {
      tmp: now.tmp.filter((f) => !before.tmp.includes(f)),
      store: now.store.filter((f) => !before.store.includes(f)),
      // Per-request directories go too, not only their files.
      uploadDirs: await fs.readdir(path.join(storageDir, '.tmp')).catch(() => []),
    };
  }
  async function expectNothingLeft(before: { tmp: string[]; store: string[] }): Promise<void> {
    expect(await leftBehind(before)).to.deep.equal({ tmp: [], store: [], uploadDirs: [] });
  }

  /** Sends a raw body; a server that stopped reading may close before the client finished writing. */
  async function send(
    body: Buffer,
    contentType: string,
    as = token,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await server.request('/api/v1/files', {
      method: 'POST',
      headers: { Authorization: `Bearer ${as}`, 'Content-Type': contentType },
      body,
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : JSON.parse(text) };
  }

  async function refused(
    parts: RawPart[],
    expected: { status: number; detail: RegExp },
    options: { close?: boolean; as?: string } = {},
  ): Promise<Record<string, unknown>> {
    const before = await snapshot();
    const { body, contentType } = multipart(parts, options);
    const res = await send(body, contentType, options.as);
    // One comparison, so a failure shows every way the answer was wrong.
    expect({
      status: res.status,
      detail: expected.detail.test(String(res.body['detail'])) ? 'as expected' : res.body['detail'],
      left: await leftBehind(before),
    }).to.deep.equal({
      status: expected.status,
      detail: 'as expected',
      left: { tmp: [], store: [], uploadDirs: [] },
    });
    return res.body;
  }

  it('stores a good upload and keeps no temporary file', async () => {
    const before = await snapshot();
    const res = await uploadFile(server, token, { name: 'doc.pdf', bytes: PDF });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const now = await snapshot();
    expect(now.tmp).to.deep.equal(before.tmp);
    // Exactly one new file: the content-addressed copy, named by its hash.
    const added = now.store.filter((f) => !before.store.includes(f));
    expect(added).to.have.length(1);
    expect(added[0]).to.match(new RegExp(`${res.body['sha256'] as string}$`));
  });

  it('refuses a large file under the wrong part name, naming the part', async () => {
    const body = await refused(
      [filePart(Buffer.concat([PDF, Buffer.alloc(20 * MiB, 0x20)]), 'upload')],
      { status: 400, detail: /Unexpected file part "upload".*"file"/ },
    );
    expect(body['errors']).to.deep.equal([
      { path: 'upload', message: 'is not a part this upload accepts' },
    ]);
  });

  it('refuses an upload without a file part', async () => {
    await refused([{ name: 'form_id', body: '0190a4b2-0000-7000-8000-000000000000' }], {
      status: 400,
      detail: /no file: send it in a file part named "file"/,
    });
  });

  it('refuses "file" sent as a plain field', async () => {
    await refused([{ name: 'file', body: 'hello' }], {
      status: 400,
      detail: /"file" carries no file name/,
    });
  });

  it('refuses two files (400, not "too large")', async () => {
    await refused([filePart(PDF), filePart(PDF, 'file', 'second.pdf')], {
      status: 400,
      detail: /one file per request/,
    });
  });

  it('refuses 1,000 tiny file parts at the second one', async () => {
    const parts = Array.from({ length: 1000 }, (_, i) => filePart(`x${i}`, 'file', `f${i}.txt`));
    await refused(parts, { status: 400, detail: /one file per request/ });
  });

  it('limits the number of parts (files and fields together)', async () => {
    const parts: RawPart[] = [
      filePart(PDF),
      { name: 'form_id', body: '0190a4b2-0000-7000-8000-000000000000' },
      { name: 'field', body: '/attachment' },
      ...Array.from({ length: 997 }, (_, i) => filePart(`x${i}`, `extra${i}`, `f${i}.txt`)),
    ];
    await refused(parts, { status: 400, detail: /more than 3 parts/ });
  });

  it('refuses unknown and repeated fields', async () => {
    await refused([filePart(PDF), { name: 'note', body: 'hi' }], {
      status: 400,
      detail: /Unexpected field "note".*form_id and field/,
    });
    await refused([{ name: 'field', body: '/a' }, { name: 'field', body: '/b' }, filePart(PDF)], {
      status: 400,
      detail: /"field" is sent more than once/,
    });
  });

  it('refuses a field that is too long', async () => {
    await refused([{ name: 'form_id', body: 'a'.repeat(2000) }, filePart(PDF)], {
      status: 400,
      detail: /"form_id" is longer than 1024 bytes/,
    });
  });

  it('refuses an empty file', async () => {
    await refused([filePart('')], { status: 400, detail: /The file is empty/ });
  });

  it('refuses a file over the plan limit with 413 naming the limit', async () => {
    const body = await refused(
      [filePart(Buffer.concat([PDF, Buffer.alloc(6 * MiB, 0x20)]))],
      { status: 413, detail: /plan allows: at most 5 MiB \(5242880 bytes\)/ },
      { as: freeToken },
    );
    expect(body['limit_bytes']).to.equal(5 * MiB);
  });

  it('refuses a malformed multipart body', async () => {
    await refused(
      [filePart(Buffer.alloc(64 * 1024, 0x41))],
      {
        status: 400,
        detail: /multipart body is malformed/,
      },
      { close: false },
    );
    const before = await snapshot();
    const res = await send(Buffer.from('no boundary here'), 'multipart/form-data');
    expect(res.status).to.equal(400);
    expect(res.body['detail']).to.match(/multipart body is malformed/);
    await expectNothingLeft(before);
  });

  it('refuses what is not multipart (415) before reading anything', async () => {
    const before = await snapshot();
    const res = await api(server, token).post('/files', { file: 'x' });
    expect(res.status).to.equal(415);
    expect(res.body['detail']).to.match(/multipart\/form-data/);
    await expectNothingLeft(before);
  });

  it('removes the temporary file when the service refuses it (415, 422, 404)', async () => {
    // Fixed bytes: random ones now and then start with some format's magic number.
    const noise = Buffer.concat([Buffer.from('noise\0'), Buffer.alloc(4090, 0xa5)]);
    await refused([filePart(noise, 'file', 'noise.bin')], {
      status: 415,
      detail: /could not be recognised/,
    });
    await refused([{ name: 'form_id', body: 'not-a-uuid' }, filePart(PDF)], {
      status: 422,
      detail: /form_id is not a uuid/,
    });
    await refused(
      [{ name: 'form_id', body: '0190a4b2-0000-7000-8000-000000000000' }, filePart(PDF)],
      { status: 404, detail: /Form 0190a4b2-0000-7000-8000-000000000000 not found/ },
    );
  });

  it('stops reading a refused body and closes the connection after answering', async () => {
    // Below the advanced plan's 100 MiB, so only the wrong part name can stop it.
    const total = 96 * MiB;
    const boundary = 'infieldStopReading';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const url = new URL(server.url);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    let response = '';
    socket.on('data', (chunk: Buffer) => {
      response += chunk.toString('latin1');
    });
    let closed = false;
    const closing = new Promise<void>((resolve) =>
      socket.once('close', () => {
        closed = true;
        resolve();
      }),
    );
    socket.write(
      `POST /api/v1/files HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${advancedToken}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${head.length + total}\r\n\r\n`,
    );
    socket.write(head);
    const chunk = Buffer.alloc(MiB, 0x41);
    let sent = 0;
    while (sent < total && !closed) {
      sent += chunk.length;
      if (!socket.write(chunk)) {
        await Promise.race([
          new Promise((resolve) => socket.once('drain', resolve)),
          closing,
          new Promise((resolve) => setTimeout(resolve, 5000)),
        ]);
      }
    }
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 5000))]);
    socket.destroy();
    expect(response).to.match(/^HTTP\/1\.1 400 /);
    expect(response).to.match(/\r\nConnection: close\r\n/i);
    expect(response).to.contain('Unexpected file part \\"upload\\"');
    // Socket buffers (tcp_rmem + tcp_wmem maxima: 36 MiB here) cannot hold half: the server stopped.
    expect(closed, 'the server kept the connection open').to.equal(true);
    expect(sent, 'bytes the client could send').to.be.below(total / 2);
  });

  it('removes the temporary file of a client that disconnects mid-upload', async () => {
    const before = await snapshot();
    const { body, contentType } = multipart([filePart(Buffer.alloc(8 * MiB, 0x41))]);
    const url = new URL(server.url);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    socket.write(
      `POST /api/v1/files HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, 2 * MiB));
    // Wait until the server has begun writing the file somewhere, then vanish.
    const started = async () =>
      (await filesUnder(tmpDir)).length > before.tmp.length ||
      (await filesUnder(storageDir)).length > before.store.length;
    for (let i = 0; i < 100 && !(await started()); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await started(), 'the upload never reached the disk').to.equal(true);
    socket.destroy();
    await expectNothingLeft(before);
  });
});
