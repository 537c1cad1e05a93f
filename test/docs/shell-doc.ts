// A Markdown page's ```sh blocks, run in order in one bash session as a reader
// would paste them (docs/getting-started.md, docs/beside-an-existing-server.md).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { waitFor } from '../helpers/wait.js';

export interface Block {
  section: string;
  code: string;
  skip?: string;
}

/** The ```sh blocks, with the heading they sit under and their skip marker. */
export function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let section = '';
  let skip: string | undefined;
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3);
    const marker = /^<!-- doc-test: skip \((.+)\) -->$/.exec(line);
    if (marker) skip = marker[1];
    if (line === '```sh') {
      const end = lines.indexOf('```', i + 1);
      blocks.push({ section, code: lines.slice(i + 1, end).join('\n'), skip });
      skip = undefined;
      i = end;
    } else if (line.trim() !== '' && !marker) {
      skip = undefined; // a marker applies only to the block right after it
    }
  }
  return blocks;
}

/** One bash session fed block by block, so variables carry over as in a terminal. */
export class Session {
  private out = '';
  private readonly bash: ChildProcessWithoutNullStreams;
  private blocks = 0;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.bash.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.bash.stderr.on('data', (d: Buffer) => (this.out += d.toString()));
    this.bash.stdin.write('set -e\n');
  }

  /** Runs `code`; resolves its output, or fails naming the block when a command fails. */
  async run(code: string, timeoutMs = 60_000): Promise<string> {
    const n = this.blocks++;
    const start = this.out.length;
    const done = `__block_${n}_done__`;
    this.bash.stdin.write(`${code}\necho ${done}\n`);
    await waitFor(`block ${n} to finish`, () => {
      if (this.bash.exitCode !== null) throw new Error(`a command failed in:\n${code}\n--- output:\n${this.out.slice(start)}`);
      return this.out.includes(done, start);
    }, { timeoutMs, intervalMs: 20 }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- block:\n${code}\n--- output:\n${this.out.slice(start)}`);
    });
    return this.out.slice(start, this.out.indexOf(done, start));
  }

  set(name: string, value: string): Promise<string> {
    return this.run(`${name}='${value.replace(/'/g, `'\\''`)}'`);
  }

  stop(): void {
    this.bash.stdin.end();
    if (this.bash.exitCode === null) this.bash.kill();
  }
}
