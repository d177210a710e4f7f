-- Shared by the benchmark's wrk scripts (bench/README.md): read a sample
-- file into a table, and give each wrk thread its own starting point, so
-- that requests spread over the whole sample.
local M = {}

function M.lines(path)
  local t = {}
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  for line in f:lines() do
    if #line > 0 then t[#t + 1] = line end
  end
  f:close()
  assert(#t > 0, path .. " is empty")
  return t
end

-- wrk runs init() once per thread, in that thread's own Lua state.
function M.seed()
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

return M
