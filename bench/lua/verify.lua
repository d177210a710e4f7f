-- POST /api/v1/verify with real QR texts (text/plain), one form per run.
-- wrk ... -s verify.lua URL -- SAMPLE-FILE
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local texts, i

function init(args)
  texts = common.lines(args[1])
  common.seed()
  i = math.random(#texts)
end

function request()
  i = i % #texts + 1
  return wrk.format("POST", "/api/v1/verify",
    { ["Content-Type"] = "text/plain" }, texts[i])
end
