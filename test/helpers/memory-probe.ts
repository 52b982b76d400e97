/**
 * Preloaded into a Herald child process by tests that watch its memory (`node --expose-gc --import
 * tsx --import ./test/helpers/memory-probe.ts …`, see herald-process.ts `memoryProbe`). On SIGUSR2
 * it collects garbage and writes the process's memory figures, numbered, to MEMORY_PROBE_FILE.
 * Test instrumentation only: Herald itself has no such hook.
 */
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.MEMORY_PROBE_FILE;
let seq = 0;
if (file) {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    // Twice: the first pass may only queue finalizers whose objects the second frees.
    gc?.();
    gc?.();
    const usage = process.memoryUsage();
    writeFileSync(`${file}.tmp`, JSON.stringify({ seq: ++seq, collected: Boolean(gc), ...usage }));
    renameSync(`${file}.tmp`, file);
  });
}
