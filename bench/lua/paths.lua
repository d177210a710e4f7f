-- GET each path of a file in turn, with a bearer token.
-- wrk ... -s paths.lua URL -- PATHS-FILE TOKEN
-- (the annotated copies' PDFs: bench/run.sh makes the copies first).
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local paths, i, headers

function init(args)
  paths = common.lines(args[1])
  headers = { ["Authorization"] = "Bearer " .. args[2] }
  common.seed()
  i = math.random(#paths)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
