// Node workload for benchmarks/nrp_matrix.py: a caching service whose session store
// leaks while it also keeps a blob cache of Buffers (memory outside V8's heap).
//
//   node cache_server.js BUFFER_MIB [GROW_MIB]
//
// First it fills the blob cache with BUFFER_MIB MiB of 64 KiB Buffers (every byte
// written, as a file or HTTP body cache would), then it "serves requests": each
// request builds a session record (objects, strings, arrays) kept in a Map that is
// never pruned, plus garbage that dies young. It stops with "OK" once the V8 heap
// holds GROW_MIB MiB of sessions (default: never; the heap grows until V8 or the
// kernel stops it). Prints "heapLimitMiB=..." first and "progress heapUsedMiB=..."
// every 16 MiB, so the last line says how far it got. A V8 heap OOM prints
// "FATAL ERROR: ... JavaScript heap out of memory" (exit 134); a kernel OOM kill
// is SIGKILL (137) with no message.
'use strict';
const v8 = require('v8');

const MiB = 1048576;
const bufferMiB = Number(process.argv[2] || 0);
const growMiB = Number(process.argv[3] || Infinity);
const heap = () => v8.getHeapStatistics();
console.log(`heapLimitMiB=${(heap().heap_size_limit / MiB).toFixed(1)} bufferMiB=${bufferMiB}`);

// The blob cache: 64 KiB Buffers (above Node's 4 KiB pool: each is its own malloc).
const blobs = new Map();
for (let i = 0; i < bufferMiB * 16; i++) {
  const b = Buffer.allocUnsafe(64 * 1024);
  b.fill(i & 0xff);
  blobs.set(`/static/${i}.bin`, b);
}
console.log(`progress blobsMiB=${(blobs.size / 16).toFixed(0)} rssMiB=${(process.memoryUsage().rss / MiB).toFixed(0)}`);

const sessions = new Map();
let id = 0;
function handle() {
  const user = `user-${id % 100000}`;
  const body = JSON.stringify({ user, items: [id & 7, id & 15, id & 31], at: Date.now() });  // garbage
  const req = JSON.parse(body);
  sessions.set(`sess-${id}`, {
    user: req.user, created: req.at, cart: req.items.map((x) => ({ sku: 'sku-' + x, qty: x + 1 })),
    token: (id * 2654435761 >>> 0).toString(16) + '-' + id.toString(36),
    history: new Array(160).fill(id),  // recently viewed product ids
  });
  id++;
}

const base = heap().used_heap_size;
let next = 16;
for (;;) {
  for (let k = 0; k < 2048; k++) handle();
  const grown = (heap().used_heap_size - base) / MiB;
  if (grown >= next) {
    console.log(`progress heapUsedMiB=${(heap().used_heap_size / MiB).toFixed(0)} sessions=${sessions.size}`);
    next += 16;
  }
  if (grown >= growMiB) break;
}
const m = process.memoryUsage();
console.log(`OK sessions=${sessions.size} heapUsedMiB=${(m.heapUsed / MiB).toFixed(0)} ` +
            `externalMiB=${(m.external / MiB).toFixed(0)} rssMiB=${(m.rss / MiB).toFixed(0)}`);
