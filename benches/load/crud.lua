-- wrk script: one CRUD workload against objectos' data routes.
--
--   wrk -t2 -c16 -d10s --timeout 10s -s benches/load/crud.lua http://127.0.0.1:PORT
--
-- Environment:
--   LOAD_MODE    list | get | create | update              (default list)
--   LOAD_OBJECT  object name                               (default t_item)
--   LOAD_TOKEN   bearer token sent with every request      (optional)
--   LOAD_IDS     file of record ids, one a line            (get, update)
--   LOAD_TAG     short tag that keeps created names unique across runs
--                against one database (default: empty; names are at most
--                20 characters, so keep it to a few characters)
--   LOAD_RESULT  file that receives the summary as key=value lines (optional)
--
-- Requests:
--   list    GET   /api/v1/data/OBJ?limit=20
--   get     GET   /api/v1/data/OBJ/{id}       cycling over LOAD_IDS
--   create  POST  /api/v1/data/OBJ            {"name":"c<tag><thread>-<n>","qty":..,"status":..}
--   update  PATCH /api/v1/data/OBJ/{id}       {"qty":..,"status":..}, cycling over LOAD_IDS
--
-- Every response's status is counted in response(), so `non2xx` is exact.
-- done() prints one summary line that starts with "crud " and, with
-- LOAD_RESULT, writes the same figures as key=value lines.

local mode = os.getenv("LOAD_MODE") or "list"
local object = os.getenv("LOAD_OBJECT") or "t_item"
local token = os.getenv("LOAD_TOKEN") or ""
local ids_path = os.getenv("LOAD_IDS") or ""
local tag = os.getenv("LOAD_TAG") or ""
local result_path = os.getenv("LOAD_RESULT") or ""

local base = "/api/v1/data/" .. object
local statuses_list = { "open", "closed", "archived" }

-- setup() runs in the main Lua state, once per thread: number the threads
-- and keep them so that done() can collect their counters.
local all_threads = {}
function setup(thread)
  thread:set("thread_no", #all_threads + 1)
  table.insert(all_threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state). The counters are
-- globals so that done() can read them through thread:get().
non2xx = 0
codes = {}
local thread_no = 1
local ids = {}
local id_count = 0
local cursor = 0
local seq = 0

local function read_ids(path)
  local f, err = io.open(path, "r")
  if not f then error("crud.lua: LOAD_IDS: " .. tostring(err)) end
  for line in f:lines() do
    local id = line:match("^%s*(.-)%s*$")
    if id ~= "" then
      id_count = id_count + 1
      ids[id_count] = id
    end
  end
  f:close()
  if id_count == 0 then error("crud.lua: no ids in " .. path) end
end

function init(args)
  thread_no = tonumber(wrk.thread:get("thread_no")) or 1
  if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
  if mode == "create" or mode == "update" then
    wrk.headers["Content-Type"] = "application/json"
  end
  if mode == "get" or mode == "update" then
    if ids_path == "" then error("crud.lua: LOAD_IDS is required for " .. mode) end
    read_ids(ids_path)
    -- spread the threads over the id list so they do not hit the same rows
    cursor = ((thread_no - 1) * 7919) % id_count
  end
  if mode ~= "list" and mode ~= "get" and mode ~= "create" and mode ~= "update" then
    error("crud.lua: unknown LOAD_MODE " .. mode)
  end
end

local function next_id()
  cursor = cursor % id_count + 1
  return ids[cursor]
end

local list_req = nil

function request()
  if mode == "list" then
    if not list_req then list_req = wrk.format("GET", base .. "?limit=20") end
    return list_req
  elseif mode == "get" then
    return wrk.format("GET", base .. "/" .. next_id())
  elseif mode == "create" then
    seq = seq + 1
    -- unique per record: thread number + per-thread sequence (<= 20 chars)
    local body = string.format('{"name":"c%s%d-%d","qty":%d,"status":"%s"}',
      tag, thread_no, seq, seq % 1001, statuses_list[seq % 3 + 1])
    return wrk.format("POST", base, nil, body)
  else -- update
    seq = seq + 1
    local body = string.format('{"qty":%d,"status":"%s"}',
      seq % 1001, statuses_list[seq % 3 + 1])
    return wrk.format("PATCH", base .. "/" .. next_id(), nil, body)
  end
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status < 200 or status >= 300 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  local merged = {}
  for _, t in ipairs(all_threads) do
    bad = bad + (tonumber(t:get("non2xx")) or 0)
    for code, count in pairs(t:get("codes") or {}) do
      merged[code] = (merged[code] or 0) + count
    end
  end
  local keys = {}
  for code in pairs(merged) do keys[#keys + 1] = code end
  table.sort(keys)
  local parts = {}
  for _, code in ipairs(keys) do parts[#parts + 1] = code .. ":" .. merged[code] end

  local e = summary.errors
  local secs = summary.duration / 1e6
  local fields = {
    { "mode", mode },
    { "requests", summary.requests },
    { "duration_s", string.format("%.3f", secs) },
    { "rps", string.format("%.2f", summary.requests / secs) },
    { "p50_ms", string.format("%.2f", latency:percentile(50) / 1000) },
    { "p90_ms", string.format("%.2f", latency:percentile(90) / 1000) },
    { "p99_ms", string.format("%.2f", latency:percentile(99) / 1000) },
    { "max_ms", string.format("%.2f", latency.max / 1000) },
    { "non2xx", bad },
    { "socket_errors", e.connect + e.read + e.write },
    { "timeouts", e.timeout },
    { "errors", bad + e.connect + e.read + e.write + e.timeout },
    { "statuses", #parts > 0 and table.concat(parts, ",") or "none" },
  }
  local line, kv = {}, {}
  for _, f in ipairs(fields) do
    line[#line + 1] = f[1] .. "=" .. tostring(f[2])
    kv[#kv + 1] = f[1] .. "=" .. tostring(f[2])
  end
  io.write("crud " .. table.concat(line, " ") .. "\n")
  if result_path ~= "" then
    local f = assert(io.open(result_path, "w"))
    f:write(table.concat(kv, "\n") .. "\n")
    f:close()
  end
end
