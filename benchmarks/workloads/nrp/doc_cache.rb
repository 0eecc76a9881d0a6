# Ruby workload for benchmarks/nrp_matrix.py: an import job that parses CSV documents
# (a few hundred KB each, malloc'd string bodies) and keeps the last 64 in a cache.
# Each document lives long enough to reach the old generation, so its memory is only
# returned by a major GC, which RUBY_GC_OLDMALLOC_LIMIT(_MAX) and
# RUBY_GC_MALLOC_LIMIT(_MAX) trigger: the peak follows those limits.
#
#   ruby doc_cache.rb [DOCUMENTS]
#
# Prints "docs=... secs=... gcCount=... majorGc=... hwmMiB=..." and "OK".
docs = Integer(ARGV[0] || 6000)
cache = Array.new(64)
t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
docs.times do |i|
  body = "sku-#{i},#{i % 97}," * (20_000 + (i % 7) * 1000)
  cache[i % 64] = { id: i, body: body, fields: body.split(",", 50), size: body.bytesize }
end
secs = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
hwm = File.read('/proc/self/status')[/VmHWM:\s+(\d+)/, 1].to_i / 1024
puts "docs=#{docs} secs=#{secs.round(2)} gcCount=#{GC.count} majorGc=#{GC.stat(:major_gc_count)} hwmMiB=#{hwm} " \
     "mallocLimitMax=#{ENV['RUBY_GC_MALLOC_LIMIT_MAX'] || '-'} oldmallocLimitMax=#{ENV['RUBY_GC_OLDMALLOC_LIMIT_MAX'] || '-'}"
puts 'OK'
