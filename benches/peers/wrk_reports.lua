-- The peer for `twin load`: wrk (closed loop, as fast as the server answers) sending the same
-- grid reports to a served stack, each with a report_ref of its own, so the two generators'
-- request rates can be put side by side on the same server and machine.
--
--   wrk -t2 -c64 -d20s -s benches/peers/wrk_reports.lua http://127.0.0.1:8080
--
-- The token must be an inspector's of the server's tokens file, and the grid directory loaded
-- (run `twin load` once first: its set-up loads it). WRK_TOKEN and WRK_REF_BASE override the
-- defaults below. wrk itself counts answers that are not 2xx ("Non-2xx or 3xx responses").

local token = os.getenv("WRK_TOKEN") or "inspector-token-0123456789"
local base = tonumber(os.getenv("WRK_REF_BASE") or "900000000000")
local threads = 0

function setup(thread)
   thread:set("thread_id", threads)
   threads = threads + 1
end

local n = 0
local headers = {
   ["Authorization"] = "Bearer " .. token,
   ["Content-Type"] = "application/json",
}

function request()
   n = n + 1
   -- Thread t sends refs base + t, base + t + 64, ...: unique across up to 64 threads.
   local ref = base + thread_id + n * 64
   local body = string.format(
      '{"report_ref": %d, "source": "inspector", "grid": 0, "item_type": 1, '
         .. '"observed_at": 0, "resolved_on_spot": false}', ref)
   return wrk.format("POST", "/grid/reports", headers, body)
end
