import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { validationFailed } from '../errors.js';

// OWASP: argon2id, m=19 MiB, t=2, p=1 (ASVS 6.3.x).
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };

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

export const hashPassword = (password: string): Promise<string> =>
  argon2.hash(password, ARGON2_OPTIONS);

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** 144 random bits, URL-safe: printed once to the operator. */
export const generatePassword = (): string => randomBytes(18).toString('base64url');
