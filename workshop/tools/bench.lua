-- `make bench` drives wrk with this script: the same POST again and again for a fixed time,
-- then one JSON line of figures (workshop/tools/bench.py reads the last line of the output).
--
-- Every 20th request asks the server to close its connection, and wrk opens a new one: the
-- clients reconnect as Nginx does with Gunicorn (keepalive_requests 20). Without it, wrk opens
-- its 20 connections at once, one Gunicorn worker accepts most of them and keeps them for the
-- whole row, and the "Gunicorn alone" rows swing by half between rounds.
wrk.method = "POST"
wrk.body = '{"seconds": 0}'
wrk.headers["Content-Type"] = "application/json"

local keep, close, sent = nil, nil, 0

function init(args)
  keep = wrk.format()
  close = wrk.format(nil, nil, {["Content-Type"] = "application/json", ["Connection"] = "close"})
end

function request()
  sent = sent + 1
  if sent % 20 == 0 then
    return close
  end
  return keep
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, "non_2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
