import { BaseModel } from '../db/base-model.js';

export class WorkerHeartbeat extends BaseModel {
  static override tableName = 'worker_heartbeats';
  static override idColumn = 'worker_id';

  worker_id!: string;
  hostname!: string;
  pid!: number;
  backend!: string;
  started_at!: Date;
  beat_at!: Date;
  smtp_status!: string | null;
  smtp_error!: string | null;
}
