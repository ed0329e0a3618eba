import { expect } from 'chai';
import { AppError, type FieldError } from '../../src/errors.js';
import { mapSchema } from '../../src/services/forms/json-schema/map-schema.js';
import type {
  DerivedField,
  FieldCondition,
  MappedSchema,
} from '../../src/services/forms/json-schema/types.js';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DRAFT_2020 = 'https://json-schema.org/draft/2020-12/schema';
const DRAFT_2019 = 'https://json-schema.org/draft/2019-09/schema';
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
    expect(mapped.draft).to.equal('draft-07');
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
      required_when: null,
      default: 'Ann',
      options: null,
      validation: { minLength: 2, maxLength: 80, pattern: '^[A-Z]' },
      position: 0,
      step: null,
      condition: null,
      schema_pointer: '/properties/name',
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
      validation: { minItems: 1, maxItems: 2, uniqueItems: true },
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
    expect(fieldOf(mapped, 'any').validation).to.deep.equal({ format: 'binary' });
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

  it('refuses remote, file and unknown anchor references without fetching', () => {
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
      '/properties/anchor/$ref',
    ]);
    // Through the root's own $id, a reference stays inside the document.
    expect(pathsOf(errors)).not.to.include('/properties/byId/$ref');
    expect(errors.find((e) => e.path === '/properties/file/$ref')?.message).to.match(
      /^is a file reference/,
    );
  });

  it('refuses references to nothing, to non-schemas and loops', () => {
    const errors = refusal({
      ...form({
        missing: { $ref: '#/$defs/nope' },
        data: { $ref: '#/required' },
        loop: { $ref: '#/$defs/a' },
        self: { allOf: [{ $ref: '#/properties/self' }] },
      }),
      required: ['missing'],
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

  it('reads a mix of objects and fields as one page, with groups at any depth', () => {
    const mapped = mapSchema(
      form({
        name: { type: 'string' },
        address: form(
          {
            city: { type: 'string' },
            geo: form({ lat: { type: 'number' } }, { required: ['lat'] }),
          },
          { required: ['city'] },
        ),
      }),
    );
    expect(mapped.steps).to.deep.equal([]);
    expect(mapped.fields.map((f) => [f.path, f.type, f.required, f.step])).to.deep.equal([
      ['/name', 'text', false, null],
      ['/address/city', 'text', true, null],
      ['/address/geo/lat', 'number', true, null],
    ]);
    const address = mapped.tree[1]!;
    expect(address).to.include({ type: 'group', path: '/address' });
    expect(address.children?.[1]?.children?.[0]).to.include({ path: '/address/geo/lat' });
  });

  it('takes steps from x-infield-steps, unlisted fields going to the last step', () => {
    const mapped = mapSchema(
      form(
        { a: { type: 'string' }, b: { type: 'string' }, c: { type: 'string' } },
        {
          'x-infield-steps': [
            { key: 'one', title: 'One', fields: ['a'] },
            { key: 'two', fields: ['b'] },
          ],
        },
      ),
    );
    expect(mapped.steps).to.deep.equal([
      { key: 'one', title: 'One', description: null },
      { key: 'two', title: 'two', description: null },
    ]);
    expect(mapped.fields.map((f) => [f.path, f.step])).to.deep.equal([
      ['/a', 'one'],
      ['/b', 'two'],
      ['/c', 'two'],
    ]);
    expect(
      refusal(
        form({ a: { type: 'string' } }, { 'x-infield-steps': [{ key: 's', fields: ['z'] }] }),
      ),
    ).to.deep.equal([
      { path: '/x-infield-steps/0/fields/0', message: 'names "z", not a property of the form' },
    ]);
  });

  it('keeps root conditions of a multi-step form as hints', () => {
    const mapped = mapSchema({
      $schema: DRAFT_2020,
      ...form({ a: form({ x: { type: 'string' } }), b: form({ y: { type: 'string' } }) }),
      dependentRequired: { a: ['b'] },
    });
    expect(mapped.draft).to.equal('2020-12');
    expect(mapped.steps.map((s) => s.key)).to.deep.equal(['a', 'b']);
    expect(mapped.tree[1]).to.deep.include({
      required_when: { field: '/a', op: 'present' },
      step: 'b',
    });
  });
});

describe('schema mapper: conditions', () => {
  for (const { name, $schema } of [...DRAFTS, { name: '2019-09', $schema: DRAFT_2019 }]) {
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
        expect(fieldOf(mapped, 'company')).to.deep.include({
          required: false,
          required_when: work,
          condition: work,
        });
        // Declared unconditionally: always shown, required only when `then` applies.
        expect(fieldOf(mapped, 'extra')).to.deep.include({
          required: false,
          required_when: work,
          condition: null,
        });
        expect(fieldOf(mapped, 'hobby')).to.deep.include({
          required: false,
          required_when: null,
          condition: { field: '/kind', op: 'not_equals', value: 'work' },
        });
        expect(mapped.fields.map((f) => f.key)).to.deep.equal([
          'kind',
          'extra',
          'company',
          'hobby',
        ]);
      });

      it('reads an if without required as JSON Schema does: absent passes the test', () => {
        const mapped = mapSchema({
          $schema,
          ...form(
            { kind: { type: 'string' } },
            {
              if: { properties: { kind: { const: 'work' } } },
              then: { properties: { company: { type: 'string' } } },
              else: { properties: { hobby: { type: 'string' } } },
            },
          ),
        });
        expect(conditionOf(mapped, 'company')).to.deep.equal({
          any: [
            { field: '/kind', op: 'absent' },
            { field: '/kind', op: 'equals', value: 'work' },
          ],
        });
        expect(conditionOf(mapped, 'hobby')).to.deep.equal({
          all: [
            { field: '/kind', op: 'present' },
            { field: '/kind', op: 'not_equals', value: 'work' },
          ],
        });
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
        const inAB = { field: '/site/kind', op: 'in', value: ['a', 'b'] };
        expect(fieldOf(mapped, 'why')).to.deep.include({
          path: '/site/why',
          required_when: inAB,
          condition: inAB,
        });
        expect(conditionOf(mapped, 'other')).to.deep.equal({ ...inAB, op: 'not_in' });
      });

      it('reads several if/then inside allOf, and any other if as a schema to match', () => {
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
                { if: { minProperties: 3 }, then: { properties: { more: { type: 'string' } } } },
                { properties: { name: { type: 'string' } }, required: ['name'] },
              ],
            },
          ),
        });
        expect(fieldOf(mapped, 'lives')).to.deep.include({
          required_when: { field: '/pet', op: 'equals', value: 'cat' },
          condition: { field: '/pet', op: 'equals', value: 'cat' },
        });
        expect(fieldOf(mapped, 'breed')).to.deep.include({
          required_when: null,
          condition: { field: '/pet', op: 'equals', value: 'dog' },
        });
        expect(conditionOf(mapped, 'more')).to.deep.equal({ matches: '/allOf/2/if' });
        expect(fieldOf(mapped, 'name')).to.include({ required: true, condition: null });
      });

      it('reads dependencies: "b required when a is present", never "b shown only then"', () => {
        const mapped = mapSchema({
          $schema,
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
        const card = { field: '/card', op: 'present' };
        expect(fieldOf(mapped, 'billing')).to.deep.include({
          required: false,
          required_when: card,
          condition: null,
        });
        expect(fieldOf(mapped, 'address')).to.deep.include({
          required_when: { field: '/ship', op: 'present' },
          condition: { field: '/ship', op: 'present' },
        });
      });

      it('reads dependentRequired and dependentSchemas where the draft has them', () => {
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
        if (name === 'draft-07') {
          // draft-07 has no such keywords: Ajv ignores them, and so do the hints.
          expect(fieldOf(mapped, 'billing').required_when).to.equal(null);
          expect(mapped.fields.map((f) => f.key)).to.not.include('noteDate');
          return;
        }
        expect(fieldOf(mapped, 'billing')).to.deep.include({
          required_when: { field: '/card', op: 'present' },
        });
        expect(fieldOf(mapped, 'noteDate')).to.deep.include({
          type: 'date',
          required_when: { field: '/note', op: 'present' },
          condition: { field: '/note', op: 'present' },
        });
        expect(conditionOf(mapped, 'card')).to.equal(null);
      });
    });
  }

  it('leaves a field required by the object unconditional', () => {
    const mapped = mapSchema(
      form(
        { a: { type: 'string' }, b: { type: 'string' } },
        { required: ['b'], dependentRequired: { a: ['b'] } },
      ),
    );
    expect(fieldOf(mapped, 'b')).to.include({
      required: true,
      condition: null,
      required_when: null,
    });
  });

  it('shows a field declared in two branches under either condition', () => {
    const mapped = mapSchema(
      form(
        { kind: { type: 'string' } },
        {
          allOf: [
            {
              if: { properties: { kind: { const: 'x' } }, required: ['kind'] },
              then: {
                properties: { b: { type: 'string' } },
                if: { properties: { kind: { const: 'y' } }, required: ['kind'] },
                then: { properties: { c: { type: 'string' } } },
              },
              else: { properties: { b: { type: 'string' } } },
            },
          ],
        },
      ),
    );
    expect(conditionOf(mapped, 'b')).to.deep.equal({
      any: [
        { field: '/kind', op: 'equals', value: 'x' },
        { field: '/kind', op: 'not_equals', value: 'x' },
      ],
    });
    expect(conditionOf(mapped, 'c')).to.deep.equal({
      all: [
        { field: '/kind', op: 'equals', value: 'x' },
        { field: '/kind', op: 'equals', value: 'y' },
      ],
    });
  });

  it('reads oneOf of object schemas on the form as branches to match', () => {
    const mapped = mapSchema(
      form(
        { pets: { enum: ['no', 'yes'] } },
        {
          oneOf: [
            { properties: { pets: { const: 'no' } } },
            {
              properties: { pets: { const: 'yes' }, how_many: { type: 'integer' } },
              required: ['how_many'],
            },
          ],
        },
      ),
    );
    expect(fieldOf(mapped, 'how_many')).to.deep.include({
      condition: { matches: '/oneOf/1' },
      required_when: { matches: '/oneOf/1' },
    });
  });
});

describe('schema mapper: every shape imports', () => {
  it('maps lists of rows, alternatives, maps, choices of any value and JSON', () => {
    const mapped = mapSchema({
      $schema: DRAFT_07,
      ...form({
        lines: {
          type: 'array',
          minItems: 1,
          items: form({ sku: { type: 'string' }, qty: { type: 'integer' } }, { required: ['sku'] }),
        },
        names: { type: 'array', items: { type: 'string' } },
        pair: { type: 'array', items: [{ type: 'string' }], additionalItems: false },
        payment: {
          oneOf: [
            { title: 'Card', type: 'object', properties: { number: { type: 'string' } } },
            { title: 'Bank', type: 'object', properties: { iban: { type: 'string' } } },
          ],
        },
        scores: { type: 'object', additionalProperties: { type: 'number' } },
        tagged: { type: 'object', patternProperties: { '^x-': { type: 'string' } } },
        size: { enum: [{ w: 1 }, { w: 2 }, null] },
        either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
        multi: { type: ['string', 'number'] },
        nothing: { type: 'null' },
        photo: { type: 'string', format: 'data-url' },
        never: { type: 'string', not: { const: 'x' } },
        odd: { type: 'string', nullable: true, discriminator: { propertyName: 'x' } },
        loose: { type: 'array', items: { enum: ['a', 'b'] } },
      }),
    });
    const types = Object.fromEntries(mapped.fields.map((f) => [f.key, f.type]));
    expect(types).to.deep.equal({
      lines: 'repeat',
      names: 'repeat',
      pair: 'json',
      payment: 'alternatives',
      scores: 'map',
      tagged: 'map',
      size: 'select',
      either: 'json',
      multi: 'json',
      nothing: 'json',
      photo: 'text',
      never: 'text',
      odd: 'text',
      loose: 'multiselect',
    });
    const lines = mapped.tree[0]!;
    expect(lines.validation).to.deep.equal({ minItems: 1 });
    expect(lines.item?.type).to.equal('group');
    expect(lines.item?.children?.map((c) => [c.path, c.type, c.required])).to.deep.equal([
      ['/sku', 'text', true],
      ['/qty', 'number', false],
    ]);
    expect(mapped.tree[1]?.item).to.include({ type: 'text', path: '' });
    const payment = mapped.tree[3]!;
    expect(payment.alternatives?.map((a) => [a.title, a.fields.map((f) => f.path)])).to.deep.equal([
      ['Card', ['/payment/number']],
      ['Bank', ['/payment/iban']],
    ]);
    expect(fieldOf(mapped, 'size').options).to.deep.equal([
      { value: { w: 1 }, label: '{"w":1}' },
      { value: { w: 2 }, label: '{"w":2}' },
    ]);
    expect(fieldOf(mapped, 'photo').validation).to.deep.equal({ format: 'data-url' });
  });

  it('bounds recursive references: the repeated schema becomes a JSON field', () => {
    const mapped = mapSchema({
      definitions: {
        person: form({
          name: { type: 'string' },
          children: { type: 'array', items: { $ref: '#/definitions/person' } },
        }),
      },
      ...form({ root: { $ref: '#/definitions/person' } }),
    });
    const root = mapped.tree[0]!;
    expect(root.type).to.equal('group');
    const children = root.children?.[1];
    expect(children).to.include({ type: 'repeat', path: '/root/children' });
    expect(children?.item).to.include({ type: 'json' });
  });

  it('resolves embedded $id resources and anchors, never fetching', () => {
    const mapped = mapSchema({
      $id: 'https://forms.example.test/root.json',
      definitions: {
        address: { $id: 'address.json', type: 'object', properties: { city: { type: 'string' } } },
        zip: { $id: '#zip', type: 'string', pattern: '^[0-9]{5}$' },
      },
      'x-shared': { type: 'string', format: 'email' },
      ...form({
        home: { $ref: 'address.json' },
        code: { $ref: '#zip' },
        // Ajv follows a pointer anywhere in the document, under an unknown keyword too.
        contact: { $ref: '#/x-shared' },
      }),
    });
    expect(mapped.fields.map((f) => [f.path, f.type])).to.deep.equal([
      ['/home/city', 'text'],
      ['/code', 'text'],
      ['/contact', 'email'],
    ]);
  });

  it('reads draft-04 as draft-04: boolean exclusiveMaximum, id, no if/then', () => {
    const mapped = mapSchema({
      $schema: 'http://json-schema.org/draft-04/schema#',
      id: 'http://forms.example.test/person.json',
      ...form(
        {
          age: { type: 'integer', maximum: 150, exclusiveMaximum: true },
          kind: { type: 'string' },
        },
        {
          if: { properties: { kind: { const: 'x' } } },
          then: { properties: { z: { type: 'string' } } },
        },
      ),
    });
    expect(mapped.draft).to.equal('draft-04');
    expect(fieldOf(mapped, 'age').validation).to.deep.equal({
      maximum: 150,
      exclusiveMaximum: true,
    });
    expect(mapped.fields.map((f) => f.key)).to.deep.equal(['age', 'kind']);
  });

  it('maps a form whose root is not an object as one answer holding the data', () => {
    const mapped = mapSchema({ type: 'object', additionalProperties: { type: 'string' } });
    expect(mapped.fields).to.have.length(1);
    expect(mapped.fields[0]).to.include({ key: 'data', path: '', type: 'map' });
    expect(mapSchema({ type: 'object' }).fields[0]).to.include({ path: '', type: 'json' });
  });
});

describe('schema mapper: refusals', () => {
  it('lists every problem at once, each at its JSON pointer', () => {
    const errors = refusal(
      form({
        slow: { type: 'string', pattern: '(a)\\1' },
        look: { type: 'string', pattern: '^(?=a)' },
        neg: { type: 'string', minLength: -1 },
        widget: { type: 'number', 'x-infield-widget': 'phone' },
        remote: { $ref: 'https://evil.example.test/s.json' },
      }),
    );
    expect(pathsOf(errors)).to.include.members([
      '/properties/slow/pattern',
      '/properties/look/pattern',
      '/properties/remote/$ref',
    ]);
    expect(errors.find((e) => e.path === '/properties/look/pattern')?.message).to.match(/RE2/);
    // Only once the document is safe is it checked against its meta-schema and mapped.
    const broken = refusal(
      form({
        neg: { type: 'string', minLength: -1 },
        widget: { type: 'number', 'x-infield-widget': 'phone' },
      }),
    );
    expect(broken).to.deep.equal([{ path: '/properties/neg/minLength', message: 'must be >= 0' }]);
    expect(
      refusal(form({ widget: { type: 'number', 'x-infield-widget': 'phone' } })),
    ).to.deep.equal([
      { path: '/properties/widget/x-infield-widget', message: 'does not apply to a number field' },
    ]);
  });

  it('refuses what is not a JSON Schema, unknown drafts and broken JSON', () => {
    expect(refusal([])).to.deep.equal([{ path: '/', message: 'must be a JSON Schema object' }]);
    expect(pathsOf(refusal({ type: 'object', properties: 5 }))).to.deep.equal(['/properties']);
    expect(
      refusal({ $schema: 'http://json-schema.org/draft-03/schema#', ...form({}) }),
    ).to.deep.equal([
      {
        path: '/$schema',
        message: 'must name draft-04, draft-06, draft-07, 2019-09 or 2020-12, or be left out',
      },
    ]);
    // Not valid for its draft: Ajv's own words, at the pointer.
    expect(refusal(form({ a: { type: 'string', id: 'a' } }))[0]?.message).to.match(
      /cannot be compiled: NOT SUPPORTED: keyword "id"/,
    );
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

  it('bounds hints when branches multiply: an if/else chain over 18 definitions imports', () => {
    // Each level applies the next definition under `then` and under `else`: 2^18 paths.
    const definitions: Record<string, unknown> = {};
    for (let k = 0; k < 18; k++) {
      const next = k < 17 ? { $ref: `#/definitions/d${k + 1}` } : form({ z: { type: 'string' } });
      definitions[`d${k}`] = {
        allOf: [{ if: { properties: { [`k${k}`]: { const: k } } }, then: next, else: next }],
      };
    }
    const mapped = mapSchema({
      ...form({ a: { type: 'string' } }),
      definitions,
      allOf: [{ $ref: '#/definitions/d0' }],
    });
    expect(mapped.fields.map((f) => f.key)).to.deep.equal(['a', 'z']);
    expect(JSON.stringify(fieldOf(mapped, 'z').condition ?? null).length).to.be.below(2_100);
  });

  it('refuses a reference tree that expands past 500 fields, without expanding it all', () => {
    const definitions: Record<string, unknown> = { d20: { type: 'string' } };
    for (let k = 0; k < 20; k++) {
      const next = { $ref: `#/definitions/d${k + 1}` };
      definitions[`d${k}`] = form({ x: next, y: next });
    }
    expect(refusal({ ...form({ r: { $ref: '#/definitions/d0' } }), definitions })).to.deep.equal([
      { path: '/', message: 'declares more than 500 fields' },
    ]);
  });

  it('refuses long chains of in-place schemas', () => {
    const $defs: Record<string, unknown> = { d0: { type: 'string' } };
    for (let i = 1; i <= 100; i++) $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i - 1}` }] };
    const errors = refusal({ ...form({ a: { $ref: '#/$defs/d100' } }), $defs });
    expect(errors.some((e) => /chains more than 64 schemas/.test(e.message))).to.equal(true);
  });
});
