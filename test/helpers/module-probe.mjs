// Preloaded with `node --import` by the start-up tests and bench: at exit, writes every module
// the process loaded (ES modules through a resolve hook, CommonJS ones from the require cache)
// to the file named by INFIELD_MODULE_PROBE, one path or URL per line.
import { createRequire, register } from 'node:module';
import { writeFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';

const out = process.env.INFIELD_MODULE_PROBE;
if (out) {
  const loaded = new Set();
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => loaded.add(url));
  port1.unref();
  register('./module-probe-hooks.mjs', {
    parentURL: import.meta.url,
    data: { port: port2 },
    transferList: [port2],
  });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    for (const file of Object.keys(require.cache)) loaded.add(file);
    writeFileSync(out, [...loaded].join('\n'));
  });
}
