import { Worker } from 'node:worker_threads';

/**
 * Starts a thread running the module `name` of this folder. Compiled, the module is the .js next
 * to this one; run from source under tsx (tests), the thread must register tsx itself first, as
 * Node 20 does not apply `--import` loaders to a worker's entry module.
 */
export function startThread(name: string, workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  const entry = new URL(`./${name}.ts`, import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(source, { eval: true, workerData });
}
