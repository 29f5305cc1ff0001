-- wrk script: PUT a resource group (an update after the first), the
-- management API's cheapest write: one worker job, one SQLite commit.
-- Environment: SCC_TOKEN, SCC_SUB.
local token = os.getenv("SCC_TOKEN")
local sub = os.getenv("SCC_SUB")
local n = 0

request = function()
  n = n + 1
  local path = "/subscriptions/" .. sub .. "/resourcegroups/bench-" .. (n % 64) ..
               "?api-version=2025-03-01"
  return wrk.format("PUT", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, '{"location": "eastus", "tags": {"bench": "' .. n .. '"}}')
end
