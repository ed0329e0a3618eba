import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileTypeFromFile } from 'file-type';
import type { ServiceContext } from '../../context.js';
import { withTransaction } from '../../db/transaction.js';
import {
  insufficientStorage,
  notFound,
  unsupportedMediaType,
  validationFailed,
} from '../../errors.js';
import { FileAttachment } from '../../models/file-attachment.js';
import { Form, FormVersion } from '../../models/form.js';
import { Submission } from '../../models/submission.js';
import { Tenant } from '../../models/tenant.js';
import { writeAudit } from '../audit-service.js';
import { actingUserId, assertPermission, hasPermission } from '../authorization.js';
import { storedMapping } from '../forms/json-schema/stored-mapping.js';
import { findFileField } from '../forms/typed-responses.js';
import { PLAN_MAX_FILE_BYTES } from '../plans.js';
import { contentTypeAccepted } from './content-type-accepted.js';
import { isDiskFull } from '../../translate-error.js';

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

/** Where uploads are received, one directory per request: inside STORAGE_DIR, so storing is a link. */
export const uploadTempRoot = (storageDir: string): string => path.join(storageDir, '.tmp');

/**
 * Puts the bytes at `destination` all at once or not at all: a hard link from
 * the temporary file (same filesystem), else a copy to a sibling name that is
 * then linked. Content-addressed, so an existing destination already holds
 * these bytes. A full disk is INSUFFICIENT_STORAGE, with nothing partial kept.
 */
async function storeContent(source: string, destination: string): Promise<void> {
  const ignoreExisting = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EEXIST') throw err;
  };
  try {
    await fs.mkdir(path.dirname(destination), { recursive: true });
    try {
      await fs.link(source, destination).catch(ignoreExisting);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      const partial = `${destination}.${randomUUID()}.partial`;
      try {
        await fs.copyFile(source, partial, fs.constants.COPYFILE_EXCL);
        await fs.link(partial, destination).catch(ignoreExisting);
      } finally {
        await fs.rm(partial, { force: true });
      }
    }
  } catch (err) {
    throw isDiskFull(err) ? insufficientStorage() : err;
  }
}

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
   * refused. Throws VALIDATION_FAILED for a field that is not a file field,
   * INSUFFICIENT_STORAGE (507) when the disk is full (no file, no row kept).
   * The file belongs to its uploader until a submission of theirs claims it.
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
        const { tree } = storedMapping(version?.fields);
        const field = target.field === undefined ? undefined : findFileField(tree, target.field);
        if (field === undefined) {
          throw validationFailed('The form has no such file field', [
            { path: 'field', message: 'is not a file field of the form' },
          ]);
        }
        const accept = ((field.validation ?? {})['accept'] as string[] | undefined) ?? [];
        if (!contentTypeAccepted(accept, type)) {
          throw unsupportedMediaType(
            `The file is ${type}; this field accepts ${accept.join(', ')}`,
          );
        }
      } else if (type === 'application/octet-stream') {
        throw unsupportedMediaType('The file type could not be recognised');
      }
      const tenantId = this.ctx.db.scope.kind === 'tenant' ? this.ctx.db.scope.tenantId : 'system';
      const storageKey = `${tenantId}/${sha256.slice(0, 2)}/${sha256}`;
      await storeContent(file.tempPath, path.join(this.storageDir, storageKey));
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
