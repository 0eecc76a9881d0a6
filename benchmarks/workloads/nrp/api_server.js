// Node workload for benchmarks/nrp_matrix.py: an allocation-heavy request loop, as in
// a JSON API server: parse a request body, look things up in a cache (the live set),
// build a response object graph, serialise it. Almost everything dies young, so the
// young generation's size (--max-semi-space-size) sets how often V8 scavenges.
//
//   node api_server.js SECONDS [CACHE_MIB] [INFLIGHT]
//
// Runs requests for SECONDS after a one-second warm-up, with a cache of about
// CACHE_MIB MiB of records (default 32) and INFLIGHT requests in flight (default 256), and prints
// "heapLimitMiB=... newSpaceMiB=... ops=... opsPerSec=... opsPerCpuSec=... p99us=... scavenges=..."
// and "OK". opsPerCpuSec (requests per second of this process's CPU time, GC threads
// included) is the figure to compare on a shared machine: wall time also counts
// other processes' load.
'use strict';
const v8 = require('v8');
const { performance, PerformanceObserver } = require('perf_hooks');

const MiB = 1048576;
const seconds = Number(process.argv[2] || 5);
const cacheMiB = Number(process.argv[3] || 32);

let scavenges = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e.detail || e).kind === 1) scavenges++;  // NODE_PERFORMANCE_GC_MINOR
}).observe({ entryTypes: ['gc'] });

const cache = [];
const base = v8.getHeapStatistics().used_heap_size;
for (let i = 0; v8.getHeapStatistics().used_heap_size - base < cacheMiB * MiB; i++) {
  for (let k = 0; k < 1024; k++, i++) {
    cache.push({ id: i, name: 'product ' + i, price: (i % 997) / 7, tags: ['t' + (i & 15), 't' + (i & 63)] });
  }
}

// Requests in flight: each one's objects stay alive while it "awaits" a backend (the
// next INFLIGHT requests), as in a server with that many concurrent connections.
const INFLIGHT = Number(process.argv[4] || 256);
const inflight = new Array(INFLIGHT).fill(null);

function finish(state) {
  if (state === null) return 0;
  state.items.sort((a, b) => b.score - a.score);
  return JSON.stringify({ user: state.body.user, page: state.body.page, total: state.items.length,
                          items: state.items }).length;
}

function request(n) {
  const body = JSON.parse(`{"user":${n},"query":"q${n & 255}","page":${n & 7},"filters":["a","b${n & 3}"]}`);
  const items = [];
  for (let k = 0; k < 40; k++) {
    const r = cache[(n * 31 + k * 997) % cache.length];
    items.push({ id: r.id, name: r.name.toUpperCase(), price: r.price.toFixed(2), tags: r.tags.slice(),
                 score: (r.id * body.page + k) % 101, url: `/p/${r.id}?q=${body.query}` });
  }
  const slot = n % INFLIGHT;
  const done = finish(inflight[slot]);
  inflight[slot] = { body, items };
  return done;
}

let n = 0;
let sink = 0;
const warm = performance.now() + 1000;
while (performance.now() < warm) sink += request(n++);
scavenges = 0;
const lat = [];
const cpu0 = process.cpuUsage();
const start = performance.now();
const end = start + seconds * 1000;
let ops = 0;
for (let t = performance.now(); t < end; ops++) {
  sink += request(n++);
  const t2 = performance.now();
  if ((ops & 15) === 0) lat.push(t2 - t);
  t = t2;
}
const elapsed = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSec = (cpu.user + cpu.system) / 1e6;
lat.sort((a, b) => a - b);
setTimeout(() => {  // let the gc observer deliver
  const semi = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  console.log(`heapLimitMiB=${(v8.getHeapStatistics().heap_size_limit / MiB).toFixed(1)} ` +
              `newSpaceMiB=${(semi.space_size / MiB).toFixed(1)} ops=${ops} opsPerSec=${(ops / elapsed).toFixed(0)} ` +
              `opsPerCpuSec=${(ops / cpuSec).toFixed(0)} p99us=${(lat[Math.floor(lat.length * 0.99)] * 1000).toFixed(0)} scavenges=${scavenges} ` +
              `rssMiB=${(process.memoryUsage().rss / MiB).toFixed(0)} sink=${sink % 10}`);
  console.log('OK');
}, 100);
