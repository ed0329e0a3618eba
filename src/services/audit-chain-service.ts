import type { ServiceContext } from '../context.js';
import { tenantSql } from '../db/scoped-sql.js';
import { withTransaction } from '../db/transaction.js';
import { assertPermission } from './authorization.js';

/** Why a link fails, in the order the checks apply to one row. */
export type AuditChainFault =
  | 'missing' // seq gap: rows before this one were deleted
  | 'link' // prev_hash is not the previous row's hash: that row was replaced or rehashed
  | 'content' // the row's hash does not match its content
  | 'head'; // the last row disagrees with the tenant's chain head

export interface AuditChainBreak {
  /** Chain position of the first broken link (for rows missing at the end: the first missing one). */
  seq: number;
  /** The row at that position; null when the row is missing. */
  id: string | null;
  fault: AuditChainFault;
  reason: string;
}

export interface AuditChainReport {
  /** Audit rows of the tenant that were checked. */
  rows: number;
  intact: boolean;
  /** The chain head recorded by the insert trigger (hash in hex); null before the first row. */
  head: { seq: number; hash: string | null } | null;
  broken: AuditChainBreak | null;
}

interface ChainFacts {
  rows: number;
  head_seq: string | null;
  head_hash: string | null;
  first_fault: { seq: number; id: string; prev_seq: number; fault: AuditChainFault } | null;
  last_row: { seq: number; id: string; hash: string } | null;
  after_head: { seq: number; id: string } | null;
}

// One statement, so one snapshot: the rows and the head are read consistently
// while writers append. The hash is recomputed by the same SQL function the
// insert trigger uses, so verification and writing cannot drift apart.
const VERIFY_SQL = `
with chain as (
  select a.seq, a.id, a.hash,
         coalesce(lag(a.seq) over w, 0) as prev_seq,
         case
           when a.seq <> coalesce(lag(a.seq) over w, 0) + 1 then 'missing'
           when a.prev_hash is distinct from lag(a.hash) over w then 'link'
           when a.hash is distinct from infield_audit_row_hash(a) then 'content'
         end as fault
  from audit_logs a
  window w as (order by a.seq)
), head as (
  select h.seq, h.hash from infield_audit_chain_head() h
)
select
  (select count(*) from chain)::int as rows,
  (select seq::text from head) as head_seq,
  (select encode(hash, 'hex') from head) as head_hash,
  (select json_build_object('seq', seq, 'id', id, 'prev_seq', prev_seq, 'fault', fault)
     from chain where fault is not null order by seq limit 1) as first_fault,
  (select json_build_object('seq', seq, 'id', id, 'hash', encode(hash, 'hex'))
     from chain order by seq desc limit 1) as last_row,
  (select json_build_object('seq', c.seq, 'id', c.id)
     from chain c, head where c.seq > head.seq order by c.seq limit 1) as after_head`;

const range = (from: number, to: number): string =>
  from === to ? `row #${from} is` : `rows #${from}-#${to} are`;

/** The first broken link in seq order: a faulty row, else a disagreement with the head. */
function firstBreak(facts: ChainFacts): AuditChainBreak | null {
  const bad = facts.first_fault;
  if (bad !== null) {
    const reason =
      bad.fault === 'missing'
        ? `${range(bad.prev_seq + 1, bad.seq - 1)} missing before this one`
        : bad.fault === 'link'
          ? `previous hash does not match row #${bad.prev_seq} (that row was replaced or rehashed)`
          : 'content changed (hash mismatch)';
    return { seq: bad.seq, id: bad.id, fault: bad.fault, reason };
  }
  const last = facts.last_row;
  const headSeq = facts.head_seq === null ? 0 : Number(facts.head_seq);
  const lastSeq = last?.seq ?? 0;
  if (facts.head_seq === null && last !== null) {
    return { seq: last.seq, id: last.id, fault: 'head', reason: 'the chain head is missing' };
  }
  if (facts.after_head !== null) {
    return {
      ...facts.after_head,
      fault: 'head',
      reason: `row added after the chain head (#${headSeq}) without going through the chain`,
    };
  }
  if (lastSeq < headSeq) {
    return {
      seq: lastSeq + 1,
      id: null,
      fault: 'head',
      reason: `${range(lastSeq + 1, headSeq)} missing at the end (the chain head is at #${headSeq})`,
    };
  }
  if (last !== null && last.hash !== facts.head_hash) {
    return {
      seq: last.seq,
      id: last.id,
      fault: 'head',
      reason: 'the last row does not match the chain head',
    };
  }
  return null;
}

/**
 * A tenant's tamper-evident audit chain. The chain itself is written by the
 * database (an insert trigger); this service only checks it.
 */
export class AuditChainService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Recomputes the tenant's chain in one statement and reports the first broken
   * link: a row missing before another (seq gap), a row whose prev_hash is not
   * its predecessor's hash, a row whose content no longer matches its hash, or
   * a last row that disagrees with the recorded head (rows deleted at the end
   * or added outside the trigger). Returns a report; a broken chain is not an
   * error here. Needs a tenant scope (TENANT_SCOPE_REQUIRED otherwise) and
   * audit.read (FORBIDDEN).
   */
  async verify(): Promise<AuditChainReport> {
    assertPermission(this.ctx, 'audit.read');
    return withTransaction(this.ctx.db, async (tx) => {
      const [facts] = await tenantSql<ChainFacts>(tx, VERIFY_SQL);
      if (facts === undefined) throw new Error('verification query returned no row');
      const broken = firstBreak(facts);
      return {
        rows: facts.rows,
        intact: broken === null,
        head:
          facts.head_seq === null ? null : { seq: Number(facts.head_seq), hash: facts.head_hash },
        broken,
      };
    });
  }
}
