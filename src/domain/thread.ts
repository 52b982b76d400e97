import { Worker, type TransferListItem } from 'node:worker_threads';

/**
 * Starts a thread running the module `name` of the folder of `base` (the caller's
 * `import.meta.url`). Compiled, the module is the .js next to the caller; run from source under tsx
 * (tests), the thread must register tsx itself first, as Node 20 does not apply `--import` loaders
 * to a worker's entry module.
 */
export function startThread(base: string, name: string, workerData: unknown, transferList: TransferListItem[] = []): Worker {
  if (!base.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, base), { workerData, transferList });
  const entry = new URL(`./${name}.ts`, base).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(source, { eval: true, workerData, transferList });
}
