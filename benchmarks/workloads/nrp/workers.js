// Node workload for benchmarks/nrp_matrix.py: a job runner with worker_threads, each
// worker building an in-memory index that keeps growing (one V8 isolate per worker).
//
//   node workers.js WORKERS [GROW_MIB] [recipe]
//
// Every worker grows its own heap by GROW_MIB MiB (default: without end). With
// "recipe", each worker gets resourceLimits.maxOldGenerationSizeMb = this
// isolate's heap_size_limit / (WORKERS + 1): the README recipe, which splits the
// heap Node was given among the main thread and its workers (no command-line
// flag does: every isolate gets the whole --max-old-space-size, and that flag, once
// given, overrides resourceLimits: nodejs/node#43991).
// Prints "heapLimitMiB=..." for the main thread, "worker N heapLimitMiB=..." per
// worker, then "OK" when all finished; a worker that runs out of heap ends the
// process with "worker N: ERR_WORKER_OUT_OF_MEMORY ... JavaScript heap out of memory"
// (exit 1); a kernel OOM kill is SIGKILL (137).
'use strict';
const { Worker, isMainThread, workerData, parentPort } = require('worker_threads');
const v8 = require('v8');

const MiB = 1048576;
const limitMiB = () => v8.getHeapStatistics().heap_size_limit / MiB;

if (isMainThread) {
  const n = Number(process.argv[2] || 4);
  const grow = Number(process.argv[3] || 0);  // 0: without end
  const recipe = process.argv[4] === 'recipe';
  console.log(`heapLimitMiB=${limitMiB().toFixed(1)} workers=${n} recipe=${recipe}`);
  const share = Math.floor(limitMiB() / (n + 1));
  let done = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(__filename, {
      workerData: { i, grow }, ...(recipe ? { resourceLimits: { maxOldGenerationSizeMb: share } } : {}),
    });
    w.on('message', (m) => console.log(`worker ${i} ${m}`));
    w.on('error', (e) => {
      console.log(`worker ${i}: ${e.code || e.name}: ${e.message} (JavaScript heap out of memory)`);
      process.exit(1);
    });
    w.on('exit', () => { if (++done === n) console.log(`OK workers=${n}`); });
  }
} else {
  const { grow } = workerData;
  parentPort.postMessage(`heapLimitMiB=${limitMiB().toFixed(1)}`);
  const index = new Map();
  const base = v8.getHeapStatistics().used_heap_size;
  let id = 0;
  for (;;) {
    for (let k = 0; k < 2048; k++, id++) {
      index.set('doc-' + id, { id, words: ['w' + (id & 1023), 'w' + (id & 511)], score: id * 0.5, seen: [id] });
    }
    const grown = (v8.getHeapStatistics().used_heap_size - base) / MiB;
    if (grow && grown >= grow) break;
  }
  parentPort.postMessage(`grewMiB=${grow}`);
}
