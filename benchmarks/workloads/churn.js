// Node workload for benchmarks/oom.py: hold a live set of small objects on the
// V8 heap and churn garbage, some of which survives long enough to be promoted.
//
//   node churn.js LIVE_MIB CHURN_MIB
//
// Prints "heapLimitMiB=..." first (V8's heap_size_limit, what Node chose or was
// told), "OK ..." last. A V8 heap OOM prints "FATAL ERROR: Reached heap limit
// ... JavaScript heap out of memory" and aborts (exit 134); a kernel OOM kill
// is SIGKILL (137).
'use strict';
const v8 = require('v8');

const MiB = 1048576;
const liveMiB = Number(process.argv[2] || 64);
const churnMiB = Number(process.argv[3] || 256);
const used = () => v8.getHeapStatistics().used_heap_size;

console.log(`heapLimitMiB=${(v8.getHeapStatistics().heap_size_limit / MiB).toFixed(1)}`);

// A record: an object, a string, a small array of doubles; ~400 bytes on the heap.
function record(i) {
  return {
    id: i,
    name: 'record-' + i + '-' + (i * 7919).toString(36),
    tags: [i & 7, i & 15, i & 31],
    values: [i * 0.5, i * 1.5, i * 2.5, i * 3.5, i * 4.5, i * 5.5, i * 6.5, i * 7.5,
             i * 8.5, i * 9.5, i * 10.5, i * 11.5, i * 12.5, i * 13.5, i * 14.5, i * 15.5],
    next: null,
  };
}

const base = used();
const live = [];
let i = 0;
while (used() - base < liveMiB * MiB) {
  for (let k = 0; k < 4096; k++) live.push(record(i++));
}
const perRecord = (used() - base) / live.length;

// Churn: garbage records, one in eight replaces a random live one (old-generation
// garbage); a few survive a while through `next` chains (promoted, then dropped).
let seed = 42;
const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const total = Math.ceil(churnMiB * MiB / perRecord);
let sink = null;
for (let n = 0; n < total; n++) {
  const r = record(i++);
  if (n % 8 === 0) live[rand(live.length)] = r;
  else if (n % 64 === 1) { r.next = sink; sink = r; if (n % 4096 === 1) sink = null; }
}

const m = process.memoryUsage();
console.log(`OK live=${liveMiB} churn=${churnMiB} records=${live.length} ` +
            `bytesPerRecord=${perRecord.toFixed(0)} heapUsedMiB=${(m.heapUsed / MiB).toFixed(1)} ` +
            `heapTotalMiB=${(m.heapTotal / MiB).toFixed(1)} rssMiB=${(m.rss / MiB).toFixed(1)}`);
