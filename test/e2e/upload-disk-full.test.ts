import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { tenantScope } from '../../src/db/scope.js';
import { isAppError } from '../../src/errors.js';
import { FileService } from '../../src/services/files/file-service.js';
import { login, provisionTenant, uploadFile, type ProvisionedTenant } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { skipOrFail } from '../helpers/services.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/test-cluster.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const pdfOf = (bytes: number): Buffer =>
  Buffer.concat([PDF, Buffer.alloc(bytes - PDF.length, 0x20)]);

/** Every regular file under a directory (relative paths). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Bytes in use on the filesystem holding `dir`. */
async function usedBytes(dir: string): Promise<number> {
  const stats = await fs.statfs(dir);
  return (stats.blocks - stats.bfree) * stats.bsize;
}

describe('uploads on a full disk: 507, nothing partial kept', function () {
  this.timeout(60_000);
  let mountPoint: string;
  let mounted = false;
  let db: TestDatabase;
  let server: TestServer;
  let tenant: ProvisionedTenant;
  let token: string;

  before(async function () {
    mountPoint = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-full-disk-'));
    try {
      // A real filesystem that fills up: 2 MiB of tmpfs (this machine and CI run as root).
      await run('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mountPoint]);
      mounted = true;
    } catch (err) {
      skipOrFail(
        this,
        `mounting a small tmpfs needs root or CAP_SYS_ADMIN: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    db = await createTestDatabase();
    server = await startTestServer(db.database, { env: { STORAGE_DIR: mountPoint } });
    tenant = await provisionTenant(db.database, 'full-disk', 'pro');
    token = (await login(server, tenant.adminEmail, tenant.adminPassword)).access_token;
  });
  after(async () => {
    await server?.close();
    await db?.drop();
    if (mounted) await run('umount', [mountPoint]);
    await fs.rm(mountPoint, { recursive: true, force: true });
  });

  const rows = async (): Promise<number> =>
    Number(
      (await db.database.knex('file_attachments').where('tenant_id', tenant.tenantId).count())[0]!
        .count,
    );

  it('answers 507 when the upload does not fit, and keeps no temp file, no stored file, no row', async () => {
    const res = await uploadFile(server, token, { name: 'big.pdf', bytes: pdfOf(3 * MiB) });
    expect(res.status, JSON.stringify(res.body)).to.equal(507);
    expect(res.body['code']).to.equal('INSUFFICIENT_STORAGE');
    expect(res.body['detail']).to.match(/no room left.*nothing was kept/);
    expect(await filesUnder(mountPoint)).to.deep.equal([]);
    expect(await fs.readdir(path.join(mountPoint, '.tmp')).catch(() => [])).to.deep.equal([]);
    expect(await usedBytes(mountPoint)).to.equal(0);
    expect(await rows()).to.equal(0);
    // The space really came back: a file that fits is stored.
    const small = await uploadFile(server, token, { name: 'small.pdf', bytes: pdfOf(MiB) });
    expect(small.status, JSON.stringify(small.body)).to.equal(201);
    expect(await rows()).to.equal(1);
  });

  it('answers 507 when the content-addressed copy does not fit, with nothing partial kept', async () => {
    // The temporary file lives on another filesystem, so the store needs a real copy.
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'infield-full-disk-src-'));
    const filler = path.join(mountPoint, 'filler');
    try {
      const source = path.join(outside, 'upload');
      await fs.writeFile(source, pdfOf(MiB + 1024));
      const before = await filesUnder(mountPoint);
      const beforeRows = await rows();
      // Leave less room than the file needs.
      const free = await fs.statfs(mountPoint);
      await fs.writeFile(filler, Buffer.alloc(free.bavail * free.bsize - 512 * 1024));
      const service = new FileService(
        {
          db: { database: db.database, scope: tenantScope(tenant.tenantId) },
          actor: {
            type: 'user',
            userId: tenant.adminId,
            email: tenant.adminEmail,
            isSuperuser: false,
            permissions: new Set(['files.create']),
          },
          requestId: 'disk-full-test',
          logger: testLogger,
        },
        mountPoint,
      );
      const outcome = await service
        .upload({ tempPath: source, originalName: 'doc.pdf', size: MiB + 1024 }, {})
        .then(
          () => 'stored',
          (err: unknown) => (isAppError(err) ? `${err.status} ${err.code}` : String(err)),
        );
      expect(outcome).to.equal('507 INSUFFICIENT_STORAGE');
      await fs.rm(filler);
      expect(await filesUnder(mountPoint)).to.deep.equal(before);
      expect(await rows()).to.equal(beforeRows);
    } finally {
      await fs.rm(filler, { force: true });
      await fs.rm(outside, { recursive: true, force: true });
    }
  });
});
