import { randomBytes } from 'node:crypto';
import type * as Argon2 from 'argon2';
import { validationFailed } from '../errors.js';
import { lazyImport } from '../lazy-import.js';

// A native module: loaded on the first hash or check, so commands that never see a password
// (most of the CLI) start without it.
const loadArgon2 = async () => (await lazyImport<typeof Argon2>('argon2')).default;

// OWASP: argon2id, m=19 MiB, t=2, p=1 (ASVS 6.3.x). argon2id is type 2.
const ARGON2_OPTIONS = { type: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** Length rules only, checked on the password exactly as given (no trimming). */
export function assertPasswordAcceptable(password: string, path = 'password'): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    throw validationFailed('The password is not acceptable', [
      { path, message: `must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters` },
    ]);
  }
}

export const hashPassword = async (password: string): Promise<string> =>
  (await loadArgon2()).hash(password, ARGON2_OPTIONS);

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  const argon2 = await loadArgon2();
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** 144 random bits, URL-safe: printed once to the operator. */
export const generatePassword = (): string => randomBytes(18).toString('base64url');
