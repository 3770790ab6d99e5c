-- wrk script for bench/scenarios/shelters_surge.py, two modes (BENCH_SURGE_MODE):
--   checkin  POSTs a citizen-ID QR check-in per request. BENCH_SURGE_FILE has one line per request,
--            "<shelter id> <Idempotency-Key> <QR token>"; each wrk thread takes every n-th line
--            (n = BENCH_SURGE_THREADS), so no token is sent twice unless the file runs out, in which
--            case the same request (same key, same body) is repeated: an idempotent replay, which the
--            scenario refuses to report as throughput.
--   poll     anonymous GETs cycling over BENCH_SURGE_PATHS (comma-separated): residents refreshing
--            the shelter list and the active alerts.
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  mode = os.getenv("BENCH_SURGE_MODE") or "poll"
  local threads = tonumber(os.getenv("BENCH_SURGE_THREADS") or "1")
  requests = {}
  if mode == "checkin" then
    local headers_base = {["Authorization"] = os.getenv("BENCH_SURGE_AUTH"), ["Content-Type"] = "application/json"}
    local n = 0
    for line in io.lines(os.getenv("BENCH_SURGE_FILE")) do
      if n % threads == index then
        local shelter, key, token = line:match("^(%S+) (%S+) (%S+)$")
        local headers = {["Idempotency-Key"] = key}
        for name, value in pairs(headers_base) do headers[name] = value end
        table.insert(requests, wrk.format("POST", "/api/v1/staff/shelters/" .. shelter .. "/check-ins/", headers,
                                          '{"qr_token": "' .. token .. '"}'))
      end
      n = n + 1
    end
  else
    for path in string.gmatch(os.getenv("BENCH_SURGE_PATHS") or "/", "[^,]+") do
      table.insert(requests, wrk.format("GET", path))
    end
  end
  -- Polling threads start at different paths so the mix is even from the first request.
  next_request = mode == "checkin" and 1 or index % #requests + 1
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

-- The WRK_JSON line bench/lib.py reads comes from the shared reporter beside this script.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_report.lua")
