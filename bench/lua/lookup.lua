-- GET /api/v1/holders/{code}/certificates, audited, with X-Purpose.
-- wrk ... -s lookup.lua URL -- HOLDERS-FILE TOKEN
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local codes, i, headers

function init(args)
  codes = common.lines(args[1])
  headers = {
    ["Authorization"] = "Bearer " .. args[2],
    ["X-Purpose"] = "benchmark: holder lookup",
    ["X-Service-Item"] = "BENCH-0001",
  }
  common.seed()
  i = math.random(#codes)
end

function request()
  i = i % #codes + 1
  return wrk.format("GET", "/api/v1/holders/" .. codes[i] .. "/certificates",
    headers)
end
