import { expect } from 'chai';
import { mapSchema } from '../../src/services/forms/json-schema/map-schema.js';
import {
  compileSubmissionValidator,
  ValidatorCache,
  type SubmissionValidator,
} from '../../src/services/forms/submission-validator.js';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';

const form = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  ...extra,
});

/** Validators are built from schemas the mapper accepted, as in production. */
function validatorFor(schema: Record<string, unknown>): SubmissionValidator {
  const { draft } = mapSchema(schema);
  return compileSubmissionValidator(schema, draft);
}

describe('submission validator: answers', () => {
  const validate = validatorFor(
    form(
      {
        name: { type: 'string', minLength: 1 },
        age: { type: 'integer', minimum: 0 },
        email: { type: 'string', format: 'email' },
        level: {
          oneOf: [
            { const: 'lo', title: 'Low' },
            { const: 'hi', title: 'High' },
          ],
        },
        tags: { type: 'array', uniqueItems: true, items: { enum: ['a', 'b'] } },
        'a/b': { type: 'string', 'x-infield-widget': 'textarea' },
      },
      { required: ['name', 'age', 'a/b'], additionalProperties: false },
    ),
  );

  it('accepts a valid submission', () => {
    expect(
      validate({ name: 'Ann', age: 3, email: 'a@b.test', level: 'hi', tags: ['a'], 'a/b': 'x' }),
    ).to.deep.equal([]);
  });

  it('points at each missing required answer, escaping the key', () => {
    expect(validate({})).to.deep.equal([
      { path: '/name', message: 'is required' },
      { path: '/age', message: 'is required' },
      { path: '/a~1b', message: 'is required' },
    ]);
  });

  it('points at wrong types, formats and unknown answers', () => {
    expect(
      validate({ name: 'Ann', age: 'three', email: 'nope', 'a/b': 'x', extra: 1 }),
    ).to.deep.equal([
      { path: '/extra', message: 'is not a field of this form' },
      { path: '/age', message: 'must be integer' },
      { path: '/email', message: 'must match format "email"' },
    ]);
  });

  it('reports a wrong choice once, without the failed alternatives', () => {
    expect(
      validate({ name: 'Ann', age: 1, 'a/b': 'x', level: 'mid', tags: ['c', 'a', 'a'] }),
    ).to.deep.equal([
      { path: '/level', message: 'must be one of the allowed choices' },
      { path: '/tags/0', message: 'must be equal to one of the allowed values' },
      { path: '/tags', message: 'must NOT have duplicate items (items ## 1 and 2 are identical)' },
    ]);
  });

  it('reports the whole document at "/"', () => {
    expect(validate('not an object')).to.deep.equal([{ path: '/', message: 'must be object' }]);
  });
});

describe('submission validator: steps', () => {
  const validate = validatorFor(
    form(
      {
        site: form(
          { address: { type: 'string' }, inspection_date: { type: 'string', format: 'date' } },
          { required: ['inspection_date'] },
        ),
      },
      { required: ['site'] },
    ),
  );

  it('points at nested step answers', () => {
    expect(validate({ site: { address: 'x' } })).to.deep.equal([
      { path: '/site/inspection_date', message: 'is required' },
    ]);
    expect(validate({ site: { inspection_date: '31/12/2024' } })).to.deep.equal([
      { path: '/site/inspection_date', message: 'must match format "date"' },
    ]);
    expect(validate({})).to.deep.equal([{ path: '/site', message: 'is required' }]);
  });
});

describe('submission validator: conditions', () => {
  for (const $schema of [undefined, DRAFT_07, DRAFT_2020]) {
    describe(`in ${$schema ?? 'a schema without $schema (draft-07)'}`, () => {
      const validate = validatorFor({
        ...($schema === undefined ? {} : { $schema }),
        ...form(
          {
            kind: { enum: ['home', 'work'] },
            card: { type: 'string' },
            billing: { type: 'string' },
          },
          {
            required: ['kind'],
            allOf: [
              {
                if: { properties: { kind: { const: 'work' } }, required: ['kind'] },
                then: { properties: { company: { type: 'string' } }, required: ['company'] },
              },
            ],
            dependencies: { card: ['billing'] },
          },
        ),
      });

      it('requires a conditional answer when its condition holds', () => {
        expect(validate({ kind: 'work' })).to.deep.equal([
          { path: '/company', message: 'is required' },
        ]);
      });

      it('does not require it otherwise', () => {
        expect(validate({ kind: 'home' })).to.deep.equal([]);
      });

      it('checks a conditional answer without the if/then wrapper error', () => {
        expect(validate({ kind: 'work', company: 7 })).to.deep.equal([
          { path: '/company', message: 'must be string' },
        ]);
      });

      it('requires a dependent answer whenever its trigger is present, as Ajv does', () => {
        const missing = [{ path: '/billing', message: 'is required when "card" is present' }];
        expect(validate({ kind: 'home', card: '4111' })).to.deep.equal(missing);
        expect(validate({ kind: 'home', card: '' })).to.deep.equal(missing);
        expect(validate({ kind: 'home', card: '4111', billing: 'x' })).to.deep.equal([]);
        // The dependent answer alone is fine: "billing requires card" is not what it says.
        expect(validate({ kind: 'home', billing: 'x' })).to.deep.equal([]);
      });
    });
  }

  it('reads dependentRequired only where the draft defines it', () => {
    const schema = form(
      { card: { type: 'string' }, billing: { type: 'string' } },
      { dependentRequired: { card: ['billing'] } },
    );
    expect(validatorFor({ $schema: DRAFT_07, ...schema })({ card: 'x' })).to.deep.equal([]);
    expect(validatorFor({ $schema: DRAFT_2020, ...schema })({ card: 'x' })).to.deep.equal([
      { path: '/billing', message: 'is required when "card" is present' },
    ]);
  });

  it('shows the errors of the closest alternative of a oneOf of sub-forms', () => {
    const validate = validatorFor(
      form({
        payment: {
          oneOf: [
            form({ number: { type: 'string', minLength: 12 } }, { required: ['number'] }),
            form({ iban: { type: 'string' } }, { required: ['iban', 'bic'] }),
          ],
        },
      }),
    );
    expect(validate({ payment: { number: '1' } })).to.deep.equal([
      { path: '/payment/number', message: 'must NOT have fewer than 12 characters' },
      { path: '/payment', message: 'must be one of the allowed choices' },
    ]);
  });
});

describe('submission validator: untrusted schemas', () => {
  it('runs patterns in linear time: ^(a+)+$ on 50,000 characters returns', () => {
    const validate = validatorFor(form({ code: { type: 'string', pattern: '^(a+)+$' } }));
    expect(validate({ code: `${'a'.repeat(50_000)}!` })).to.deep.equal([
      { path: '/code', message: 'must match pattern "^(a+)+$"' },
    ]);
    expect(validate({ code: 'a'.repeat(50_000) })).to.deep.equal([]);
  });

  it('keeps patterns apart and matches anywhere in the text, as JSON Schema does', () => {
    const validate = validatorFor(
      form({
        a: { type: 'string', pattern: '[0-9]' },
        b: { type: 'string', pattern: '^x\\u00e9$' },
      }),
    );
    expect(validate({ a: 'ab1c', b: 'xé' })).to.deep.equal([]);
    expect(validate({ a: 'abc', b: 'xe' })).to.deep.equal([
      { path: '/a', message: 'must match pattern "[0-9]"' },
      { path: '/b', message: 'must match pattern "^x\\u00e9$"' },
    ]);
  });

  it('allows vendor keywords and compiles schemas with the same $id apart', () => {
    const schema = {
      $id: 'https://forms.example.test/f.json',
      ...form({ a: { type: 'string', 'x-infield-help': 'hi' } }),
    };
    const first = compileSubmissionValidator(schema, '2020-12');
    const second = compileSubmissionValidator({ ...schema, required: ['a'] }, '2020-12');
    expect(first({})).to.deep.equal([]);
    expect(second({})).to.deep.equal([{ path: '/a', message: 'is required' }]);
  });

  it('compiles with the draft given, whatever spelling $schema uses', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft-07/schema#',
      ...form({ a: { type: 'string' }, b: { type: 'string' } }, { dependencies: { a: ['b'] } }),
    };
    expect(validatorFor(schema)({ a: 'x' })).to.deep.equal([
      { path: '/b', message: 'is required when "a" is present' },
    ]);
  });

  it('never fetches a remote $ref: compilation fails', () => {
    const schema = form({ a: { $ref: 'https://evil.example.test/s.json' } });
    expect(() => compileSubmissionValidator(schema, '2020-12')).to.throw(/can't resolve reference/);
  });
});

describe('ValidatorCache', () => {
  const schemaA = form({ a: { type: 'string' } }, { required: ['a'] });
  const schemaB = form({ b: { type: 'string' } }, { required: ['b'] });

  it('compiles once per version id', () => {
    const cache = new ValidatorCache();
    const first = cache.get('v1', schemaA, '2020-12');
    expect(cache.get('v1', schemaA, '2020-12')).to.equal(first);
    expect(cache.get('v2', schemaB, 'draft-07')).not.to.equal(first);
    expect(cache.size).to.equal(2);
    expect(first({})).to.deep.equal([{ path: '/a', message: 'is required' }]);
  });

  it('drops the least recently used version beyond its bound', () => {
    const cache = new ValidatorCache(2);
    const v1 = cache.get('v1', schemaA, '2020-12');
    const v2 = cache.get('v2', schemaA, '2020-12');
    cache.get('v1', schemaA, '2020-12');
    cache.get('v3', schemaA, '2020-12');
    expect(cache.size).to.equal(2);
    expect(cache.get('v1', schemaA, '2020-12')).to.equal(v1);
    expect(cache.get('v2', schemaA, '2020-12')).not.to.equal(v2);
  });

  it('forgets a version on request', () => {
    const cache = new ValidatorCache();
    const v1 = cache.get('v1', schemaA, '2020-12');
    cache.delete('v1');
    expect(cache.get('v1', schemaB, '2020-12')).not.to.equal(v1);
  });
});
