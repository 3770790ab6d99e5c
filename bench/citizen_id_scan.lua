-- wrk script for bench/scenarios/citizen_id_scan.py: POSTs a fresh app QR token per request to the
-- staff verify endpoint (tokens are single-use), or GETs the path when no token file is given.
-- Each wrk thread takes every n-th token of BENCH_SCAN_TOKENS_FILE, so no token is sent twice.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  auth = os.getenv("BENCH_SCAN_AUTH")
  local path = os.getenv("BENCH_SCAN_TOKENS_FILE") or ""
  local count = tonumber(os.getenv("BENCH_SCAN_THREADS") or "1")
  tokens = {}
  if path ~= "" then
    local n = 0
    for line in io.lines(path) do
      if n % count == index then table.insert(tokens, line) end
      n = n + 1
    end
  end
  next_token = 1
end

function request()
  local headers = {["Authorization"] = auth}
  if #tokens == 0 then
    return wrk.format("GET", nil, headers, nil)
  end
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, headers, '{"token": "' .. token .. '", "purpose": "shelter"}')
end

-- The WRK_JSON line bench/lib.py reads comes from the shared reporter beside this script.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_report.lua")
