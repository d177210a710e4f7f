-- POST /api/v1/certificates: a real issuance request, a unique
-- approval_ref each time (so every request creates a licence: 201).
-- wrk ... -s issue.lua URL -- REQUEST-JSON NEW-HOLDERS-FILE TOKEN RUN-ID
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local template, holders, headers, run, n, tid
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  template = f:read("*a")
  f:close()
  holders = common.lines(args[2])
  headers = {
    ["Authorization"] = "Bearer " .. args[3],
    ["Content-Type"] = "application/json",
  }
  run = args[4]
  n = 0
end

function request()
  n = n + 1
  local ref = string.format("BENCH-%s-%d-%d", run, tid or 0, n)
  local code = holders[n % #holders + 1]
  local body = template
    :gsub('"approval_ref":"[^"]*"', '"approval_ref":"' .. ref .. '"', 1)
    :gsub('"code":"[^"]*"', '"code":"' .. code .. '"', 1)
  return wrk.format("POST", "/api/v1/certificates", headers, body)
end
