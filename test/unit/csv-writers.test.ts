import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { toCsv } from '../../src/services/csv-safety.js';
import { CsvRecordCounter } from '../../src/services/exports/csv-record-counter.js';
import { headerLine } from '../../src/services/exports/submission-export-service.js';

const HOSTILE = [
  'y\r=1+1',
  'a\n=2+2',
  'b\r\nc',
  '=1+1',
  '+1',
  '-1',
  '@x',
  '\tt',
  'q"q',
  'c,c',
  '\\.',
];

describe('CSV writers (unit)', () => {
  for (const delimiter of ['\n', '\r\n'] as const) {
    it(`toCsv quotes every cell holding CR or LF with ${JSON.stringify(delimiter)} records, and neutralises formulas`, () => {
      const csv = toCsv([HOSTILE, ['plain', 5]], delimiter);
      // Every line break outside quotes is a record end, so a lenient reader sees 2 records.
      const bare = csv.replace(/"(?:[^"]|"")*"/g, '');
      expect(bare.split(delimiter).filter((l) => l !== '')).to.have.length(2);
      expect(bare.replace(new RegExp(delimiter, 'g'), '')).not.to.match(/[\r\n]/);
      const rows = parse(csv, { relax_column_count: true }) as string[][];
      expect(rows[0]).to.deep.equal(HOSTILE.map((v) => (/^[=+\-@\t\r\n]/.test(v) ? `'${v}` : v)));
      expect(rows[1]).to.deep.equal(['plain', '5']);
      expect(csv).to.contain('"\\."');
    });
  }

  it("the export's header line quotes a lone CR like COPY quotes data cells", () => {
    const line = headerLine(
      [{ header: 'k', label: 'y\r=1+1', match: { by: 'key', value: 'k' } }],
      true,
    );
    expect(line).to.equal(
      'id,status,submitted_by,submitted_at,version,decision,decided_at,"y\r=1+1"\n',
    );
  });

  it('counts CSV records across chunks, ignoring line breaks inside quoted cells', () => {
    const csv = Buffer.from('a,"x\ny",b\n"q""\n",2\nlast,3\n');
    for (let size = 1; size <= csv.length; size += 1) {
      const counter = new CsvRecordCounter();
      const seen: number[] = [];
      for (let i = 0; i < csv.length; i += size) seen.push(counter.push(csv.subarray(i, i + size)));
      expect(seen.at(-1), `chunks of ${size}`).to.equal(3);
    }
  });
});
