import { Model, QueryBuilder, type Page, type QueryContext } from 'objection';
import { tenantScopeRequired, type AppError } from '../errors.js';
import { scopeOf, type TenantScope } from './scope.js';

/** Global tables (tenants, permissions, ...): queried in any scope, RLS still applies. */
export class BaseModel extends Model {
  static override get useLimitInFirst(): boolean {
    return true;
  }
}

const missingTenant = (table: string): AppError =>
  tenantScopeRequired(`${table} is tenant-scoped and was queried without a tenant context`);

function requireTenantScope(knex: unknown, table: string): TenantScope {
  const scope = scopeOf(knex);
  if (scope?.kind !== 'tenant') throw missingTenant(table);
  return scope;
}

/**
 * The one place the tenant filter lives: every query built for a tenant model
 * is filtered to the transaction's tenant, and every insert is stamped with it.
 * Queries on the bare pool or in a system transaction throw before reaching SQL.
 */
export class TenantQueryBuilder<M extends Model, R = M[]> extends QueryBuilder<M, R> {
  declare ArrayQueryBuilderType: TenantQueryBuilder<M, M[]>;
  declare SingleQueryBuilderType: TenantQueryBuilder<M, M>;
  declare MaybeSingleQueryBuilderType: TenantQueryBuilder<M, M | undefined>;
  declare NumberQueryBuilderType: TenantQueryBuilder<M, number>;
  declare PageQueryBuilderType: TenantQueryBuilder<M, Page<M>>;

  constructor(modelClass?: typeof Model) {
    // @ts-expect-error objection's typings omit the QueryBuilder constructor it calls with the model class
    super(modelClass);
    this.onBuild((builder) => {
      const modelClass = builder.modelClass();
      const scope = requireTenantScope(builder.knex(), modelClass.tableName);
      if (!builder.isInsert()) {
        builder.where(`${builder.tableRefFor(modelClass)}.tenant_id`, scope.tenantId);
      }
    });
  }
}

export class TenantModel extends BaseModel {
  declare QueryBuilderType: TenantQueryBuilder<this>;
  static override QueryBuilder = TenantQueryBuilder;

  tenant_id!: string;

  override $beforeInsert(queryContext: QueryContext): void {
    const table = (this.constructor as typeof TenantModel).tableName;
    this.tenant_id = requireTenantScope(queryContext.transaction, table).tenantId;
  }
}
