-- POST /api/v1/certificates at a set pace, for bench/webhooks.py: issue.lua's
-- requests, each connection waiting DELAY-MS between them, and each 201's
-- licence id written with the moment it came back (CLOCK_MONOTONIC in ms,
-- the clock the receiver stamps arrivals with) to OUT-PREFIX.THREAD.
-- wrk ... -s issue_paced.lua URL -- REQUEST-JSON NEW-HOLDERS-FILE TOKEN RUN-ID DELAY-MS OUT-PREFIX
local here = debug.getinfo(1, "S").source:match("@?(.*/)")
dofile(here .. "issue.lua")  -- setup, init and request
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } cs_timespec;
int clock_gettime(int clk, cs_timespec *ts);
]]
local ts = ffi.new("cs_timespec")
local issue_init = init
local pause, out

local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

function init(args)
  issue_init(args)
  pause = tonumber(args[5])
  out = assert(io.open(args[6] .. "." .. tostring(tid or 0), "w"))
end

function delay()
  return pause
end

function response(status, hdrs, body)
  if status == 201 then
    local id = body:match('"id":"([^"]+)"')
    if id then
      out:write(id, " ", string.format("%.3f", now_ms()), "\n")
      -- whole lines, read once wrk is done
      out:flush()
    end
  end
end
