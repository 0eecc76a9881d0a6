# Ruby workload for benchmarks/nrp_matrix.py: a threaded background-job worker (as
# Sidekiq runs jobs) building reports: each job parses a JSON payload, builds rows
# of strings and hashes, renders CSV and JSON, and keeps the last few results in a
# shared cache (the last KEEP, default 64). Many threads allocating at once is what makes glibc create arenas.
#
#   ruby report_jobs.rb THREADS SECONDS [KEEP]
#
# Prints "jobs=... jobsPerSec=... jobsPerCpuSec=... rssMiB=... gcCount=..." and "OK".
require 'json'

threads = Integer(ARGV[0] || 16)
keep = Integer(ARGV[2] || 64)
seconds = Float(ARGV[1] || 5)
cache = {}
lock = Mutex.new
jobs = 0

def job(n)
  payload = JSON.generate({ 'account' => n, 'from' => '2026-01-01', 'rows' => 200 + n % 300,
                            'fields' => %w[sku name qty price region note] })
  req = JSON.parse(payload)
  rows = Array.new(req['rows']) do |i|
    { 'sku' => "SKU-#{n}-#{i}", 'name' => "Product #{i} of account #{n} " * (1 + i % 4),
      'qty' => i % 17, 'price' => format('%.2f', (i * 7919 % 10_000) / 100.0),
      'region' => %w[eu us apac][i % 3], 'note' => 'x' * (32 + (n * i) % 480) }
  end
  csv = rows.map { |r| req['fields'].map { |f| r[f].to_s }.join(',') }.join("\n")
  [csv, JSON.generate(rows)]
end

cpu0 = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
deadline = t0 + seconds
workers = Array.new(threads) do |t|
  Thread.new do
    n = t
    while Process.clock_gettime(Process::CLOCK_MONOTONIC) < deadline
      csv, json = job(n)
      lock.synchronize do
        cache[n % keep] = [csv, json]  # the last results, as a report cache would keep
        jobs += 1
      end
      n += threads
    end
  end
end
workers.each(&:join)
wall = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
cpu = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - cpu0
rss = File.read('/proc/self/status')[/VmRSS:\s+(\d+)/, 1].to_i / 1024
hwm = File.read('/proc/self/status')[/VmHWM:\s+(\d+)/, 1].to_i / 1024
puts "jobs=#{jobs} jobsPerSec=#{(jobs / wall).round} jobsPerCpuSec=#{(jobs / cpu).round} " \
     "rssMiB=#{rss} hwmMiB=#{hwm} gcCount=#{GC.count} threads=#{threads} " \
     "mallocLimitMax=#{ENV['RUBY_GC_MALLOC_LIMIT_MAX'] || '-'} arenaMax=#{ENV['MALLOC_ARENA_MAX'] || '-'}"
puts 'OK'
