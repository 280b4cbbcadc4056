/**
 * Splits a byte stream into CRLF (or bare LF) terminated lines with a hard
 * cap, for line protocols without literals (POP3). A line longer than the
 * cap is reported once as `overflow` and the rest of it is skipped, so a
 * client cannot make us buffer without bound.
 */
export class LineSplitter {
  private chunks: Buffer[] = [];
  private length = 0;
  private skipping = false;
  /** Bumped by reset(): a push() in progress stops delivering lines from its buffer. */
  private generation = 0;

  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(data: Buffer): void {
    const gen = this.generation;
    let start = 0;
    while (start < data.length) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) {
        this.append(data.subarray(start));
        return;
      }
      this.append(data.subarray(start, nl));
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        this.clear();
        continue;
      }
      let line = Buffer.concat(this.chunks, this.length);
      this.clear();
      if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      this.onLine(line.toString('utf8'));
      if (gen !== this.generation) return;
    }
  }

  /** Drops anything buffered (after STARTTLS/STLS: plaintext must not be read as TLS data). */
  reset(): void {
    this.clear();
    this.generation++;
  }

  private clear(): void {
    this.chunks = [];
    this.length = 0;
  }

  private append(part: Buffer): void {
    if (this.skipping || !part.length) return;
    if (this.length + part.length > this.maxLine) {
      this.skipping = true;
      this.clear();
      this.onOverflow();
      return;
    }
    this.chunks.push(part);
    this.length += part.length;
  }
}
