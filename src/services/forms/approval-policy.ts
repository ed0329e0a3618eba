import { Type, type Static } from '@sinclair/typebox';
import type { TxHandle } from '../../db/transaction.js';
import { validationFailed, type FieldError } from '../../errors.js';
import { Role } from '../../models/role.js';
import { User } from '../../models/user.js';
import { isUuid, validate } from '../../validation.js';

const Approvers = Type.Object(
  {
    users: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 254 }), { maxItems: 50 }),
    ),
    roles: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 20 }),
    ),
  },
  { additionalProperties: false },
);

export const ApprovalPolicyInput = Type.Object(
  {
    steps: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 100 }),
          approvers: Approvers,
          rule: Type.Union([Type.Literal('any'), Type.Literal('all')], { default: 'any' }),
          due_in_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 365 })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 20 },
    ),
  },
  { additionalProperties: false },
);

/** A policy as stored: approvers resolved to ids (names kept for display). */
export interface ApprovalPolicy {
  steps: {
    name: string;
    rule: 'any' | 'all';
    due_in_hours: number | null;
    approvers: { users: { id: string; email: string }[]; roles: { id: string; name: string }[] };
  }[];
}

/**
 * Validates a policy and resolves its approvers in the tenant: users by id or
 * email, roles by name or id. Throws VALIDATION_FAILED naming each unknown one.
 */
export async function resolveApprovalPolicy(
  tx: TxHandle,
  raw: unknown,
  prefix = '/approval_policy',
): Promise<ApprovalPolicy> {
  const input: Static<typeof ApprovalPolicyInput> = validate(
    ApprovalPolicyInput,
    raw,
    'Approval policy',
  );
  const userRefs = input.steps.flatMap((s) => s.approvers.users ?? []);
  const roleRefs = input.steps.flatMap((s) => s.approvers.roles ?? []);
  const users =
    userRefs.length === 0
      ? []
      : await User.query(tx.trx).where((q) => {
          q.whereIn(
            'id',
            userRefs.filter((r) => isUuid(r)),
          ).orWhereRaw('lower(email) = any(?)', [userRefs.map((r) => r.toLowerCase())]);
        });
  const roles =
    roleRefs.length === 0
      ? []
      : await Role.query(tx.trx).where((q) => {
          q.whereIn(
            'id',
            roleRefs.filter((r) => isUuid(r)),
          ).orWhereRaw('lower(name) = any(?)', [roleRefs.map((r) => r.toLowerCase())]);
        });
  const findUser = (ref: string) =>
    users.find((u) => u.id === ref || u.email.toLowerCase() === ref.toLowerCase());
  const findRole = (ref: string) =>
    roles.find((r) => r.id === ref || r.name.toLowerCase() === ref.toLowerCase());
  const errors: FieldError[] = [];
  const steps = input.steps.map((step, i) => {
    const stepUsers = (step.approvers.users ?? []).map((ref, j) => {
      const user = findUser(ref);
      if (user === undefined)
        errors.push({
          path: `${prefix}/steps/${i}/approvers/users/${j}`,
          message: `unknown user ${ref}`,
        });
      return user === undefined ? undefined : { id: user.id, email: user.email };
    });
    const stepRoles = (step.approvers.roles ?? []).map((ref, j) => {
      const role = findRole(ref);
      if (role === undefined)
        errors.push({
          path: `${prefix}/steps/${i}/approvers/roles/${j}`,
          message: `unknown role ${ref}`,
        });
      return role === undefined ? undefined : { id: role.id, name: role.name };
    });
    if (stepUsers.length + stepRoles.length === 0) {
      errors.push({ path: `${prefix}/steps/${i}/approvers`, message: 'names no approver' });
    }
    return {
      name: step.name,
      rule: step.rule as 'any' | 'all',
      due_in_hours: step.due_in_hours ?? null,
      approvers: {
        users: stepUsers.filter((u): u is { id: string; email: string } => u !== undefined),
        roles: stepRoles.filter((r): r is { id: string; name: string } => r !== undefined),
      },
    };
  });
  if (errors.length > 0)
    throw validationFailed('The approval policy names unknown approvers', errors);
  return { steps };
}
