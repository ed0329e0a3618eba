const QUOTE = 0x22;
const LF = 0x0a;

/**
 * Counts the complete records in a CSV byte stream written with LF record
 * ends (as COPY … (FORMAT csv) writes them), across chunk boundaries. A quoted
 * field may hold LF; inside quotes `""` toggles twice, so tracking the quote
 * parity is enough to tell a record end from a line break inside a cell.
 */
export class CsvRecordCounter {
  private quoted = false;
  records = 0;

  /** Feeds the next chunk; returns the number of complete records so far. */
  push(chunk: Uint8Array): number {
    let quoted = this.quoted;
    let records = this.records;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i];
      if (byte === QUOTE) quoted = !quoted;
      else if (byte === LF && !quoted) records += 1;
    }
    this.quoted = quoted;
    this.records = records;
    return records;
  }
}
