import type { InfieldJob } from '../src/worker/job-types.js';
import { cleanupJob } from './cleanup.js';
import { deliverEmailsJob } from './emails-deliver.js';
import { approvalRemindersJob } from './approvals-remind.js';
import { assignmentRemindersJob } from './assignments-remind.js';
import { tenantReportsJob } from './reports-send.js';
import { runExportsJob } from './run-exports.js';
import { deliverWebhooksJob } from './webhooks-deliver.js';

/** Every job the worker runs, by name. */
export const JOBS = {
  [cleanupJob.name]: cleanupJob,
  [deliverEmailsJob.name]: deliverEmailsJob,
  [approvalRemindersJob.name]: approvalRemindersJob,
  [assignmentRemindersJob.name]: assignmentRemindersJob,
  [tenantReportsJob.name]: tenantReportsJob,
  [runExportsJob.name]: runExportsJob,
  [deliverWebhooksJob.name]: deliverWebhooksJob,
} as const satisfies Record<string, InfieldJob<never>>;

export const ALL_JOBS: readonly InfieldJob[] = Object.values(JOBS) as InfieldJob[];
