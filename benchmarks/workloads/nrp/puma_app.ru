# Rack app for benchmarks/nrp_matrix.py's puma runs: a small JSON API (as a Rails or
# Sinatra endpoint would answer) that renders a page of records per request.
#
#   puma -b tcp://127.0.0.1:PORT puma_app.ru     (WEB_CONCURRENCY picks the mode)
#
# GET /items?page=N -> JSON; GET /pid -> the serving process's pid.
require 'json'

ITEMS = Array.new(20_000) { |i| { 'id' => i, 'name' => "item #{i}", 'price' => (i % 997) / 7.0 } }

run(lambda do |env|
  if env['PATH_INFO'] == '/pid'
    [200, { 'Content-Type' => 'text/plain' }, [Process.pid.to_s]]
  else
    page = env['QUERY_STRING'].to_s[/page=(\d+)/, 1].to_i
    rows = ITEMS[(page * 50) % ITEMS.size, 50].map { |r| r.merge('url' => "/items/#{r['id']}") }
    [200, { 'Content-Type' => 'application/json' }, [JSON.generate('page' => page, 'items' => rows)]]
  end
end)
