import { ALL_JOBS } from '../../jobs/index.js';
import { InfieldCommand } from '../../src/cli/base-command.js';
import { renderTable } from '../../src/cli/table.js';
import { JobsAdmin, type JobStatus } from '../../src/worker/jobs-admin.js';

export default class JobsList extends InfieldCommand<typeof JobsList> {
  static override summary = 'List the jobs: schedule, next and last run, last result, failures';
  static override examples = ['<%= config.bin %> jobs:list', '<%= config.bin %> jobs:list --json'];

  async run(): Promise<JobStatus[]> {
    const jobs = await new JobsAdmin(
      this.settings,
      await this.database(),
      this.logger,
      ALL_JOBS,
    ).list();
    this.log(
      renderTable(
        ['job', 'schedule', 'next run', 'last run', 'last result', 'failures'],
        jobs.map((j) => [
          j.name,
          j.schedule ?? 'on demand',
          j.next_run_at ?? '',
          j.last_run_at ?? '',
          j.last_result,
          j.failures,
        ]),
      ),
    );
    return jobs;
  }
}
