/** Every tenant-scoped table; the catalogue test fails if the schema disagrees. */
export const TENANT_TABLES = [
  'api_keys',
  'approvals',
  'audit_logs',
  'email_outbox',
  'exports',
  'file_attachments',
  'form_assignments',
  'form_fields',
  'form_versions',
  'forms',
  'idempotency_keys',
  'refresh_tokens',
  'role_permissions',
  'roles',
  'sso_logins',
  'submission_responses',
  'submissions',
  'tenant_sso',
  'user_roles',
  'users',
  'webhook_attempts',
  'webhook_deliveries',
  'webhook_endpoints',
] as const;

/**
 * Tables that carry tenant_id but are no tenant tables of the application: the
 * app roles have no privilege on them, so they need no RLS policy. Each is
 * written only by a SECURITY DEFINER trigger owned by its own narrow role.
 */
export const INTERNAL_TENANT_KEYED_TABLES = [
  // Each tenant's audit hash chain head, kept by the audit_logs insert trigger.
  'audit_chain_heads',
] as const;

/** Indexes deliberately not led by tenant_id: lookups made before the tenant is known. */
export const GLOBAL_LOOKUP_INDEXES = [
  'users_email_key',
  'users_invite_token_key',
  'forms_public_token_key',
  'refresh_tokens_hash_key',
  'api_keys_hash_key',
];
