import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * Secret input for the CLI. A password never comes from argv (it would land
 * in shell history and `ps`), only from a hidden prompt or a pipe.
 */

/** The first line of a piped stream (without CR/LF); undefined when the stream is empty. */
export async function firstLine(input: Readable): Promise<string | undefined> {
  const rl = createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of rl) return line;
    return undefined;
  } finally {
    rl.close();
  }
}

/** Asks once on a terminal without echoing what is typed. */
function askHidden(input: Readable, output: Writable, prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input, output, terminal: true });
    // readline echoes through _writeToOutput; muting it after the prompt hides the typing.
    const muted = rl as unknown as { _writeToOutput: (s: string) => void };
    output.write(prompt);
    muted._writeToOutput = () => undefined;
    rl.question('', (answer) => {
      rl.close();
      output.write('\n');
      resolve(answer);
    });
  });
}

/** A hidden prompt asked twice; rejects when the two answers differ. */
export async function promptSecretTwice(input: Readable, output: Writable, prompt: string): Promise<string> {
  const first = await askHidden(input, output, `${prompt}: `);
  const second = await askHidden(input, output, `${prompt} (again): `);
  if (first !== second) throw new Error('the two entries differ; nothing was hashed');
  return first;
}
