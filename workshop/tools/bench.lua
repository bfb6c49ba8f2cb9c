-- `make bench` drives wrk with this script: the same POST again and again for a fixed time,
-- then one JSON line of figures (workshop/tools/bench.py reads the last line of the output).
wrk.method = "POST"
wrk.body = '{"seconds": 0}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, "non_2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
