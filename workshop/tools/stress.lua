-- `make stress` drives wrk with this script: exactly N POSTs of one JSON body over C kept-alive
-- connections. For each answer it keeps the status, the task id and when it arrived; wrk writes
-- them, with its latency percentiles, to a file that workshop/tools/stress.py reads. (wrk runs
-- for a duration, not a count: after the N-th answer the script leaves a file OUT.done and
-- stress.py interrupts wrk.)
--
--   wrk -t1 -cC -dD -s stress.lua URL -- PATH BODY N OUT
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } stress_timespec;
int clock_gettime(int clock, stress_timespec *now);
]]
local clock = ffi.new("stress_timespec")

local function now() -- the wall clock, as Python's time.time()
  ffi.C.clock_gettime(0, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- In each thread. Globals, so that done() can read them with thread:get().
function init(args)
  path, body, limit, out = args[1], args[2], tonumber(args[3]), args[4]
  reserved, answered, answers = 0, 0, {}
end

-- wrk asks delay() once before each request it sends, and may ask two connections in a row
-- before either calls request(): the count is taken here. After the N-th, a connection waits
-- (wrk is stopped once N are answered). request() is also called once before the run, to
-- check it, which is why it counts nothing.
function delay()
  if reserved >= limit then
    return 1e9
  end
  reserved = reserved + 1
  return 0
end

function request()
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, text)
  answered = answered + 1
  local task_id = text:match('"task_id"%s*:%s*"([^"]+)"') or "-"
  answers[answered] = string.format("%d %s %.6f", status, task_id, now())
  if answered >= limit then -- tell stress.py, which stops wrk (SIGINT: wrk then runs done())
    io.open(out .. ".done", "w"):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local file = io.open(threads[1]:get("out"), "w")
  for _, thread in ipairs(threads) do
    for _, line in ipairs(thread:get("answers")) do
      file:write(line, "\n")
    end
  end
  file:write(string.format("latency_us %d %d %d %d\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max))
  local errors = summary.errors
  file:write(string.format("socket_errors %d %d %d %d %d\n", errors.connect, errors.read,
    errors.write, errors.status, errors.timeout))
  file:close()
end
