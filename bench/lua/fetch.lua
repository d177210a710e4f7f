-- GET /api/v1/certificates/{id}[SUFFIX] (the licence, or its qr.png).
-- wrk ... -s fetch.lua URL -- IDS-FILE TOKEN [SUFFIX [HOW-MANY-IDS]]
-- HOW-MANY-IDS limits the ids used (a few: the QR image cache hits).
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local ids, i, headers, suffix

function init(args)
  ids = common.lines(args[1])
  local n = tonumber(args[4] or "0")
  if n > 0 and n < #ids then
    local few = {}
    for k = 1, n do few[k] = ids[k] end
    ids = few
  end
  headers = { ["Authorization"] = "Bearer " .. args[2] }
  suffix = args[3] or ""
  common.seed()
  i = math.random(#ids)
end

function request()
  i = i % #ids + 1
  return wrk.format("GET", "/api/v1/certificates/" .. ids[i] .. suffix, headers)
end
