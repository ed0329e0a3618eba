import { createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import formidable, { errors as formidableErrors } from 'formidable';
import {
  badRequest,
  fileTooLarge,
  insufficientStorage,
  isAppError,
  unsupportedMediaType,
  type AppError,
} from '../../errors.js';
import { isDiskFull } from '../../translate-error.js';
import type { KoaContext } from '../route.js';

/** The text fields an upload may carry next to its one file part, named "file". */
export const UPLOAD_FIELDS = ['form_id', 'field'] as const;
export type UploadField = (typeof UPLOAD_FIELDS)[number];
/** Every part counts, files and fields: one file plus the fields above. */
export const MAX_UPLOAD_PARTS = 1 + UPLOAD_FIELDS.length;
/** Each field's value at most (a form id is 36 bytes, a field pointer far less than this). */
export const MAX_UPLOAD_FIELD_BYTES = 1024;

export interface ReceivedUpload {
  file: { path: string; originalName: string; size: number };
  fields: Partial<Record<UploadField, string>>;
}

export interface UploadOptions {
  /** Where the per-request temporary directories are made (same filesystem as the store). */
  tempRoot: string;
  /** The tenant's plan limit for one file, in bytes. */
  maxFileBytes: number;
}

const MiB = 1024 * 1024;
const describeBytes = (bytes: number): string =>
  bytes % MiB === 0 ? `${bytes / MiB} MiB (${bytes} bytes)` : `${bytes} bytes`;

/** A part name as it may appear in a message: short, printable. */
const shown = (name: string): string =>
  // eslint-disable-next-line no-control-regex -- control characters never reach a message
  JSON.stringify(name.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 64));

const malformed = (detail: string): AppError =>
  badRequest(`The multipart body is malformed: ${detail.split('\n')[0] ?? detail}`);

/** Formidable's and the filesystem's failures, worded as what was wrong with the upload. */
function translate(err: unknown, maxFileBytes: number): unknown {
  if (isAppError(err)) return err;
  if (isDiskFull(err)) return insufficientStorage();
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err as { message?: unknown } | null)?.message;
  const detail = typeof message === 'string' ? message : 'unreadable';
  switch (code) {
    case formidableErrors.biggerThanMaxFileSize:
    case formidableErrors.biggerThanTotalMaxFileSize:
      return fileTooLarge(
        maxFileBytes,
        `The file is larger than this tenant's plan allows: at most ${describeBytes(maxFileBytes)}`,
      );
    case formidableErrors.noEmptyFiles:
    case formidableErrors.smallerThanMinFileSize:
      return badRequest('The file is empty', { errors: [{ path: 'file', message: 'is empty' }] });
    case formidableErrors.maxFilesExceeded:
      return badRequest('Send one file per request; this upload has more than one file part');
    case formidableErrors.maxFieldsExceeded:
      return badRequest(`The upload has more than ${MAX_UPLOAD_PARTS} parts`);
    case formidableErrors.maxFieldsSizeExceeded:
      return badRequest(`A field is longer than ${MAX_UPLOAD_FIELD_BYTES} bytes`);
    case formidableErrors.aborted:
    case 'ECONNRESET':
      return badRequest('The upload was interrupted before it was complete');
    case formidableErrors.malformedMultipart:
    case formidableErrors.missingMultipartBoundary:
    case formidableErrors.unknownTransferEncoding:
    case formidableErrors.filenameNotString:
    case formidableErrors.missingContentType:
    case formidableErrors.noParser:
      return malformed(detail);
    default:
      return err;
  }
}

/**
 * One multipart request being received into its own temporary directory.
 * Parts are checked as they arrive (names, count, sizes) and the first
 * refusal stops parsing; close() stops reading the request, waits until every
 * temporary file is closed, refuses to open new ones, and removes the directory.
 */
class UploadReception {
  private readonly form: ReturnType<typeof formidable>;
  private readonly streams = new Set<WriteStream>();
  /** Settle once each temporary file is closed: written whole, or failed. */
  private readonly settled: Promise<void>[] = [];
  private readonly seenFields = new Set<string>();
  private readonly fields: Partial<Record<UploadField, string>> = {};
  private parts = 0;
  private fileSeen = false;
  /** Bytes of the file part as received, to prove the temporary file holds all of them. */
  private fileBytes = 0;
  /** The first write failure of a temporary file (formidable ignores one after the body ended). */
  private writeError: unknown;
  private stopped = false;
  private closed = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly dir: string,
    private readonly maxFileBytes: number,
  ) {
    this.form = formidable({
      uploadDir: dir,
      // Formidable's own limits stay as a second line behind the checks in onPart.
      maxFiles: 1,
      maxFileSize: maxFileBytes,
      maxTotalFileSize: maxFileBytes,
      maxFields: UPLOAD_FIELDS.length,
      maxFieldsSize: UPLOAD_FIELDS.length * MAX_UPLOAD_FIELD_BYTES,
      allowEmptyFiles: false,
      minFileSize: 1,
      keepExtensions: false,
      fileWriteStreamHandler: (file) => this.openTempFile(file),
    });
    this.form.onPart = (part) => this.onPart(part);
    this.form.on('error', () => {
      this.stopped = true;
    });
  }

  async receive(): Promise<ReceivedUpload> {
    let files: formidable.Files;
    try {
      [, files] = await this.form.parse(this.req);
    } catch (err) {
      throw translate(err, this.maxFileBytes);
    }
    const file = files['file']?.[0];
    if (file === undefined) {
      throw badRequest('The upload has no file: send it in a file part named "file"', {
        errors: [{ path: 'file', message: 'is required' }],
      });
    }
    await this.assertComplete(file.filepath);
    return {
      file: { path: file.filepath, originalName: file.originalFilename ?? 'file', size: file.size },
      fields: this.fields,
    };
  }

  /**
   * A write that fails once the whole body has arrived (a disk filling up
   * while the file is flushed) does not fail formidable's parse: it would
   * hand over a truncated file as complete. Nothing short is ever accepted.
   */
  private async assertComplete(filepath: string): Promise<void> {
    // The parse can settle before a file's last write failed: wait until every file closed.
    await Promise.all(this.settled);
    if (this.writeError !== undefined) throw translate(this.writeError, this.maxFileBytes);
    const written = (await fs.stat(filepath)).size;
    if (written !== this.fileBytes) {
      throw new Error(`The temporary file has ${written} of ${this.fileBytes} bytes received`);
    }
  }

  /** Stops reading, closes every temporary file, then removes the directory whole. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopped = true;
    // A refused body is not read further; the response closes the connection.
    if (!this.req.complete) this.req.pause();
    await Promise.all(
      [...this.streams].map(async (stream) => {
        if (stream.closed) return;
        const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
        stream.destroy();
        await closed;
      }),
    );
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  private openTempFile(file: unknown): Writable {
    // After close() nothing may create a file: late parts write into nothing.
    if (this.closed) return new Writable({ write: (_chunk, _encoding, done) => done() });
    const { filepath } = file as { filepath: string };
    const stream = createWriteStream(filepath, { flags: 'wx', mode: 0o600 });
    stream.on('error', (err) => {
      this.writeError ??= err;
    });
    this.settled.push(new Promise((resolve) => stream.once('close', () => resolve())));
    this.streams.add(stream);
    return stream;
  }

  private onPart(part: formidable.Part): Promise<void> | undefined {
    if (this.stopped) return undefined;
    this.parts += 1;
    const name = part.name ?? '';
    if (this.parts > MAX_UPLOAD_PARTS) {
      return this.refuse(
        badRequest(
          `The upload has more than ${MAX_UPLOAD_PARTS} parts: send one file in "file" and at most the fields ${UPLOAD_FIELDS.join(' and ')}`,
        ),
      );
    }
    // A part with a filename is a file, whatever its content type says.
    if (part.originalFilename !== null) {
      if (name !== 'file') {
        return this.refuse(
          badRequest(
            `Unexpected file part ${shown(name)}: send the file in the part named "file"`,
            {
              errors: [{ path: name, message: 'is not a part this upload accepts' }],
            },
          ),
        );
      }
      if (this.fileSeen) {
        return this.refuse(
          badRequest('Send one file per request; this upload has more than one file part', {
            errors: [{ path: 'file', message: 'is sent more than once' }],
          }),
        );
      }
      this.fileSeen = true;
      // Formidable takes a part without a content type for a field.
      part.mimetype ??= 'application/octet-stream';
      part.on('data', (chunk: Buffer) => {
        this.fileBytes += chunk.length;
      });
      // Awaited by formidable before it reads on, so no data event is missed.
      return this.form._handlePart(part) as unknown as Promise<void>;
    }
    this.receiveField(name, part);
    return undefined;
  }

  private receiveField(name: string, part: formidable.Part): void {
    if (name === 'file') {
      return this.refuse(
        badRequest('The part "file" carries no file name: send the file as a file part', {
          errors: [{ path: 'file', message: 'must be a file part (with a filename)' }],
        }),
      );
    }
    if (!(UPLOAD_FIELDS as readonly string[]).includes(name)) {
      return this.refuse(
        badRequest(
          `Unexpected field ${shown(name)}: an upload accepts only the fields ${UPLOAD_FIELDS.join(' and ')}`,
          { errors: [{ path: name, message: 'is not a part this upload accepts' }] },
        ),
      );
    }
    if (this.seenFields.has(name)) {
      return this.refuse(
        badRequest(`The field "${name}" is sent more than once`, {
          errors: [{ path: name, message: 'is sent more than once' }],
        }),
      );
    }
    this.seenFields.add(name);
    const chunks: Buffer[] = [];
    let size = 0;
    part.on('data', (chunk: Buffer) => {
      if (this.stopped) return;
      size += chunk.length;
      if (size > MAX_UPLOAD_FIELD_BYTES) {
        this.refuse(
          badRequest(`The field "${name}" is longer than ${MAX_UPLOAD_FIELD_BYTES} bytes`, {
            errors: [{ path: name, message: `is longer than ${MAX_UPLOAD_FIELD_BYTES} bytes` }],
          }),
        );
        return;
      }
      chunks.push(chunk);
    });
    part.on('end', () => {
      if (!this.stopped) this.fields[name as UploadField] = Buffer.concat(chunks).toString('utf8');
    });
  }

  private refuse(error: AppError): undefined {
    if (this.stopped) return undefined;
    this.stopped = true;
    // Formidable's own failure path: parsing stops, its open file is destroyed, parse() rejects.
    (this.form as unknown as { _error(err: Error): void })._error(error);
    return undefined;
  }
}

async function makeTempDir(root: string): Promise<string> {
  try {
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
    return await fs.mkdtemp(path.join(root, 'upload-'));
  } catch (err) {
    throw isDiskFull(err) ? insufficientStorage() : err;
  }
}

/**
 * Receives one multipart upload (a file part "file", optional fields form_id
 * and field) into a temporary directory of its own, runs `use` on it, and
 * removes the directory whole afterwards — on success, on every refusal, and
 * when the client goes away. Throws UNSUPPORTED_MEDIA_TYPE (not multipart),
 * BAD_REQUEST naming what is wrong (part names, counts, lengths, empty file,
 * malformed body), PAYLOAD_TOO_LARGE naming the plan limit, and
 * INSUFFICIENT_STORAGE when the disk is full.
 */
export async function withUpload<T>(
  ctx: KoaContext,
  options: UploadOptions,
  use: (upload: ReceivedUpload) => Promise<T>,
): Promise<T> {
  if (!ctx.is('multipart/form-data'))
    throw unsupportedMediaType('Upload the file as multipart/form-data');
  const dir = await makeTempDir(options.tempRoot);
  const reception = new UploadReception(ctx.req, dir, options.maxFileBytes);
  try {
    return await use(await reception.receive());
  } finally {
    // The rest of a refused body is never read: the connection ends with the response.
    if (!ctx.req.complete) ctx.set('Connection', 'close');
    // A failed removal must not replace the request's own outcome; it is logged instead.
    await reception.close().catch((err: unknown) => {
      ctx.state.logger?.error({ err, dir }, 'could not remove an upload directory');
    });
  }
}
