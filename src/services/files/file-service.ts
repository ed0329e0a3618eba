import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileTypeFromFile } from 'file-type';
import type { ServiceContext } from '../../context.js';
import { withTransaction } from '../../db/transaction.js';
import { notFound, unsupportedMediaType, validationFailed } from '../../errors.js';
import { FileAttachment } from '../../models/file-attachment.js';
import { Form, FormVersion } from '../../models/form.js';
import { Submission } from '../../models/submission.js';
import { Tenant } from '../../models/tenant.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission, hasPermission } from '../authorization.js';
import type { DerivedField } from '../forms/schema-mapper.js';
import { PLAN_MAX_FILE_BYTES } from '../plans.js';

export interface UploadedFile {
  /** Temporary path where the upload was streamed (by the HTTP layer). */
  tempPath: string;
  originalName: string;
  size: number;
}

export interface FileDto {
  id: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  submission_id: string | null;
  created_at: string;
}

const toDto = (f: FileAttachment): FileDto => ({
  id: f.id,
  name: f.name,
  content_type: f.content_type,
  size: Number(f.size),
  sha256: f.sha256,
  submission_id: f.submission_id,
  created_at: f.created_at.toISOString(),
});

/** A display name only: never used to build a path. */
export function cleanFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    // eslint-disable-next-line no-control-regex -- strip control characters from user-given names
    .replace(/[\u0000-\u001f\u007f"]/g, '')
    .trim()
    .slice(0, 255);
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? 'file' : cleaned;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The content type from magic bytes; UTF-8 text (which has none) is text/plain. */
async function sniff(file: string): Promise<string> {
  const detected = await fileTypeFromFile(file);
  if (detected !== undefined) return detected.mime;
  const handle = await fs.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0);
    const head = buffer.subarray(0, bytesRead);
    if (head.includes(0)) return 'application/octet-stream';
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return 'text/plain';
  } catch {
    return 'application/octet-stream';
  } finally {
    await handle.close();
  }
}

const accepts = (accept: string[], type: string): boolean =>
  accept.length === 0 ||
  accept.some(
    (a) =>
      a === type ||
      (a.endsWith('/*') && type.startsWith(a.slice(0, -1))) ||
      // CSV has no magic bytes: it sniffs as plain text.
      (a === 'text/csv' && type === 'text/plain'),
  );

/** Uploads (content-addressed under STORAGE_DIR, type sniffed) and downloads. */
export class FileService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly storageDir: string,
  ) {}

  /** The size limit that applies to this tenant's uploads. */
  async maxFileBytes(): Promise<number> {
    return withTransaction(this.ctx.db, async (tx) => {
      const tenant = await Tenant.query(tx.trx).first();
      return PLAN_MAX_FILE_BYTES[tenant?.plan ?? 'free'];
    });
  }

  /**
   * Stores an uploaded file. With a form and field, its sniffed type must be
   * one the field accepts (415 otherwise); without, an unrecognisable binary is
   * refused. Throws VALIDATION_FAILED for a field that is not a file field.
   */
  async upload(file: UploadedFile, target: { formId?: string; field?: string }): Promise<FileDto> {
    assertPermission(this.ctx, 'files.create');
    const type = await sniff(file.tempPath);
    const sha256 = await sha256Of(file.tempPath);
    return withTransaction(this.ctx.db, async (tx) => {
      if (target.formId !== undefined) {
        const form = await Form.query(tx.trx).where('id', target.formId).first();
        if (form === undefined || form.current_version === null)
          throw notFound('Form', target.formId);
        const version = await FormVersion.query(tx.trx)
          .where({ form_id: form.id, version: form.current_version })
          .first();
        const fields = (version?.fields as { fields: DerivedField[] } | undefined)?.fields ?? [];
        const field = fields.find((f) => f.path === target.field || f.key === target.field);
        if (field === undefined || field.type !== 'file') {
          throw validationFailed('The form has no such file field', [
            { path: 'field', message: 'is not a file field of the form' },
          ]);
        }
        const accept = ((field.validation ?? {})['accept'] as string[] | undefined) ?? [];
        if (!accepts(accept, type)) {
          throw unsupportedMediaType(
            `The file is ${type}; this field accepts ${accept.join(', ')}`,
          );
        }
      } else if (type === 'application/octet-stream') {
        throw unsupportedMediaType('The file type could not be recognised');
      }
      const tenantId = this.ctx.db.scope.kind === 'tenant' ? this.ctx.db.scope.tenantId : 'system';
      const storageKey = `${tenantId}/${sha256.slice(0, 2)}/${sha256}`;
      const destination = path.join(this.storageDir, storageKey);
      await fs.mkdir(path.dirname(destination), { recursive: true });
      // Content-addressed: the same bytes are stored once per tenant.
      await fs
        .copyFile(file.tempPath, destination, fs.constants.COPYFILE_EXCL)
        .catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      const row = await FileAttachment.query(tx.trx)
        .insert({
          name: cleanFileName(file.originalName),
          content_type: type,
          size: file.size,
          sha256,
          storage_key: storageKey,
          uploaded_by: actingUserId(this.ctx) ?? null,
        })
        .returning('*');
      await writeAudit(tx, this.ctx, {
        action: 'files.upload',
        resourceType: 'file',
        resourceId: row.id,
        after: { name: row.name, content_type: type, size: file.size, sha256 },
      });
      return toDto(row);
    });
  }

  /** The file's record and where its bytes are. Without submissions.read only one's own files. */
  async open(id: string): Promise<{ file: FileDto; absolutePath: string }> {
    assertPermission(this.ctx, 'files.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const row = await FileAttachment.query(tx.trx).where('id', id).first();
      if (row === undefined) throw notFound('File', id);
      const me = actingUserId(this.ctx);
      if (!hasPermission(this.ctx, 'submissions.read') && row.uploaded_by !== me) {
        const own =
          row.submission_id !== null &&
          (await Submission.query(tx.trx)
            .where({ id: row.submission_id, submitted_by: me ?? null })
            .first()) !== undefined;
        if (!own) throw notFound('File', id);
      }
      return { file: toDto(row), absolutePath: path.join(this.storageDir, row.storage_key) };
    });
  }
}
