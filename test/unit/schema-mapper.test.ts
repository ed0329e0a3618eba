import { expect } from 'chai';
import { AppError, type FieldError } from '../../src/errors.js';
import {
  isFieldShown,
  mapSchema,
  type DerivedField,
  type FieldCondition,
  type MappedSchema,
} from '../../src/services/forms/schema-mapper.js';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';
const DRAFTS = [
  { name: '2020-12', $schema: DRAFT_2020 },
  { name: 'draft-07', $schema: DRAFT_07 },
] as const;

const form = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  ...extra,
});

/** The errors of the one refusal mapSchema must throw. */
function refusal(schema: unknown): FieldError[] {
  try {
    mapSchema(schema);
  } catch (err) {
    expect(err).to.be.instanceOf(AppError);
    const appError = err as AppError;
    expect(appError.code).to.equal('VALIDATION_FAILED');
    expect(appError.message).to.equal('The JSON Schema cannot be imported');
    return appError.errors;
  }
  throw new Error('expected the schema to be refused');
}

const pathsOf = (errors: FieldError[]): string[] => errors.map((e) => e.path);

const fieldOf = (mapped: MappedSchema, key: string): DerivedField => {
  const found = mapped.fields.find((f) => f.key === key);
  if (found === undefined) throw new Error(`no field ${key}`);
  return found;
};

const conditionOf = (mapped: MappedSchema, key: string): FieldCondition | null =>
  fieldOf(mapped, key).condition;

describe('schema mapper: field types', () => {
  const mapped = mapSchema(
    form({
      text: { type: 'string' },
      long: { type: 'string', maxLength: 1000 },
      notes: { type: 'string', 'x-infield-widget': 'textarea' },
      email: { type: 'string', format: 'email', maxLength: 300 },
      uri: { type: 'string', format: 'uri' },
      url: { type: 'string', format: 'url' },
      phone: { type: 'string', 'x-infield-widget': 'phone' },
      count: { type: 'integer' },
      ratio: { type: 'number' },
      agreed: { type: 'boolean' },
      day: { type: 'string', format: 'date' },
      at: { type: 'string', format: 'date-time' },
      color: { type: 'string', enum: ['red', 'green'] },
      tags: { type: 'array', uniqueItems: true, items: { enum: ['a', 'b'] } },
      photo: { type: 'string', contentMediaType: 'image/png' },
      blob: { type: 'string', format: 'binary' },
      scan: { type: 'string', 'x-infield-widget': 'file' },
      uuid: { type: 'string', format: 'uuid' },
    }),
  );

  it('maps each JSON Schema construct to its field type', () => {
    const types = Object.fromEntries(mapped.fields.map((f) => [f.key, f.type]));
    expect(types).to.deep.equal({
      text: 'text',
      long: 'textarea',
      notes: 'textarea',
      email: 'email',
      uri: 'url',
      url: 'url',
      phone: 'phone',
      count: 'number',
      ratio: 'number',
      agreed: 'boolean',
      day: 'date',
      at: 'datetime',
      color: 'select',
      tags: 'multiselect',
      photo: 'file',
      blob: 'file',
      scan: 'file',
      uuid: 'text',
    });
  });

  it('covers all 12 field types', () => {
    expect(new Set(mapped.fields.map((f) => f.type)).size).to.equal(12);
  });

  it('keeps the order of properties as positions, without steps or conditions', () => {
    expect(mapped.fields.map((f) => f.position)).to.deep.equal(mapped.fields.map((_, i) => i));
    expect(mapped.fields.every((f) => f.step === null && f.condition === null)).to.equal(true);
    expect(mapped.steps).to.deep.equal([]);
    expect(mapped.draft).to.equal('2020-12');
  });
});

describe('schema mapper: field details', () => {
  it('carries title, description, default, required and validation', () => {
    const mapped = mapSchema(
      form(
        {
          name: {
            type: 'string',
            title: 'Full name',
            description: 'As on your ID',
            default: 'Ann',
            minLength: 2,
            maxLength: 80,
            pattern: '^[A-Z]',
          },
          age: { type: 'integer', minimum: 0, exclusiveMaximum: 150, multipleOf: 1 },
          plain: { type: 'string' },
        },
        { title: 'Intake', description: 'Who you are', required: ['name'] },
      ),
    );
    expect(mapped.title).to.equal('Intake');
    expect(mapped.description).to.equal('Who you are');
    expect(fieldOf(mapped, 'name')).to.deep.equal({
      key: 'name',
      path: '/name',
      label: 'Full name',
      help: 'As on your ID',
      type: 'text',
      required: true,
      default: 'Ann',
      options: null,
      validation: { minLength: 2, maxLength: 80, pattern: '^[A-Z]' },
      position: 0,
      step: null,
      condition: null,
    });
    expect(fieldOf(mapped, 'age').validation).to.deep.equal({
      minimum: 0,
      exclusiveMaximum: 150,
      multipleOf: 1,
    });
    const plain = fieldOf(mapped, 'plain');
    expect(plain).to.include({ label: 'plain', help: null, required: false, validation: null });
    expect(plain).not.to.have.property('default');
  });

  it('reads select options from enum and from oneOf/anyOf lists of const', () => {
    const mapped = mapSchema(
      form({
        size: { enum: ['s', 'm', 1, true, null] },
        level: { oneOf: [{ const: 'lo', title: 'Low' }, { const: 'hi' }] },
        mood: {
          type: ['string', 'null'],
          anyOf: [{ const: 'ok', title: 'Fine' }, { const: null }],
        },
        only: { const: 'yes' },
      }),
    );
    expect(fieldOf(mapped, 'size').options).to.deep.equal([
      { value: 's', label: 's' },
      { value: 'm', label: 'm' },
      { value: 1, label: '1' },
      { value: true, label: 'true' },
    ]);
    expect(fieldOf(mapped, 'level').options).to.deep.equal([
      { value: 'lo', label: 'Low' },
      { value: 'hi', label: 'hi' },
    ]);
    expect(fieldOf(mapped, 'mood')).to.deep.include({
      type: 'select',
      options: [{ value: 'ok', label: 'Fine' }],
    });
    expect(fieldOf(mapped, 'only').options).to.deep.equal([{ value: 'yes', label: 'yes' }]);
  });

  it('maps a unique array of choices to a multiselect with item limits', () => {
    const mapped = mapSchema(
      form({
        days: {
          type: 'array',
          uniqueItems: true,
          minItems: 1,
          maxItems: 2,
          items: {
            oneOf: [
              { const: 'mon', title: 'Monday' },
              { const: 'tue', title: 'Tuesday' },
            ],
          },
        },
      }),
    );
    expect(fieldOf(mapped, 'days')).to.deep.include({
      type: 'multiselect',
      options: [
        { value: 'mon', label: 'Monday' },
        { value: 'tue', label: 'Tuesday' },
      ],
      validation: { minItems: 1, maxItems: 2 },
    });
  });

  it('lists accepted media types of file fields', () => {
    const mapped = mapSchema(
      form({
        one: { type: 'string', contentMediaType: 'application/pdf' },
        many: {
          type: 'string',
          'x-infield-widget': 'file',
          'x-infield-accept': ['image/*', 'application/pdf'],
        },
        any: { type: 'string', format: 'binary' },
      }),
    );
    expect(fieldOf(mapped, 'one').validation).to.deep.equal({ accept: ['application/pdf'] });
    expect(fieldOf(mapped, 'many').validation).to.deep.equal({
      accept: ['image/*', 'application/pdf'],
    });
    expect(fieldOf(mapped, 'any').validation).to.equal(null);
  });

  it('maps [type, "null"] as the type, ignores x- vendor keywords and accepts JSON text', () => {
    const mapped = mapSchema(
      JSON.stringify(
        form({ note: { type: ['string', 'null'], 'x-ui-order': 3, 'x-vendor': { any: 1 } } }),
      ),
    );
    expect(fieldOf(mapped, 'note').type).to.equal('text');
  });

  it('accepts ECMA \\u escapes in patterns (rewritten for RE2)', () => {
    const mapped = mapSchema(form({ word: { type: 'string', pattern: '^[a-z\\u00e9]+$' } }));
    expect(fieldOf(mapped, 'word').validation).to.deep.equal({ pattern: '^[a-z\\u00e9]+$' });
  });
});

describe('schema mapper: $ref', () => {
  it('resolves $defs, definitions and any local JSON pointer; siblings override', () => {
    const mapped = mapSchema({
      ...form({
        a: { $ref: '#/$defs/name' },
        b: { $ref: '#/definitions/email', title: 'Work email' },
        c: { $ref: '#/properties/a' },
        d: { $ref: '#/$defs/chain' },
        e: { $ref: '#/$defs/odd~1key%20x' },
      }),
      $defs: {
        name: { type: 'string', title: 'Name' },
        chain: { $ref: '#/$defs/name' },
        'odd/key x': { type: 'boolean' },
      },
      definitions: { email: { type: 'string', format: 'email', title: 'Email' } },
    });
    expect(mapped.fields.map((f) => [f.key, f.type, f.label])).to.deep.equal([
      ['a', 'text', 'Name'],
      ['b', 'email', 'Work email'],
      ['c', 'text', 'Name'],
      ['d', 'text', 'Name'],
      ['e', 'boolean', 'e'],
    ]);
  });

  it('follows a $ref at the root and in steps', () => {
    const mapped = mapSchema({
      $ref: '#/$defs/form',
      $defs: {
        form: form({ site: { $ref: '#/$defs/site' } }, { title: 'Inspection' }),
        site: form({ city: { type: 'string' } }, { title: 'Site' }),
      },
    });
    expect(mapped.title).to.equal('Inspection');
    expect(mapped.steps).to.deep.equal([{ key: 'site', title: 'Site', description: null }]);
    expect(fieldOf(mapped, 'city').path).to.equal('/site/city');
  });

  it('refuses remote, file, $id-based and anchor references without fetching', () => {
    const errors = refusal({
      $id: 'https://forms.example.test/intake.json',
      ...form({
        remote: { $ref: 'https://evil.example.test/schema.json' },
        file: { $ref: 'other.json#/x' },
        byId: { $ref: 'https://forms.example.test/intake.json#/$defs/x' },
        anchor: { $ref: '#name' },
      }),
      $defs: { x: { type: 'string' } },
    });
    expect(errors).to.deep.include({
      path: '/properties/remote/$ref',
      message:
        'is a remote reference: references are never fetched; use a pointer into this document such as "#/$defs/name"',
    });
    expect(pathsOf(errors)).to.include.members([
      '/properties/file/$ref',
      '/properties/byId/$ref',
      '/properties/anchor/$ref',
    ]);
    expect(errors.find((e) => e.path === '/properties/file/$ref')?.message).to.match(
      /^is a file reference/,
    );
    expect(errors.find((e) => e.path === '/properties/byId/$ref')?.message).to.match(
      /through \$id/,
    );
  });

  it('refuses references to nothing, to non-schemas and loops', () => {
    const errors = refusal({
      ...form({
        missing: { $ref: '#/$defs/nope' },
        data: { $ref: '#/x-data' },
        loop: { $ref: '#/$defs/a' },
        self: { allOf: [{ $ref: '#/properties/self' }] },
      }),
      'x-data': { type: 'string' },
      $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } },
    });
    expect(errors).to.deep.include({
      path: '/properties/missing/$ref',
      message: 'points to nothing in this document',
    });
    expect(errors).to.deep.include({
      path: '/properties/data/$ref',
      message: 'does not point to a schema',
    });
    const loops = errors.filter((e) => e.message.startsWith('is a circular reference'));
    expect(pathsOf(loops)).to.include.members(['/properties/self/allOf/0/$ref']);
    expect(loops.some((e) => e.path.startsWith('/$defs/'))).to.equal(true);
  });

  it('refuses a root that refers to itself through allOf', () => {
    const errors = refusal({ ...form({ a: { type: 'string' } }), allOf: [{ $ref: '#' }] });
    expect(errors).to.deep.include({
      path: '/allOf/0/$ref',
      message: 'is a circular reference: validation would never end',
    });
  });
});

describe('schema mapper: steps', () => {
  it('maps object root properties to steps, in order, with /step/field paths', () => {
    const mapped = mapSchema(
      form(
        {
          site: form(
            { address: { type: 'string' }, inspection_date: { type: 'string', format: 'date' } },
            { title: 'Site', description: 'Where', required: ['inspection_date'] },
          ),
          findings: form({ ok: { type: 'boolean' } }),
        },
        { required: ['site'] },
      ),
    );
    expect(mapped.steps).to.deep.equal([
      { key: 'site', title: 'Site', description: 'Where' },
      { key: 'findings', title: 'findings', description: null },
    ]);
    expect(mapped.fields.map((f) => [f.path, f.step, f.position, f.required])).to.deep.equal([
      ['/site/address', 'site', 0, false],
      ['/site/inspection_date', 'site', 1, true],
      ['/findings/ok', 'findings', 2, false],
    ]);
  });

  it('refuses mixing steps and plain fields', () => {
    const errors = refusal(
      form({ site: form({ a: { type: 'string' } }), note: { type: 'string' } }),
    );
    expect(pathsOf(errors)).to.deep.equal(['/properties']);
    expect(errors[0]?.message).to.match(/either every root property is an object/);
  });

  it('refuses objects nested deeper than a step', () => {
    const errors = refusal(form({ site: form({ geo: form({ lat: { type: 'number' } }) }) }));
    expect(errors).to.deep.equal([
      {
        path: '/properties/site/properties/geo',
        message: 'is an object nested deeper than a step, which cannot be mapped',
      },
    ]);
  });

  it('refuses conditions at the root of a multi-step form', () => {
    const errors = refusal({
      ...form({ a: form({ x: { type: 'string' } }), b: form({ y: { type: 'string' } }) }),
      dependentRequired: { a: ['b'] },
    });
    expect(errors).to.deep.include({
      path: '/dependentRequired',
      message: 'a multi-step form declares its conditions inside the steps',
    });
  });
});

describe('schema mapper: conditions', () => {
  for (const { name, $schema } of DRAFTS) {
    describe(`in ${name}`, () => {
      it('reads if/then/else at the root', () => {
        const mapped = mapSchema({
          $schema,
          ...form(
            { kind: { enum: ['home', 'work'] }, extra: { type: 'string' } },
            {
              required: ['kind'],
              if: { properties: { kind: { const: 'work' } }, required: ['kind'] },
              then: { properties: { company: { type: 'string' } }, required: ['company', 'extra'] },
              else: { properties: { hobby: { type: 'string' } } },
            },
          ),
        });
        expect(mapped.draft).to.equal(name);
        expect(fieldOf(mapped, 'kind')).to.include({ required: true, condition: null });
        const work = { field: '/kind', op: 'equals', value: 'work' };
        expect(fieldOf(mapped, 'company')).to.deep.include({ required: true, condition: work });
        // Declared unconditionally, but only `then` requires it: shown (and required) then.
        expect(fieldOf(mapped, 'extra')).to.deep.include({ required: true, condition: work });
        expect(fieldOf(mapped, 'hobby')).to.deep.include({
          required: false,
          condition: { field: '/kind', op: 'not_equals', value: 'work' },
        });
        expect(mapped.fields.map((f) => f.key)).to.deep.equal([
          'kind',
          'extra',
          'company',
          'hobby',
        ]);
      });

      it('reads if/then/else with an enum inside a step', () => {
        const mapped = mapSchema({
          $schema,
          ...form({
            site: form(
              { kind: { type: 'string' } },
              {
                if: { properties: { kind: { enum: ['a', 'b'] } }, required: ['kind'] },
                then: { properties: { why: { type: 'string' } }, required: ['why'] },
                else: { properties: { other: { type: 'string' } }, required: ['other'] },
              },
            ),
          }),
        });
        expect(fieldOf(mapped, 'why')).to.deep.include({
          path: '/site/why',
          required: true,
          condition: { field: '/site/kind', op: 'in', value: ['a', 'b'] },
        });
        expect(conditionOf(mapped, 'other')).to.deep.equal({
          field: '/site/kind',
          op: 'not_in',
          value: ['a', 'b'],
        });
      });

      it('reads several if/then inside allOf', () => {
        const mapped = mapSchema({
          $schema,
          ...form(
            { pet: { enum: ['cat', 'dog'] } },
            {
              allOf: [
                {
                  if: { properties: { pet: { const: 'cat' } }, required: ['pet'] },
                  then: { properties: { lives: { type: 'integer' } }, required: ['lives'] },
                },
                {
                  if: { properties: { pet: { const: 'dog' } }, required: ['pet'] },
                  then: { properties: { breed: { type: 'string' } } },
                },
                { properties: { name: { type: 'string' } }, required: ['name'] },
              ],
            },
          ),
        });
        expect(fieldOf(mapped, 'lives')).to.deep.include({
          required: true,
          condition: { field: '/pet', op: 'equals', value: 'cat' },
        });
        expect(fieldOf(mapped, 'breed')).to.deep.include({
          required: false,
          condition: { field: '/pet', op: 'equals', value: 'dog' },
        });
        expect(fieldOf(mapped, 'name')).to.include({ required: true, condition: null });
      });

      it('reads dependentRequired and dependentSchemas', () => {
        const mapped = mapSchema({
          $schema,
          ...form(
            { card: { type: 'string' }, billing: { type: 'string' }, note: { type: 'string' } },
            {
              dependentRequired: { card: ['billing'] },
              dependentSchemas: {
                note: {
                  properties: { noteDate: { type: 'string', format: 'date' } },
                  required: ['noteDate'],
                },
              },
            },
          ),
        });
        expect(fieldOf(mapped, 'billing')).to.deep.include({
          required: true,
          condition: { field: '/card', op: 'present' },
        });
        expect(fieldOf(mapped, 'noteDate')).to.deep.include({
          type: 'date',
          required: true,
          condition: { field: '/note', op: 'present' },
        });
        expect(conditionOf(mapped, 'card')).to.equal(null);
      });
    });
  }

  it('reads draft-07 dependencies with a list and with a schema', () => {
    const mapped = mapSchema({
      $schema: DRAFT_07,
      ...form(
        { card: { type: 'string' }, billing: { type: 'string' }, ship: { type: 'boolean' } },
        {
          dependencies: {
            card: ['billing'],
            ship: { properties: { address: { type: 'string' } }, required: ['address'] },
          },
        },
      ),
    });
    expect(fieldOf(mapped, 'billing')).to.deep.include({
      required: true,
      condition: { field: '/card', op: 'present' },
    });
    expect(fieldOf(mapped, 'address')).to.deep.include({
      required: true,
      condition: { field: '/ship', op: 'present' },
    });
  });

  it('leaves a field required by the object unconditional', () => {
    const mapped = mapSchema(
      form(
        { a: { type: 'string' }, b: { type: 'string' } },
        { required: ['b'], dependentRequired: { a: ['b'] } },
      ),
    );
    expect(fieldOf(mapped, 'b')).to.include({ required: true, condition: null });
  });

  it('refuses conditions it cannot represent', () => {
    const errors = refusal(
      form(
        { kind: { type: 'string' }, other: { type: 'string' } },
        {
          allOf: [
            {
              if: { properties: { kind: { minLength: 3 } } },
              then: { properties: { a: { type: 'string' } } },
            },
            {
              if: { properties: { kind: { const: 'x' } }, required: ['kind'] },
              then: {
                properties: { b: { type: 'string' } },
                if: { properties: { kind: { const: 'y' } }, required: ['kind'] },
                minProperties: 1,
              },
              else: { properties: { b: { type: 'string' } } },
            },
            {
              if: { properties: { ghost: { const: 1 } }, required: ['ghost'] },
              then: { required: ['other'] },
            },
          ],
        },
      ),
    );
    expect(pathsOf(errors)).to.include.members([
      '/allOf/0/if',
      '/allOf/1/then/if',
      '/allOf/1/then/minProperties',
      '/allOf/1/else/properties/b',
      '/allOf/2/if',
    ]);
    expect(errors.find((e) => e.path === '/allOf/1/then/if')?.message).to.equal(
      'nested conditions cannot be mapped',
    );
    expect(errors.find((e) => e.path === '/allOf/1/else/properties/b')?.message).to.match(
      /more than one condition/,
    );
    expect(errors.find((e) => e.path === '/allOf/2/if')?.message).to.equal(
      'tests "ghost", which is not a property of this object',
    );
  });

  it('refuses additionalProperties: false that would reject conditional answers', () => {
    const errors = refusal(
      form(
        { a: { type: 'string' } },
        {
          additionalProperties: false,
          dependentSchemas: { a: { properties: { b: { type: 'string' } } } },
        },
      ),
    );
    expect(pathsOf(errors)).to.deep.equal(['/additionalProperties']);
    expect(errors[0]?.message).to.match(/"b"/);
  });

  it('refuses a field required by the object but declared only in a branch', () => {
    const errors = refusal(
      form(
        { a: { type: 'string' } },
        { required: ['b'], dependentSchemas: { a: { properties: { b: { type: 'string' } } } } },
      ),
    );
    expect(pathsOf(errors)).to.deep.equal(['/dependentSchemas/a/properties/b']);
  });
});

describe('schema mapper: refusals', () => {
  it('lists every problem at once, each at its JSON pointer', () => {
    const errors = refusal(
      form(
        {
          rows: { type: 'array', items: { type: 'object', properties: { x: { type: 'string' } } } },
          never: { type: 'string', not: { const: 'x' } },
          odd: { type: 'string', nullable: true },
          zip: { type: 'string', format: 'zip-code' },
          slow: { type: 'string', pattern: '(a)\\1' },
          look: { type: 'string', pattern: '^(?=a)' },
          either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
          multi: { type: ['string', 'number'] },
          neg: { type: 'string', minLength: -1 },
          loose: { type: 'array', items: { enum: ['a'] } },
          widget: { type: 'number', 'x-infield-widget': 'phone' },
        },
        { required: ['nope'], patternProperties: { '^x': { type: 'string' } } },
      ),
    );
    expect(errors).to.deep.include.members([
      {
        path: '/properties/rows/items',
        message: 'is an object: arrays of objects cannot be mapped',
      },
      { path: '/patternProperties', message: 'cannot be mapped' },
      { path: '/properties/never/not', message: '"not" cannot be mapped' },
      {
        path: '/properties/odd/nullable',
        message: 'is not a known JSON Schema keyword (vendor keywords must start with "x-")',
      },
      { path: '/properties/neg/minLength', message: 'must be >= 0' },
      {
        path: '/properties/multi/type',
        message: 'lists several types; only [type, "null"] can be mapped',
      },
      {
        path: '/properties/widget/x-infield-widget',
        message: 'does not apply to a number field',
      },
      { path: '/required/0', message: 'names "nope", which is not a property of this object' },
    ]);
    expect(pathsOf(errors)).to.include.members([
      '/properties/zip/format',
      '/properties/slow/pattern',
      '/properties/look/pattern',
      '/properties/either/anyOf/0',
      '/properties/loose',
    ]);
    expect(errors.find((e) => e.path === '/properties/zip/format')?.message).to.match(
      /not a supported format/,
    );
    expect(errors.find((e) => e.path === '/properties/look/pattern')?.message).to.match(/RE2/);
  });

  it('refuses draft-07 tuples and patternProperties in a step', () => {
    const errors = refusal({
      $schema: DRAFT_07,
      ...form({
        site: form(
          {
            pair: { type: 'array', items: [{ type: 'string' }], additionalItems: false },
            open: { type: 'string' },
          },
          {
            patternProperties: { '^x-': { type: 'string' } },
            additionalProperties: { type: 'string' },
          },
        ),
      }),
    });
    expect(errors).to.deep.include.members([
      {
        path: '/properties/site/properties/pair/additionalItems',
        message: 'is a tuple, which cannot be mapped',
      },
      {
        path: '/properties/site/properties/pair/items',
        message: 'is a tuple, which cannot be mapped',
      },
      { path: '/properties/site/patternProperties', message: 'cannot be mapped' },
      {
        path: '/properties/site/additionalProperties',
        message: 'cannot be mapped when given as a schema (only true or false can)',
      },
    ]);
  });

  it('refuses keywords of the other draft, embedded $id and anchors', () => {
    const errors = refusal({
      $schema: DRAFT_07,
      ...form({ a: { type: 'string', $id: 'https://x.test/a', $anchor: 'a' } }),
      prefixItems: [],
    });
    expect(errors).to.deep.include.members([
      { path: '/prefixItems', message: 'is not a draft-07 keyword' },
      {
        path: '/properties/a/$id',
        message: 'is not supported below the root: embedded schema resources cannot be imported',
      },
    ]);
    expect(pathsOf(errors)).to.include('/properties/a/$anchor');
  });

  it('refuses roots that are not object forms and unknown drafts', () => {
    expect(refusal([])).to.deep.equal([{ path: '/', message: 'must be a JSON Schema object' }]);
    expect(refusal({ type: 'string' })).to.deep.equal([
      { path: '/type', message: 'the form must be "type": "object"' },
    ]);
    expect(pathsOf(refusal({ type: 'object', properties: {} }))).to.deep.equal(['/']);
    expect(
      refusal({ $schema: 'http://json-schema.org/draft-04/schema#', ...form({}) }),
    ).to.deep.equal([
      { path: '/$schema', message: 'must name draft 2020-12 or draft-07 (or be left out)' },
    ]);
    expect(refusal('{"type": "object",')).to.deep.equal([
      { path: '/', message: 'is not valid JSON' },
    ]);
  });

  it('refuses more than 500 fields, in a flat form and across steps', () => {
    const many = (n: number, prefix = 'f') =>
      Object.fromEntries(
        Array.from({ length: n }, (_, i) => [`${prefix}${i}`, { type: 'string' }]),
      );
    expect(mapSchema(form(many(500))).fields).to.have.length(500);
    expect(refusal(form(many(501)))).to.deep.equal([
      { path: '/', message: 'declares more than 500 fields' },
    ]);
    const stepped = form({ a: form(many(300, 'a')), b: form(many(300, 'b')) });
    expect(refusal(stepped)).to.deep.equal([
      { path: '/', message: 'declares more than 500 fields' },
    ]);
  });
});

describe('schema mapper: hostile documents', () => {
  const nested = (depth: number): Record<string, unknown> => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { a: schema } };
    return schema;
  };

  it('refuses a 10,000-deep schema without overflowing the stack', () => {
    const errors = refusal(nested(10_000));
    expect(errors).to.have.length(1);
    expect(errors[0]?.message).to.equal('is nested more than 32 levels deep');
    expect(errors[0]?.path.startsWith('/properties/a/properties/a/')).to.equal(true);
  });

  it('refuses a 10,000-deep schema given as JSON text', () => {
    const errors = refusal(`${'{"not":'.repeat(10_000)}{}${'}'.repeat(10_000)}`);
    expect(errors[0]?.message).to.equal('is nested more than 32 levels deep');
  });

  it('refuses a 5 MB schema by its size before parsing it', () => {
    // Not even valid JSON: a parse would report that instead.
    const text = `{"type": "object", "description": "${'x'.repeat(5 * 1024 * 1024)}`;
    expect(refusal(text)).to.deep.equal([{ path: '/', message: 'is larger than 512 KiB' }]);
    expect(refusal(Buffer.from(text))).to.deep.equal([
      { path: '/', message: 'is larger than 512 KiB' },
    ]);
  });

  it('refuses a 5 MB parsed schema by its size', () => {
    const schema = form({ a: { type: 'string', description: 'x'.repeat(5 * 1024 * 1024) } });
    expect(refusal(schema)).to.deep.equal([{ path: '/', message: 'is larger than 512 KiB' }]);
  });

  it('refuses values that are not JSON', () => {
    expect(refusal(form({ a: { type: 'string', default: () => 1 } }))).to.deep.equal([
      { path: '/properties/a/default', message: 'is not a JSON value' },
    ]);
  });

  it('refuses patterns too complex for RE2 to run cheaply', () => {
    const errors = refusal(
      form({
        a: { type: 'string', pattern: '\\w{1000}\\w{1000}' },
        b: { type: 'string', pattern: 'x'.repeat(1001) },
      }),
    );
    expect(pathsOf(errors)).to.deep.equal(['/properties/a/pattern', '/properties/b/pattern']);
    expect(errors[0]?.message).to.match(/^is too complex \(\d+ RE2 instructions, at most 1000\)$/);
    expect(errors[1]?.message).to.equal('is longer than 1000 characters');
  });

  it('stops compiling patterns past a budget for the whole document', () => {
    const $defs: Record<string, unknown> = {};
    for (let i = 0; i < 10_000; i++) $defs[`d${i}`] = { pattern: `\\w{900}${i}` };
    const errors = refusal({ ...form({ a: { type: 'string' } }), $defs });
    expect(errors).to.have.length(1);
    expect(errors[0]?.message).to.match(/one regular expression too many/);
  });

  it('refuses long chains of in-place schemas', () => {
    const $defs: Record<string, unknown> = { d0: { type: 'string' } };
    for (let i = 1; i <= 100; i++) $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i - 1}` }] };
    const errors = refusal({ ...form({ a: { $ref: '#/$defs/d100' } }), $defs });
    expect(errors.some((e) => /chains more than 64 schemas/.test(e.message))).to.equal(true);
  });
});

describe('isFieldShown', () => {
  const withCondition = (condition: FieldCondition | null): DerivedField => ({
    key: 'x',
    path: '/s/x',
    label: 'x',
    help: null,
    type: 'text',
    required: true,
    options: null,
    validation: null,
    position: 0,
    step: 's',
    condition,
  });

  it('shows unconditional fields', () => {
    expect(isFieldShown(withCondition(null), {})).to.equal(true);
  });

  it('evaluates equals and not_equals against the answer at the pointer', () => {
    const equals = withCondition({ field: '/s/kind', op: 'equals', value: 'a' });
    expect(isFieldShown(equals, { s: { kind: 'a' } })).to.equal(true);
    expect(isFieldShown(equals, { s: { kind: 'b' } })).to.equal(false);
    expect(isFieldShown(equals, {})).to.equal(false);
    const notEquals = withCondition({ field: '/s/kind', op: 'not_equals', value: 'a' });
    expect(isFieldShown(notEquals, { s: { kind: 'b' } })).to.equal(true);
    expect(isFieldShown(notEquals, {})).to.equal(true);
    expect(isFieldShown(notEquals, { s: { kind: 'a' } })).to.equal(false);
  });

  it('evaluates in and not_in', () => {
    const inList = withCondition({ field: '/n', op: 'in', value: [1, 2] });
    expect(isFieldShown(inList, { n: 2 })).to.equal(true);
    expect(isFieldShown(inList, { n: 3 })).to.equal(false);
    const notIn = withCondition({ field: '/n', op: 'not_in', value: [1, 2] });
    expect(isFieldShown(notIn, { n: 3 })).to.equal(true);
    expect(isFieldShown(notIn, { n: 1 })).to.equal(false);
  });

  it('treats missing, null, empty text and empty lists as not present', () => {
    const present = withCondition({ field: '/a', op: 'present' });
    expect(isFieldShown(present, { a: 'x' })).to.equal(true);
    expect(isFieldShown(present, { a: 0 })).to.equal(true);
    expect(isFieldShown(present, { a: false })).to.equal(true);
    for (const data of [{}, { a: null }, { a: '' }, { a: [] }, null, 'text']) {
      expect(isFieldShown(present, data)).to.equal(false);
    }
  });

  it('never reads inherited properties', () => {
    const present = withCondition({ field: '/constructor', op: 'present' });
    expect(isFieldShown(present, {})).to.equal(false);
  });
});
