/**
 * The platform's permission catalogue: one `resource.action` code per kind of
 * act an endpoint or command performs. Default roles are built from it.
 */
export const PERMISSIONS = {
  'tenants.read': 'See the tenant profile',
  'tenants.update': 'Change the tenant name and contact details',
  'users.read': 'List and view users',
  'users.create': 'Create and invite users',
  'users.update': 'Change users, disable them',
  'users.delete': 'Delete users',
  'roles.read': 'List roles and the permission catalogue',
  'roles.create': 'Create roles',
  'roles.update': 'Change roles and their permissions',
  'roles.delete': 'Delete roles',
  'roles.assign': "Replace a user's roles",
  'forms.read': 'List and view forms',
  'forms.create': 'Create and import forms',
  'forms.update': 'Edit forms and their approval policy, manage public links',
  'forms.delete': 'Delete or archive forms',
  'forms.publish': 'Publish form versions',
  'forms.assign': 'Assign forms to users',
  'submissions.create': 'Fill in and submit forms',
  'submissions.read': "Read every submission, not only one's own",
  'submissions.export': 'Export submissions as CSV',
  'approvals.read': 'List approvals',
  'approvals.decide': 'Approve, reject or request changes',
  'approvals.bulk': 'Decide many approvals at once',
  'files.create': 'Upload files',
  'files.read': 'Download files',
  'audit.read': 'Query the audit log',
  'exports.create': 'Start background exports',
  'exports.read': 'See background exports and download them',
  'api_keys.read': 'List and view API keys',
  'api_keys.manage': 'Create and revoke API keys',
  'webhooks.read': 'List webhook endpoints and their deliveries',
  'webhooks.manage': 'Add, change, remove and test webhook endpoints, redeliver',
} as const satisfies Record<string, string>;

export type PermissionCode = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as PermissionCode[];

export const isPermissionCode = (code: string): code is PermissionCode =>
  Object.prototype.hasOwnProperty.call(PERMISSIONS, code);

export interface DefaultRole {
  name: string;
  description: string;
  permissions: readonly PermissionCode[];
}

export const DEFAULT_ROLES: readonly DefaultRole[] = [
  { name: 'admin', description: 'Everything in the tenant', permissions: ALL_PERMISSIONS },
  {
    name: 'manager',
    description: 'Runs forms and approvals, manages users but not roles',
    permissions: [
      'tenants.read',
      'users.read',
      'users.create',
      'users.update',
      'roles.read',
      'roles.assign',
      'forms.read',
      'forms.create',
      'forms.update',
      'forms.delete',
      'forms.publish',
      'forms.assign',
      'submissions.create',
      'submissions.read',
      'submissions.export',
      'approvals.read',
      'approvals.decide',
      'approvals.bulk',
      'files.create',
      'files.read',
      'audit.read',
      'exports.create',
      'exports.read',
    ],
  },
  {
    name: 'approver',
    description: 'Reviews and decides submissions',
    permissions: [
      'tenants.read',
      'forms.read',
      'submissions.create',
      'submissions.read',
      'approvals.read',
      'approvals.decide',
      'files.create',
      'files.read',
    ],
  },
  {
    name: 'submitter',
    description: 'Fills in forms and sees their own submissions',
    permissions: ['tenants.read', 'forms.read', 'submissions.create', 'files.create', 'files.read'],
  },
  {
    name: 'viewer',
    description: 'Reads forms, submissions and approvals',
    permissions: ['tenants.read', 'forms.read', 'submissions.read', 'approvals.read', 'files.read'],
  },
];
