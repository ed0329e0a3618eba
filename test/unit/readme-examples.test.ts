import { expect } from 'chai';
import { shellExamples } from '../helpers/readme-examples.js';

const fence = '```';

describe('shellExamples: the README blocks the examples test runs', () => {
  it('takes sh/bash/shell blocks with their lines, skips only marked ones, ignores the command reference', () => {
    const markdown = [
      '# T',
      '<!-- example: skip (starts the product) -->',
      '',
      `${fence}sh`,
      'npm start',
      fence,
      `${fence}bash`,
      'echo one',
      'echo two',
      fence,
      `${fence}`,
      'not a shell block',
      fence,
      '<!-- commands -->',
      `${fence}sh`,
      'infield generated --example',
      fence,
      '<!-- commandsstop -->',
      `${fence}shell`,
      'echo after',
      fence,
    ].join('\n');
    expect(shellExamples(markdown)).to.deep.equal([
      { line: 4, code: 'npm start', skip: 'starts the product' },
      { line: 7, code: 'echo one\necho two' },
      { line: 19, code: 'echo after' },
    ]);
  });

  it('refuses a marker without a reason, or one not directly before a shell block', () => {
    const block = [`${fence}sh`, 'true', fence];
    expect(() => shellExamples(['<!-- example: skip -->', ...block].join('\n'))).to.throw(
      /give its reason/,
    );
    expect(() =>
      shellExamples(['<!-- example: skip (x) -->', 'prose', ...block].join('\n')),
    ).to.throw(/just before a sh block/);
    expect(() =>
      shellExamples(['<!-- example: skip (x) -->', `${fence}json`, '{}', fence].join('\n')),
    ).to.throw(/just before a sh block/);
    expect(() => shellExamples('<!-- example: skip (x) -->\n')).to.throw(/just before a sh block/);
  });
});
