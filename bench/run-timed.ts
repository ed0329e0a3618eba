import { spawn } from 'node:child_process';
import fs from 'node:fs';

/** Wall time and peak RSS of one command: what the CLI benchmarks compare. */

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export interface Run {
  seconds: number;
  peakKib: number | null;
}

/** Runs a command with stdout to /dev/null; wall time and (when measurable) peak RSS. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const devNull = fs.openSync('/dev/null', 'w');
    const wrapped =
      TIME === undefined ? [command, args] : [TIME, ['-f', 'maxrss=%M', command, ...args]];
    const started = process.hrtime.bigint();
    const child = spawn(wrapped[0] as string, wrapped[1] as string[], {
      env: { ...process.env, ...env },
      stdio: ['ignore', devNull, 'pipe'],
    });
    let stderr = '';
    let hwm: number | null = null;
    const poll =
      TIME === undefined
        ? setInterval(() => {
            try {
              const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
              const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
              if (kib > 0) hwm = kib;
            } catch {
              // exited
            }
          }, 20)
        : undefined;
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (poll !== undefined) clearInterval(poll);
      fs.closeSync(devNull);
      if (code !== 0) {
        reject(new Error(`${command} exited ${code}: ${stderr.slice(0, 500)}`));
        return;
      }
      const measured = /maxrss=(\d+)/.exec(stderr);
      resolve({ seconds, peakKib: measured === null ? hwm : Number(measured[1]) });
    });
  });
}
