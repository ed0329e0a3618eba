import { expect } from 'chai';
import type { Knex } from 'knex';
import { APP_ROLE, SYSTEM_ROLE } from '../../src/db/scope.js';
import {
  GLOBAL_LOOKUP_INDEXES,
  INTERNAL_TENANT_KEYED_TABLES,
  TENANT_TABLES,
} from '../helpers/tenant-tables.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-cluster.js';

interface ForeignKey {
  table: string;
  name: string;
  columns: string[];
  ref_table: string;
  ref_columns: string[];
}

describe('schema catalogue: every tenant table is closed', () => {
  let db: TestDatabase;
  let knex: Knex;

  before(async () => {
    db = await createTestDatabase();
    knex = db.database.knex;
  });
  after(() => db.drop());

  const rows = async <T>(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<T[]> =>
    ((await knex.raw(sql, bindings)) as { rows: T[] }).rows;

  it('knows exactly the tables that carry tenant_id', async () => {
    const tables = await rows<{ table_name: string }>(
      `select table_name from information_schema.columns
       where table_schema = 'public' and column_name = 'tenant_id' order by table_name`,
    );
    expect(tables.map((t) => t.table_name)).to.deep.equal(
      [...TENANT_TABLES, ...INTERNAL_TENANT_KEYED_TABLES].sort(),
    );
  });

  it('grants the app roles nothing on internal tenant-keyed tables', async () => {
    for (const table of INTERNAL_TENANT_KEYED_TABLES) {
      for (const role of [APP_ROLE, SYSTEM_ROLE, 'infield_lookup']) {
        const [grants] = await rows<{ any: boolean }>(
          `select has_table_privilege(?, ?, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') as any`,
          [role, table],
        );
        expect(grants?.any, `${role} on ${table}`).to.equal(false);
      }
    }
  });

  it('enables and forces row-level security with a tenant policy on each', async () => {
    const tables = await rows<{ relname: string; enabled: boolean; forced: boolean }>(
      `select relname, relrowsecurity as enabled, relforcerowsecurity as forced
       from pg_class where relnamespace = 'public'::regnamespace and relname = any(?)`,
      [[...TENANT_TABLES, 'tenants']],
    );
    expect(tables).to.have.length(TENANT_TABLES.length + 1);
    for (const t of tables) {
      expect(t.enabled, `${t.relname} RLS enabled`).to.equal(true);
      expect(t.forced, `${t.relname} RLS forced`).to.equal(true);
    }
    const policies = await rows<{
      tablename: string;
      policyname: string;
      qual: string;
      with_check: string;
    }>(
      `select tablename, policyname, qual, with_check from pg_policies where schemaname = 'public'`,
    );
    // Besides the tenant policy, only the lookup role's read policies exist (see the lookups
    // migration).
    const others = policies.filter(
      (p) => p.policyname !== 'tenant_isolation' && p.tablename !== 'tenants',
    );
    expect([...new Set(others.map((p) => `${p.tablename}:${p.policyname}`))].sort()).to.deep.equal([
      'api_keys:lookup_read',
      'email_outbox:lookup_read',
      'exports:lookup_read',
      'forms:lookup_read',
      'refresh_tokens:lookup_read',
      'users:lookup_read',
      'webhook_deliveries:lookup_read',
    ]);
    for (const table of TENANT_TABLES) {
      const policy = policies.find(
        (p) => p.tablename === table && p.policyname === 'tenant_isolation',
      );
      expect(policy, `${table} has a policy`).to.not.equal(undefined);
      expect(policy!.qual).to.contain("current_setting('app.tenant_id'::text, true)");
      expect(policy!.qual).to.contain('tenant_id');
      expect(policy!.with_check).to.contain("current_setting('app.tenant_id'::text, true)");
    }
  });

  it('keys each tenant table by (tenant_id, id)', async () => {
    const keys = await rows<{ table: string; columns: string[] }>(
      `select c.conrelid::regclass::text as table,
              array_agg(a.attname order by k.ord)::text[] as columns
       from pg_constraint c
       cross join lateral unnest(c.conkey) with ordinality as k(attnum, ord)
       join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
       where c.contype = 'p' and c.connamespace = 'public'::regnamespace
       group by c.conrelid`,
    );
    for (const table of TENANT_TABLES) {
      const key = keys.find((k) => k.table === table);
      expect(key?.columns, `${table} primary key`).to.deep.equal(['tenant_id', 'id']);
    }
  });

  describe('foreign keys and indexes', () => {
    let foreignKeys: ForeignKey[];
    let indexes: { table: string; name: string; columns: string[] }[];

    before(async () => {
      foreignKeys = await rows<ForeignKey>(
        `select c.conrelid::regclass::text as table, c.conname as name,
                (select array_agg(a.attname order by k.ord)::text[]
                   from unnest(c.conkey) with ordinality k(attnum, ord)
                   join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as columns,
                c.confrelid::regclass::text as ref_table,
                (select array_agg(a.attname order by k.ord)::text[]
                   from unnest(c.confkey) with ordinality k(attnum, ord)
                   join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum) as ref_columns
         from pg_constraint c
         where c.contype = 'f' and c.connamespace = 'public'::regnamespace`,
      );
      indexes = await rows(
        `select t.relname as table, i.relname as name,
                (select array_agg(a.attname order by k.ord)::text[]
                   from unnest(x.indkey::int2[]) with ordinality k(attnum, ord)
                   left join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum) as columns
         from pg_index x
         join pg_class i on i.oid = x.indexrelid
         join pg_class t on t.oid = x.indrelid
         where t.relnamespace = 'public'::regnamespace`,
      );
      expect(foreignKeys.length).to.be.greaterThan(20);
    });

    it('includes tenant_id first in every foreign key between tenant tables', () => {
      const tenantTables = new Set<string>(TENANT_TABLES);
      const between = foreignKeys.filter(
        (fk) => tenantTables.has(fk.table) && tenantTables.has(fk.ref_table),
      );
      expect(between.length).to.be.greaterThan(15);
      for (const fk of between) {
        expect(fk.columns[0], `${fk.name} on ${fk.table}`).to.equal('tenant_id');
        expect(fk.ref_columns[0], `${fk.name} references`).to.equal('tenant_id');
      }
    });

    it('backs every foreign key of a tenant table with an index led by tenant_id', () => {
      const tenantTables = new Set<string>(TENANT_TABLES);
      for (const fk of foreignKeys.filter((f) => tenantTables.has(f.table))) {
        // Leading columns must be exactly tenant_id plus the key's columns, in any order.
        const needed = new Set(['tenant_id', ...fk.columns]);
        const covering = indexes.find(
          (ix) =>
            ix.table === fk.table &&
            ix.columns[0] === 'tenant_id' &&
            ix.columns.slice(0, needed.size).every((c) => needed.has(c)) &&
            ix.columns.length >= needed.size,
        );
        expect(
          covering,
          `index for ${fk.name} (${fk.columns.join(', ')}) on ${fk.table}`,
        ).to.not.equal(undefined);
      }
    });

    it('leads every tenant-table index with tenant_id, but for the named global lookups', () => {
      const tenantTables = new Set<string>(TENANT_TABLES);
      for (const ix of indexes.filter((i) => tenantTables.has(i.table))) {
        if (GLOBAL_LOOKUP_INDEXES.includes(ix.name)) continue;
        expect(ix.columns[0], `${ix.name} on ${ix.table}`).to.equal('tenant_id');
      }
    });
  });

  it('runs tenant work as roles that are not superuser, not BYPASSRLS and own nothing', async () => {
    const roles = await rows<{
      rolname: string;
      rolsuper: boolean;
      rolbypassrls: boolean;
      owned: number;
    }>(
      `select r.rolname, r.rolsuper, r.rolbypassrls,
              (select count(*) from pg_class c where c.relowner = r.oid)::int as owned
       from pg_roles r where r.rolname = any(?)`,
      [[APP_ROLE, SYSTEM_ROLE, 'infield_lookup', 'infield_audit_chain']],
    );
    expect(roles).to.have.length(4);
    for (const role of roles) {
      expect(role, role.rolname).to.include({ rolsuper: false, rolbypassrls: false, owned: 0 });
    }
  });

  it('grants the application role no UPDATE, DELETE or TRUNCATE on audit_logs', async () => {
    const [grants] = await rows<{ u: boolean; d: boolean; t: boolean; i: boolean }>(
      `select has_table_privilege(?, 'audit_logs', 'UPDATE') as u,
              has_table_privilege(?, 'audit_logs', 'DELETE') as d,
              has_table_privilege(?, 'audit_logs', 'TRUNCATE') as t,
              has_table_privilege(?, 'audit_logs', 'INSERT') as i`,
      [APP_ROLE, APP_ROLE, APP_ROLE, APP_ROLE],
    );
    expect(grants).to.deep.equal({ u: false, d: false, t: false, i: true });
  });
});
